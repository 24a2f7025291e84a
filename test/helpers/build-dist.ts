import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

/** The newest modification time of any file under `dir` (0 when there is none). */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * Vitest global setup: tests that spawn `bin/letterpress.js` run `dist/`, so it is rebuilt
 * first whenever a source (or the build config) is newer than it — also when one test file
 * is run on its own, not only under `npm test` (which builds before vitest starts).
 */
export default function buildDist(): void {
  let built = 0;
  try {
    built = statSync(path.join(REPO_ROOT, 'dist/cli/main.js')).mtimeMs;
  } catch {
    // Never built: build now.
  }
  const sources = Math.max(
    newestMtime(path.join(REPO_ROOT, 'src')),
    statSync(path.join(REPO_ROOT, 'tsconfig.build.json')).mtimeMs,
    statSync(path.join(REPO_ROOT, 'tsconfig.json')).mtimeMs,
  );
  if (built >= sources) return;
  const result = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`npm run build failed (exit ${result.status}): dist/ is stale, tests that spawn the CLI cannot run`);
}
