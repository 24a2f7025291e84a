/**
 * `npm run bench:send [-- M]`: sends M messages (default 20,000) of sample issue 2024-18 through
 * the full path (store, ledger claim/mark, personalization, the SMTP pool of 5 connections) to a
 * Postfix `smtp-sink` on loopback, and prints the rate next to a baseline measured in the same
 * run against the same sink: `smtp-source` pushing M messages of the same size over 5 reused
 * sessions (`-d -s 5`). Target: Letterpress ÷ smtp-source ≥ 0.6 (issue 14: ≥ 0.7). Seeding is not measured.
 *
 * Then three `letterpress send` processes at once on the same SQLite store send another sample
 * issue (2024-32, planned beforehand) to the same M subscribers, 5 connections each; the bench
 * prints their total rate, each one's share, and the ratio to `smtp-source` at the same total
 * concurrency (15 sessions) and to the one-sender run.
 *
 * Needs smtp-sink and smtp-source (Debian package postfix; the daemon need not run).
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';
import { isWireReady } from '../src/deliver/smtp-connection.ts';
import { createApp } from '../src/cli/app.ts';
import { freePort, runSmtpSource as runSmtpSourceAt, startSink, waitForListener } from './postfix-sink.ts';
import { seedSubscribers } from './seed-subscribers.ts';
import { prepareIssueEmail } from '../src/deliver/prepare-issue-email.ts';
import { createComposer, type SendEvent } from '../src/deliver/run-send.ts';
import type { OutgoingMessage } from '../src/deliver/types.ts';
import type { Store } from '../src/store/types.ts';
import { createTempProject } from '../test/helpers/temp-project.ts';

const SLUG = '2024-18';
/** The issue the three senders share (another sample, so the store and subscribers are reused). */
const SHARED_SLUG = '2024-32';
const SESSIONS = 5;
const SENDERS = 3;
const BIN = path.resolve(import.meta.dirname, '../bin/letterpress.js');
const count = Number(process.argv[2] ?? process.env.BENCH_MESSAGES ?? 20_000);
if (!Number.isInteger(count) || count < 1) throw new Error(`message count must be a positive integer, got ${process.argv[2]}`);

/** smtp-source over `sessions` reused sessions (default: the pool's 5). */
const runSmtpSource = (port: number, messages: number, bytes: number, sessions = SESSIONS) => runSmtpSourceAt(port, messages, bytes, sessions);

const rate = (messages: number, ms: number) => messages / (ms / 1000);

/** One `letterpress send <slug>` process on the bench project, to the end. */
async function runSendProcess(root: string, env: Record<string, string>, slug: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, '--root', root, 'send', slug], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stdout, stderr };
}

/**
 * Wraps the store's per-message methods with timers. SQLite calls run synchronously inside
 * these async methods, so the time until each returns its promise is the real cost.
 */
function timeStoreCalls(store: Store, names: readonly ('claimDeliveries' | 'markDeliveries' | 'getSubscriber')[]) {
  const totals = new Map<string, { calls: number; ms: number }>();
  for (const name of names) {
    const original = store[name] as (...args: unknown[]) => Promise<unknown>;
    const total = { calls: 0, ms: 0 };
    totals.set(name, total);
    (store as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      const started = performance.now();
      const result = original.apply(store, args);
      total.ms += performance.now() - started;
      total.calls += 1;
      return result;
    };
  }
  return totals;
}

/** Mean µs of `work` over `runs` calls, after a warm-up. */
function microseconds(runs: number, work: (i: number) => void): number {
  for (let i = 0; i < Math.min(200, runs); i += 1) work(i);
  const started = performance.now();
  for (let i = 0; i < runs; i += 1) work(i);
  return ((performance.now() - started) / runs) * 1000;
}

/** One message through nodemailer's DATA encoder (dot-stuffing, CRLF checks): its CPU cost. */
function throughDataStream(message: OutgoingMessage): void {
  const stream = new DataStream();
  stream.on('data', () => {});
  stream.write(message.raw);
  stream.end();
}

async function main(): Promise<void> {
  const root = await createTempProject();
  const port = await freePort();
  const sink = startSink(port);
  try {
    await waitForListener(port, sink.process);
    const dbFile = path.join(root, 'data', 'bench.db');
    const env = {
      LETTERPRESS_SMTP_URL: `smtp://127.0.0.1:${port}`,
      // The sink is on loopback and the shipped config's links point there too.
      LETTERPRESS_DELIVERY_ALLOWLOCALADDRESSES: 'true',
      LETTERPRESS_SMTP_POOL_MAXCONNECTIONS: String(SESSIONS),
      LETTERPRESS_DB: dbFile,
      LETTERPRESS_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
    };
    const app = await createApp({ root, env });
    try {
      // First build: the sample issues become the archived backlog; `send 2024-18` plans it.
      await app.build();
      const store = await app.store();
      seedSubscribers(dbFile, count);

      // One real personalized message, for the baseline's message size.
      const record = (await store.getIssue(SLUG))!;
      const compose = createComposer(record, await prepareIssueEmail(record, app.loaded), {
        loaded: app.loaded,
        clock: app.clock,
        keyring: await app.keyring(),
      });
      const size = compose({ id: 2, email: 'reader2@example.org', name: '读者 2' }).raw.length;

      // Baseline: the same number of messages of the same size, same concurrency, same sink.
      // Run before and after Letterpress; the faster run is the baseline (the stricter ratio).
      const sinkBefore = sink.messages();
      const baselineFirstMs = await runSmtpSource(port, count, size);

      const storeCalls = timeStoreCalls(store, ['claimDeliveries', 'markDeliveries', 'getSubscriber']);
      const marks: Partial<Record<SendEvent['kind'], number>> = {};
      const started = performance.now();
      const reports = await app.send({
        slug: SLUG,
        onEvent: (event) => {
          marks[event.kind] ??= performance.now();
        },
      });
      const letterpressMs = performance.now() - started;

      const baselineSecondMs = await runSmtpSource(port, count, size);
      const baselineMs = Math.min(baselineFirstMs, baselineSecondMs);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const sinkTotal = sink.messages() - sinkBefore;

      const report = reports[0]!;
      const counts = await store.countDeliveries(SLUG);
      const notSent = Object.entries(counts).filter(([state, n]) => state !== 'sent' && n > 0);
      const ledgerOk = counts.sent === count && notSent.length === 0;

      const lpRate = rate(count, letterpressMs);
      const baseRate = rate(count, baselineMs);
      console.log(`messages: ${count} × ${size} bytes (issue ${SLUG}), ${SESSIONS} connections to smtp-sink 127.0.0.1:${port}`);
      console.log(
        `baseline  smtp-source -d -s ${SESSIONS} -l ${size}:  ${baseRate.toFixed(0)} msg/s ` +
          `(runs: ${(baselineFirstMs / 1000).toFixed(2)} s before, ${(baselineSecondMs / 1000).toFixed(2)} s after; faster one used)`,
      );
      console.log(`letterpress send (full path):        ${lpRate.toFixed(0)} msg/s (${(letterpressMs / 1000).toFixed(2)} s, incl. planning)`);
      console.log(`ratio letterpress / smtp-source:     ${(lpRate / baseRate).toFixed(2)}  (target ≥ 0.6)`);
      console.log(
        `ledger: ${Object.entries(counts).map(([state, n]) => `${state}=${n}`).join(' ')} → ` +
          (ledgerOk ? `all ${count} rows sent` : `NOT all sent (${notSent.map(([s, n]) => `${s}=${n}`).join(', ')})`),
      );
      console.log(`report: sent=${report.sent} deferred=${report.deferred} failed=${report.failed} complete=${report.complete}` +
        (report.stoppedBy ? ` stoppedBy=${report.stoppedBy.message}` : ''));
      console.log(`smtp-sink accepted: ${sinkTotal} messages (expected ${3 * count})`);

      // Where the time goes: per-message CPU of the parts, measured in this process.
      const sample = compose({ id: 2, email: 'reader2@example.org', name: '读者 2' });
      const composeUs = microseconds(2000, (i) => compose({ id: i + 1, email: `reader${i + 1}@example.org`, name: i % 2 ? null : `读者 ${i}` }));
      const dataStreamUs = microseconds(2000, () => throughDataStream(sample));
      const wireCheckUs = microseconds(2000, () => isWireReady(sample.raw, false));
      const planMs = (marks.planned ?? started) - started;
      const renderMs = (marks.start ?? started) - (marks.planned ?? started);
      const loopMs = performance.now() - (marks.start ?? started);
      console.log('breakdown (this run):');
      console.log(`  plan ${count} rows: ${planMs.toFixed(0)} ms; render issue email: ${renderMs.toFixed(0)} ms; send loop: ${(((marks.done ?? started) - (marks.start ?? started)) / 1000).toFixed(2)} s = ${((((marks.done ?? started) - (marks.start ?? started)) / count) * 1000).toFixed(0)} µs/msg`);
      for (const [name, total] of storeCalls) {
        console.log(`  store.${name}: ${total.calls} calls, ${((total.ms / count) * 1000).toFixed(0)} µs/msg`);
      }
      console.log(`  personalize one message (createComposer): ${composeUs.toFixed(0)} µs/msg`);
      console.log(
        `  DATA encoding: fast-path check ${wireCheckUs.toFixed(0)} µs/msg (wire-ready: ${isWireReady(sample.raw, false)}), ` +
          `versus nodemailer's byte-by-byte DataStream ${dataStreamUs.toFixed(0)} µs/msg that it replaces`,
      );
      void loopMs;
      if (!ledgerOk) process.exitCode = 1;

      // Three senders at once on the one SQLite store: planned first, so only sending is timed.
      const shared = (await store.getIssue(SHARED_SLUG))!;
      await store.planDeliveries(SHARED_SLUG, app.clock.now().toISOString());
      await store.transitionIssue(SHARED_SLUG, ['published', 'archived'], 'planned', app.clock.now().toISOString());
      const sharedCompose = createComposer(shared, await prepareIssueEmail(shared, app.loaded), {
        loaded: app.loaded,
        clock: app.clock,
        keyring: await app.keyring(),
      });
      const sharedSize = sharedCompose({ id: 2, email: 'reader2@example.org', name: '读者 2' }).raw.length;
      const wideFirstMs = await runSmtpSource(port, count, sharedSize, SENDERS * SESSIONS);
      const manyStarted = performance.now();
      const runs = await Promise.all(Array.from({ length: SENDERS }, () => runSendProcess(root, env, SHARED_SLUG)));
      const manyMs = performance.now() - manyStarted;
      const wideSecondMs = await runSmtpSource(port, count, sharedSize, SENDERS * SESSIONS);
      const wideMs = Math.min(wideFirstMs, wideSecondMs);
      const sharedCounts = await store.countDeliveries(SHARED_SLUG);
      const shares = runs.map((run) => Number(/(\d+) sent/.exec(run.stdout)?.[1] ?? 0));
      const manyOk = sharedCounts.sent === count && shares.reduce((sum, n) => sum + n, 0) === count && runs.every((run) => run.code === 0);
      const manyRate = rate(count, manyMs);
      const wideRate = rate(count, wideMs);
      console.log(`three senders (${SENDERS} processes × ${SESSIONS} connections, issue ${SHARED_SLUG}, ${sharedSize} bytes, one SQLite store):`);
      console.log(`  baseline smtp-source -d -s ${SENDERS * SESSIONS}:  ${wideRate.toFixed(0)} msg/s (faster of the runs before and after)`);
      console.log(`  total, first start to last exit:  ${manyRate.toFixed(0)} msg/s (${(manyMs / 1000).toFixed(2)} s, incl. process start-up); shares ${shares.join(' / ')}`);
      console.log(`  ratio three senders / smtp-source (same total concurrency): ${(manyRate / wideRate).toFixed(2)}`);
      console.log(`  ratio three senders / one sender:  ${(manyRate / lpRate).toFixed(2)}`);
      console.log(`  ledger: ${Object.entries(sharedCounts).map(([state, n]) => `${state}=${n}`).join(' ')} → ${manyOk ? `all ${count} rows sent once` : 'NOT all sent once'}`);
      for (const run of runs) if (run.code !== 0) console.log(`  a sender exited ${run.code}: ${run.stderr.slice(-500)}`);
      if (!manyOk) process.exitCode = 1;
    } finally {
      await app.close();
    }
  } finally {
    sink.process.kill();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
