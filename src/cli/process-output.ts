import type { Output } from './progress.ts';

/**
 * A process stream (stdout, stderr) as an Output that survives its reader going away: a pipe
 * closed early (`| head -1`, a log shipper that died) makes writes fail with EPIPE, which is
 * nobody's fault in the store. The stream is then marked closed and later text is dropped, so
 * the command finishes its work and exits as it would have.
 */
export function createProcessOutput(stream: NodeJS.WriteStream): Output & { closed(): boolean } {
  let closed = false;
  // Without a listener an asynchronous EPIPE is an uncaught 'error' event: a stack trace and
  // a dead process halfway through a send.
  stream.on('error', (error: NodeJS.ErrnoException) => {
    closed = true;
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') stream.destroy();
  });
  return {
    isTTY: stream.isTTY,
    closed: () => closed,
    write(text: string): void {
      if (closed || stream.destroyed) return;
      try {
        stream.write(text);
      } catch {
        // A synchronous write on a closed descriptor throws instead of emitting: same meaning.
        closed = true;
      }
    },
  };
}
