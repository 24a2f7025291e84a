import { spawnSync } from 'node:child_process';
import path from 'node:path';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * Vitest global setup: tests that spawn `bin/letterpress.js` run `dist/`, so it is rebuilt
 * first whenever a source (or the build config) is newer than it — also when one test file
 * is run on its own, not only under `npm test` (which builds before vitest starts).
 */
export default function buildDist(): void {
  const result = spawnSync(process.execPath, ['scripts/build-dist.mjs', '--if-stale'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`the build failed (exit ${result.status}): dist/ is stale, tests that spawn the CLI cannot run`);
}
