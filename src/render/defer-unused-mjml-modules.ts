import Module, { createRequire } from 'node:module';

/**
 * A module that MJML's packages require when they load but that our compile options never
 * call. `path` is the chain of requests from this file to it: each step is resolved from the
 * module the step before resolved to, exactly as that module's own `require` would.
 */
export interface DeferredModule {
  path: readonly string[];
  /** What reading `__esModule` answers without loading the module (see `namespaceOnly`). */
  esModule: boolean | undefined;
  /** The module exports a function (the stand-in is then callable and constructible). */
  callable: boolean;
  /**
   * The one requiring it reads it through TypeScript's `__importStar`, which copies every
   * export at load unless `__esModule` is set: the stand-in says `true` although the real
   * module does not, so only named exports may be used (they are).
   */
  namespaceOnly?: boolean;
  /** When it would be used: why none of our renders call it. */
  usedFor: string;
}

/**
 * mjml-core, juice and htmlnano require these at the top of their files; with our options
 * (no `mj-html-attributes` in the templates, no CSS minification, no beautify, no config
 * files, no remote resources) none of them is ever called. Loading them is about a fifth of
 * MJML's start-up: two copies of cheerio's HTTP client (undici), cssnano's PostCSS plugins,
 * js-beautify, cosmiconfig. `test/render/defer-unused-mjml-modules.test.ts` checks that each
 * stays unloaded while the samples render, that the HTML is byte-identical without this,
 * and that the declared shapes match the real modules (so an upgrade that changes one shows).
 */
export const DEFERRED_MJML_MODULES: readonly DeferredModule[] = [
  {
    path: ['mjml', 'mjml-core', 'cheerio'],
    esModule: true,
    callable: false,
    usedFor: 'mj-html-attributes (mjml-core edits the HTML with cheerio only then)',
  },
  {
    path: ['mjml', 'mjml-core', 'cssnano-preset-lite'],
    esModule: undefined,
    callable: true,
    usedFor: 'CSS minification (minifyCss), which MJML_OPTIONS turns off',
  },
  {
    path: ['mjml', 'mjml-core', './helpers/formatHtml'],
    esModule: true,
    callable: false,
    usedFor: 'beautify: true (js-beautify), never set',
  },
  {
    path: ['mjml', 'mjml-core', 'juice', 'web-resource-inliner'],
    esModule: undefined,
    callable: false,
    usedFor: "juice's juiceResources/juiceFile (fetching linked CSS); mjml-core calls juice() on a string",
  },
  {
    path: ['mjml', 'mjml-core', 'juice', 'cheerio', 'undici'],
    esModule: true,
    callable: false,
    namespaceOnly: true,
    usedFor: "cheerio's fromURL (an HTTP client); juice only parses strings",
  },
  {
    path: ['mjml', 'mjml-core', 'htmlnano', 'cosmiconfig'],
    esModule: true,
    callable: false,
    usedFor: 'htmlnano looking for .htmlnanorc files, which skipConfigLoading turns off',
  },
];

/** The file each step of `path` resolves to (undefined when a step no longer resolves). */
export function resolveDeferredModule(entry: DeferredModule, from: string = import.meta.url): string | undefined {
  let file = from;
  try {
    for (const request of entry.path) file = createRequire(file).resolve(request);
  } catch {
    return undefined;
  }
  return file;
}

/**
 * A stand-in whose first use of any kind (a property read other than `__esModule`, a call,
 * `in`, listing keys) loads the real module and answers from it from then on; the real module
 * then also replaces the stand-in in the require cache, so later requires get it directly.
 */
function standIn(file: string, entry: DeferredModule): Module {
  const requireReal = createRequire(file);
  let real: unknown;
  const load = (): object => {
    if (real === undefined) {
      delete requireReal.cache[file];
      real = requireReal(file);
    }
    return real as object;
  };
  const target = entry.callable ? function deferred() {} : {};
  const exports = new Proxy(target, {
    get: (_target, key) => (key === '__esModule' ? entry.esModule : Reflect.get(load(), key)),
    has: (_target, key) => Reflect.has(load(), key),
    set: (_target, key, value) => Reflect.set(load(), key, value),
    deleteProperty: (_target, key) => Reflect.deleteProperty(load(), key),
    defineProperty: (_target, key, descriptor) => Reflect.defineProperty(load(), key, descriptor),
    // The target's own non-configurable keys (a function's `prototype`) must be listed too.
    ownKeys: (proxied) => [...new Set([...Reflect.ownKeys(load()), ...Reflect.ownKeys(proxied).filter((key) => !Reflect.getOwnPropertyDescriptor(proxied, key)?.configurable)])],
    getOwnPropertyDescriptor: (proxied, key) => {
      const own = Reflect.getOwnPropertyDescriptor(proxied, key);
      if (own && !own.configurable) return own;
      const descriptor = Reflect.getOwnPropertyDescriptor(load(), key);
      return descriptor && { ...descriptor, configurable: true };
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(load()),
    apply: (_target, self, args) => Reflect.apply(load() as (...args: unknown[]) => unknown, self, args),
    construct: (_target, args, newTarget) => Reflect.construct(load() as new (...args: unknown[]) => object, args, newTarget),
  });
  const module = new Module(file);
  module.filename = file;
  module.loaded = true;
  module.exports = exports;
  return module;
}

let deferred = false;

/**
 * Puts a stand-in for each of DEFERRED_MJML_MODULES into the require cache, before MJML is
 * first loaded. A module already loaded, or one that no longer resolves (another version of
 * MJML), is left alone: the only cost of a stale entry is the time it would have saved.
 */
export function deferUnusedMjmlModules(): void {
  if (deferred) return;
  deferred = true;
  const cache = createRequire(import.meta.url).cache;
  for (const entry of DEFERRED_MJML_MODULES) {
    const file = resolveDeferredModule(entry);
    if (file === undefined || cache[file]) continue;
    cache[file] = standIn(file, entry);
  }
}
