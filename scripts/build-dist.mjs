// `npm run build`: compiles src/ into dist/ the way a running daemon can live with. It builds
// into dist.next/ and only then swaps it in, so a `letterpress` process that is running (or one
// started while a clone runs `prepare` again, as `npx` in a clone does) never finds dist/ gone
// or half written; files of deleted sources do not linger as they would with an in-place build.
//
// `--if-stale` (what `prepare` runs) builds only when a source or build config is newer than
// dist/: `npx letterpress …` in a clone runs `prepare` before every command, and must not
// spend twenty seconds compiling what is already compiled.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** The newest modification time of any file under `dir` (0 when there is none). */
function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

function isFresh() {
  if (!existsSync('dist/cli/main.js')) return false;
  const sources = Math.max(newestMtime('src'), statSync('tsconfig.build.json').mtimeMs, statSync('tsconfig.json').mtimeMs);
  return statSync('dist/cli/main.js').mtimeMs >= sources;
}

if (process.argv.includes('--if-stale') && isFresh()) process.exit(0);

const NEXT = 'dist.next';
const OLD = 'dist.old';
rmSync(NEXT, { recursive: true, force: true });
rmSync(OLD, { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', NEXT], { stdio: 'inherit' });
if (compiled.status !== 0) {
  rmSync(NEXT, { recursive: true, force: true });
  process.exit(compiled.status ?? 1);
}
// What the code loads at run time besides JavaScript (the .sql files beside load-sql.ts).
cpSync('src', NEXT, { recursive: true, filter: (file) => !/\.(ts|md)$/.test(file) });

// Dependencies made of many small ES modules are shipped bundled into the one module that
// re-exports them: each module the loader resolves and links costs start-up time and memory
// (see the comment in each file). The bundle keeps the dependency's licence at its head.
const BUNDLED = [{ module: 'config/zod', dependency: 'zod' }];
const { build } = await import('esbuild');
for (const { module, dependency } of BUNDLED) {
  const licence = readFileSync(path.join('node_modules', dependency, 'LICENSE'), 'utf8').trim();
  await build({
    entryPoints: [`src/${module}.ts`],
    outfile: `${NEXT}/${module}.js`,
    allowOverwrite: true,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    legalComments: 'inline',
    banner: { js: `/*! ${dependency}, bundled by scripts/build-dist.mjs\n${licence.replaceAll('*/', '* /')}\n*/` },
    logLevel: 'warning',
  });
}

if (existsSync('dist')) renameSync('dist', OLD);
renameSync(NEXT, 'dist');
rmSync(OLD, { recursive: true, force: true });
