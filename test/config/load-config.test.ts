import { describe, expect, it } from 'vitest';
import { applyEnvOverrides, envNameFor, listEnvOverrides, validateConfig } from '../../src/config/load-config.ts';

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
