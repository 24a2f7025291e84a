/**
 * `npm run bench:memory [-- N]`: plans and sends sample issue 2024-18 to N subscribers
 * (default 1,000,000) through `createApp` + `app.send` with a transport that discards every
 * message, sampling the process RSS every 100 ms. Prints peak RSS (target < 200 MB) beside the
 * RSS right after seeding (same process, before planning), and the send rate beside a trivial
 * baseline: the same discard transport called in a bare loop with one pre-built message.
 * Seeding goes straight into the SQLite file in batched transactions and is not measured.
 *
 * The first `build` (which records the sample issues, archived) runs in a child process, so the
 * measured process is like a `letterpress send` run: it never holds the site build's heap.
 * RSS is sampled every 100 ms by a timer and, because a transport that answers at once keeps
 * the send loop in microtasks (timers barely fire), also from inside the transport at most
 * every 100 ms.
 */
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createApp } from '../src/cli/app.ts';
import { seedSubscribers } from './seed-subscribers.ts';
import { prepareIssueEmail } from '../src/deliver/prepare-issue-email.ts';
import { createComposer, type SendEvent } from '../src/deliver/run-send.ts';
import type { SendOutcome, Transport } from '../src/deliver/types.ts';
import { createTempProject } from '../test/helpers/temp-project.ts';

const SLUG = '2024-18';
const count = Number(process.argv[2] === '--setup' ? 1 : (process.argv[2] ?? process.env.BENCH_SUBSCRIBERS ?? 1_000_000));
if (!Number.isInteger(count) || count < 1) throw new Error(`subscriber count must be a positive integer, got ${process.argv[2]}`);

const MB = 1024 * 1024;

/** A full GC before the baseline reading, so it is not inflated by setup garbage. */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

let peakRss = 0;
let peakDetail: NodeJS.MemoryUsage | undefined;
let samples = 0;
let lastSampleAt = 0;
function sampleRss(): void {
  lastSampleAt = performance.now();
  const usage = process.memoryUsage();
  if (usage.rss > peakRss) {
    peakRss = usage.rss;
    peakDetail = usage;
  }
  samples += 1;
}
const SENT: SendOutcome = { status: 'sent', reply: '250 discarded' };

/** A transport that accepts and drops every message: what is left is Letterpress's own cost. */
function createDiscardTransport(concurrency = 16): Transport & { messages: number; bytes: number } {
  return {
    description: 'discard',
    concurrency,
    messages: 0,
    bytes: 0,
    async send(message) {
      if (performance.now() - lastSampleAt >= 100) sampleRss();
      this.messages += 1;
      this.bytes += message.size;
      return SENT;
    },
    async close() {},
  };
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
  const root = await createTempProject();
  const dbFile = path.join(root, 'data', 'bench.db');
  const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, '--setup', root, dbFile, String(count)], {
    stdio: 'inherit',
  });
  if (child.status !== 0) throw new Error(`setup (build) failed with status ${child.status}`);
  const transport = createDiscardTransport();
  const app = await createApp({ root, env: { ...ENV, LETTERPRESS_DB: dbFile }, transport });
  try {
    const store = await app.store();
    const afterOpenRss = process.memoryUsage().rss;
    let started = performance.now();

    // Baseline RSS: this process with the app loaded and the seeded store open, before planning.
    collectGarbage();
    const baselineRss = process.memoryUsage().rss;
    peakRss = baselineRss;
    const sampler = setInterval(sampleRss, 100);

    const marks: Partial<Record<SendEvent['kind'], number>> = {};
    started = performance.now();
    let reports;
    try {
      reports = await app.send({
        slug: SLUG,
        onEvent: (event) => {
          marks[event.kind] ??= performance.now();
          if (event.kind !== 'progress') sampleRss();
        },
      });
    } finally {
      clearInterval(sampler);
      sampleRss();
    }
    const totalMs = performance.now() - started;
    const planMs = (marks.planned ?? started) - started;
    const sendMs = (marks.done ?? performance.now()) - (marks.start ?? started);
    const renderMs = (marks.start ?? started) - (marks.planned ?? started);

    // Trivial baseline: the discard transport in a bare loop with one pre-built message.
    const record = (await store.getIssue(SLUG))!;
    const compose = createComposer(record, await prepareIssueEmail(record, app.loaded), {
      loaded: app.loaded,
      clock: app.clock,
      keyring: await app.keyring(),
    });
    const message = compose({ id: 2, email: 'reader2@example.org', name: '读者 2' });
    const bare = createDiscardTransport();
    started = performance.now();
    for (let i = 0; i < count; i += 1) await bare.send(message);
    const bareMs = performance.now() - started;

    const counts = await store.countDeliveries(SLUG);
    const ledgerOk = counts.sent === count && Object.entries(counts).every(([state, n]) => state === 'sent' || n === 0);
    const report = reports[0]!;

    console.log(`subscribers: ${count}; message ${message.size} bytes`);
    console.log(`RSS with the app loaded, store open: ${(afterOpenRss / MB).toFixed(0)} MB`);
    console.log(`RSS before planning (baseline):      ${(baselineRss / MB).toFixed(0)} MB`);
    console.log(`peak RSS while planning + sending:   ${(peakRss / MB).toFixed(0)} MB  (${samples} samples; target < 200 MB)`);
    if (peakDetail) {
      const { heapUsed, heapTotal, external, arrayBuffers } = peakDetail;
      console.log(`  at the peak: heapUsed ${(heapUsed / MB).toFixed(0)} MB of heapTotal ${(heapTotal / MB).toFixed(0)} MB, external ${(external / MB).toFixed(0)} MB (arrayBuffers ${(arrayBuffers / MB).toFixed(0)} MB)`);
    }
    console.log(`ratio peak / baseline:               ${(peakRss / baselineRss).toFixed(2)}  (growth ${((peakRss - baselineRss) / MB).toFixed(0)} MB)`);
    console.log(`phases: plan ${(planMs / 1000).toFixed(1)} s, render ${(renderMs / 1000).toFixed(2)} s, send ${(sendMs / 1000).toFixed(1)} s; total ${(totalMs / 1000).toFixed(1)} s`);
    console.log(`baseline  discard transport, bare loop:  ${(count / (bareMs / 1000)).toFixed(0)} msg/s`);
    console.log(`letterpress send loop (discard):         ${(count / (sendMs / 1000)).toFixed(0)} msg/s (${((sendMs / count) * 1000).toFixed(0)} µs/msg)`);
    console.log(`letterpress plan + send overall:         ${(count / (totalMs / 1000)).toFixed(0)} msg/s`);
    console.log(
      `ledger: ${Object.entries(counts).map(([state, n]) => `${state}=${n}`).join(' ')} → ` +
        (ledgerOk ? `all ${count} rows sent` : 'NOT all sent') +
        `; transport got ${transport.messages} messages` +
        (report.stoppedBy ? `; stopped: ${report.stoppedBy.message}` : ''),
    );
    if (!ledgerOk || transport.messages !== count) process.exitCode = 1;
  } finally {
    await app.close();
    await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--setup') await setup(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
else await main();
