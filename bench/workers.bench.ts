/**
 * `npm run bench:workers [-- N] [--quick]`: the same N-message send (default 20,000; sample issue
 * 2024-18, ~70 KB messages) to a Postfix `smtp-sink` on loopback, by `letterpress worker`
 * processes of the built CLI (`node bin/letterpress.js worker`, the store named by
 * LETTERPRESS_DB): 1, 2 and 4 workers on PostgreSQL, 1 and 3 on SQLite, each configuration on a
 * fresh store seeded the same way, once with DKIM off and once with DKIM on (RSA-2048). Beside
 * each one, in the same run, `smtp-source` with as many sessions as the workers have connections
 * in all (workers × smtp.pool.maxConnections) and the same message size, run right before and
 * right after it; the faster run is the baseline (the stricter ratio). Then planning
 * 1,000,000 rows (100,000 with --quick) on PostgreSQL against SQLite, so the one command prints
 * every target:
 *
 * - the best PostgreSQL configuration, DKIM off: ≥ 0.7 × smtp-source;
 * - DKIM on, PostgreSQL: 2 workers ≥ 1.3 × one worker;
 * - planning on PostgreSQL ≤ 3 × SQLite.
 *
 * What is timed: the issue is planned and held (a send-window hold, which workers pass over)
 * before the workers start; once every worker has logged that it is up, the hold is released
 * and the clock runs until the bench sees every row `sent` in the ledger. Worker start-up, the
 * build and the seeding are not measured. Workers look at the ledger every 50 ms while idle
 * (`delivery.pollSeconds` 0.05), so picking the issue up costs at most that.
 *
 * BENCH_WORKER_NODE_FLAGS passes Node flags to every worker (e.g. `--cpu-prof
 * --cpu-prof-dir=/tmp/prof`); BENCH_ONLY=pg-2-dkim,sqlite-1 runs only those configurations.
 * Needs smtp-sink and smtp-source (Debian package postfix) and a PostgreSQL server
 * (LETTERPRESS_BENCH_POSTGRES, default postgres://postgres@127.0.0.1:5432; the bench creates and
 * drops its own databases).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../src/cli/app.ts';
import { prepareIssueRendition } from '../src/deliver/prepare-issue-email.ts';
import { composerFromRendition, planIssue } from '../src/deliver/run-send.ts';
import type { Store } from '../src/store/types.ts';
import buildDist from '../test/helpers/build-dist.ts';
import { createTempProject, REPO_ROOT } from '../test/helpers/temp-project.ts';
import { BENCH_POSTGRES, comparePlanning, onPostgresServer } from './plan-comparison.ts';
import { freePort, runSmtpSource, startSink, waitForListener } from './postfix-sink.ts';
import { seedPostgresSubscribers, seedSubscribers } from './seed-subscribers.ts';

const SLUG = '2024-18';
/** smtp.pool.maxConnections of every worker (the shipped default). */
const CONNECTIONS = 5;
const BIN = path.join(REPO_ROOT, 'bin/letterpress.js');
const SECRET = 'bench-secret-bench-secret-bench-secret-0123';
const CLOCK_TICKS = 100;

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const countArg = args.find((arg) => /^\d+$/.test(arg));
const count = Number(countArg ?? process.env.BENCH_MESSAGES ?? (quick ? 2_000 : 20_000));
if (!Number.isInteger(count) || count < 1) throw new Error(`message count must be a positive integer, got ${countArg}`);
const planRows = quick ? 100_000 : 1_000_000;
const workerFlags = (process.env.BENCH_WORKER_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim());

interface Configuration {
  name: string;
  driver: 'postgres' | 'sqlite';
  workers: number;
  dkim: boolean;
}

interface Outcome {
  config: Configuration;
  bytes: number;
  ms: number;
  baselineMs: number;
  /** Each worker's CPU seconds (user + system) over its whole life, and its share of the rows. */
  workerCpu: number[];
  shares: number[];
  sinkCpu: number;
  ok: boolean;
  note: string;
}

const rate = (messages: number, ms: number) => messages / (ms / 1000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU seconds a process has used so far (user + system, from /proc). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** One `letterpress worker` child: resolves `ready` once it logged that it sends, collects its log. */
function startWorker(root: string, env: Record<string, string>): { child: ChildProcess; ready: Promise<void>; log: () => string } {
  const child = spawn(process.execPath, [...workerFlags, BIN, '--root', root, 'worker'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let markReady: () => void;
  let fail: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    fail = reject;
  });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.includes('sends planned issues via')) markReady();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.once('exit', (code) => fail(new Error(`a worker exited with ${code} before it was ready: ${stderr.slice(-800)}${stdout.slice(-800)}`)));
  return { child, ready, log: () => stdout + stderr };
}

/** How many rows a worker's log says it sent (the sum of its per-run reports). */
function sentInLog(log: string): number {
  let sent = 0;
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { slug?: string; sent?: unknown; msg?: string };
      if (entry.slug === SLUG && typeof entry.sent === 'number' && entry.msg?.includes(' sent, ')) sent += entry.sent;
    } catch {
      // Not a log line.
    }
  }
  return sent;
}

/** The DKIM settings of a configuration that signs (RSA-2048, the key made for this run). */
function dkimEnv(config: Configuration, keyFile: string): Record<string, string> {
  if (!config.dkim) return {};
  return {
    LETTERPRESS_SENDER_DKIM_DOMAINNAME: 'localhost',
    LETTERPRESS_SENDER_DKIM_KEYSELECTOR: 'bench',
    LETTERPRESS_SENDER_DKIM_PRIVATEKEYPATH: keyFile,
  };
}

/**
 * A fresh store for one configuration: the first build of the project (the samples recorded,
 * archived), `count` subscribers seeded, the issue planned with its rendition and held for the
 * send window so that no worker starts it before the clock does.
 */
async function prepareStore(root: string, config: Configuration, dkimKeyFile: string): Promise<{ app: App; store: Store; url: string; bytes: number; drop: () => Promise<void> }> {
  const id = randomBytes(4).toString('hex');
  let url: string;
  let drop: () => Promise<void>;
  if (config.driver === 'postgres') {
    const name = `letterpress_workers_bench_${id}`;
    await onPostgresServer(BENCH_POSTGRES, `CREATE DATABASE "${name}"`);
    url = `${BENCH_POSTGRES}/${name}`;
    drop = () => onPostgresServer(BENCH_POSTGRES, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } else {
    url = path.join(root, 'data', `workers-${id}.db`);
    drop = async () => {
      for (const suffix of ['', '-wal', '-shm']) await rm(`${url}${suffix}`, { force: true });
    };
  }
  const app = await createApp({ root, env: { LETTERPRESS_DB: url, LETTERPRESS_SECRET: SECRET, LETTERPRESS_DELIVERY_ALLOWLOCALADDRESSES: 'true', ...dkimEnv(config, dkimKeyFile) } });
  await app.build();
  const store = await app.store();
  if (config.driver === 'postgres') await seedPostgresSubscribers(url, count);
  else seedSubscribers(url, count);
  const record = (await store.getIssue(SLUG))!;
  const renderIssue = (issue: typeof record) => prepareIssueRendition(issue, app.loaded, { parser: app.issueParser });
  await store.holdForSendWindow(SLUG, app.clock.now().toISOString());
  const { rows } = await planIssue({ loaded: app.loaded, store, clock: app.clock, renderIssue }, record);
  if (rows !== count) throw new Error(`planned ${rows} rows, expected ${count}`);
  // One real personalized message, signed as the workers will sign it: the baseline's size.
  const compose = composerFromRendition(record, (await store.getRendition(SLUG))!, {
    loaded: app.loaded,
    clock: app.clock,
    keyring: await app.keyring(),
    dkimPrivateKey: await app.dkimPrivateKey(),
  });
  const bytes = compose({ id: 2, email: 'reader2@example.org', name: '读者 2' }).raw.length;
  return { app, store, url, bytes, drop };
}

async function runConfiguration(root: string, port: number, sink: ReturnType<typeof startSink>, config: Configuration, dkimKeyFile: string): Promise<Outcome> {
  const { app, store, url, bytes, drop } = await prepareStore(root, config, dkimKeyFile);
  // smtp-source's message is a header block plus `bytes` of body: within 1 % of ours.
  const sessions = config.workers * CONNECTIONS;
  const workers: ReturnType<typeof startWorker>[] = [];
  try {
    const baselineBeforeMs = await runSmtpSource(port, count, bytes, sessions);
    const env: Record<string, string> = {
      LETTERPRESS_DB: url,
      LETTERPRESS_SECRET: SECRET,
      LETTERPRESS_SMTP_URL: `smtp://127.0.0.1:${port}`,
      LETTERPRESS_SMTP_POOL_MAXCONNECTIONS: String(CONNECTIONS),
      LETTERPRESS_DELIVERY_ALLOWLOCALADDRESSES: 'true',
      LETTERPRESS_DELIVERY_POLLSECONDS: '0.05',
        ...dkimEnv(config, dkimKeyFile),
    };
    for (let i = 0; i < config.workers; i += 1) workers.push(startWorker(root, env));
    await Promise.all(workers.map((worker) => worker.ready));
    const sinkBefore = sink.messages();
    const sinkCpuBefore = cpuSeconds(sink.process.pid);

    const started = performance.now();
    await store.releaseSendHolds();
    // Watch the sink's counter while the workers send, and the ledger only once the sink has
    // every message (the last marks follow within delivery.markBatch.ms): counting 20,000
    // rows by state every 25 ms would take a good part of a core from the database the
    // workers are timed against.
    const deadline = Date.now() + 30 * 60_000;
    const running = () => Date.now() < deadline && workers.some((worker) => worker.child.exitCode === null);
    while (sink.messages() - sinkBefore < count && running()) await sleep(25);
    let counts = await store.countDeliveries(SLUG);
    while (counts.sent + counts.failed + counts.bounced + counts.skipped < count && running()) {
      await sleep(25);
      counts = await store.countDeliveries(SLUG);
    }
    const ms = performance.now() - started;

    const workerCpu = workers.map((worker) => cpuSeconds(worker.child.pid));
    const sinkCpu = cpuSeconds(sink.process.pid) - sinkCpuBefore;
    await Promise.all(
      workers.map(async (worker) => {
        const exited = new Promise((resolve) => worker.child.once('exit', resolve));
        if (worker.child.exitCode === null) worker.child.kill('SIGTERM');
        await exited;
      }),
    );
    const baselineAfterMs = await runSmtpSource(port, count, bytes, sessions);
    await sleep(200);
    // The sink's counter also holds smtp-source's messages: only the workers' window is ours.
    const accepted = sink.messages() - sinkBefore - count;
    const shares = workers.map((worker) => sentInLog(worker.log()));
    const notSent = Object.entries(counts).filter(([state, n]) => state !== 'sent' && n > 0);
    const ok = counts.sent === count && notSent.length === 0 && shares.reduce((sum, n) => sum + n, 0) === count;
    const note = ok
      ? ''
      : `ledger ${Object.entries(counts).map(([state, n]) => `${state}=${n}`).join(' ')}, shares ${shares.join('/')}, sink +${accepted}` +
        workers.map((worker) => worker.log().slice(-400)).join('\n');
    return { config, bytes, ms, baselineMs: Math.min(baselineBeforeMs, baselineAfterMs), workerCpu, shares, sinkCpu, ok, note };
  } finally {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    await app.close();
    await drop();
  }
}

function printOutcome(outcome: Outcome): void {
  const { config } = outcome;
  const lp = rate(count, outcome.ms);
  const base = rate(count, outcome.baselineMs);
  const cpu = outcome.workerCpu.map((seconds) => seconds.toFixed(1)).join('+');
  console.log(
    `  ${config.name.padEnd(16)} ${String(outcome.bytes).padStart(6)} B  ${lp.toFixed(0).padStart(5)} msg/s (${(outcome.ms / 1000).toFixed(2)} s)` +
      `  smtp-source -s ${String(config.workers * CONNECTIONS).padEnd(2)} ${base.toFixed(0).padStart(5)} msg/s  ratio ${(lp / base).toFixed(2)}` +
      `  worker CPU ${cpu} s, sink ${outcome.sinkCpu.toFixed(1)} s  shares ${outcome.shares.join('/')}  ${outcome.ok ? 'all sent once' : 'NOT ALL SENT'}`,
  );
  if (!outcome.ok) console.log(outcome.note);
}

async function main(): Promise<void> {
  buildDist();
  const root = await createTempProject();
  const port = await freePort();
  const sink = startSink(port);
  const load = [loadavg()[0]!];
  try {
    await waitForListener(port, sink.process);
    await mkdir(path.join(root, 'keys'), { recursive: true });
    const dkimKeyFile = path.join(root, 'keys', 'dkim.pem');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(dkimKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));

    const configurations: Configuration[] = [];
    for (const dkim of [false, true]) {
      for (const [driver, counts] of [['postgres', [1, 2, 4]], ['sqlite', [1, 3]]] as const) {
        for (const workers of counts) {
          const name = `${driver === 'postgres' ? 'pg' : 'sqlite'}-${workers}${dkim ? '-dkim' : ''}`;
          if (!only || only.includes(name)) configurations.push({ name, driver, workers, dkim });
        }
      }
    }
    console.log(`${count} messages of issue ${SLUG} to smtp-sink 127.0.0.1:${port}, ${CONNECTIONS} connections per worker; load average ${load[0]!.toFixed(1)} on ${(await import('node:os')).availableParallelism()} cores`);
    const outcomes: Outcome[] = [];
    for (const config of configurations) {
      const outcome = await runConfiguration(root, port, sink, config, dkimKeyFile);
      outcomes.push(outcome);
      printOutcome(outcome);
      load.push(loadavg()[0]!);
      if (!outcome.ok) process.exitCode = 1;
    }

    console.log(`planning ${planRows.toLocaleString('en')} rows (fresh stores, seeding not timed):`);
    const planning = await comparePlanning(planRows);
    load.push(loadavg()[0]!);
    console.log(`  SQLite ${planning.sqlite.toFixed(2)} s, PostgreSQL ${planning.postgres.toFixed(2)} s`);

    const find = (name: string) => outcomes.find((outcome) => outcome.config.name === name);
    const ratioToSource = (outcome: Outcome) => outcome.baselineMs / outcome.ms;
    console.log('targets:');
    const pgPlain = outcomes.filter((outcome) => outcome.config.driver === 'postgres' && !outcome.config.dkim);
    if (pgPlain.length > 0) {
      const best = pgPlain.reduce((a, b) => (ratioToSource(b) > ratioToSource(a) ? b : a));
      const ratio = ratioToSource(best);
      console.log(`  best PostgreSQL, DKIM off (${best.config.name}) / smtp-source: ${ratio.toFixed(2)} (target ≥ 0.7: ${ratio >= 0.7 ? 'met' : 'NOT met'})`);
    }
    const one = find('pg-1-dkim');
    const two = find('pg-2-dkim');
    if (one && two) {
      const ratio = one.ms / two.ms;
      console.log(`  DKIM on, PostgreSQL 2 workers / 1 worker: ${ratio.toFixed(2)} (target ≥ 1.3: ${ratio >= 1.3 ? 'met' : 'NOT met'})`);
    }
    const planRatio = planning.postgres / planning.sqlite;
    console.log(`  planning PostgreSQL / SQLite: ${planRatio.toFixed(2)} (target ≤ 3: ${planRatio <= 3 ? 'met' : 'NOT met'})`);
    console.log(`load average (1 min) during the run: ${load.map((value) => value.toFixed(1)).join(' → ')}`);
  } finally {
    sink.process.kill();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
