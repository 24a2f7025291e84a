import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/cli/app.ts';
import { waitForMailQueue } from '../helpers/mail-queue.ts';
import { createSubscriptionMailer } from '../../src/deliver/subscription-mailer.ts';
import { createServer } from '../../src/server/create-server.ts';
import { isLocal, launchChromium } from '../helpers/browser.ts';
import { createTempProject, REPO_ROOT } from '../helpers/temp-project.ts';

/**
 * WCAG AA contrast (4.5:1, 3:1 for large text) of what a reader sees, in both colour schemes,
 * as axe-core measures it in Chromium: the archive, an issue page, the subscription server's
 * pages, and the HTML of the issue email and of the confirmation email as they were sent.
 */

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const SHOTS = path.join(REPO_ROOT, 'test-results', 'contrast');
const SCHEMES = ['light', 'dark'] as const;

interface Violation {
  target: string;
  summary: string;
}

async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The newest message in a folder of the outbox. */
async function newestEml(dir: string): Promise<Buffer> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.eml')).sort();
  return readFile(path.join(dir, names.at(-1)!));
}

interface AxeResults {
  violations: { nodes: { target: string[]; failureSummary?: string }[] }[];
  passes: { nodes: unknown[] }[];
}

/**
 * Contrast violations on the page as it is now, one line per element, for a readable failure,
 * and how many elements passed (so a page whose text axe never saw cannot pass by accident).
 */
async function checkContrast(page: Page): Promise<{ violations: Violation[]; passed: number }> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
  const results = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(options: object): Promise<AxeResults> } }).axe;
    const { violations, passes } = await axe.run({ runOnly: ['color-contrast'] });
    return { violations, passes };
  });
  return {
    violations: results.violations.flatMap((violation) =>
      violation.nodes.map((node) => ({ target: node.target.join(' '), summary: (node.failureSummary ?? '').replace(/\s+/g, ' ') })),
    ),
    passed: results.passes.reduce((sum, rule) => sum + rule.nodes.length, 0),
  };
}

/** Checks the loaded page in both schemes (media queries re-apply without a reload) and keeps a screenshot of each. */
async function expectReadableInBothSchemes(page: Page, name: string): Promise<void> {
  for (const colorScheme of SCHEMES) {
    await page.emulateMedia({ colorScheme });
    await page.screenshot({ path: path.join(SHOTS, `${name}-${colorScheme}.png`), fullPage: true });
    const { violations, passed } = await checkContrast(page);
    expect(violations, `${name} in the ${colorScheme} scheme`).toEqual([]);
    expect(passed, `text elements axe checked on ${name}`).toBeGreaterThanOrEqual(4);
  }
}

describe('contrast of pages and emails in both colour schemes (axe-core in Chromium)', () => {
  let app: App;
  let browser: Browser;
  let context: BrowserContext;
  let base: string;
  let close: () => Promise<void>;
  const outside: string[] = [];

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    const root = await createTempProject();
    // The samples hold no quotes, code or small headings; this issue has one of each.
    await copyFile(path.join(REPO_ROOT, 'test/fixtures/issues/contrast-sampler.md'), path.join(root, 'issues/contrast-sampler.md'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    app = await createApp({ root, env: { LETTERPRESS_SITE_URL: base, LETTERPRESS_SECRET: 'e2e-contrast-secret-0123456789abcdef' } });
    await app.build();
    const store = await app.store();
    const keyring = await app.keyring();
    const mailer = createSubscriptionMailer({ loaded: app.loaded, keyring, transport: app.transport(), clock: app.clock, store });
    const server = await createServer({ loaded: app.loaded, store, keyring, clock: app.clock, mailer, logger: false });
    await server.listen({ port, host: '127.0.0.1' });
    close = () => server.close();
    browser = await launchChromium();
    // The pages' CSP forbids inline scripts, rightly; axe is injected as one, so the test lifts it.
    context = await browser.newContext({ viewport: { width: 900, height: 1000 }, bypassCSP: true });
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (isLocal(url)) return route.continue();
      outside.push(url);
      return route.abort();
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await close?.();
    await app?.close();
  });

  it('the archive, an issue page and the subscribe, confirm and unsubscribe pages', async () => {
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await expectReadableInBothSchemes(page, 'archive');
    await page.goto(`${base}/issues/2024-18/`);
    await expectReadableInBothSchemes(page, 'issue-page');
    await page.goto(`${base}/issues/contrast-sampler/`);
    await expectReadableInBothSchemes(page, 'issue-page-sampler');

    await page.goto(`${base}/`);
    await page.fill('form[action$="/subscribe"] input[name="email"]', 'reader@example.org');
    await Promise.all([page.waitForNavigation(), page.click('form[action$="/subscribe"] [type="submit"]')]);
    await expectReadableInBothSchemes(page, 'subscribe-result');

    const confirmEml = await simpleParser(await newestEml(path.join(app.outboxDir, await confirmationFolder())));
    const confirmUrl = new RegExp(`${base}/confirm\\?token=[A-Za-z0-9._~=-]+`).exec(confirmEml.text ?? '')![0];
    await page.goto(confirmUrl);
    await expectReadableInBothSchemes(page, 'confirm');
    await Promise.all([page.waitForNavigation(), page.click('form [type="submit"]')]);
    await expectReadableInBothSchemes(page, 'confirmed');

    const [report] = await app.send({ slug: '2024-18' });
    expect(report?.sent).toBe(1);
    const issueEml = await simpleParser(await newestEml(path.join(app.outboxDir, '2024-18')));
    const listUnsubscribe = issueEml.headerLines.find((header) => header.key === 'list-unsubscribe')?.line ?? '';
    const unsubscribeUrl = /<(https?:[^>]+)>/.exec(listUnsubscribe)![1]!;
    await page.goto(unsubscribeUrl);
    await expectReadableInBothSchemes(page, 'unsubscribe');
    await Promise.all([page.waitForNavigation(), page.click('form[action*="/unsubscribe"] [type="submit"]')]);
    await expectReadableInBothSchemes(page, 'unsubscribed');
    await page.close();
    expect(outside).toEqual([]);
  });

  it('the issue emails and the confirmation email as sent', async () => {
    // The first test subscribed a reader and unsubscribed them again; this one reads on.
    const store = await app.store();
    expect((await store.upsertSubscriber({ email: 'second@example.org', status: 'active', source: 'add' })).outcome).toBe('added');
    const [report] = await app.send({ slug: 'contrast-sampler' });
    expect(report?.sent).toBe(1);
    const emails = {
      'issue-email': await newestEml(path.join(app.outboxDir, '2024-18')),
      'issue-email-sampler': await newestEml(path.join(app.outboxDir, 'contrast-sampler')),
      'confirmation-email': await newestEml(path.join(app.outboxDir, await confirmationFolder())),
    };
    for (const [name, eml] of Object.entries(emails)) {
      const { html } = await simpleParser(eml);
      expect(typeof html, name).toBe('string');
      const page = await context.newPage();
      await page.setContent(html as string, { waitUntil: 'load' });
      await expectReadableInBothSchemes(page, name);
      await page.close();
    }
    expect(outside).toEqual([]);
  });

  /** The outbox folder the confirmation emails go to (every other folder is an issue slug). */
  async function confirmationFolder(): Promise<string> {
    // The confirmation goes out after the page answered.
    await waitForMailQueue(await app.store());
    const folders = await readdir(app.outboxDir);
    const found = folders.find((name) => !['2024-18', '2024-32', 'contrast-sampler'].includes(name));
    if (!found) throw new Error(`no confirmation email in ${app.outboxDir}: ${folders.join(', ')}`);
    return found;
  }
});
