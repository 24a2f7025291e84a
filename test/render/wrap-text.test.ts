import { describe, expect, it } from 'vitest';
import { displayWidth, wrapText } from '../../src/render/wrap-text.ts';

describe('wrapText', () => {
  it('counts CJK characters as two columns', () => {
    expect(displayWidth('ab中文')).toBe(6);
  });

  it('wraps Latin text at spaces within the width', () => {
    const text = 'The quick brown fox jumps over the lazy dog '.repeat(5).trim();
    const lines = wrapText(text, { width: 30 }).split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(30);
    expect(lines.join(' ')).toBe(text);
  });

  it('wraps Chinese between characters, never before closing punctuation', () => {
    const text = '本文探讨了分布式计算五个时代的演变，并详细讨论了第五代分布式计算的现状和未来趋势。'.repeat(3);
    const lines = wrapText(text, { width: 20 }).split('\n');
    for (const line of lines) {
      expect(displayWidth(line)).toBeLessThanOrEqual(22);
      expect(line).not.toMatch(/^[，。、）」》”]/);
    }
    expect(lines.join('')).toBe(text);
  });

  it('never breaks a URL and indents every line', () => {
    const url = 'https://mp.weixin.qq.com/s/iur1mcN1o0pKcUlxtw-0IA-and-a-very-long-tail-that-goes-on';
    const out = wrapText(`见 ${url} 全文`, { width: 40, indent: '   ', firstIndent: '1. ' });
    expect(out.split('\n')).toContain(`   ${url}`);
    expect(out.startsWith('1. 见')).toBe(true);
  });
});
