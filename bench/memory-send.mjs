// The measured process of `npm run bench:memory` (see memory.bench.ts, which prepares the
// project and the seeded store and starts this): plain JavaScript importing the compiled dist/,
// so no TypeScript loader is counted, like a `letterpress send` run of the installed CLI.
// Arguments: project root, store file, subscriber count.
import { readdirSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const [root, dbFile, countText] = process.argv.slice(2);
const count = Number(countText);
const SLUG = '2024-18';
const MB = 1024 * 1024;
const ENV = { LETTERPRESS_SECRET: 'bench-secret-bench-secret-bench-secret-0123' };

// A full GC before the baseline reading, so it is not inflated by start-up garbage.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc');

/**
 * RSS of this process's child processes (the parser's worker process, while the send parses
 * its issue), from /proc: a send is measured with what it starts. 0 where /proc is missing.
 */
function childrenRss() {
  let total = 0;
  try {
    for (const thread of readdirSync('/proc/self/task')) {
      for (const pid of readFileSync(`/proc/self/task/${thread}/children`, 'utf8').split(/\s+/).filter(Boolean)) {
        try {
          const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
          if (match) total += Number(match[1]) * 1024;
        } catch {
          // The child exited between the two reads.
        }
      }
    }
  } catch {
    return 0;
  }
  return total;
}

let peakRss = 0;
let peakDetail;
let peakChildren = 0;
let peakNewSpace = 0;
let peakPhase = '';
/** When each send event first came (planned, start, done): which phase a sample fell in. */
const marks = {};
const phaseNow = () => (marks.done ? 'after the send' : marks.start ? 'sending' : marks.planned ? 'rendering' : 'planning');
let samples = 0;
let lastSampleAt = 0;
function sampleRss() {
  lastSampleAt = performance.now();
  const usage = process.memoryUsage();
  const children = childrenRss();
  if (usage.rss + children > peakRss) {
    peakRss = usage.rss + children;
    peakDetail = usage;
    peakChildren = children;
    peakPhase = phaseNow();
    peakNewSpace = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
  }
  samples += 1;
}
const SENT = { status: 'sent', reply: '250 discarded' };

/** A transport that accepts and drops every message: what is left is Letterpress's own cost. */
function createDiscardTransport(concurrency = 16) {
  return {
    description: 'discard',
    concurrency,
    messages: 0,
    bytes: 0,
    async send(message) {
      // A transport that answers at once keeps the send loop in microtasks: sample here too.
      if (performance.now() - lastSampleAt >= 100) sampleRss();
      this.messages += 1;
      this.bytes += message.size;
      return SENT;
    },
    async close() {},
  };
}

const startupRss = process.memoryUsage().rss;
const { createApp } = await import('../dist/cli/app.js');
// As `letterpress send` does before it starts (see src/cli/young-generation.ts); BENCH_NODE_FLAGS
// that size the young generation themselves turn it off, as they would for the CLI.
const { keepYoungGenerationSmall } = await import('../dist/cli/young-generation.js');
const youngGenerationKeptSmall = keepYoungGenerationSmall();
const transport = createDiscardTransport();
// As `letterpress send` makes it: a one-shot command parses its small issue file itself.
const app = await createApp({ root, env: { ...ENV, LETTERPRESS_DB: dbFile }, transport, oneShotParser: true });
try {
  const store = await app.store();
  const afterOpenRss = process.memoryUsage().rss;

  // Baseline RSS: this process with the app loaded and the seeded store open, before planning.
  collectGarbage();
  const baselineRss = process.memoryUsage().rss;
  peakRss = baselineRss;
  peakDetail = undefined;
  peakChildren = 0;
  const sampler = setInterval(sampleRss, 100);

  let started = performance.now();
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
  const peakDuringSend = { rss: peakRss, detail: peakDetail, samples };

  // Trivial baseline: the discard transport in a bare loop with one pre-built message.
  const [{ prepareIssueEmail }, { createComposer }] = await Promise.all([
    import('../dist/deliver/prepare-issue-email.js'),
    import('../dist/deliver/run-send.js'),
  ]);
  const record = await store.getIssue(SLUG);
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
  const report = reports[0];

  console.log(`subscribers: ${count}; message ${message.size} bytes; node ${process.execArgv.join(' ') || '(no flags)'}; young generation ${youngGenerationKeptSmall ? 'kept at its starting size, as `letterpress send` keeps it' : 'as the flags size it'}`);
  console.log(`RSS at start (Node alone):           ${(startupRss / MB).toFixed(0)} MB`);
  console.log(`RSS with the app loaded, store open: ${(afterOpenRss / MB).toFixed(0)} MB`);
  console.log(`RSS before planning (baseline):      ${(baselineRss / MB).toFixed(0)} MB  (target ≤ 70 MB)`);
  console.log(`peak RSS while planning + sending:   ${(peakDuringSend.rss / MB).toFixed(0)} MB  (${peakDuringSend.samples} samples, with child processes; target ≤ 100 MB)`);
  if (peakDuringSend.detail) {
    const { heapUsed, heapTotal, external, arrayBuffers } = peakDuringSend.detail;
    console.log(`  at the peak (${peakPhase}): child processes ${(peakChildren / MB).toFixed(0)} MB; this process ${(peakDetail.rss / MB).toFixed(0)} MB, heapUsed ${(heapUsed / MB).toFixed(0)} MB of heapTotal ${(heapTotal / MB).toFixed(0)} MB, external ${(external / MB).toFixed(0)} MB (arrayBuffers ${(arrayBuffers / MB).toFixed(0)} MB), young generation ${(peakNewSpace / MB).toFixed(0)} MB`);
  }
  console.log(`ratio peak / baseline:               ${(peakDuringSend.rss / baselineRss).toFixed(2)}  (growth ${((peakDuringSend.rss - baselineRss) / MB).toFixed(0)} MB)`);
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
}
