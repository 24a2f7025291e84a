import { mkdir, readdir, readFile } from 'node:fs/promises';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/cli/app.ts';
import { waitForMailQueue } from '../helpers/mail-queue.ts';
import { createSubscriptionMailer } from '../../src/deliver/subscription-mailer.ts';
import { createServer } from '../../src/server/create-server.ts';
import { isLocal, launchChromium } from '../helpers/browser.ts';
import { createTempProject, REPO_ROOT } from '../helpers/temp-project.ts';

const SHOTS = path.join(REPO_ROOT, 'test-results', 'subscription');

async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The newest .eml in a folder of the outbox, as text. */
async function newestEml(dir: string): Promise<string> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.eml')).sort();
  return readFile(path.join(dir, names.at(-1)!), 'latin1');
}

/** The first URL after `prefix` in a quoted-printable body, decoded. */
function linkFrom(eml: string, prefix: string): string {
  const unfolded = eml.replace(/=\r\n/g, '').replace(/=3D/g, '=');
  const match = new RegExp(`${prefix.replace(/[.?]/g, '\\$&')}[A-Za-z0-9._~=-]+`).exec(unfolded);
  if (!match) throw new Error(`no ${prefix} link in the email`);
  return match[0];
}

describe('subscribing and unsubscribing in a real browser', () => {
  let app: App;
  let browser: Browser;
  let base: string;
  let close: () => Promise<void>;
  const outside: string[] = [];

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    const root = await createTempProject();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    app = await createApp({ root, env: { LETTERPRESS_SITE_URL: base, LETTERPRESS_SECRET: 'e2e-subscription-secret-0123456789abcdef', LETTERPRESS_SERVER_LIMITS_MINFILLSECONDS: '4' } });
    await app.build();
    const store = await app.store();
    const keyring = await app.keyring();
    const mailer = createSubscriptionMailer({ loaded: app.loaded, keyring, transport: app.transport(), clock: app.clock, store });
    const server = await createServer({ loaded: app.loaded, store, keyring, clock: app.clock, mailer, logger: false });
    await server.listen({ port, host: '127.0.0.1' });
    close = () => server.close();
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await close?.();
    await app?.close();
  });

  it('subscribes with the form, confirms from the email, and unsubscribes from a sent issue', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 1000 } });
    page.on('request', (request) => {
      if (!isLocal(request.url())) outside.push(request.url());
    });

    await page.goto(`${base}/`);
    await page.screenshot({ path: path.join(SHOTS, '1-archive.png'), fullPage: false });
    await page.fill('form[action$="/subscribe"] input[name="email"]', 'reader@example.org');
    await Promise.all([page.waitForNavigation(), page.click('form[action$="/subscribe"] [type="submit"]')]);
    expect(page.url()).toBe(`${base}/subscribe`);
    await page.screenshot({ path: path.join(SHOTS, '2-check-inbox.png') });
    const store = await app.store();
    expect((await store.findSubscriberByEmail('reader@example.org'))?.status).toBe('pending');
    await waitForMailQueue(store);

    // The confirmation email, from the outbox; opening its link alone changes nothing.
    const outbox = path.join(app.outboxDir);
    const folders = await readdir(outbox);
    const confirmFolder = folders.find((name) => name !== '2024-18' && name !== '2024-32')!;
    const confirmUrl = linkFrom(await newestEml(path.join(outbox, confirmFolder)), `${base}/confirm?token=`);
    await page.goto(confirmUrl);
    await page.screenshot({ path: path.join(SHOTS, '3-confirm.png') });
    expect((await store.findSubscriberByEmail('reader@example.org'))?.status).toBe('pending');
    await Promise.all([page.waitForNavigation(), page.click('form [type="submit"]')]);
    await page.screenshot({ path: path.join(SHOTS, '4-confirmed.png') });
    expect((await store.findSubscriberByEmail('reader@example.org'))?.status).toBe('active');

    // An issue goes out; its List-Unsubscribe link leads to a page with a button.
    const [report] = await app.send({ slug: '2024-18' });
    expect(report?.sent).toBe(1);
    const issueEmail = await newestEml(path.join(outbox, '2024-18'));
    const header = /^List-Unsubscribe: <([^>]+)>/m.exec(issueEmail)![1]!;
    await page.goto(header);
    await page.screenshot({ path: path.join(SHOTS, '5-unsubscribe.png') });
    expect((await store.findSubscriberByEmail('reader@example.org'))?.status).toBe('active');
    await Promise.all([page.waitForNavigation(), page.click('form[action*="/unsubscribe"] [type="submit"]')]);
    await page.screenshot({ path: path.join(SHOTS, '6-unsubscribed.png') });
    expect((await store.findSubscriberByEmail('reader@example.org'))?.status).toBe('unsubscribed');

    expect(outside).toEqual([]);
  });

  it('says why an address is refused in the site language, keeps what was typed, and asks again after an instant submit', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
    page.on('request', (request) => {
      if (!isLocal(request.url())) outside.push(request.url());
    });

    // The archive's form (no fill-time stamp): an address the browser accepts but we do not.
    await page.goto(`${base}/`);
    await page.fill('form[action$="/subscribe"] input[name="email"]', 'foo@bar');
    await page.fill('form[action$="/subscribe"] input[name="name"]', '小王');
    await Promise.all([page.waitForNavigation(), page.click('form[action$="/subscribe"] [type="submit"]')]);
    await page.screenshot({ path: path.join(SHOTS, '7-invalid-375.png'), fullPage: true });
    expect(await page.textContent('.subscription-detail')).toContain('@ 后面的域名缺少点号');
    expect(await page.inputValue('input[name="email"]')).toBe('foo@bar');
    expect(await page.inputValue('input[name="name"]')).toBe('小王');

    // The server's own form, filled and sent at once, as autofill would: faster than
    // server.limits.minFillSeconds (4 s here, so a slow machine still counts as fast).
    await page.goto(`${base}/subscribe`);
    await page.fill('input[name="email"]', 'quick@example.org');
    await Promise.all([page.waitForNavigation(), page.click('form[action="/subscribe"] [type="submit"]')]);
    await page.screenshot({ path: path.join(SHOTS, '8-too-fast-375.png'), fullPage: true });
    expect(await page.textContent('h1')).toContain('请再点击一次');
    expect(await page.inputValue('input[name="email"]')).toBe('quick@example.org');
    const store = await app.store();
    expect(await store.findSubscriberByEmail('quick@example.org')).toBeUndefined();

    // A person reads the page, then presses the button again.
    await page.waitForTimeout((app.loaded.config.server.limits.minFillSeconds + 0.5) * 1000);
    await Promise.all([page.waitForNavigation(), page.click('form[action="/subscribe"] [type="submit"]')]);
    await page.screenshot({ path: path.join(SHOTS, '9-check-inbox-375.png'), fullPage: true });
    expect(await page.textContent('.subscription-address')).toBe('quick@example.org');
    expect(await page.textContent('main')).toContain('垃圾邮件文件夹');
    expect((await store.findSubscriberByEmail('quick@example.org'))?.status).toBe('pending');
    // Nothing overflows the narrow screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    expect(outside).toEqual([]);
  });
});
