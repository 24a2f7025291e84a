// `npm run build`: compiles src/ into dist/ the way a running daemon can live with. It builds
// into dist.next/ and only then swaps it in, so a `letterpress` process that is running (or one
// started while a clone runs `prepare` again, as `npx` in a clone does) never finds dist/ gone
// or half written; files of deleted sources do not linger as they would with an in-place build.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

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

if (existsSync('dist')) renameSync('dist', OLD);
renameSync(NEXT, 'dist');
rmSync(OLD, { recursive: true, force: true });
