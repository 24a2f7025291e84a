import path from 'node:path';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import type { Diagnostic } from '../../src/issue/diagnostic.ts';
import { createTempProject, runCli } from '../helpers/temp-project.ts';
import { hostileIssues, writeHostileIssues } from '../fixtures/hostile/hostile-issues.ts';

// A short budget keeps the test bounded on a busy machine; each file either parses well
// within it (the patterns are linear now) or gets E_TOO_SLOW, never a hang.
// No file here needs the budget to fail (every shape is linear now; the bombs are refused from a
// scan), so it is generous: a good issue on a loaded 2-core machine must not run out of it.
const ENV = { LETTERPRESS_LIMITS_PARSESECONDS: '30', LETTERPRESS_SECRET: 'test-secret-0123456789abcdef0123456789' };
const MUST_FAIL = ['alias-bomb.md', 'alias-bomb-summary.md', 'yaml-deep.md'];

let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

describe('the hostile corpus beside good issues', () => {
  it('check gives each hostile file a clear diagnostic or passes it, and exits 1', async () => {
    root = await createTempProject();
    await writeHostileIssues(path.join(root, 'issues'));
    const run = await runCli(['check', '--json'], root, ENV);
    expect(run.code, run.stderr).toBe(1);
    const diagnostics = JSON.parse(run.stdout) as Diagnostic[];
    const errorsOf = (name: string) => diagnostics.filter((d) => d.file === `issues/${name}` && d.severity === 'error');
    for (const name of MUST_FAIL) {
      expect(errorsOf(name).map((d) => d.code)).toEqual(['E_FRONT_MATTER']);
      expect(errorsOf(name)[0]!.line).toBeGreaterThan(1);
    }
    for (const { name } of hostileIssues()) {
      for (const error of errorsOf(name)) expect(['E_FRONT_MATTER', 'E_TOO_SLOW']).toContain(error.code);
    }
    expect(errorsOf('2024-18.md')).toEqual([]);
    expect(errorsOf('2024-32.md')).toEqual([]);
  }, 600_000);

  it('build publishes the good issues, reports the hostile ones, and exits 0', async () => {
    root = await createTempProject();
    await writeHostileIssues(path.join(root, 'issues'));
    const run = await runCli(['build', '--json'], root, ENV);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { published: string[]; failedFiles: string[] };
    expect(report.published, run.stdout).toEqual(expect.arrayContaining(['2024-18', '2024-32']));
    expect(report.failedFiles).toEqual(expect.arrayContaining(MUST_FAIL.map((name) => `issues/${name}`)));
    expect(existsSync(path.join(root, 'out/issues/2024-18/index.html'))).toBe(true);
    // Every hostile file is either on the site or named among the failures.
    for (const { name } of hostileIssues()) {
      const slug = name.replace(/\.md$/, '');
      expect(report.published.includes(slug) || report.failedFiles.includes(`issues/${name}`), name).toBe(true);
    }
  }, 600_000);
});
