import { describe, expect, it } from 'vitest';
import { classifyUrl } from '../../src/issue/classify-url.ts';

describe('classifyUrl', () => {
  it.each([
    ['https://mp.weixin.qq.com/s/iur1mcN1o0pKcUlxtw-0IA', 'web'],
    ['http://example.org', 'web'],
    ['HTTPS://EXAMPLE.ORG/a?b#c', 'web'],
    ['mailto:editor@example.org', 'web'],
    ['javascript:alert(1)', 'unsafe'],
    ['JaVaScRiPt:alert(1)', 'unsafe'],
    [' javascript:alert(1)', 'unsafe'],
    ['java\tscript:alert(1)', 'unsafe'],
    ['&#106;avascript:alert(1)', 'unsafe'],
    ['&#x6A;avascript&colon;alert(1)', 'unsafe'],
    ['vbscript:msgbox(1)', 'unsafe'],
    ['data:text/html,<script>alert(1)</script>', 'unsafe'],
    ['ftp://example.org/file', 'other'],
    ['/relative/path', 'other'],
    ['https://', 'other'],
    ['https://exa mple.org', 'other'],
    ['&#99999999;', 'other'],
  ])('%j is %s', (url, kind) => {
    expect(classifyUrl(url)).toBe(kind);
  });
});
