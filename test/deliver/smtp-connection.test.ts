import { describe, expect, it, vi } from 'vitest';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream.js';
import { FastDataSmtpConnection, isWireReady, joinWireReady } from '../../src/deliver/smtp-connection.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';

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

/** The same pseudo-random sequence every run, so a failing case can be replayed. */
function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

/** 1 to `maxPieces` pieces drawn from `alphabet`, joined. */
function randomText(random: () => number, maxPieces: number, alphabet: readonly string[]): string {
  return Array.from({ length: 1 + Math.floor(random() * maxPieces) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
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
    const random = seededRandom(7);
    let passed = 0;
    for (let round = 0; round < 2000; round += 1) {
      const text = randomText(random, 12, ['a', '.', '\r', '\n', '\r\n', ' ', '=', '.\r\n']);
      const chunk = Buffer.from(text);
      if (!isWireReady(chunk, false)) continue;
      passed += 1;
      expect((await encodeWithNodemailer([chunk])).toString('latin1'), JSON.stringify(text)).toBe(passedThrough(chunk));
    }
    expect(passed).toBeGreaterThan(50);
  });
});

describe('joinWireReady', () => {
  const join = (...texts: string[]) => {
    const parts = texts.map((text) => Buffer.from(text, 'latin1'));
    return joinWireReady(parts, parts.reduce((sum, part) => sum + part.length, 0))?.toString('latin1');
  };

  it('joins parts that are wire-ready together, CRLF split across two parts included', () => {
    expect(join('Subject: x\r\n', '\r\nhello\r', '\nworld\r\n')).toBe('Subject: x\r\n\r\nhello\r\nworld\r\n');
  });

  it('refuses what the whole message would need fixed, though each part alone looks fine', () => {
    expect(join('a\r\n', '.b\r\n')).toBeUndefined(); // a line starting with a dot
    expect(join('.a\r\n')).toBeUndefined();
    expect(join('a\r', 'b\r\n')).toBeUndefined(); // a bare CR
    expect(join('a', '\nb\r\n')).toBeUndefined(); // a bare LF
    expect(join('a\r\n', 'b\r')).toBeUndefined(); // ends on a CR
  });

  it('agrees with isWireReady on the joined bytes, for parts cut anywhere', () => {
    const random = seededRandom(11);
    let joined = 0;
    for (let round = 0; round < 3000; round += 1) {
      const text = randomText(random, 14, ['a', '.', '\r', '\n', '\r\n', ' ', '.\r\n']);
      const cuts = [0, ...Array.from({ length: 3 }, () => Math.floor(random() * text.length)).sort((a, b) => a - b), text.length];
      const parts = cuts.slice(1).map((end, i) => text.slice(cuts[i], end));
      const expected = isWireReady(Buffer.from(text, 'latin1'), false) ? text : undefined;
      expect(join(...parts), JSON.stringify(parts)).toBe(expected);
      if (expected !== undefined) joined += 1;
    }
    expect(joined).toBeGreaterThan(50);
  });

  it('joins into a buffer it is given when that holds the message, and into a new one otherwise', () => {
    const parts = [Buffer.from('Subject: x\r\n\r\n'), Buffer.from('hello\r\n')];
    const size = parts[0]!.length + parts[1]!.length;
    const scratch = Buffer.alloc(64, 0x41);
    const joined = joinWireReady(parts, size, scratch)!;
    expect(joined.toString('latin1')).toBe('Subject: x\r\n\r\nhello\r\n');
    expect(joined.buffer).toBe(scratch.buffer);
    expect(joined.length).toBe(size);
    const small = Buffer.alloc(8);
    const fresh = joinWireReady(parts, size, small)!;
    expect(fresh.toString('latin1')).toBe('Subject: x\r\n\r\nhello\r\n');
    expect(small.toString('latin1')).toBe('\0'.repeat(8));
  });

  it('remembers the verdict on a long-lived part, so the same piece is scanned once', () => {
    const piece = Buffer.from(`${'x'.repeat(70)}\r\n`.repeat(40), 'latin1');
    const indexOf = vi.spyOn(piece, 'indexOf');
    const first = joinWireReady([Buffer.from('To: a@example.org\r\n'), piece], 19 + piece.length);
    const scans = indexOf.mock.calls.length;
    const second = joinWireReady([Buffer.from('To: b@example.org\r\n'), piece], 19 + piece.length);
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(scans).toBeGreaterThan(40);
    expect(indexOf.mock.calls.length).toBe(scans);
  });
});

/** Sends `raw` over one FastDataSmtpConnection; returns what the server got and the DATA streams used. */
async function sendThroughFastConnection(port: number, raw: Buffer): Promise<{ streams: { inByteCount: number; outByteCount: number }[] }> {
  const streams: { inByteCount: number; outByteCount: number }[] = [];
  class Recording extends FastDataSmtpConnection {
    override _createSendStream(callback: unknown): unknown {
      const stream = super._createSendStream(callback) as { inByteCount: number; outByteCount: number };
      streams.push(stream);
      return stream;
    }
  }
  const connection = new Recording({ host: '127.0.0.1', port, ignoreTLS: true, allowInternalNetworkInterfaces: true } as SMTPConnection.Options);
  await new Promise<void>((resolve, reject) => {
    connection.once('error', reject);
    connection.connect(() => resolve());
  });
  await new Promise<void>((resolve, reject) =>
    connection.send({ from: 'a@example.org', to: ['b@example.org'] }, raw, (error) => (error ? reject(error) : resolve())),
  );
  connection.quit();
  return { streams };
}

describe('nodemailer private API that FastDataSmtpConnection overrides', () => {
  // nodemailer is pinned to one exact version (package.json); this fails when an upgrade
  // renames or reshapes what the override relies on, instead of silently losing the fast path.
  it('SMTPConnection still creates its DATA stream through _createSendStream, a DataStream with byte counters', () => {
    const proto = SMTPConnection.prototype as unknown as Record<string, unknown>;
    expect(typeof proto._createSendStream).toBe('function');
    const stream = new DataStream() as unknown as Record<string, unknown>;
    expect(typeof stream._transform).toBe('function');
    expect(stream).toMatchObject({ inByteCount: 0, outByteCount: 0, lastByte: false });
  });

  it('a real send goes through the override and the bytes on the wire are what nodemailer would send', async () => {
    const sink = await startSmtpSink();
    try {
      const wireReady = Buffer.from('Subject: fast\r\n\r\nhello\r\nworld\r\n');
      const needsFixing = Buffer.from('Subject: slow\r\n\r\n.dot first\nbare LF\r\n');
      const fast = await sendThroughFastConnection(sink.port, wireReady);
      const slow = await sendThroughFastConnection(sink.port, needsFixing);
      expect(fast.streams).toHaveLength(1);
      expect(slow.streams).toHaveLength(1);
      // The fast path counts what it passed through; nodemailer adds the `.\r\n` terminator.
      expect(fast.streams[0]).toMatchObject({ inByteCount: wireReady.length, outByteCount: wireReady.length + 3 });
      expect(sink.messages.map((message) => message.raw.toString('latin1'))).toEqual([
        wireReady.toString('latin1'),
        'Subject: slow\r\n\r\n.dot first\r\nbare LF\r\n',
      ]);
    } finally {
      await sink.close();
    }
  });
});
