import { request } from 'node:http';
import { appendFile, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig, type LoadedConfig } from '../../src/config/load-config.ts';
import { newestIssueFile, startPreviewServer, type PreviewServer } from '../../src/server/preview-server.ts';
import { createTempProject, runCli } from '../helpers/temp-project.ts';

const draft = (title: string, item: string) => `---
title: ${title}
draft: true
publish_at: 2999-01-01T09:00+08:00
summary: A draft nobody has seen yet
---

## First section

**1.** **${item}**
https://example.org/articles/1

**摘要:** Why the preview matters.
`;

let root: string;
let loaded: LoadedConfig;
let file: string;
let server: PreviewServer;

async function get(pathname: string) {
  const response = await fetch(`${server.url}${pathname}`);
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** Waits until the preview shows something other than `version` (the watcher re-renders on its own). */
async function nextVersion(version: string): Promise<string> {
  return vi.waitFor(
    async () => {
      const { version: now } = JSON.parse((await get('/version')).body) as { version: string };
      expect(now).not.toBe(version);
      return now;
    },
    { timeout: 10_000, interval: 50 },
  );
}

beforeAll(async () => {
  root = await createTempProject();
  file = path.join(root, 'issues', 'next-issue.md');
  await writeFile(file, draft('Preview Draft One', 'The first item'));
  // The samples carry an old mtime already; make the draft the newest file for certain.
  const later = new Date(Date.now() + 1000);
  await utimes(file, later, later);
  loaded = await loadConfig({ root, env: {} });
  server = await startPreviewServer({ loaded, file, port: 0, debounceMs: 20 });
});
afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

describe('preview server', () => {
  it('picks the newest issue file by default, drafts included', async () => {
    expect(await newestIssueFile(loaded.paths.issues)).toBe(file);
  });

  it('shows the email at 600 and 375 px, the text part, the web page and the diagnostics, with no inline script', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const shell = await get('/');
    expect(shell.status).toBe(200);
    expect(shell.headers.get('content-type')).toMatch(/^text\/html/);
    expect(shell.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(shell.body).toContain('<h1>Preview: Preview Draft One</h1>');
    expect(shell.body).toContain('draft');
    expect(shell.body).toContain('publish_at 2999-01-01T09:00:00+08:00');
    expect(shell.body).toMatch(/<iframe class="desktop" src="\/email.html"/);
    expect(shell.body).toMatch(/<iframe class="mobile" src="\/email.html"/);
    expect(shell.body).toMatch(/<iframe class="page" src="\/page.html"/);
    expect(shell.body).toMatch(/<pre id="text-part">[^<]*The first item/);
    expect(shell.body).toContain('No problems found.');
    // The only script is the external reloader; no inline script or style anywhere.
    expect(shell.body.match(/<script[^>]*>/g)).toEqual(['<script src="/preview.js" defer>']);
    expect(shell.body).not.toMatch(/<style|\sstyle=|\son\w+=/i);
    expect(shell.body).toContain('<link rel="stylesheet" href="/preview.css">');

    const email = await get('/email.html');
    expect(email.status).toBe(200);
    expect(email.body).toContain('The first item');
    expect(email.body).toContain('%%unsubscribe_url%%');
    expect(email.headers.get('content-security-policy')).toContain("default-src 'none'");
    const text = await get('/email.txt');
    expect(text.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(text.body).toContain('The first item');
    const page = await get('/page.html');
    expect(page.body).toContain('<h1>Preview Draft One</h1>');
    expect(page.body).toContain('href="../../style.css"');
    expect((await get('/style.css')).headers.get('content-type')).toMatch(/^text\/css/);
    const script = await get('/preview.js');
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(script.body).toContain("fetch('/version'");
    expect(JSON.parse((await get('/version')).body)).toMatchObject({ version: server.version(), stale: false, errors: 0 });
  });

  it('re-renders when the file changes and /version moves', async () => {
    const before = server.version();
    await writeFile(file, draft('Preview Draft Two', 'A second thought'));
    await nextVersion(before);
    expect((await get('/')).body).toContain('<h1>Preview: Preview Draft Two</h1>');
    expect((await get('/email.html')).body).toContain('A second thought');
    expect((await get('/email.txt')).body).toContain('A second thought');
    expect((await get('/page.html')).body).toContain('A second thought');
  });

  it('shows the diagnostics of a broken file, keeps the last good rendering and stays up', async () => {
    const before = server.version();
    await writeFile(file, '---\ntitle: [unclosed\n---\n\n# Body\n');
    await nextVersion(before);
    const shell = await get('/');
    expect(shell.status).toBe(200);
    expect(shell.body).toMatch(/<li class="error">issues\/next-issue\.md:\d+:\d+ error E_FRONT_MATTER: /);
    expect(shell.body).toContain('showing its last good version');
    expect((await get('/email.html')).body).toContain('A second thought');
    expect(JSON.parse((await get('/version')).body)).toMatchObject({ stale: true, errors: 1 });

    // Fixed again: back to a clean preview.
    const broken = server.version();
    await writeFile(file, draft('Preview Draft Three', 'Fixed'));
    await nextVersion(broken);
    const fixed = await get('/');
    expect(fixed.body).toContain('No problems found.');
    expect(fixed.body).not.toContain('last good version');
  });

  it('re-renders when a template changes', async () => {
    const before = server.version();
    const template = path.join(root, 'templates', 'email', 'issue.txt.hbs');
    await appendFile(template, 'Preview template marker\n');
    await nextVersion(before);
    expect((await get('/email.txt')).body).toContain('Preview template marker');
    // A template that does not compile is a diagnostic too, not a crash.
    const good = await readFile(template, 'utf8');
    const last = server.version();
    await writeFile(template, `${good}{{#if}}\n`);
    await nextVersion(last);
    expect((await get('/')).body).toMatch(/<li class="error">[^<]*issue\.txt\.hbs/);
    await writeFile(template, good);
  });

  it('answers only requests addressed to a loopback host name', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const port = new URL(server.url).port;
      request({ host: '127.0.0.1', port, path: '/', headers: { host: `attacker.example:${port}` } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(403);
  });
});

describe('letterpress preview', () => {
  it('says so when there is no issue file to preview', async () => {
    const empty = await createTempProject({ samples: false });
    try {
      const result = await runCli(['preview', '--port', '0'], empty);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('no issue file in issues/ to preview');
      const missing = await runCli(['preview', 'issues/nope.md', '--port', '0'], empty);
      expect(missing.stderr).toContain('issues/nope.md: no such file');
      const badPort = await runCli(['preview', '--port', 'http'], empty);
      expect(badPort.stderr).toContain('--port "http": use a port number from 0 to 65535');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
