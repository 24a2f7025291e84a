import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeIssueFile } from '../../src/issue/decode-issue-file.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/issues/${name}`, import.meta.url));
const LIMIT = { maxBytes: 1024 * 1024 };

describe('decodeIssueFile', () => {
  it('decodes UTF-8, strips a BOM and turns CRLF and CR into LF', () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('# 标题\r\n\r\nA\rB\n')]);
    expect(decodeIssueFile(bytes, 'a.md', LIMIT)).toEqual({ text: '# 标题\n\nA\nB\n', diagnostics: [] });
  });

  it('keeps tabs and form feeds', () => {
    const bytes = new TextEncoder().encode('# T\n\ta\fb\n');
    expect(decodeIssueFile(bytes, 'a.md', LIMIT).text).toBe('# T\n\ta\fb\n');
  });

  it('rejects a file over the limit, naming its size and the limit', () => {
    const bytes = new Uint8Array(2049).fill(0x61);
    const { text, diagnostics } = decodeIssueFile(bytes, 'big.md', { maxBytes: 2048 });
    expect(text).toBeUndefined();
    expect(diagnostics).toEqual([
      {
        file: 'big.md',
        line: 1,
        column: 1,
        severity: 'error',
        code: 'E_TOO_LARGE',
        message: expect.stringContaining('2049 bytes'),
      },
    ]);
    expect(diagnostics[0]?.message).toContain('2048 bytes');
    expect(diagnostics[0]?.message).toContain('limits.maxIssueBytes');
  });

  it('accepts a file of exactly the limit', () => {
    expect(decodeIssueFile(new Uint8Array(2048).fill(0x61), 'a.md', { maxBytes: 2048 }).text).toHaveLength(2048);
  });

  it('rejects an empty file', () => {
    expect(decodeIssueFile(fixture('empty.md'), 'empty.md', LIMIT)).toEqual({
      diagnostics: [{ file: 'empty.md', line: 1, column: 1, severity: 'error', code: 'E_EMPTY', message: 'file is empty' }],
    });
  });

  it('rejects a whitespace-only file (including an ideographic space)', () => {
    const { diagnostics } = decodeIssueFile(fixture('whitespace-only.md'), 'w.md', LIMIT);
    expect(diagnostics.map((d) => [d.code, d.message])).toEqual([['E_EMPTY', 'file contains only whitespace']]);
  });

  it('rejects a file that is only a BOM as empty', () => {
    expect(decodeIssueFile(new Uint8Array([0xef, 0xbb, 0xbf]), 'b.md', LIMIT).diagnostics[0]?.code).toBe('E_EMPTY');
  });

  it('recognises GBK, points at the first bad byte and suggests iconv', () => {
    const bytes = fixture('gbk.md');
    // The fixture really is GBK and really is not UTF-8.
    expect(new TextDecoder('gbk').decode(bytes)).toBe('Weekly\n\n# 云计算技术动态\n');
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes)).toThrow();

    const { text, diagnostics } = decodeIssueFile(bytes, 'issues/gbk.md', LIMIT);
    expect(text).toBeUndefined();
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatchObject({ file: 'issues/gbk.md', line: 3, column: 3, severity: 'error', code: 'E_ENCODING' });
    expect(diagnostics[0]?.message).toContain('GBK/GB18030');
    expect(diagnostics[0]?.message).toContain('0xd4');
    expect(diagnostics[0]?.message).toContain('iconv -f GBK -t UTF-8 issues/gbk.md');
  });

  it('reports invalid UTF-8 that is not GBK without guessing GBK', () => {
    // Latin-1 "café" after a UTF-8 line: 0xe9 starts a three-byte sequence that never comes.
    const bytes = new Uint8Array([...new TextEncoder().encode('# Menu\ncaf'), 0xe9, 0x21]);
    const [d] = decodeIssueFile(bytes, 'latin1.md', LIMIT).diagnostics;
    expect(d).toMatchObject({ line: 2, column: 4, code: 'E_ENCODING' });
    expect(d?.message).not.toContain('GBK');
    expect(d?.message).toContain('iconv');
  });

  it('finds a bad byte after multi-byte characters, counting characters not bytes', () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('# 标题\r\n中文'), 0xff]);
    expect(decodeIssueFile(bytes, 'x.md', LIMIT).diagnostics[0]).toMatchObject({ line: 2, column: 3, code: 'E_ENCODING' });
  });

  it('rejects a binary file (PNG header and NUL bytes) at its first NUL', () => {
    const { text, diagnostics } = decodeIssueFile(fixture('binary.md'), 'binary.md', LIMIT);
    expect(text).toBeUndefined();
    expect(diagnostics).toHaveLength(1);
    // \x89PNG\r\n\x1a\n then NUL: the NUL sits at the start of line 3.
    expect(diagnostics[0]).toMatchObject({ line: 3, column: 1, severity: 'error', code: 'E_ENCODING' });
    expect(diagnostics[0]?.message).toContain('binary');
  });

  it('rejects other C0 control characters as binary, at their position', () => {
    const [d] = decodeIssueFile(fixture('escape-char.md'), 'escape-char.md', LIMIT).diagnostics;
    expect(d).toMatchObject({ line: 3, column: 6, severity: 'error', code: 'E_ENCODING' });
    expect(d?.message).toContain('U+001B');
  });
});
