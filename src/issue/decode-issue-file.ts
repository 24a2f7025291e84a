import type { Diagnostic, DiagnosticCode } from './diagnostic.ts';
import type { SourcePosition } from './model.ts';

/**
 * Turns the bytes of an issue file into text the parser can trust, or explains why it cannot:
 * too large, empty, not UTF-8 (with a guess at GBK/GB18030 and the `iconv` fix) or binary.
 * The text has no BOM and only LF line breaks.
 */
export function decodeIssueFile(
  bytes: Uint8Array,
  file: string,
  options: { maxBytes: number },
): { text?: string; diagnostics: Diagnostic[] } {
  const fail = (code: DiagnosticCode, message: string, position: SourcePosition = { line: 1, column: 1 }) => ({
    diagnostics: [{ file, ...position, severity: 'error' as const, code, message }],
  });

  if (bytes.length > options.maxBytes) {
    return fail(
      'E_TOO_LARGE',
      `file is ${formatBytes(bytes.length)}, over the limit of ${formatBytes(options.maxBytes)} ` +
        `(limits.maxIssueBytes); split the issue or raise the limit`,
    );
  }

  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    return fail(
      'E_ENCODING',
      'contains NUL bytes: this looks like a binary file (an image, a PDF, a word-processor file), ' +
        'not a Markdown issue',
      positionOfByte(bytes, nul),
    );
  }

  let text: string;
  try {
    // ignoreBOM: false (the default) strips a leading UTF-8 BOM.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const bad = firstInvalidUtf8Byte(bytes);
    const position = positionOfByte(bytes, bad);
    const hex = (bytes[bad] ?? 0).toString(16).padStart(2, '0');
    const guess = looksLikeGbk(bytes)
      ? 'it looks like GBK/GB18030 (common for files saved by Chinese Windows editors); convert it with ' +
        `\`iconv -f GBK -t UTF-8 ${quoteForShell(file)} > fixed.md\` or re-save it as UTF-8`
      : 'it was probably saved in another encoding; re-save it as UTF-8 or convert it with ' +
        '`iconv -f <encoding> -t UTF-8`';
    return fail('E_ENCODING', `is not valid UTF-8 (byte 0x${hex} here is not part of a UTF-8 character): ${guess}`, position);
  }

  text = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');

  // NUL is handled above; TAB, LF, CR and FF are ordinary in text files.
  const control = /[\u0001-\u0008\u000B\u000E-\u001F]/.exec(text);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    return fail(
      'E_ENCODING',
      `contains the control character U+${code}: this looks like a binary file or pasted terminal ` +
        'output, not a Markdown issue; remove the character',
      positionOfIndex(text, control.index),
    );
  }

  if (text.trim() === '') {
    return fail('E_EMPTY', text === '' ? 'file is empty' : 'file contains only whitespace');
  }
  return { text, diagnostics: [] };
}

/** Offset of the first byte that starts an invalid UTF-8 sequence (RFC 3629 well-formedness). */
function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  const at = (i: number) => bytes[i] ?? -1;
  const inRange = (value: number, low: number, high: number) => value >= low && value <= high;
  let i = 0;
  while (i < bytes.length) {
    const b = at(i);
    let length: number;
    let secondLow = 0x80;
    let secondHigh = 0xbf;
    if (b < 0x80) length = 1;
    else if (inRange(b, 0xc2, 0xdf)) length = 2;
    else if (inRange(b, 0xe0, 0xef)) {
      length = 3;
      if (b === 0xe0) secondLow = 0xa0; // no overlong forms
      if (b === 0xed) secondHigh = 0x9f; // no surrogates
    } else if (inRange(b, 0xf0, 0xf4)) {
      length = 4;
      if (b === 0xf0) secondLow = 0x90;
      if (b === 0xf4) secondHigh = 0x8f; // nothing above U+10FFFF
    } else return i;
    if (length > 1 && !inRange(at(i + 1), secondLow, secondHigh)) return i;
    for (let k = 2; k < length; k++) if (!inRange(at(i + k), 0x80, 0xbf)) return i;
    i += length;
  }
  return bytes.length;
}

/**
 * True when every non-ASCII byte pairs up as a GBK double-byte character (or a GB18030
 * four-byte one). Only asked about bytes that already failed UTF-8, so a match is a good guess.
 */
function looksLikeGbk(bytes: Uint8Array): boolean {
  const at = (i: number) => bytes[i] ?? -1;
  const isLead = (b: number) => b >= 0x81 && b <= 0xfe;
  const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
  let characters = 0;
  let i = 0;
  while (i < bytes.length) {
    const b = at(i);
    if (b < 0x80) {
      i += 1;
    } else if (isLead(b) && at(i + 1) >= 0x40 && at(i + 1) <= 0xfe && at(i + 1) !== 0x7f) {
      characters += 1;
      i += 2;
    } else if (isLead(b) && isDigit(at(i + 1)) && isLead(at(i + 2)) && isDigit(at(i + 3))) {
      characters += 1;
      i += 4;
    } else {
      return false;
    }
  }
  return characters > 0;
}

/** 1-based line and column of a byte offset, counting characters the way editors do. */
function positionOfByte(bytes: Uint8Array, offset: number): SourcePosition {
  const before = new TextDecoder('utf-8').decode(bytes.subarray(0, offset)).replace(/\r\n?/g, '\n');
  return positionOfIndex(before, before.length);
}

/** 1-based line and column of an index into LF-only text. */
function positionOfIndex(text: string, index: number): SourcePosition {
  const before = text.slice(0, index);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: index - lineStart + 1 };
}

function formatBytes(count: number): string {
  if (count < 1024) return `${count} bytes`;
  const kib = count / 1024;
  return kib < 1024 ? `${count} bytes (${kib.toFixed(1)} KiB)` : `${count} bytes (${(kib / 1024).toFixed(1)} MiB)`;
}

function quoteForShell(file: string): string {
  return /^[\w./-]+$/.test(file) ? file : `'${file.replace(/'/g, `'\\''`)}'`;
}
