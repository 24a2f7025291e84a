/**
 * `npm run bench:memory [-- N]`: plans and sends sample issue 2024-18 to N subscribers
 * (default 1,000,000) through `createApp` + `app.send` with a transport that discards every
 * message, sampling the process RSS every 100 ms. Prints peak RSS (target ≤ 100 MB) beside the
 * RSS right after seeding (same process, before planning), and the send rate beside a trivial
 * baseline: the same discard transport called in a bare loop with one pre-built message.
 * Seeding goes straight into the SQLite file in batched transactions and is not measured.
 *
 * The first `build` (which records the sample issues, archived) and the seeding run in a child
 * process; the measured process is another child, `memory-send.mjs`, plain JavaScript importing
 * the compiled dist/ (rebuilt first when stale), so it is like a `letterpress send` run of the
 * installed CLI: no tsx, and never the site build's heap.
 * RSS is sampled every 100 ms by a timer and, because a transport that answers at once keeps
 * the send loop in microtasks (timers barely fire), also from inside the transport at most
 * every 100 ms.
 */
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { createApp } from '../src/cli/app.ts';
import { seedSubscribers } from './seed-subscribers.ts';
import type { Transport } from '../src/deliver/types.ts';
import buildDist from '../test/helpers/build-dist.ts';
import { createTempProject } from '../test/helpers/temp-project.ts';

const count = Number(process.argv[2] === '--setup' ? 1 : (process.argv[2] ?? process.env.BENCH_SUBSCRIBERS ?? 1_000_000));
if (!Number.isInteger(count) || count < 1) throw new Error(`subscriber count must be a positive integer, got ${process.argv[2]}`);

/** A transport that accepts and drops every message (the setup's build sends nothing). */
function createDiscardTransport(): Transport {
  return { description: 'discard', concurrency: 1, send: async () => ({ status: 'sent', reply: '250 discarded' }), async close() {} };
}

const ENV = { LETTERPRESS_SECRET: 'bench-secret-bench-secret-bench-secret-0123' };

/**
 * Child-process mode: the first build of the project (recording the sample issues) and the
 * seeding, so the measured process starts like a plain `letterpress send` on a big list.
 */
async function setup(root: string, dbFile: string, total: number): Promise<void> {
  const app = await createApp({ root, env: { ...ENV, LETTERPRESS_DB: dbFile }, transport: createDiscardTransport() });
  try {
    await app.build();
  } finally {
    await app.close();
  }
  const started = performance.now();
  seedSubscribers(dbFile, total);
  console.log(`seeded ${total} subscribers in ${((performance.now() - started) / 1000).toFixed(1)} s (setup, not measured)`);
}

async function main(): Promise<void> {
  buildDist();
  const root = await createTempProject();
  const dbFile = path.join(root, 'data', 'bench.db');
  try {
    const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, '--setup', root, dbFile, String(count)], {
      stdio: 'inherit',
    });
    if (child.status !== 0) throw new Error(`setup (build) failed with status ${child.status}`);
    // The measured process runs dist/ without tsx, like the installed CLI (bin/letterpress.js).
    // BENCH_NODE_FLAGS (e.g. `--max-semi-space-size=1`) tries V8 knobs on the measured process.
    const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
    const measured = spawnSync(process.execPath, [...flags, path.join(import.meta.dirname, 'memory-send.mjs'), root, dbFile, String(count)], {
      stdio: 'inherit',
    });
    if (measured.status !== 0) process.exitCode = 1;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--setup') await setup(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
else await main();
