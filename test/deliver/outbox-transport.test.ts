import * as fsPromises from 'node:fs/promises';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createOutboxTransport, type OutboxFiles } from '../../src/deliver/outbox-transport.ts';
import type { OutgoingMessage } from '../../src/deliver/types.ts';
import { activeRows, createSendProject, issueStatus, SLUG } from '../helpers/send-project.ts';
import { runCli } from '../helpers/temp-project.ts';
import { canMountTmpfs, mountTmpfs } from '../helpers/tmpfs.ts';

/**
 * Outbox files hold addresses and live tokens: a write that fails (a full disk) removes its
 * temporary file, and the error says the disk is full.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
}

const message = (id: number) =>
  ({
    issueSlug: SLUG,
    messageId: `<${SLUG}.${id}.abc@example.org>`,
    raw: Buffer.from(`To: reader-${id}@example.org\r\n\r\nunsubscribe token v1.secret.${id}\r\n`.repeat(200)),
  }) as unknown as OutgoingMessage;

describe('outbox on a full disk', () => {
  it('a write that fails with ENOSPC halfway leaves no temporary file behind', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-outbox-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    // The disk fills after half of the bytes: the half-written temporary is really there.
    const files: OutboxFiles = {
      ...fsPromises,
      writeFile: (async (file: string, data: Buffer) => {
        await fsPromises.writeFile(file, data.subarray(0, data.length / 2));
        throw Object.assign(new Error(`ENOSPC: no space left on device, write '${file}'`), { code: 'ENOSPC' });
      }) as unknown as OutboxFiles['writeFile'],
    };
    const transport = createOutboxTransport({ dir, files });
    await expect(transport.send(message(1))).rejects.toMatchObject({
      code: 'E_OUTBOX',
      message: expect.stringContaining(`the disk holding ${dir} is full`),
    });
    expect(await filesUnder(dir)).toEqual([]);
  });

  it.runIf(canMountTmpfs)('send into an outbox on a full tmpfs stops with E_OUTBOX, no *.tmp left, rows still queued', async () => {
    const root = await createSendProject(activeRows(40));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const disk = await mountTmpfs('96k');
    cleanups.push(() => disk.unmount());
    // The store stays on the big disk; only data/ (and so the outbox) is on the tiny one.
    const env = { LETTERPRESS_PATHS_DATA: disk.dir, LETTERPRESS_DB: path.join(root, 'data/letterpress.db') };
    const result = await runCli(['send', SLUG, '--no-build'], root, env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is full');
    expect(result.stderr).toContain('E_OUTBOX');
    const left = await filesUnder(disk.dir);
    expect(left.filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(left.length).toBeGreaterThan(0);
    const status = await issueStatus(root, SLUG, env);
    expect(status.counts.sent).toBe(left.filter((name) => name.endsWith('.eml')).length);
    expect(status.counts.queued).toBe(40 - status.counts.sent);
  }, 60_000);
});
