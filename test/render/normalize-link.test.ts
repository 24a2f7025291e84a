import markdownIt from 'markdown-it';
import { describe, expect, it } from 'vitest';
import { normalizeLink } from '../../src/render/normalize-link.ts';

const reference = markdownIt();

/** A small deterministic generator (mulberry32), so a failure is reproducible. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('normalizeLink', () => {
  it.each([
    'https://example.org/',
    'http://e.org',
    'https://e.org:8080/a/b?c=d&e=f#g?h#i',
    'https://e.org?q',
    'https://e.org#top',
    "https://e.org/a@b/(c)/!$&'*+,;=:~._-",
    'https://e.org/%41%zz',
    'https://e.org/%4',
    'https://e.org/a b',
    'https://e.org/[x]{y}|^`"<>\\',
    'https://user:pw@e.org/x',
    'https://例え.jp/パス',
    'https://xn--r8jz45g.jp/',
    'HTTPS://E.ORG/X',
    `https://${'a'.repeat(63)}.org/`,
    `https://${'a'.repeat(64)}.org/`,
    `https://${Array.from({ length: 4 }, () => 'a'.repeat(63)).join('.')}/x`,
    `https://${Array.from({ length: 5 }, () => 'a'.repeat(63)).join('.')}/x`,
    'https://a..b/',
    'https://e.org:/x',
    'https://[::1]:80/',
    'https://e_o.org/',
    'mailto:a@b.example',
    'javascript:alert(1)',
    '/relative/path?x#y',
    '#s1',
    '',
  ])('normalises %j exactly as markdown-it does', (url) => {
    expect(normalizeLink(url)).toBe(reference.normalizeLink(url));
  });

  it('agrees with markdown-it on thousands of generated URLs', () => {
    const next = random(18);
    const pick = (chars: string, max: number) =>
      Array.from({ length: Math.floor(next() * max) }, () => chars[Math.floor(next() * chars.length)]).join('');
    const host = 'abcXYZ019-._~%@:[]例';
    const path = "abcXYZ019-._~!$&'()*+,;=:@/?#%41%zz []{}|\\^`\"<>é例";
    for (let i = 0; i < 5000; i++) {
      const scheme = ['https://', 'http://', 'HTTP://', 'https:', '//', ''][Math.floor(next() * 6)];
      const url = `${scheme}${pick(host, 20)}${next() < 0.3 ? `:${Math.floor(next() * 99999)}` : ''}${next() < 0.8 ? `/${pick(path, 30)}` : ''}`;
      expect(normalizeLink(url), url).toBe(reference.normalizeLink(url));
    }
  });
});
