/**
 * The URL of module `name` in the same folder as the module at `base` (pass `import.meta.url`),
 * with the extension that the caller itself runs from: `.js` when it was emitted to `dist/`,
 * `.ts` when it runs from `src/` (vitest, tsx).
 *
 * Static `import` specifiers are rewritten from `.ts` to `.js` by the build, but a URL built
 * at run time is not, so this is the rule for every module loaded by a path computed at run
 * time, above all a worker process's entry:
 *
 *   fork(fileURLToPath(resolveSiblingModule(import.meta.url, 'issue-parser-worker')))
 *
 * (From `src/`, Node 20 cannot run a `.ts` entry by itself: the process needs a TypeScript
 * loader such as `execArgv: ['--import', 'tsx']`; `dist/` needs nothing.)
 */
export function resolveSiblingModule(base: string | URL, name: string): URL {
  const from = new URL(base);
  const extension = from.pathname.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${name}${extension}`, from);
}
