import { readdir, readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { signToken } from '../../src/deliver/tokens.ts';
import { FORM, form, JSON_TYPE, startServer, type ServerFixture } from './server-fixture.ts';

let fixture: ServerFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

const XSS = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "javascript:alert('x')",
  '<svg/onload=alert(1)>',
  '{{constructor.constructor("alert(1)")()}}',
  "'-alert(1)-'",
  '</textarea><script>alert(1)</script>',
  '\u202E<script>',
];

const BAD_ADDRESSES = [
  '',
  'plain',
  '@example.org',
  'a@',
  'a@@example.org',
  'a b@example.org',
  'a@example',
  'a..b@example.org',
  '.a@example.org',
  'a@-example.org',
  'a@example..org',
  'a@[127.0.0.1]',
  'a@127.0.0.1',
  '"quoted"@example.org',
  'a@example.org\r\nBcc: victim@example.org',
  'a@example.org\nTo: victim@example.org',
  'a@example.org, victim@example.org',
  'a@example.org;victim@example.org',
  'Victim <victim@example.org>',
  `${'x'.repeat(65)}@example.org`,
  `a@${'x'.repeat(250)}.org`,
  'a@exa\u0000mple.org',
  'ünïcode@example.org',
  'a@example.org\u2028',
  '=?utf-8?q?x?=@example.org',
  ...XSS.map((payload) => `${payload}@example.org`),
];

interface Attempt {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  payload?: string | Buffer;
}

/** A thousand hostile or broken requests, built from the lists above in rotation. */
function malformedRequests(badToken: string[]): Attempt[] {
  const generators: Array<(n: number) => Attempt> = [
    (n) => ({ method: 'POST', url: '/subscribe', headers: FORM, payload: form({ email: BAD_ADDRESSES[n % BAD_ADDRESSES.length]! }) }),
    (n) => ({ method: 'POST', url: '/subscribe', headers: JSON_TYPE, payload: JSON.stringify({ email: BAD_ADDRESSES[n % BAD_ADDRESSES.length], name: XSS[n % XSS.length] }) }),
    (n) => ({ method: 'POST', url: '/subscribe', headers: FORM, payload: form({ email: `xss${n}@example.org`, name: XSS[n % XSS.length]!, website: '' }) }),
    (n) => ({ method: 'POST', url: '/subscribe', headers: FORM, payload: form({ email: `crlf${n}@example.org`, name: `Ann\r\nBcc: victim${n}@example.org\r\nX-Evil: 1` }) }),
    (n) => ({ method: 'POST', url: '/subscribe', headers: FORM, payload: form({ email: `trap${n}@example.org`, website: XSS[n % XSS.length]! }) }),
    (n) => ({ method: 'POST', url: '/subscribe', headers: FORM, payload: form({ email: `stamp${n}@example.org`, started: XSS[n % XSS.length]! }) }),
    (n) => ({ method: 'POST', url: '/subscribe', headers: FORM, payload: form({ email: `big${n}@example.org`, name: 'x'.repeat(17_000 + n) }) }),
    (n) => ({ method: 'POST', url: '/subscribe', headers: { 'content-type': ['text/plain', 'application/xml', 'text/html', 'image/png', 'application/octet-stream', 'multipart/form-data; boundary=z', 'application/json; charset=utf-7', 'application/x-www-form-urlencoded; charset=ebcdic'][n % 8]! }, payload: 'email=a%40example.org' }),
    (n) => ({ method: 'POST', url: '/subscribe', headers: JSON_TYPE, payload: ['{', '[]', 'null', '"x"', '{"email":{"$ne":1}}', '{"email":["a@example.org","b@example.org"]}', '{"__proto__":{"admin":true},"email":"x"}', '1e999'][n % 8]! }),
    (n) => ({ method: 'POST', url: '/subscribe', headers: FORM, payload: `email=a@example.org&email=b${n}@example.org&name[]=x` }),
    (n) => ({ method: 'POST', url: '/subscribe', headers: FORM, payload: Buffer.from([0xff, 0xfe, 0x00, 0x41, n % 256]) }),
    (n) => ({ method: 'GET', url: `/confirm?token=${encodeURIComponent(badToken[n % badToken.length]!)}` }),
    (n) => ({ method: 'POST', url: '/confirm', headers: FORM, payload: form({ token: badToken[n % badToken.length]! }) }),
    (n) => ({ method: 'GET', url: `/unsubscribe?token=${encodeURIComponent(badToken[n % badToken.length]!)}` }),
    (n) => ({ method: 'POST', url: `/unsubscribe?token=${encodeURIComponent(badToken[n % badToken.length]!)}`, headers: FORM, payload: 'List-Unsubscribe=One-Click' }),
    (n) => ({ method: 'POST', url: `/resubscribe?token=${encodeURIComponent(badToken[n % badToken.length]!)}` }),
    (n) => ({ method: 'POST', url: `/unsubscribe?token=a&token=b${n}`, headers: { 'content-type': 'multipart/form-data; boundary=q' }, payload: '--q\r\nContent-Disposition: form-data; name="x"\r\n\r\n' + 'y'.repeat(5000) + '\r\n--q--\r\n' }),
    (n) => ({ method: 'POST', url: '/unsubscribe', headers: { 'content-type': 'multipart/form-data' }, payload: `garbage ${n}` }),
    (n) => ({ method: 'GET', url: ['/../data/letterpress.db', '/%2e%2e/%2e%2e/etc/passwd', '/%00', '/feed.atom%00.html', '/\u0000', '/issues/%ZZ', '/?<script>', '/confirm?token[]=x', '/unsubscribe?token=%ff%fe'][n % 9]! }),
    (n) => ({ method: ['PUT', 'DELETE'][n % 2] as 'PUT' | 'DELETE', url: ['/subscribe', '/unsubscribe?token=x', '/feed.atom'][n % 3]! }),
    (n) => ({ method: 'GET', url: '/subscribe', headers: { 'x-forwarded-for': XSS[n % XSS.length]!, 'user-agent': XSS[n % XSS.length]!, accept: '*/*;q=<script>' } }),
  ];
  const attempts: Attempt[] = [];
  for (let n = 0; attempts.length < 1000; n += 1) attempts.push(generators[n % generators.length]!(Math.floor(n / generators.length)));
  return attempts;
}

/** Sends raw bytes over a socket: headers too large for Node, which answers 431 itself. */
function rawRequest(port: number, headers: Record<string, string>): Promise<number | 'reset'> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/subscribe', method: 'GET', headers }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    // Node may drop the connection while the client is still sending the oversized headers.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve('reset') : reject(error)));
    req.end();
  });
}

describe('abuse', () => {
  it('survives 1,000 malformed requests: no 5xx, no stored script, no injected header or recipient', async () => {
    fixture = await startServer({ env: { LETTERPRESS_SERVER_LIMITS_PERADDRESSPERDAY: '1000', LETTERPRESS_SERVER_LIMITS_RESENDCOOLDOWNMINUTES: '0' } });
    const store = await fixture.app.store();
    const victim = (await store.upsertSubscriber({ email: 'victim@example.org', status: 'active', source: 'add' })).subscriber!;
    const keyring = await fixture.app.keyring();
    const good = signToken(keyring, { purpose: 'unsub', subscriberId: victim.id });
    const badTokens = [
      `${good.slice(0, -1)}${good.endsWith('A') ? 'B' : 'A'}`,
      good.replace('.unsub.', '.confirm.'),
      good.replace(`.unsub.${victim.id}.`, `.unsub.${victim.id + 1}.`),
      good.replace('v1.', 'v2.'),
      `${good}.extra`,
      good.slice(0, 20),
      'x'.repeat(5000),
      ...XSS,
      `${good}\r\nSet-Cookie: a=b`,
      '',
    ];
    const attempts = malformedRequests(badTokens);
    expect(attempts).toHaveLength(1000);
    const statuses = new Map<number, number>();
    for (const attempt of attempts) {
      const response = await fixture.server.inject(attempt);
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      expect(response.statusCode, `${attempt.method} ${attempt.url} ${String(attempt.payload ?? '').slice(0, 80)}`).toBeLessThan(500);
      expect(response.body).not.toMatch(/<script>alert|onerror=alert|<svg\/onload/);
      expect(response.headers['set-cookie']).toBeUndefined();
      expect(response.headers.location).toBeUndefined();
    }
    expect(statuses.get(400)).toBeGreaterThan(100);
    expect(statuses.get(200)).toBeGreaterThan(100);

    // Huge headers over a real socket: Node refuses them before any route runs.
    await fixture.server.listen({ port: 0, host: '127.0.0.1' });
    const port = (fixture.server.server.address() as AddressInfo).port;
    expect(await rawRequest(port, { 'x-huge': 'a'.repeat(20_000) })).toBe(431);
    expect([431, 'reset']).toContain(await rawRequest(port, { cookie: 'c'.repeat(70_000) }));

    // The victim's token was never accepted in any altered form.
    expect((await store.getSubscriber(victim.id))?.status).toBe('active');

    // Nothing stored holds markup, a line break or a control character.
    const everyone = await store.listSubscribers({ limit: 10_000 });
    expect(everyone.length).toBeGreaterThan(50);
    for (const subscriber of everyone) {
      for (const value of [subscriber.email, subscriber.name ?? '']) {
        expect(value).not.toMatch(/[<>\r\n\u0000-\u001f\u202e]/);
      }
    }

    // Every email the mailer was asked for went to one stored address, and nothing else.
    await fixture.server.close();
    await fixture.settle();
    expect(fixture.calls.length).toBeGreaterThan(50);
    const stored = new Set(everyone.map((subscriber) => subscriber.email));
    for (const call of fixture.calls) expect(stored.has(call.subscriber.email)).toBe(true);
    if (fixture.realMailer) {
      const dir = path.join(fixture.app.outboxDir, 'confirm');
      const files = (await readdir(dir)).filter((name) => name.endsWith('.eml'));
      // One file per recipient: a resend has the same Message-ID and replaces the file.
      expect(files.length).toBe(new Set(fixture.calls.map((call) => call.subscriber.id)).size);
      for (const file of files) {
        const raw = await readFile(path.join(dir, file));
        const parsed = await simpleParser(raw);
        const to = Array.isArray(parsed.to) ? parsed.to : [parsed.to];
        expect(to).toHaveLength(1);
        expect(to[0]!.value).toHaveLength(1);
        expect(stored.has(to[0]!.value[0]!.address!)).toBe(true);
        // The name typed into the form appears nowhere, not even in To.
        expect(to[0]!.value[0]!.name).toBe('');
        expect(parsed.cc).toBeUndefined();
        expect(parsed.bcc).toBeUndefined();
        expect(parsed.headers.has('x-evil')).toBe(false);
        const head = raw.toString('latin1').split('\r\n\r\n')[0]!;
        expect(head).not.toMatch(/^(Bcc|Cc|X-Evil):/im);
        expect(head).not.toMatch(/victim\d*@/i);
      }
    }
  }, 60_000);

  it('answers 429 once one IP floods the subscription routes, and keeps serving the others', async () => {
    fixture = await startServer({ env: { LETTERPRESS_SERVER_LIMITS_PERIPPERMINUTE: '20' } });
    const flood = async (url: string, count: number, ip: string) => {
      const statuses: number[] = [];
      for (let i = 0; i < count; i += 1) {
        const method = url === '/subscribe' ? 'POST' : 'GET';
        const response = await fixture!.server.inject({ method, url, remoteAddress: ip, headers: FORM, payload: method === 'POST' ? form({ email: 'not an address' }) : undefined });
        statuses.push(response.statusCode);
      }
      return statuses;
    };
    const subscribe = await flood('/subscribe', 30, '192.0.2.1');
    expect(subscribe.slice(0, 20).every((status) => status === 400)).toBe(true);
    expect(subscribe.slice(20).every((status) => status === 429)).toBe(true);
    const confirm = await flood('/confirm?token=bad', 25, '192.0.2.2');
    expect(confirm.filter((status) => status === 429)).toHaveLength(5);
    // Mail providers post one-click unsubscribes from shared IPs: ten times the limit there.
    const unsubscribe = await flood('/unsubscribe?token=bad', 210, '192.0.2.3');
    expect(unsubscribe.filter((status) => status === 429)).toHaveLength(10);
    // Another IP, and the archive, are unaffected.
    expect((await flood('/subscribe', 1, '192.0.2.9'))[0]).toBe(400);
    expect((await fixture.server.inject({ method: 'GET', url: '/feed.atom', remoteAddress: '192.0.2.1' })).statusCode).toBe(200);
  });
});
