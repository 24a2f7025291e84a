import { describe, expect, it } from 'vitest';
import { escapeForTerminal } from '../../src/util/escape-for-terminal.ts';

describe('escapeForTerminal', () => {
  it('shows C0, DEL, C1 and bidi controls escaped and leaves other text alone', () => {
    expect(escapeForTerminal('Evil\r\nline \x1b[2J\x1b[31mred\x07\x00\x7f\x9b')).toBe('Evil\\r\\nline \\x1b[2J\\x1b[31mred\\x07\\x00\\x7f\\x9b');
    expect(escapeForTerminal('abc\u202edef\u2066x\u2069\u202a')).toBe('abc\\u202edef\\u2066x\\u2069\\u202a');
    expect(escapeForTerminal('tab\there')).toBe('tab\\there');
    expect(escapeForTerminal('云计算技术动态 2024 年第十八期 Zoë 🎉')).toBe('云计算技术动态 2024 年第十八期 Zoë 🎉');
  });

  it('keeps line breaks when asked, and still escapes CR', () => {
    expect(escapeForTerminal('one\r\ntwo\n\x1b[0m', { keepNewlines: true })).toBe('one\\r\ntwo\n\\x1b[0m');
  });
});
