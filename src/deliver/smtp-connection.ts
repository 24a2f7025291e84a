import SMTPConnection from 'nodemailer/lib/smtp-connection';

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const LF_DOT = Buffer.from('\n.');

/**
 * Whether `chunk` can go on the wire inside DATA exactly as it is: CRLF line endings only, no
 * line starting with a dot (so no dot-stuffing), given the byte that preceded it (`false` at
 * the start of the message). Scans with `indexOf`, one step per line rather than per byte.
 */
export function isWireReady(chunk: Buffer, lastByte: number | false): boolean {
  if (chunk.length === 0) return true;
  if (lastByte === CR && chunk[0] !== LF) return false;
  if (chunk[0] === DOT && (lastByte === false || lastByte === LF)) return false;
  if (chunk.indexOf(LF_DOT) !== -1) return false;
  for (let at = chunk.indexOf(LF); at !== -1; at = chunk.indexOf(LF, at + 1)) {
    if ((at === 0 ? lastByte : chunk[at - 1]) !== CR) return false;
  }
  for (let at = chunk.indexOf(CR); at !== -1; at = chunk.indexOf(CR, at + 1)) {
    // A CR at the very end may be followed by LF in the next chunk: let nodemailer decide.
    if (at + 1 >= chunk.length || chunk[at + 1] !== LF) return false;
  }
  return true;
}

interface DataStreamInternals {
  _transform(chunk: unknown, encoding: BufferEncoding, done: (error?: Error | null) => void): void;
  push(chunk: Buffer): boolean;
  inByteCount: number;
  outByteCount: number;
  lastByte: number | false;
}

/**
 * nodemailer's SMTP connection with a fast path for the DATA stream. nodemailer walks every
 * byte of every message in JavaScript to fix line endings and stuff leading dots; our raw
 * messages are built with CRLF and quoted-printable bodies, so nearly always nothing needs
 * fixing, and that walk was the largest cost of sending (≈0.4 ms of ≈0.7 ms per 70 KB
 * message). A chunk that is already wire-ready is passed through as is; anything else goes
 * through nodemailer's own encoder unchanged, so the bytes on the wire are the same either way.
 */
export class FastDataSmtpConnection extends SMTPConnection {
  _createSendStream(callback: unknown): unknown {
    const create = (SMTPConnection.prototype as unknown as { _createSendStream(cb: unknown): DataStreamInternals })
      ._createSendStream;
    const stream = create.call(this, callback);
    const encode = stream._transform.bind(stream);
    stream._transform = (chunk, encoding, done) => {
      if (Buffer.isBuffer(chunk) && chunk.length > 0 && isWireReady(chunk, stream.lastByte)) {
        stream.inByteCount += chunk.length;
        stream.outByteCount += chunk.length;
        stream.lastByte = chunk[chunk.length - 1]!;
        stream.push(chunk);
        return done();
      }
      return encode(chunk, encoding, done);
    };
    return stream;
  }
}
