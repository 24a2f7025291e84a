import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { LetterpressError } from '../util/errors.ts';
import { configSchema, type Config } from './schema.ts';

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
  if (env.LETTERPRESS_DB) setPath(config, ['store', 'url'], env.LETTERPRESS_DB);
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

/** Validates a raw config object; every problem names its key (`site.url: …`). */
export function validateConfig(raw: unknown, source: string): Config {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') {
      const where = key ? `${key}.` : '';
      return `${issue.keys.map((k) => where + k).join(', ')}: unknown key (check the spelling; see README "Configuration")`;
    }
    return `${key || '(top level)'}: ${issue.message}`;
  });
  return fail(`${source}: invalid configuration:\n  ${problems.join('\n  ')}`);
}

function fail(message: string): never {
  throw new LetterpressError('E_CONFIG', message);
}

/**
 * Reads `config/letterpress.json` under `root` (optional), applies env overrides and
 * validates. Relative paths in the config resolve against the root.
 */
export async function loadConfig(options: {
  root: string;
  env: Readonly<Record<string, string | undefined>>;
}): Promise<LoadedConfig> {
  const root = path.resolve(options.root);
  const file = path.join(root, CONFIG_FILE);
  let fileConfig: Record<string, unknown> = {};
  let configFile: string | undefined;
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new LetterpressError('E_CONFIG', `${file}: cannot read: ${(error as Error).message}`, { cause: error });
    }
  }
  if (text !== undefined) {
    configFile = file;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
    } catch (error) {
      throw new LetterpressError('E_CONFIG', `${file}: not valid JSON: ${(error as Error).message}`, {
        cause: error,
        file,
      });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      fail(`${file}: the config must be a JSON object`);
    }
    fileConfig = parsed as Record<string, unknown>;
    delete fileConfig.$schema;
  }
  const { config: merged, secrets } = applyEnvShortcuts(applyEnvOverrides(fileConfig, options.env), options.env);
  const config = validateConfig(
    merged,
    configFile ? `${configFile} (with LETTERPRESS_* overrides)` : 'configuration (defaults with LETTERPRESS_* overrides)',
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
