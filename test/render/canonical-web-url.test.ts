import { describe, expect, it } from 'vitest';
import { isCanonicalWebUrl } from '../../src/render/canonical-web-url.ts';

/** What the WHATWG parser makes of `url` against an unrelated base (undefined: not a URL). */
function parsed(url: string): string | undefined {
  try {
    return new URL(url, 'https://base.example/issues/one/').href;
  } catch {
    return undefined;
  }
}

describe('isCanonicalWebUrl', () => {
  it.each([
    'https://e.org/',
    'https://e.org/1',
    'http://news.example.org/a/b?c=d&e=f#g',
    'https://e.org/a@b/(c)/!$&*+,;=:~._-',
    'https://e.org//double//slashes/',
    'https://e.org/%41%zz',
  ])('takes %j, which the parser gives back as written', (url) => {
    expect(isCanonicalWebUrl(url)).toBe(true);
    expect(parsed(url)).toBe(url);
  });

  it.each([
    'https://e.org', // the parser adds the path
    'HTTPS://e.org/',
    'https://E.org/',
    'https://e.org:443/',
    'https://u@e.org/',
    'https://127.0.0.1/',
    'https://0x7f.1/',
    'https://e.org/a/../b',
    'https://e.org/a/./b',
    'https://e.org/%2e%2E/b',
    "https://e.org/?q='x'",
    'https://xn--r8jz45g.jp/',
    'https://e.org/a b',
    'https://e.org/a\\b',
    '/relative',
    'mailto:a@b.example',
  ])('leaves %j to the parser', (url) => {
    expect(isCanonicalWebUrl(url)).toBe(false);
  });

  it('never takes a URL the parser would change, on thousands of generated ones', () => {
    let state = 11;
    const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
    const pick = (chars: string, max: number) =>
      Array.from({ length: Math.floor(next() * max) }, () => chars[Math.floor(next() * chars.length)]).join('');
    // Mostly the canonical shape, with now and then a piece the parser would rewrite.
    const label = () => pick('abz09-', 6) + (next() < 0.8 ? 'a' : next() < 0.5 ? '1' : 'A');
    const hazards = ['/..', '/.', '%2e', '%2E', "'", ' ', '\\', '例', 'xn--', ':8080', '@', '0x7f', '..', '\t'];
    const piece = () => (next() < 0.08 ? hazards[Math.floor(next() * hazards.length)]! : pick('az09-._~!$&()*+,;=:@/?#%', 3));
    let taken = 0;
    for (let i = 0; i < 20_000; i++) {
      const scheme = ['https://', 'https://', 'http://', 'HTTP://', ''][Math.floor(next() * 5)];
      const host = Array.from({ length: 1 + Math.floor(next() * 3) }, label).join('.');
      const url = `${scheme}${host}${next() < 0.95 ? `/${Array.from({ length: Math.floor(next() * 8) }, piece).join('')}` : ''}`;
      if (!isCanonicalWebUrl(url)) continue;
      taken += 1;
      expect(parsed(url), url).toBe(url);
    }
    // The generator must reach the fast path often, or the check above proves nothing.
    expect(taken).toBeGreaterThan(2000);
  });
});
