import { describe, expect, it } from 'vitest';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream.js';
import { isWireReady } from '../../src/deliver/smtp-connection.ts';

/** What nodemailer's own DATA encoder puts on the wire for these chunks, final dot included. */
async function encodeWithNodemailer(chunks: Buffer[]): Promise<Buffer> {
  const stream = new DataStream();
  const out: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = new Promise((resolve) => stream.on('end', resolve));
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  await ended;
  return Buffer.concat(out);
}

/** The chunk as the fast path sends it, plus the terminator nodemailer appends after it. */
function passedThrough(chunk: Buffer): string {
  const last = chunk[chunk.length - 1];
  const trailer = last === 0x0a ? '.\r\n' : last === 0x0d ? '\n.\r\n' : '\r\n.\r\n';
  return chunk.toString('latin1') + trailer;
}

describe('isWireReady', () => {
  const cases: [string, string, boolean][] = [
    ['plain CRLF text', 'Subject: x\r\n\r\nhello\r\nworld\r\n', true],
    ['a leading dot on the first line', '.hidden\r\n', false],
    ['a leading dot on a later line', 'a\r\n.b\r\n', false],
    ['a bare LF', 'a\nb\r\n', false],
    ['a bare CR', 'a\rb\r\n', false],
    ['a CR as the last byte', 'a\r\nb\r', false],
    ['two dots at a line start', 'a.b\r\n..c\r\n', false],
    ['dots not at line starts', 'x.y\r\nz..\r\n', true],
  ];
  for (const [name, text, expected] of cases) {
    it(`${name}: ${expected ? 'passes through' : 'goes to nodemailer'}`, () => {
      expect(isWireReady(Buffer.from(text), false)).toBe(expected);
    });
  }

  it('looks at the byte before the chunk', () => {
    expect(isWireReady(Buffer.from('\nx\r\n'), 0x0d)).toBe(true);
    expect(isWireReady(Buffer.from('\nx\r\n'), 0x41)).toBe(false);
    expect(isWireReady(Buffer.from('.x\r\n'), 0x0a)).toBe(false);
    expect(isWireReady(Buffer.from('x\r\n'), 0x0d)).toBe(false);
  });

  it('never passes through anything nodemailer would change', async () => {
    const alphabet = ['a', '.', '\r', '\n', '\r\n', ' ', '=', '.\r\n'];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let passed = 0;
    for (let round = 0; round < 2000; round += 1) {
      const length = 1 + Math.floor(random() * 12);
      const text = Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
      const chunk = Buffer.from(text);
      if (!isWireReady(chunk, false)) continue;
      passed += 1;
      expect((await encodeWithNodemailer([chunk])).toString('latin1'), JSON.stringify(text)).toBe(passedThrough(chunk));
    }
    expect(passed).toBeGreaterThan(50);
  });
});
