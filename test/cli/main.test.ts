import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createTempProject, REPO_ROOT, runCli } from '../helpers/temp-project.ts';

const run = promisify(execFile);
const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
});
async function project() {
  const root = await createTempProject();
  roots.push(root);
  return root;
}

describe('letterpress CLI', () => {
  it('the installed bin answers --help for the program and each command', async () => {
    const bin = path.join(REPO_ROOT, 'bin/letterpress.js');
    const { stdout } = await run(process.execPath, [bin, '--help']);
    for (const command of ['build', 'check', 'start', 'config']) expect(stdout).toContain(command);
    const check = await run(process.execPath, [bin, 'check', '--help']);
    expect(check.stdout).toContain('--json');
  });

  it('check passes the sample issues', async () => {
    const root = await project();
    const result = await runCli(['check', 'issues/2024-18.md', 'issues/2024-32.md'], root);
    expect(result.stdout).toContain('2 files checked: 0 errors, 0 warnings.');
    expect(result.code).toBe(0);
  });

  it('check reports file:line:column and exits 1 on errors; --json has the documented shape', async () => {
    const root = await project();
    await writeFile(path.join(root, 'issues/broken.md'), '---\ntitle: x\nnumber: "many"\n---\n# Broken\n');
    const human = await runCli(['check'], root);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^issues\/broken\.md:3:\d+: error E_FIELD .*number/m);
    expect(human.stdout).toContain('3 files checked: 1 error');
    const json = await runCli(['check', '--json', 'issues/broken.md'], root);
    expect(json.code).toBe(1);
    const diagnostics = JSON.parse(json.stdout);
    expect(diagnostics).toEqual([
      expect.objectContaining({ file: 'issues/broken.md', line: 3, severity: 'error', code: 'E_FIELD' }),
    ]);
    expect(Object.keys(diagnostics[0]).sort()).toEqual(['code', 'column', 'file', 'line', 'message', 'severity']);
  });

  it('start builds the site and says where it is', async () => {
    const root = await project();
    const result = await runCli(['start', '--once'], root);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Published 2 issues into out\/ in [\d.]+ s: 2 rendered, 0 unchanged\./);
    expect(result.stdout).toContain('out/feed.atom');
  });

  it('a bad config value is an error naming the key', async () => {
    const root = await project();
    await writeFile(path.join(root, 'config/letterpress.json'), JSON.stringify({ site: { url: 'ftp://x' }, feed: { limt: 3 } }));
    const result = await runCli(['build'], root);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('site.url: must be an absolute http(s) URL');
    expect(result.stderr).toContain('feed.limt: unknown key');
  });

  it('env vars override config keys', async () => {
    const root = await project();
    const result = await runCli(['config'], root, { LETTERPRESS_FEED_LIMIT: '3', LETTERPRESS_LOCALE: 'en' });
    const config = JSON.parse(result.stdout);
    expect(config.feed.limit).toBe(3);
    expect(config.locale).toBe('en');
    expect(config.timezone).toBe('Asia/Shanghai');
    const bad = await runCli(['config'], root, { LETTERPRESS_FEED_LIMIT: 'lots' });
    expect(bad.stderr).toContain('LETTERPRESS_FEED_LIMIT="lots": expected a number');
  });

  it('an unknown command is a usage error', async () => {
    const root = await project();
    const result = await runCli(['bulid'], root);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("unknown command 'bulid'");
  });
});
