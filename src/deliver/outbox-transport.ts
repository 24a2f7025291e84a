import * as fsPromises from 'node:fs/promises';
import path from 'node:path';
import { LetterpressError } from '../util/errors.ts';
import type { OutgoingMessage, Transport } from './types.ts';

/** The file operations the outbox uses: node:fs/promises, replaceable to inject a failing disk. */
export interface OutboxFiles {
  mkdir: typeof fsPromises.mkdir;
  writeFile: typeof fsPromises.writeFile;
  rename: typeof fsPromises.rename;
  rm: typeof fsPromises.rm;
}

/** Turns a Message-ID into a file name that is safe on every file system. */
export function outboxFileName(message: OutgoingMessage): string {
  const id = message.messageId.replace(/^<|>$/g, '').split('@')[0] ?? 'message';
  return `${id.replace(/[^A-Za-z0-9._-]/g, '_')}.eml`;
}

/**
 * Writes every message as an `.eml` file under `<dir>/<slug>/` instead of sending it: the
 * default when no SMTP server is configured, so a fresh clone can run the whole pipeline and
 * an editor can open the result in any mail client. The folder lives under `data/` because the
 * files hold addresses and live unsubscribe tokens. A message re-sent after a crash has the
 * same Message-ID and so overwrites its own file; each file is written atomically.
 */
export function createOutboxTransport(options: { dir: string; description?: string; files?: OutboxFiles }): Transport {
  const { mkdir, rename, rm, writeFile } = options.files ?? fsPromises;
  const made = new Set<string>();
  return {
    description: options.description ?? `outbox ${options.dir}`,
    concurrency: 8,
    async send(message) {
      const folder = path.join(options.dir, message.issueSlug.replace(/[^A-Za-z0-9._-]/g, '_'));
      const target = path.join(folder, outboxFileName(message));
      try {
        if (!made.has(folder)) {
          await mkdir(folder, { recursive: true });
          made.add(folder);
        }
        const temporary = `${target}.${process.pid}.tmp`;
        try {
          await writeFile(temporary, message.raw);
          await rename(temporary, target);
        } catch (error) {
          // A half-written temporary holds an address and live tokens: it never stays behind.
          await rm(temporary, { force: true }).catch(() => undefined);
          throw error;
        }
      } catch (error) {
        // A full or unwritable disk is the sender's problem, like a refused SMTP login.
        const why =
          (error as NodeJS.ErrnoException).code === 'ENOSPC'
            ? `the disk holding ${options.dir} is full; free space there (or point paths.data at a larger disk) and send again`
            : (error as Error).message;
        throw new LetterpressError('E_OUTBOX', `cannot write ${target}: ${why}`, { cause: error });
      }
      return { status: 'sent', reply: `250 written to ${target}` };
    },
    async close() {},
  };
}
