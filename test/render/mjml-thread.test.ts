import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { MjmlThread } from '../../src/render/mjml-thread.ts';
import { createTempProject, REPO_ROOT } from '../helpers/temp-project.ts';

const run = promisify(execFile);
// The thread runs the compiled modules (a thread of .ts modules would need a loader of its own).
const SHIPPED = (name: string) => pathToFileURL(path.join(REPO_ROOT, 'dist/render', `${name}.js`)).href;
const { startMjmlThread } = (await import(SHIPPED('mjml-thread'))) as { startMjmlThread: (entry?: URL) => MjmlThread | undefined };
const { compileMjmlHere } = (await import(SHIPPED('mjml-compiler'))) as { compileMjmlHere: (mjml: string) => Promise<string> };

const VALID = '<mjml><mj-body><mj-section><mj-column><mj-text>Hello <a href="https://example.org/">there</a></mj-text><mj-button href="https://example.org/b">Go</mj-button></mj-column></mj-section></mj-body></mjml>';
const INVALID = '<mjml><mj-body><mj-section><mj-column>\n<mj-text colour="red">x</mj-text>\n</mj-column></mj-section></mj-body></mjml>';

const threads: MjmlThread[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(threads.splice(0).map((thread) => thread.close()));
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

function started(entry?: URL): MjmlThread {
  const thread = startMjmlThread(entry);
  expect(thread).toBeDefined();
  threads.push(thread!);
  return thread!;
}

describe('the MJML thread of check', () => {
  it('compiles to the same HTML as this thread, and sends back MJML errors with their list', async () => {
    const thread = started();
    expect(await thread.compile(VALID)).toBe(await compileMjmlHere(VALID));
    const [offThread, here] = await Promise.all([thread.compile(INVALID).catch((e: unknown) => e), compileMjmlHere(INVALID).catch((e: unknown) => e)]);
    expect((offThread as Error).message).toBe((here as Error).message);
    expect((offThread as { errors: unknown }).errors).toEqual((here as { errors: unknown }).errors);
    expect((offThread as { errors: Array<{ line: number; tagName: string }> }).errors[0]).toMatchObject({ line: 2, tagName: 'mj-text' });
  });

  it('compiles here when the thread stops, for what it had and what follows', async () => {
    const dir = await createTempProject();
    dirs.push(dir);
    const dying = path.join(dir, 'dying-thread.mjs');
    await writeFile(dying, "import { parentPort } from 'node:worker_threads'; parentPort.once('message', () => process.exit(3));");
    const thread = started(pathToFileURL(dying));
    const expected = await compileMjmlHere(VALID);
    expect(await thread.compile(VALID)).toBe(expected);
    expect(await thread.compile(VALID)).toBe(expected);
  });

  it('reports an invalid email template from the binary as E_MJML with its line', async () => {
    const root = await createTempProject();
    dirs.push(root);
    const template = path.join(root, 'templates/email/issue.mjml.hbs');
    const source = await readFile(path.join(REPO_ROOT, 'templates/email/issue.mjml.hbs'), 'utf8');
    await writeFile(template, source.replace('<mj-text font-size="13px" css-class="lp-kicker">', '<mj-text font-size="13px" css-class="lp-kicker" colour="red">'));
    const result = await run(process.execPath, [path.join(REPO_ROOT, 'bin/letterpress.js'), '--root', root, 'check'], { env: { PATH: process.env.PATH } }).catch(
      (error: { code: number; stdout: string }) => error,
    );
    expect((result as { code?: number }).code).toBe(1);
    expect(result.stdout).toMatch(/2024-18\.md:\d+:1: error E_RENDER could not render: MJML from email\/issue\.mjml\.hbs is invalid for issue 2024-18: line \d+ <mj-text>: Attribute colour is illegal/);
    expect(result.stdout).toContain('2 files checked: 2 errors');
  });
});
