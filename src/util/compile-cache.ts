import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Script } from 'node:vm';

/**
 * Keeps V8's compiled code of the dependencies between runs of the CLI, so a command's start
 * does not compile the same few hundred CommonJS files every time (MJML alone is about 450:
 * compiling them was a tenth of a cold `check`).
 *
 * On Node 22.1 and later this is Node's own compile cache (`module.enableCompileCache`, which
 * covers ES modules too). Node 20 has none, so there the CommonJS loader's compile step is
 * wrapped: each file under node_modules is compiled as a `vm.Script` with the code V8 cached
 * for exactly that file's text, and at exit the code of the files compiled afresh (by then
 * with every function the run called) is written back. Files that `import()` or that are not
 * plain CommonJS compile as Node compiles them, uncached.
 *
 * `NODE_DISABLE_COMPILE_CACHE=1` turns it off, `NODE_COMPILE_CACHE=DIR` moves it (both as Node
 * has them). The default folder is per user under the temporary directory; one that is not
 * the user's own, or is open to others, is not used. Returns where the cache is, or undefined.
 */
export function enableCompileCache(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  const native = (Module as { enableCompileCache?: (dir?: string) => { directory?: string } }).enableCompileCache;
  if (typeof native === 'function') return (enabledIn = native(env.NODE_COMPILE_CACHE)?.directory);
  const dir = env.NODE_COMPILE_CACHE ?? path.join(tmpdir(), `letterpress-compile-cache-${process.getuid?.() ?? 'user'}`);
  const cacheDir = path.join(dir, `${process.version}-${process.arch}`);
  // Both levels: whoever could rename entries in the outer folder could swap the inner one.
  if (!ownPrivateFolder(cacheDir) || !ownPrivateFolder(dir)) return undefined;
  cacheCommonJsCompiles(cacheDir);
  enabledIn = dir;
  return cacheDir;
}

let enabledIn: string | undefined;

/**
 * The folder this thread's enableCompileCache was given or chose (undefined: not enabled), to
 * pass as NODE_COMPILE_CACHE to a worker thread, which has a loader of its own.
 */
export function compileCacheDirectory(): string | undefined {
  return enabledIn;
}

/** Makes `dir` (mode 700) and says whether it belongs to this user and is closed to others. */
function ownPrivateFolder(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = statSync(dir);
    const uid = process.getuid?.();
    return stat.isDirectory() && (uid === undefined || stat.uid === uid) && (stat.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

/** What Node's CommonJS loader has and types leave out. */
interface CommonJsModule {
  exports: unknown;
  require(id: string): unknown;
  _compile(content: string, filename: string, format?: string): unknown;
}
interface CommonJsLoader {
  prototype: CommonJsModule;
  wrap(source: string): string;
  _resolveFilename(request: string, parent: CommonJsModule, isMain: boolean, options?: unknown): string;
  _resolveLookupPaths(request: string, parent: CommonJsModule): string[] | null;
  _extensions: unknown;
  _cache: unknown;
}

function cacheCommonJsCompiles(cacheDir: string): void {
  const loader = Module as unknown as CommonJsLoader;
  const compile = loader.prototype._compile;
  const fresh: Array<{ file: string; script: Script }> = [];

  loader.prototype._compile = function compileWithCache(this: CommonJsModule, content, filename, format) {
    if (
      (format !== undefined && format !== 'commonjs') ||
      !filename.includes(`${path.sep}node_modules${path.sep}`) ||
      content.includes('import(') ||
      process.sourceMapsEnabled
    ) {
      return compile.call(this, content, filename, format);
    }
    const key = createHash('sha1').update(filename).update('\0').update(content).digest('hex');
    const file = path.join(cacheDir, `${key}.bin`);
    let cachedData: Buffer | undefined;
    try {
      cachedData = readFileSync(file);
    } catch {
      // Not cached yet.
    }
    let script: Script;
    try {
      script = new Script(loader.wrap(content), { filename, cachedData });
    } catch {
      // Not CommonJS after all (Node tells ES module syntax apart itself): compile as Node does.
      return compile.call(this, content, filename, format);
    }
    if (!cachedData || script.cachedDataRejected) fresh.push({ file, script });
    const wrapper = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    return wrapper.call(this.exports, this.exports, requireFor(this, loader), this, filename, path.dirname(filename));
  };

  process.once('exit', () => {
    for (const { file, script } of fresh) {
      try {
        // Written aside and renamed, so a run starting now never reads half a file.
        const partial = `${file}.${process.pid}`;
        writeFileSync(partial, script.createCachedData());
        renameSync(partial, file);
      } catch {
        // A full disk or a removed folder costs the next run its cache, nothing else.
      }
    }
  });
}

/** The `require` a CommonJS module sees, as Node's loader makes it. */
function requireFor(module: CommonJsModule, loader: CommonJsLoader): NodeJS.Require {
  const require = ((id: string) => module.require(id)) as NodeJS.Require;
  const resolve = ((request: string, options?: unknown) => loader._resolveFilename(request, module, false, options)) as NodeJS.RequireResolve;
  resolve.paths = (request: string) => loader._resolveLookupPaths(request, module);
  require.resolve = resolve;
  require.main = process.mainModule;
  require.extensions = loader._extensions as NodeJS.RequireExtensions;
  require.cache = loader._cache as NodeJS.Dict<NodeJS.Module>;
  return require;
}
