#!/usr/bin/env node
// Runs the compiled CLI in dist/: `npm run build` writes it, and `npm install` in a clone
// builds it by itself (the `prepare` script); the published package ships it.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('letterpress: dist/ is missing: run `npm run build` in the letterpress folder first\n');
  process.exit(1);
}
// Before anything else loads: dependencies compile from the code cached by earlier runs.
const { enableCompileCache } = await import(new URL('../dist/util/compile-cache.js', import.meta.url).href);
enableCompileCache();
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
