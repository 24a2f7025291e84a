import { readFile } from 'node:fs/promises';
import { OutsideFolderError, resolveInside } from '../util/resolve-inside.ts';
import path from 'node:path';
import { z } from '../vendor/zod.ts';
import { LetterpressError } from '../util/errors.ts';
import { formatSourceExcerpt } from './format-source-excerpt.ts';
import { lineColumnAt, scanJson, type JsonLocation } from './scan-json.ts';
import { configSchema, type Config } from './schema.ts';
import { suggestEnvName } from './suggest-env-name.ts';

/** Where the config file lives, relative to the project root. */
export const CONFIG_FILE = path.join('config', 'letterpress.json');

/** The effective configuration plus the absolute paths every command works with. */
export interface LoadedConfig {
  root: string;
  config: Config;
  /** Absolute versions of `config.paths`, resolved against the root. */
  paths: { issues: string; templates: string; out: string; data: string };
  /** The config file that was read, or undefined when only defaults and env were used. */
  configFile?: string;
  /** Secrets, from the environment only (never from the config file, never printed). */
  secrets: Secrets;
}

/** What only the environment may hold. */
export interface Secrets {
  /** SMTP password: LETTERPRESS_SMTP_PASS, or the password part of LETTERPRESS_SMTP_URL. */
  smtpPass?: string;
  /** Token signing key: LETTERPRESS_SECRET (else one is generated and kept in the store). */
  tokenSecret?: string;
}

/**
 * Shortcut env vars that set several keys at once or hold secrets:
 * LETTERPRESS_SMTP_URL (`smtp://user:pass@host:port`, `smtps://…`), LETTERPRESS_DB (the store),
 * LETTERPRESS_SMTP_PASS and LETTERPRESS_SECRET. Shortcuts win over the per-key variables.
 */
export function applyEnvShortcuts(
  merged: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
): { config: Record<string, unknown>; secrets: Secrets } {
  const config = structuredClone(merged);
  const secrets: Secrets = {};
  if (env.LETTERPRESS_SMTP_PASS) secrets.smtpPass = env.LETTERPRESS_SMTP_PASS;
  if (env.LETTERPRESS_SECRET) secrets.tokenSecret = env.LETTERPRESS_SECRET;
  const storeUrl = chooseStoreUrl(env);
  if (storeUrl !== undefined) setPath(config, ['store', 'url'], storeUrl.value);
  const smtpUrl = env.LETTERPRESS_SMTP_URL;
  if (smtpUrl) {
    let url: URL;
    try {
      url = new URL(smtpUrl);
    } catch {
      throw new LetterpressError('E_CONFIG', 'LETTERPRESS_SMTP_URL: not a URL (expected smtp://user:pass@host:port)');
    }
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
      throw new LetterpressError(
        'E_CONFIG',
        `LETTERPRESS_SMTP_URL: unsupported scheme "${url.protocol}" (use smtp:// or smtps://)`,
      );
    }
    if (!url.hostname) throw new LetterpressError('E_CONFIG', 'LETTERPRESS_SMTP_URL: the host is missing');
    const secure = url.protocol === 'smtps:';
    setPath(config, ['smtp', 'host'], url.hostname.replace(/^\[(.*)\]$/, '$1'));
    setPath(config, ['smtp', 'port'], url.port ? Number(url.port) : secure ? 465 : 587);
    setPath(config, ['smtp', 'secure'], secure);
    if (url.username) setPath(config, ['smtp', 'user'], decodeURIComponent(url.username));
    if (url.password) secrets.smtpPass = decodeURIComponent(url.password);
  }
  return { config, secrets };
}

/**
 * The one rule for which variable names the store: LETTERPRESS_DB, else the per-key
 * LETTERPRESS_STORE_URL (applied with the other keys), else DATABASE_URL (the name hosting
 * platforms set for their PostgreSQL), else `store.url` from the config file.
 */
function chooseStoreUrl(env: Readonly<Record<string, string | undefined>>): { env: string; value: string } | undefined {
  if (env.LETTERPRESS_DB) return { env: 'LETTERPRESS_DB', value: env.LETTERPRESS_DB };
  if (env.LETTERPRESS_STORE_URL !== undefined) return undefined;
  if (env.DATABASE_URL) return { env: 'DATABASE_URL', value: env.DATABASE_URL };
  return undefined;
}

type Leaf = { path: string[]; kind: 'string' | 'number' | 'boolean' };

/** Strips `.default()`, `.optional()` and refinement wrappers to reach the shape beneath. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (;;) {
    if (current instanceof z.ZodDefault || current instanceof z.ZodOptional) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else {
      return current;
    }
  }
}

/** Every leaf key of the schema, so each gets an env name without a hand-kept list. */
function collectLeaves(schema: z.ZodType, prefix: string[] = []): Leaf[] {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) {
    return Object.entries(inner.shape as Record<string, z.ZodType>).flatMap(([key, child]) =>
      collectLeaves(child, [...prefix, key]),
    );
  }
  const kind = inner instanceof z.ZodNumber ? 'number' : inner instanceof z.ZodBoolean ? 'boolean' : 'string';
  return [{ path: prefix, kind }];
}

/** `site.url` → `LETTERPRESS_SITE_URL`; `smtp.pool.maxConnections` → `LETTERPRESS_SMTP_POOL_MAXCONNECTIONS`. */
export function envNameFor(keyPath: readonly string[]): string {
  return `LETTERPRESS_${keyPath.map((part) => part.toUpperCase()).join('_')}`;
}

/** The env name of every config key, in schema order (for `--help`, README and tests). */
export function listEnvOverrides(): { key: string; env: string }[] {
  return collectLeaves(configSchema).map((leaf) => ({ key: leaf.path.join('.'), env: envNameFor(leaf.path) }));
}

/** Variables that are not one key's override: shortcuts and secrets (environment only). */
export const ENV_SHORTCUTS: readonly { env: string; meaning: string }[] = [
  { env: 'LETTERPRESS_SMTP_URL', meaning: 'smtp://user:pass@host:port (sets smtp.host, port, secure, user and the password)' },
  { env: 'LETTERPRESS_SMTP_PASS', meaning: 'the SMTP password (secret)' },
  { env: 'LETTERPRESS_DB', meaning: 'the store; wins over LETTERPRESS_STORE_URL, DATABASE_URL and store.url: a SQLite path, sqlite:PATH or postgres://user:pass@host:port/db' },
  { env: 'DATABASE_URL', meaning: 'the store when neither LETTERPRESS_DB nor LETTERPRESS_STORE_URL is set (what hosting platforms set)' },
  { env: 'LETTERPRESS_SECRET', meaning: 'the token signing key (secret)' },
];

/** Every `LETTERPRESS_*` name Letterpress reads: each key's override, then the shortcuts. */
export function listKnownEnvNames(): string[] {
  return [...listEnvOverrides().map((entry) => entry.env), ...ENV_SHORTCUTS.map((entry) => entry.env)];
}

/**
 * The `LETTERPRESS_*` variables in `env` that nothing reads (a typo is otherwise silently
 * ignored), each with the closest known name when one is close enough.
 */
export function findUnknownEnvVariables(
  env: Readonly<Record<string, string | undefined>>,
): { name: string; suggestion?: string }[] {
  const known = listKnownEnvNames();
  const knownSet = new Set(known);
  return Object.keys(env)
    .filter((name) => name.toUpperCase().startsWith('LETTERPRESS_') && env[name] !== undefined && !knownSet.has(name))
    .sort()
    .map((name) => {
      const suggestion = suggestEnvName(name, known);
      return suggestion ? { name, suggestion } : { name };
    });
}

function coerceEnvValue(leaf: Leaf, raw: string, envName: string): unknown {
  if (leaf.kind === 'number') {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value)) {
      throw new LetterpressError('E_CONFIG', `${envName}=${JSON.stringify(raw)}: expected a number`);
    }
    return value;
  }
  if (leaf.kind === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new LetterpressError('E_CONFIG', `${envName}=${JSON.stringify(raw)}: expected true or false`);
  }
  return raw;
}

function setPath(target: Record<string, unknown>, keyPath: readonly string[], value: unknown): void {
  let node = target;
  for (const key of keyPath.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) {
      node[key] = {};
    }
    node = node[key] as Record<string, unknown>;
  }
  node[keyPath[keyPath.length - 1]!] = value;
}

/** Applies `LETTERPRESS_*` overrides to a parsed config file (pure: env is passed in). */
export function applyEnvOverrides(
  fileConfig: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
): Record<string, unknown> {
  const merged = structuredClone(fileConfig);
  for (const leaf of collectLeaves(configSchema)) {
    const envName = envNameFor(leaf.path);
    const raw = env[envName];
    if (raw !== undefined) setPath(merged, leaf.path, coerceEnvValue(leaf, raw, envName));
  }
  return merged;
}

/** Where a key's value came from, for messages: a position (`config/letterpress.json:3:12`) or an env var. */
export type ConfigOrigin = (
  keyPath: readonly string[],
  part: 'key' | 'value',
) => { position: string } | { env: string } | undefined;

/** `config/letterpress.json:3:12: site.url: …`, or `site.url (from LETTERPRESS_SITE_URL): …`. */
function formatProblem(origin: ReturnType<ConfigOrigin>, key: string, message: string): string {
  if (origin && 'env' in origin) return `${key} (from ${origin.env}): ${message}`;
  return `${origin ? `${origin.position}: ` : ''}${key}: ${message}`;
}

/**
 * Validates a raw config object; every problem names its key (`site.url: …`) and, when
 * `originOf` knows it, where the value came from (the file's line and column, or the env var).
 */
export function validateConfig(raw: unknown, source: string, originOf: ConfigOrigin = () => undefined): Config {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap((issue) => {
    const keyPath = issue.path.map(String);
    const key = keyPath.join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((name) => {
        const full = key ? `${key}.${name}` : name;
        return formatProblem(originOf([...keyPath, name], 'key'), full, 'unknown key (check the spelling; see README "Configuration")');
      });
    }
    return [formatProblem(originOf(keyPath, 'value'), key || '(top level)', issue.message)];
  });
  return fail(`${source}: invalid configuration:\n  ${problems.join('\n  ')}`);
}

function fail(message: string): never {
  throw new LetterpressError('E_CONFIG', message);
}

/** Which keys each shortcut sets, so a bad value from one is blamed on the variable. */
const SHORTCUT_KEYS: Record<string, readonly string[]> = {
  LETTERPRESS_SMTP_URL: ['smtp.host', 'smtp.port', 'smtp.secure', 'smtp.user'],
};

/** `file` as a person reads it: relative to `cwd` when inside it, else absolute. */
function displayPath(cwd: string, file: string): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/** The E_CONFIG error for text that is not JSON: `file:line:column: invalid JSON: reason`, the line and a caret. */
function invalidJsonError(text: string, shown: string, file: string, cause: unknown): LetterpressError {
  const scan = scanJson(text);
  // The scanner accepts exactly JSON; should it ever disagree with JSON.parse, V8's offset still helps.
  const offset = scan.error?.offset ?? Number(/position (\d+)/.exec((cause as Error).message)?.[1] ?? 0);
  const reason = scan.error?.reason ?? (cause as Error).message;
  const { line, column } = lineColumnAt(text, offset);
  return new LetterpressError(
    'E_CONFIG',
    `${shown}:${line}:${column}: invalid JSON: ${reason}\n${formatSourceExcerpt(text, line, column)}`,
    { cause, file, line, column },
  );
}

/**
 * Reads `config/letterpress.json` under `root` (optional), applies env overrides and
 * validates. Relative paths in the config resolve against the root; `cwd` only shapes how
 * the file is named in messages.
 */
export async function loadConfig(options: {
  root: string;
  env: Readonly<Record<string, string | undefined>>;
  cwd?: string;
}): Promise<LoadedConfig> {
  const root = path.resolve(options.root);
  const file = path.join(root, CONFIG_FILE);
  const shown = displayPath(path.resolve(options.cwd ?? root), file);
  let fileConfig: Record<string, unknown> = {};
  let configFile: string | undefined;
  let text: string | undefined;
  try {
    // The config is read only from inside config/: a link out of it is refused, not followed.
    text = await readFile(await resolveInside(path.dirname(file), file, { shown, root }), 'utf8');
  } catch (error) {
    if (error instanceof OutsideFolderError) throw new LetterpressError('E_CONFIG', error.message, { cause: error, file });
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new LetterpressError('E_CONFIG', `${shown}: cannot read: ${(error as Error).message}`, { cause: error, file });
    }
  }
  let locations = new Map<string, JsonLocation>();
  if (text !== undefined) {
    configFile = file;
    text = text.replace(/^\uFEFF/, '');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw invalidJsonError(text, shown, file, error);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      fail(`${shown}: the config must be a JSON object ({…}), not ${Array.isArray(parsed) ? 'a list' : JSON.stringify(parsed)}`);
    }
    fileConfig = parsed as Record<string, unknown>;
    delete fileConfig.$schema;
    locations = scanJson(text).locations;
  }
  const { config: merged, secrets } = applyEnvShortcuts(applyEnvOverrides(fileConfig, options.env), options.env);
  const sourceText = text;
  const originOf: ConfigOrigin = (keyPath, part) => {
    const key = keyPath.join('.');
    const storeVariable = key === 'store.url' ? chooseStoreUrl(options.env) : undefined;
    if (storeVariable) return { env: storeVariable.env };
    const shortcut = Object.keys(SHORTCUT_KEYS).find((name) => options.env[name] && SHORTCUT_KEYS[name]!.includes(key));
    if (shortcut) return { env: shortcut };
    const envName = envNameFor(keyPath);
    if (options.env[envName] !== undefined && part === 'value') return { env: envName };
    const location = locations.get(key);
    if (location === undefined || sourceText === undefined) return undefined;
    const at = lineColumnAt(sourceText, part === 'key' ? (location.keyOffset ?? location.valueOffset) : location.valueOffset);
    return { position: `${shown}:${at.line}:${at.column}` };
  };
  const overridden = listKnownEnvNames().some((name) => options.env[name] !== undefined);
  const config = validateConfig(
    merged,
    configFile
      ? `${shown}${overridden ? ' (with LETTERPRESS_* overrides)' : ''}`
      : 'configuration (defaults with LETTERPRESS_* overrides)',
    originOf,
  );
  const resolve = (p: string) => path.resolve(root, p);
  return {
    root,
    config,
    configFile,
    secrets,
    paths: {
      issues: resolve(config.paths.issues),
      templates: resolve(config.paths.templates),
      out: resolve(config.paths.out),
      data: resolve(config.paths.data),
    },
  };
}
