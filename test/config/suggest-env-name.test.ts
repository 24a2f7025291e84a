import { describe, expect, it } from 'vitest';
import { findUnknownEnvVariables, listKnownEnvNames } from '../../src/config/load-config.ts';
import { editDistance, suggestEnvName } from '../../src/config/suggest-env-name.ts';

describe('suggestEnvName', () => {
  const known = listKnownEnvNames();

  it('counts a swap of two neighbours as one edit', () => {
    expect(editDistance('TITEL', 'TITLE')).toBe(1);
    expect(editDistance('SMTP_PASSWORD', 'SMTP_PASS')).toBe(4);
    expect(editDistance('', 'DB')).toBe(2);
  });

  it('finds the closest known name for common typos', () => {
    expect(known).toContain('LETTERPRESS_SMTP_PASS');
    expect(suggestEnvName('LETTERPRESS_SMTP_PASSWORD', known)).toBe('LETTERPRESS_SMTP_PASS');
    expect(suggestEnvName('LETTERPRESS_SITE_TITEL', known)).toBe('LETTERPRESS_SITE_TITLE');
    expect(suggestEnvName('LETTERPRESS_SMTPURL', known)).toBe('LETTERPRESS_SMTP_URL');
    expect(suggestEnvName('LETTERPRESS_FEED_LIMT', known)).toBe('LETTERPRESS_FEED_LIMIT');
    expect(suggestEnvName('letterpress_site_url', known)).toBe('LETTERPRESS_SITE_URL');
    expect(suggestEnvName('LETTERPRESS_SMTP_POOL_MAX_CONNECTIONS', known)).toBe('LETTERPRESS_SMTP_POOL_MAXCONNECTIONS');
  });

  it('suggests nothing when no known name is close', () => {
    expect(suggestEnvName('LETTERPRESS_FOO', known)).toBeUndefined();
    expect(suggestEnvName('LETTERPRESS_KUBERNETES_NAMESPACE', known)).toBeUndefined();
  });

  it('lists the unknown LETTERPRESS_* variables of an environment, and only those', () => {
    const env = {
      LETTERPRESS_SITE_URL: 'https://news.example.org',
      LETTERPRESS_SECRET: 'x'.repeat(40),
      LETTERPRESS_SITE_TITEL: 'Weekly',
      LETTERPRESS_SMTP_PASSWORD: 'hunter2',
      LETTERPRESS_FOO: '1',
      HOME: '/root',
    };
    expect(findUnknownEnvVariables(env)).toEqual([
      { name: 'LETTERPRESS_FOO' },
      { name: 'LETTERPRESS_SITE_TITEL', suggestion: 'LETTERPRESS_SITE_TITLE' },
      { name: 'LETTERPRESS_SMTP_PASSWORD', suggestion: 'LETTERPRESS_SMTP_PASS' },
    ]);
  });
});
