// `npm run build`: compiles src/ into dist/ the way a running daemon can live with. It builds
// into dist.next/ and only then swaps it in, so a `letterpress` process that is running (or one
// started while a clone runs `prepare` again, as `npx` in a clone does) never finds dist/ gone
// or half written; files of deleted sources do not linger as they would with an in-place build.
//
// `--if-stale` (what `prepare` runs) builds only when a source or build config is newer than
// dist/: `npx letterpress …` in a clone runs `prepare` before every command, and must not
// spend twenty seconds compiling what is already compiled.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** The licence text the package in `dir` ships (LICENSE, LICENSE-MIT.txt, LICENCE, COPYING…). */
function licenceIn(dir) {
  const file = readdirSync(dir).find((entry) => /^(licen[cs]e|copying)([.-]|$)/i.test(entry));
  if (!file) throw new Error(`build: ${dir} ships no licence file to keep with its bundle`);
  return readFileSync(path.join(dir, file), 'utf8').trim();
}

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

// src/vendor/*.ts re-export dependencies made of many small modules. Each is shipped as its
// dependency bundled into that one module: every module the loader resolves, links and runs
// costs start-up time and memory, and a command that reads the configuration, parses an issue
// and renders it loaded about three hundred (see the comment in each file). Only what the
// re-export names is kept. The bundle carries each bundled package's licence at its head.
const { build } = await import('esbuild');
// CommonJS inside an ES module bundle needs a `require` for the Node built-ins it loads.
const REQUIRE_SHIM = "import { createRequire as createRequireForBundle } from 'node:module';\nconst require = createRequireForBundle(import.meta.url);\n";
for (const name of readdirSync('src/vendor').filter((file) => file.endsWith('.ts'))) {
  const result = await build({
    entryPoints: [`src/vendor/${name}`],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    metafile: true,
    write: false,
    logLevel: 'warning',
  });
  // The folder of each package the bundle took code from (the innermost node_modules entry).
  const packageDirs = new Set();
  for (const input of Object.keys(result.metafile.inputs)) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match) packageDirs.add(match[1]);
  }
  const licences = [...packageDirs].sort().map((dir) => `${path.relative('node_modules', dir)}:\n${licenceIn(dir).replaceAll('*/', '* /')}`);
  const header = `/*! Bundled by scripts/build-dist.mjs from src/vendor/${name}. Licences:\n\n${licences.join('\n\n')}\n*/\n`;
  writeFileSync(`${NEXT}/vendor/${name.replace(/\.ts$/, '.js')}`, header + REQUIRE_SHIM + result.outputFiles[0].text);
}

if (existsSync('dist')) renameSync('dist', OLD);
renameSync(NEXT, 'dist');
rmSync(OLD, { recursive: true, force: true });
