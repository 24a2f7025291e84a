import { mkdir, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLocal, launchChromium, serveDirectory } from '../helpers/browser.ts';
import { createTempProject, REPO_ROOT, runCli } from '../helpers/temp-project.ts';

const SCREENSHOTS = path.join(REPO_ROOT, 'test-results');

let root: string;
let browser: Browser;
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  root = await createTempProject();
  const result = await runCli(['build'], root);
  expect(result.code, result.stderr).toBe(0);
  ({ url: baseUrl, server } = await serveDirectory(path.join(root, 'out')));
  browser = await launchChromium();
  await mkdir(SCREENSHOTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  server?.close();
  await rm(root, { recursive: true, force: true });
});

/** Opens `pagePath` at `width`, blocking and recording every request that would leave loopback. */
async function open(pagePath: string, width: number) {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const outside: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    outside.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  await page.goto(`${baseUrl}/${pagePath}`, { waitUntil: 'load' });
  const metrics = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    lang: document.documentElement.lang,
  }));
  return { context, page, outside, metrics };
}

describe('rendered pages in headless Chromium', () => {
  for (const slug of ['2024-18', '2024-32']) {
    it(`email ${slug}: under 100 KB, fits 375px and 600px, loads nothing from outside`, async () => {
      const html = await readFile(path.join(root, 'out/issues', slug, 'email.html'));
      expect(html.byteLength).toBeLessThan(100 * 1024);
      for (const width of [375, 600]) {
        const { context, page, outside, metrics } = await open(`issues/${slug}/email.html`, width);
        expect(outside, 'requests leaving loopback').toEqual([]);
        expect(metrics.scrollWidth, `horizontal scroll at ${width}px`).toBeLessThanOrEqual(metrics.innerWidth);
        expect(metrics.lang).toBe('zh-CN');
        await page.screenshot({ path: path.join(SCREENSHOTS, `email-${slug}-${width}.png`), fullPage: true });
        await context.close();
      }
    });
  }

  it('email is one column on a phone and 600px wide on a desktop', async () => {
    const widthOf = async (width: number) => {
      const { context, page } = await open('issues/2024-18/email.html', width);
      // MJML's body container carries max-width:600px; its rendered width is the column.
      const column = await page.evaluate(() => {
        const container = [...document.querySelectorAll<HTMLElement>('div')].find((d) => d.style.maxWidth === '600px');
        return container?.getBoundingClientRect().width ?? -1;
      });
      await context.close();
      return column;
    };
    expect(await widthOf(1024)).toBeLessThanOrEqual(600);
    expect(await widthOf(1024)).toBeGreaterThanOrEqual(560);
    expect(await widthOf(375)).toBeLessThanOrEqual(375);
  });

  for (const pagePath of ['index.html', 'issues/2024-18/index.html']) {
    it(`web page ${pagePath} fits a phone and loads nothing from outside`, async () => {
      for (const width of [375, 1280]) {
        const { context, page, outside, metrics } = await open(pagePath, width);
        expect(outside).toEqual([]);
        expect(metrics.scrollWidth).toBeLessThanOrEqual(metrics.innerWidth);
        const name = pagePath.replace(/\/index\.html$|\.html$/, '').replace(/\//g, '-');
        await page.screenshot({ path: path.join(SCREENSHOTS, `web-${name}-${width}.png`), fullPage: true });
        await context.close();
      }
    });
  }

  it('per-item anchors on the issue page resolve to the items', async () => {
    const { context, page } = await open('issues/2024-18/index.html#s2-i2', 1280);
    const text = await page.evaluate(() => document.getElementById('s2-i2')?.textContent ?? '');
    expect(text).toContain('深入理解 RDMA 的软硬件交互机制');
    await context.close();
  });
});
