import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { startPreviewServer, type PreviewServer } from '../../src/server/preview-server.ts';
import { isLocal, launchChromium } from '../helpers/browser.ts';
import { createTempProject, REPO_ROOT } from '../helpers/temp-project.ts';

const SCREENSHOTS = path.join(REPO_ROOT, 'test-results');

let root: string;
let file: string;
let browser: Browser;
let server: PreviewServer;

beforeAll(async () => {
  root = await createTempProject();
  file = path.join(root, 'issues', '2024-18.md');
  const loaded = await loadConfig({ root, env: {} });
  server = await startPreviewServer({ loaded, file, port: 0, debounceMs: 20 });
  browser = await launchChromium();
  await mkdir(SCREENSHOTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

describe('letterpress preview in headless Chromium', () => {
  it('shows both email widths, the text part and the page under its CSP, and reloads itself on save', async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const outside: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (isLocal(url)) return route.continue();
      outside.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${server.url}/`, { waitUntil: 'load' });

    const frames = await page.evaluate(() =>
      [...document.querySelectorAll('iframe')].map((frame) => ({
        className: frame.className,
        // The viewport the email gets (the border sits outside it).
        width: frame.clientWidth,
        text: frame.contentDocument?.body?.textContent ?? '',
      })),
    );
    expect(frames.map((frame) => frame.className)).toEqual(['desktop', 'mobile', 'page']);
    expect(frames[0]!.width).toBe(600);
    expect(frames[1]!.width).toBe(375);
    for (const frame of frames) expect(frame.text).toContain('深入理解 RDMA 的软硬件交互机制');
    expect(await page.textContent('#text-part')).toContain('深入理解 RDMA 的软硬件交互机制');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'preview-2024-18.png'), fullPage: true });

    // Saving the file makes /preview.js reload the page with the new content.
    const reloaded = page.waitForEvent('load', { timeout: 15_000 });
    await writeFile(file, '# Preview reload check\n\nA paragraph written just now.\n');
    await reloaded;
    await expect.poll(() => page.textContent('h1'), { timeout: 10_000 }).toBe('Preview: Preview reload check');
    expect(await page.textContent('#text-part')).toContain('A paragraph written just now.');

    expect(problems, 'console errors (CSP violations included)').toEqual([]);
    expect(outside).toEqual([]);
    await context.close();
  });
});
