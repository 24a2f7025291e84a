import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyEnvOverrides, envNameFor, listEnvOverrides, loadConfig, validateConfig } from '../../src/config/load-config.ts';
import { LetterpressError } from '../../src/util/errors.ts';

describe('config', () => {
  it('defaults make an empty config valid, with code default locale en', () => {
    const config = validateConfig({}, 'test');
    expect(config.locale).toBe('en');
    expect(config.timezone).toBe('UTC');
    expect(config.site.url).toBe('http://127.0.0.1:8080');
    expect(config.feed.limit).toBe(20);
  });

  it('names every bad key', () => {
    expect(() => validateConfig({ timezone: 'Mars/Olympus', locale: 'fr', site: { url: 'x' } }, 'cfg')).toThrow(
      /site\.url:[\s\S]*locale:[\s\S]*timezone: not an IANA timezone/,
    );
  });

  it('maps every key to LETTERPRESS_<PATH> and coerces types', () => {
    expect(envNameFor(['smtp', 'pool', 'maxConnections'])).toBe('LETTERPRESS_SMTP_POOL_MAXCONNECTIONS');
    const names = listEnvOverrides().map((entry) => entry.env);
    expect(names).toContain('LETTERPRESS_SITE_URL');
    expect(names).toContain('LETTERPRESS_LIMITS_MAXISSUEBYTES');
    const merged = applyEnvOverrides({ site: { title: 'kept' } }, { LETTERPRESS_SITE_URL: 'https://a.example/', LETTERPRESS_FEED_LIMIT: '7' });
    expect(merged).toEqual({ site: { title: 'kept', url: 'https://a.example/' }, feed: { limit: 7 } });
    expect(validateConfig(merged, 'x').site.url).toBe('https://a.example');
  });
});

describe('config file errors a person can act on', () => {
  const roots: string[] = [];
  afterEach(async () => {
    await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
  });
  async function withConfig(text: string): Promise<string> {
    const root = await mkdtemp(path.join(tmpdir(), 'letterpress-config-'));
    roots.push(root);
    await mkdir(path.join(root, 'config'));
    await writeFile(path.join(root, 'config/letterpress.json'), text);
    return root;
  }
  async function errorOf(root: string, env: Record<string, string> = {}): Promise<LetterpressError> {
    const error = await loadConfig({ root, env }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(LetterpressError);
    return error as LetterpressError;
  }

  it('a trailing comma: file:line:column, the reason in plain words, the line and a caret', async () => {
    const root = await withConfig('{\n  "locale": "en",\n  "feed": { "limit": 20 },\n}\n');
    const error = await errorOf(root);
    expect(error.code).toBe('E_CONFIG');
    expect(error.message).toBe(
      [
        'config/letterpress.json:3:26: invalid JSON: a trailing comma: JSON allows no comma after the last property; remove it',
        '  3 |   "feed": { "limit": 20 },',
        '    |                          ^',
      ].join('\n'),
    );
    expect([error.line, error.column]).toEqual([3, 26]);
  });

  it('a // comment: JSON allows none, shown at its line', async () => {
    const root = await withConfig('{\n  "site": { "title": "云计算技术动态" }, // the name\n  "locale": "zh-CN"\n}\n');
    const error = await errorOf(root);
    expect(error.message.split('\n')[0]).toBe(
      'config/letterpress.json:2:35: invalid JSON: a comment (`//`): JSON allows no comments; remove it',
    );
    expect(error.message.split('\n')[1]).toBe('  2 |   "site": { "title": "云计算技术动态" }, // the name');
  });

  it('any other syntax error gets a line and column too (not V8\'s "at position N")', async () => {
    const root = await withConfig('{\n  "locale": "en"\n  "timezone": "UTC"\n}\n');
    const error = await errorOf(root);
    expect(error.message).toMatch(/^config\/letterpress\.json:3:3: invalid JSON: a comma is missing before this property\n/);
    expect(error.message).not.toContain('position');
  });

  it('schema errors name the key and its line in the file, or the variable it came from', async () => {
    const root = await withConfig('{\n  "site": {\n    "url": "ftp://x"\n  },\n  "feed": { "limt": 3 }\n}\n');
    const error = await errorOf(root);
    expect(error.message).toContain('config/letterpress.json:3:12: site.url: must be an absolute http(s) URL');
    expect(error.message).toContain('config/letterpress.json:5:13: feed.limt: unknown key');
    const fromEnv = await errorOf(await withConfig('{ "timezone": "UTC" }'), { LETTERPRESS_TIMEZONE: 'Mars/Olympus' });
    expect(fromEnv.message).toContain('timezone (from LETTERPRESS_TIMEZONE): not an IANA timezone');
  });
});

describe('which variable names the store', () => {
  const roots: string[] = [];
  afterEach(async () => {
    await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
  });
  async function storeUrl(env: Record<string, string>): Promise<string> {
    const root = await mkdtemp(path.join(tmpdir(), 'letterpress-config-'));
    roots.push(root);
    await mkdir(path.join(root, 'config'));
    await writeFile(path.join(root, 'config/letterpress.json'), '{ "store": { "url": "data/from-file.db" } }');
    return (await loadConfig({ root, env })).config.store.url;
  }

  it('LETTERPRESS_DB wins over LETTERPRESS_STORE_URL, which wins over DATABASE_URL, which wins over store.url', async () => {
    const pg = 'postgres://ann:secret@db.example/news';
    expect(await storeUrl({})).toBe('data/from-file.db');
    expect(await storeUrl({ DATABASE_URL: pg })).toBe(pg);
    expect(await storeUrl({ DATABASE_URL: pg, LETTERPRESS_STORE_URL: 'sqlite:data/key.db' })).toBe('sqlite:data/key.db');
    expect(await storeUrl({ DATABASE_URL: pg, LETTERPRESS_STORE_URL: 'data/key.db', LETTERPRESS_DB: 'data/db.db' })).toBe('data/db.db');
    expect(await storeUrl({ LETTERPRESS_DB: pg, DATABASE_URL: 'data/other.db' })).toBe(pg);
  });
});
