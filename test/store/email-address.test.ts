import { describe, expect, it } from 'vitest';
import { emailKey, mailboxKey, normalizeEmail, sanitizeDisplayName } from '../../src/store/email-address.ts';

function reasonFor(input: string): string {
  const result = normalizeEmail(input);
  if (result.ok) throw new Error(`expected ${JSON.stringify(input)} to be refused, got ${result.email}`);
  return result.reason;
}

describe('normalizeEmail', () => {
  it('trims, lower-cases the domain and keeps the local part as written', () => {
    expect(normalizeEmail('  Ann.Lee+news@Example.COM \t')).toEqual({
      ok: true,
      email: 'Ann.Lee+news@example.com',
      ascii: 'Ann.Lee+news@example.com',
    });
  });

  it('accepts every RFC 5322 atext character in the local part', () => {
    const local = "o'brien!#$%&*+/?=^_`{|}~-x";
    expect(normalizeEmail(`${local}@example.ie`)).toMatchObject({ ok: true, email: `${local}@example.ie` });
  });

  it('refuses a local part that mail readers would decode as a MIME encoded word', () => {
    expect(normalizeEmail('=?utf-8?B?YUBldmlsLmV4YW1wbGU=?=@example.org')).toMatchObject({ ok: false, reason: /encoded word/ });
  });

  it('keeps an IDN domain in Unicode and gives the punycode form for SMTP', () => {
    expect(normalizeEmail('user@Bücher.Example')).toEqual({
      ok: true,
      email: 'user@bücher.example',
      ascii: 'user@xn--bcher-kva.example',
    });
    expect(normalizeEmail('a@例子。测试')).toEqual({ ok: true, email: 'a@例子.测试', ascii: 'a@xn--fsqu00a.xn--0zwm56d' });
  });

  it('stores the Unicode form when the domain is given in punycode, so both spellings are one address', () => {
    expect(normalizeEmail('user@XN--BCHER-KVA.example')).toEqual({
      ok: true,
      email: 'user@bücher.example',
      ascii: 'user@xn--bcher-kva.example',
    });
  });

  it('normalizes a decomposed IDN domain to NFC', () => {
    const decomposed = 'user@bu\u0308cher.example';
    const result = normalizeEmail(decomposed);
    expect(result).toMatchObject({ ok: true, email: 'user@b\u00fccher.example' });
  });

  it('refuses a non-ASCII local part because messages go out without SMTPUTF8', () => {
    expect(reasonFor('用户@例子.测试')).toMatch(/^local part contains non-ASCII characters/);
    expect(reasonFor('jürgen@example.de')).toMatch(/SMTPUTF8/);
  });

  it.each([
    ['a@b.c\r\nBcc: x@y.z', 'contains a line break'],
    ['a@b.co\nx@y.z', 'contains a line break'],
    ['a@b.co\rx', 'contains a line break'],
    ['a@b.co\u2028x', 'contains a line break'],
    ['"x, y"@a.bc', 'contains a double quote'],
    ['x,y@a.bc', 'contains a comma'],
    ['x@a.bc;y@d.ef', 'contains a semicolon'],
    ['<a@b.co>', 'contains an angle bracket'],
    ['Ann <a@b.co>', 'contains an angle bracket'],
    ['a(comment)@b.co', 'contains a parenthesis'],
    ['a\\b@c.de', 'contains a backslash'],
    ['a@[127.0.0.1]', 'contains a square bracket (IP-address domains are not accepted)'],
    ['a:b@c.de', 'contains a colon'],
    ['a b@c.de', 'contains a space'],
    ['a@b\u00a0c.de', 'contains a space'],
    ['a\tb@c.de', 'contains a control character (U+0009)'],
    ['a\u0000b@c.de', 'contains a control character (U+0000)'],
    ['a\u001bb@c.de', 'contains a control character (U+001B)'],
    ['a\u007fb@c.de', 'contains a control character (U+007F)'],
    ['a\u0085b@c.de', 'contains a line break'],
    ['a@exa\u200bmple.com', 'contains an invisible character (U+200B)'],
    ['a@exa\u00admple.com', 'contains an invisible character (U+00AD)'],
  ])('refuses %j: %s', (input, reason) => {
    expect(reasonFor(input)).toBe(reason);
  });

  it.each([
    ['', 'is empty'],
    ['   ', 'is empty'],
    ['ann.example.com', 'has no @'],
    ['a@@b.co', 'has more than one @'],
    ['a@b@c.de', 'has more than one @'],
    ['@example.com', 'local part (before the @) is empty'],
    ['ann@', 'domain (after the @) is empty'],
    ['.ann@example.com', 'local part starts with a dot'],
    ['ann.@example.com', 'local part ends with a dot'],
    ['an..n@example.com', 'local part has two dots in a row'],
    ['a@localhost', 'domain must contain a dot'],
    ['a@.example.com', 'domain starts with a dot'],
    ['a@example.com.', 'domain ends with a dot'],
    ['a@example..com', 'domain has two dots in a row'],
    ['a@-example.com', 'domain label "-example" starts with a hyphen'],
    ['a@example-.com', 'domain label "example-" ends with a hyphen'],
    ['a@ex_ample.com', 'domain contains the character "_"'],
    ['a@ex%41mple.com', 'domain contains the character "%"'],
    ['a@1.2.3.4', 'domain ends in a number (IP addresses are not accepted)'],
    ['a@0x7f.1', 'domain ends in a number (IP addresses are not accepted)'],
    ['a@xn--abc.com', 'domain is not a valid domain name'],
    ['a@ex＠ample.com', 'domain is not a valid domain name'],
  ])('refuses %j: %s', (input, reason) => {
    expect(reasonFor(input)).toBe(reason);
  });

  it('enforces the 64-octet local part limit exactly', () => {
    expect(normalizeEmail(`${'a'.repeat(64)}@example.com`).ok).toBe(true);
    expect(reasonFor(`${'a'.repeat(65)}@example.com`)).toBe('local part is longer than 64 characters');
  });

  it('enforces the 63-octet label limit exactly, on the punycode form', () => {
    expect(normalizeEmail(`a@${'b'.repeat(63)}.com`).ok).toBe(true);
    expect(reasonFor(`a@${'b'.repeat(64)}.com`)).toMatch(/^domain label "b{20}…" is longer than 63 characters$/);
    // 20 characters in Unicode, a 66-octet A-label; 19 characters make 62 octets.
    expect(reasonFor('a@天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往.com')).toMatch(/is longer than 63 characters$/);
    expect(normalizeEmail('a@天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑.com').ok).toBe(true);
  });

  it('enforces the 254-octet limit on the whole ASCII address', () => {
    const domainOf = (length: number) => {
      const labels = [];
      let left = length - 4; // ".com"
      while (left > 0) {
        const size = Math.min(63, left);
        labels.push('d'.repeat(size));
        left -= size + 1;
      }
      return `${labels.join('.')}.com`;
    };
    const domain = domainOf(243);
    expect(domain.length).toBeLessThanOrEqual(253);
    const fits = `${'a'.repeat(254 - 1 - domain.length)}@${domain}`;
    expect(fits.length).toBe(254);
    expect(normalizeEmail(fits).ok).toBe(true);
    expect(reasonFor(`a${fits}`)).toBe('is longer than 254 characters');
  });

  it('counts the punycode form against the length limit, not the Unicode form', () => {
    // Each "例子" label is 2 characters in Unicode and 11 octets in punycode.
    const domain = `${Array.from({ length: 20 }, () => '例子').join('.')}.com`;
    const result = normalizeEmail(`${'a'.repeat(20)}@${domain}`);
    expect(domain.length).toBeLessThan(100);
    expect(result).toEqual({ ok: false, code: 'too-long', reason: 'is longer than 254 characters' });
  });

  it('refuses a domain longer than 253 octets', () => {
    const domain = `${Array.from({ length: 4 }, () => 'd'.repeat(63)).join('.')}.com`;
    expect(domain.length).toBe(259);
    expect(reasonFor(`a@${domain}`)).toBe('domain is longer than 253 characters');
  });
});

describe('normalizeEmail reason codes', () => {
  it.each([
    ['', 'empty'],
    ['ann.example.com', 'no-at'],
    ['a@@b.co', 'several-at'],
    ['foo@bar', 'domain-no-dot'],
    ['用户@例子.测试', 'local-non-ascii'],
    ['a b@c.de', 'space'],
    ['a@b.c\r\nBcc: x@y.z', 'line-break'],
    ['Ann <a@b.co>', 'angle-bracket'],
    ['@example.com', 'local-empty'],
    ['ann@', 'domain-empty'],
    [`${'a'.repeat(65)}@example.com`, 'local-too-long'],
    ['an..n@example.com', 'local-double-dot'],
    ['a@-example.com', 'domain-label-hyphen'],
    ['a@1.2.3.4', 'domain-numeric'],
    ['=?utf-8?q?x?=@example.org', 'encoded-word'],
  ])('gives %j the stable code %s', (input, code) => {
    expect(normalizeEmail(input)).toMatchObject({ ok: false, code });
  });

  it('names the offending character where one is to blame', () => {
    expect(normalizeEmail('a@ex_ample.com')).toMatchObject({ ok: false, code: 'domain-character', character: '_' });
  });
});

describe('emailKey', () => {
  it('is the same for addresses that differ only in case, local part included', () => {
    expect(emailKey('Ann.Lee@example.com')).toBe('ann.lee@example.com');
    expect(emailKey('ANN.LEE@EXAMPLE.COM')).toBe(emailKey('ann.lee@example.com'));
  });

  it('keys an IDN address by its Unicode form', () => {
    const email = normalizeEmail('User@XN--BCHER-KVA.example');
    expect(email.ok && emailKey(email.email)).toBe('user@bücher.example');
  });
});

describe('sanitizeDisplayName', () => {
  it('returns null for missing, empty and blank names', () => {
    expect(sanitizeDisplayName(null)).toBeNull();
    expect(sanitizeDisplayName(undefined)).toBeNull();
    expect(sanitizeDisplayName('')).toBeNull();
    expect(sanitizeDisplayName(' \t\r\n ')).toBeNull();
    expect(sanitizeDisplayName('\u0000\u007f')).toBeNull();
  });

  it('turns line breaks and tabs into spaces, so a name cannot carry a header line', () => {
    expect(sanitizeDisplayName('Ann\r\nBcc: x@y.z')).toBe('Ann Bcc: x@y.z');
    expect(sanitizeDisplayName('Ann\tLee')).toBe('Ann Lee');
    expect(sanitizeDisplayName('Ann\u2028Lee')).toBe('Ann Lee');
  });

  it('removes other C0/C1 controls, DEL and bidi overrides', () => {
    expect(sanitizeDisplayName('An\u0000n\u001b[31m Lee\u007f\u0085')).toBe('Ann[31m Lee');
    expect(sanitizeDisplayName('\u202eevil\u202c gpj.exe')).toBe('evil gpj.exe');
    expect(sanitizeDisplayName('\u2066Ann\u2069')).toBe('Ann');
  });

  it('trims and collapses whitespace, including wide spaces', () => {
    expect(sanitizeDisplayName('  Ann    Lee \u3000 Jr.  ')).toBe('Ann Lee Jr.');
  });

  it('keeps non-Latin names and normalizes them to NFC', () => {
    expect(sanitizeDisplayName('张伟')).toBe('张伟');
    expect(sanitizeDisplayName('Jose\u0301')).toBe('Jos\u00e9');
  });

  it('caps at 100 characters without splitting a surrogate pair', () => {
    expect(sanitizeDisplayName('a'.repeat(150))).toBe('a'.repeat(100));
    const emoji = sanitizeDisplayName('😀'.repeat(120));
    expect(Array.from(emoji ?? '')).toHaveLength(100);
    expect(emoji).toBe('😀'.repeat(100));
    // A space at the cut is not left dangling.
    expect(sanitizeDisplayName(`${'a'.repeat(99)} b`)).toBe('a'.repeat(99));
  });

  it('drops lone surrogates, which no header encoding can carry', () => {
    expect(sanitizeDisplayName('Ann\ud800 Lee\udc00')).toBe('Ann Lee');
  });
});

describe('mailboxKey', () => {
  it('folds a +tag and case for budgets, and keeps addresses without one whole', () => {
    expect(mailboxKey('Victim+1@Example.org')).toBe('victim@example.org');
    expect(mailboxKey('victim+a+b@example.org')).toBe('victim@example.org');
    expect(mailboxKey('victim@example.org')).toBe('victim@example.org');
    expect(mailboxKey('+only@example.org')).toBe('+only@example.org');
    expect(mailboxKey('victim+1@other.example')).not.toBe(mailboxKey('victim+1@example.org'));
  });
});
