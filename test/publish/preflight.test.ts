import { describe, expect, it } from 'vitest';
import { configSchema, type ConfigInput } from '../../src/config/schema.ts';
import { assertSendPreflight, checkSendPreflight, describeLocalHost, findSendProblems } from '../../src/publish/preflight.ts';

const config = (input: ConfigInput) => configSchema.parse(input);
const good: ConfigInput = {
  site: { url: 'https://news.acme-mail.com', postalAddress: 'Acme, 1 Main St, Springfield' },
  sender: { fromAddress: 'news@acme-mail.com' },
  smtp: { host: 'relay.acme-mail.com' },
};

describe('describeLocalHost', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.1.2.3', 'loopback'],
    ['[::1]', 'loopback'],
    ['localhost', 'localhost'],
    ['news.localhost', 'localhost'],
    ['example.com', 'example'],
    ['news.example.org', 'example'],
    ['example.net', 'example'],
    ['shop.example', 'example'],
    ['10.1.2.3', 'private'],
    ['192.168.0.5', 'private'],
    ['intranet', 'without a domain'],
    ['mail.test', 'reserved'],
  ])('%s is local (%s)', (host, why) => {
    expect(describeLocalHost(host)).toContain(why);
  });

  it.each(['news.acme-mail.com', 'examples.com', 'example.co.uk', '93.184.216.34', 'myexample.org'])('%s is a real address', (host) => {
    expect(describeLocalHost(host)).toBeUndefined();
  });
});

describe('checkSendPreflight', () => {
  it('finds nothing in a complete config', () => {
    expect(checkSendPreflight(config(good))).toEqual([]);
  });

  it('names the loopback site URL, the localhost From and the missing postal address of the defaults', () => {
    const problems = checkSendPreflight(config({}));
    expect(problems.map((p) => p.check)).toEqual(['site-url', 'from', 'postal-address']);
    expect(problems[0]!.message).toContain('http://127.0.0.1:8080');
    expect(problems[1]!.message).toContain('newsletter@localhost');
    for (const problem of problems) expect(problem.fix).toMatch(/site\.url|sender\.fromAddress|site\.postalAddress/);
  });

  it('an example From domain is refused', () => {
    const problems = checkSendPreflight(config({ ...good, sender: { fromAddress: 'news@example.org' } }));
    expect(problems.map((p) => p.check)).toEqual(['from']);
  });

  it('allowLocalAddresses (or --allow-local) waives local addresses, never the postal address', () => {
    const local = config({ delivery: { allowLocalAddresses: true } });
    expect(checkSendPreflight(local).map((p) => p.check)).toEqual(['postal-address']);
    expect(checkSendPreflight(config({}), { allowLocal: true }).map((p) => p.check)).toEqual(['postal-address']);
    // doctor still sees what was waived.
    expect(findSendProblems(local).map((p) => p.check)).toEqual(['site-url', 'from', 'postal-address']);
  });

  it('checks the postal address of a stored rendition in its footer, not in the sender’s own config', () => {
    // A worker with only the environment: no postal address of its own, the footer has one.
    const worker = config({ smtp: { host: 'relay.acme-mail.com' } });
    const rendered = { siteUrl: 'https://news.acme-mail.com', fromAddress: 'news@acme-mail.com', text: 'Acme, 1 Main St, Springfield', html: '<p>Acme, 1 Main St, Springfield</p>' };
    expect(checkSendPreflight(worker, { rendered })).toEqual([]);
    const placeholder = { ...rendered, text: 'Postal address not configured', html: '<p>Postal address not configured</p>' };
    const problems = checkSendPreflight(config(good), { rendered: placeholder });
    expect(problems.map((p) => p.check)).toEqual(['postal-address']);
    expect(problems[0]!.message).toMatch(/^this issue was rendered without site\.postalAddress/);
    expect(problems[0]!.fix).toContain('letterpress build');
    // Without the rendered message, the config is what there is to check.
    expect(checkSendPreflight(worker, { rendered: { siteUrl: rendered.siteUrl, fromAddress: rendered.fromAddress } }).map((p) => p.check)).toEqual(['postal-address']);
  });

  it('the refusal is E_PREFLIGHT with each reason, and outbox mode is never refused', () => {
    const bad = { ...good, site: { ...good.site, url: 'http://localhost:8080' } };
    expect(() => assertSendPreflight(config(bad))).toThrow(expect.objectContaining({ code: 'E_PREFLIGHT', message: expect.stringContaining('localhost') }));
    expect(() => assertSendPreflight(config({ ...bad, smtp: {} }))).not.toThrow();
    expect(() => assertSendPreflight(config({}))).not.toThrow();
  });
});
