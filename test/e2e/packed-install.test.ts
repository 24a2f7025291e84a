import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/temp-project.ts';

const run = promisify(execFile);
const MINUTE = 60_000;

let work: string | undefined;
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs a command the way a new user types it, in `cwd`; npm and npx come from this Node. */
async function sh(command: string, args: string[], cwd: string): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  for (const name of Object.keys(env)) if (name.startsWith('LETTERPRESS_')) delete env[name];
  const { stdout, stderr } = await run(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024, timeout: 12 * MINUTE });
  return `${stdout}${stderr}`;
}

describe('the packed tarball, installed into an empty directory', () => {
  it(
    'holds exactly what a user needs, and init, build and start --once work from it',
    async () => {
      work = await mkdtemp(path.join(tmpdir(), 'letterpress-pack-'));
      // dist/ is fresh (the suite's global setup builds it), so packing need not build again.
      await sh('npm', ['pack', '--ignore-scripts', '--pack-destination', work], REPO_ROOT);
      const tarball = path.join(work, 'letterpress-0.1.0.tgz');

      const listing = await sh('tar', ['tzf', tarball], work);
      const files = listing.split('\n').filter(Boolean).map((entry) => entry.replace(/^package\//, ''));
      expect(files).toEqual(expect.arrayContaining(['bin/letterpress.js', 'dist/cli/main.js', 'dist/store/sql/sqlite/issues.sql', 'templates/email/issue.mjml.hbs', 'README.md', 'LICENSE', 'package.json']));
      expect(files.filter((file) => /^(src|test|bench|node_modules|issues|data|out)\//.test(file) || file.endsWith('.ts'))).toEqual([]);

      const app = path.join(work, 'app');
      await mkdir(app);
      await sh('npm', ['init', '-y'], app);
      // better-sqlite3 compiles from source here (minutes on two cores): seed the one this
      // checkout already built, at the same version, so npm keeps it. Everything else comes from
      // the registry as for any user; a from-scratch compile is what `npm ci` in .ci/run proves.
      for (const name of ['better-sqlite3', 'bindings', 'file-uri-to-path']) {
        await cp(path.join(REPO_ROOT, 'node_modules', name), path.join(app, 'node_modules', name), { recursive: true });
      }
      await sh('npm', ['install', '--prefer-offline', tarball], app);

      await sh('npx', ['letterpress', 'init', 'demo', '--yes'], app);
      const demo = path.join(app, 'demo');
      // One issue that is due and one reader, so start --once really renders and "sends" (to the outbox).
      await writeFile(path.join(demo, 'issues', '2026-01.md'), '---\ntitle: First issue\n---\n# First issue\n\nHello, readers.\n');
      await sh('npx', ['letterpress', 'subscribers', 'add', 'reader@example.net'], demo);
      expect(await sh('npx', ['letterpress', 'build'], demo)).toContain('into out/');
      // The first build archives what is already there (the backlog rule): send it explicitly.
      const once = await sh('npx', ['letterpress', 'start', '--once'], demo);
      expect(once).toContain('Published');
      await sh('npx', ['letterpress', 'send', '2026-01'], demo);
      expect(await readFile(path.join(demo, 'out', 'index.html'), 'utf8')).toContain('First issue');
      const outbox = await readdir(path.join(demo, 'data', 'outbox'), { recursive: true });
      expect(outbox.filter((name) => name.endsWith('.eml'))).toHaveLength(1);
    },
    15 * MINUTE,
  );
});
