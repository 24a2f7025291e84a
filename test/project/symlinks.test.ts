import { readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTempProject, runCli } from '../helpers/temp-project.ts';
import { startServer, type ServerFixture } from '../server/server-fixture.ts';

/**
 * Files are read and served only inside their folders: a symlink planted in issues/,
 * templates/, config/ or out/ that leads elsewhere is refused, one that stays inside works.
 */

const roots: string[] = [];
let fixture: ServerFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
  await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
});
async function project() {
  const root = await createTempProject();
  roots.push(root);
  return root;
}

describe('symlinks in the project', () => {
  it('an issue file linking out of issues/ is an E_OUTSIDE diagnostic at file:1:1; the others build', async () => {
    const root = await project();
    await symlink('/etc/passwd', path.join(root, 'issues/passwd.md'));
    const check = await runCli(['check'], root);
    expect(check.stdout).toContain('issues/passwd.md:1:1: error E_OUTSIDE is a symlink to /etc/passwd, outside issues/: refused');
    expect(check.code).toBe(1);
    const build = await runCli(['build', '--json'], root);
    expect(build.code).toBe(0);
    const report = JSON.parse(build.stdout) as { published: unknown[]; failedFiles: string[] };
    expect(report.failedFiles).toEqual(['issues/passwd.md']);
    expect(report.published).toHaveLength(2);
  });

  it('publish of a symlink out of issues/ is refused with exit 1, not a page that does not exist', async () => {
    const root = await project();
    expect((await runCli(['build'], root)).code).toBe(0);
    await writeFile(path.join(root, 'elsewhere.md'), '# Elsewhere No. 9\n\nText.\n');
    await symlink(path.join(root, 'elsewhere.md'), path.join(root, 'issues/linked.md'));
    const result = await runCli(['publish', 'issues/linked.md'], root);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/issues\/linked\.md:1:1: error E_OUTSIDE is a symlink to .*elsewhere\.md, outside issues\/: refused/);
    expect(result.stdout).not.toContain('page:');
  });

  it('a symlink that stays inside issues/ is an issue like any other', async () => {
    const root = await project();
    expect((await runCli(['build'], root)).code).toBe(0);
    await writeFile(path.join(root, 'issues/.real-2024-40.md'), '---\nslug: 2024-40\n---\n# 云计算技术动态 2024 年第四十期\n\nText.\n');
    await symlink('.real-2024-40.md', path.join(root, 'issues/2024-40.md'));
    const result = await runCli(['publish', 'issues/2024-40.md'], root);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await readFile(path.join(root, 'out/issues/2024-40/index.html'), 'utf8')).toContain('第四十期');
  });

  it('a template linking out of templates/ stops the build with an error naming the template', async () => {
    const root = await project();
    const css = path.join(root, 'templates/web/style.css');
    await unlink(css);
    await symlink('/etc/passwd', css);
    const result = await runCli(['build'], root);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`template file ${css} is a symlink to /etc/passwd, outside`);
    await expect(readFile(path.join(root, 'out/style.css'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a config file linking out of config/ is refused', async () => {
    const root = await project();
    const file = path.join(root, 'config/letterpress.json');
    await writeFile(path.join(root, 'other.json'), await readFile(file));
    await unlink(file);
    await symlink(path.join(root, 'other.json'), file);
    const result = await runCli(['build'], root);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/config\/letterpress\.json is a symlink to .*other\.json, outside config\/: refused/);
  });

  it('over HTTP, a symlink in out/ to the store answers 404; one inside out/ is served', async () => {
    fixture = await startServer();
    const out = fixture.app.loaded.paths.out;
    await symlink(path.join(fixture.root, 'data/letterpress.db'), path.join(out, 'db.txt'));
    await symlink('/etc', path.join(out, 'etc'));
    await symlink('feed.atom', path.join(out, 'latest.atom'));
    await fixture.server.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(fixture.server.server.address() as AddressInfo).port}`;
    for (const url of ['/db.txt', '/%64b.txt', '/db%2etxt', '/etc/passwd', '/etc/', '/etc/%70asswd']) {
      const response = await fetch(`${base}${url}`);
      expect(response.status, url).toBe(404);
      expect(await response.text(), url).not.toMatch(/SQLite format|root:/);
    }
    // The links came after the server loaded out/: a build stamp makes it look again.
    await writeFile(path.join(out, '.build-stamp'), `${Date.now()}\n`);
    await expect.poll(async () => (await fetch(`${base}/latest.atom`)).status, { timeout: 15_000 }).toBe(200);
    const inside = await fetch(`${base}/latest.atom`);
    expect(await inside.text()).toContain('<feed');
  });
});
