/**
 * `npm run bench:hostile`: how the parser fares on the hostile corpus
 * (test/fixtures/hostile/), beside a plain sample issue measured in the same run:
 *   (a) the time to parse a file and do the Markdown work of its email view (the HTML and
 *       plain text of every Markdown field, `buildIssueView`), per MB, and its ratio to the
 *       sample's (target ≤ 3×). A file smaller than the sample (the 200–400-byte alias bombs)
 *       is compared per file instead: per MB, a few microseconds of fixed cost times 3000
 *       says nothing about the file. Each shape is timed in rounds alternating with the
 *       sample, and each side keeps its fastest round, so a load spike on the shared machine
 *       inflates neither side alone.
 *   (b) the daemon's `/healthz` p99 while it parses the corpus ÷ its idle p99 (target ≤ 2×).
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseIssueFile } from '../src/issue/index.ts';
import { buildIssueView } from '../src/render/issue-view.ts';
import type { IssueMeta, SiteInfo } from '../src/render/types.ts';
import { hostileIssues, writeHostileIssues } from '../test/fixtures/hostile/hostile-issues.ts';
import { spawnDaemon } from '../test/helpers/daemon-child.ts';
import { createTempProject } from '../test/helpers/temp-project.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const OPTIONS = { timezone: 'Asia/Shanghai', maxBytes: 1024 * 1024 };
const SITE: SiteInfo = {
  url: 'https://news.example.org',
  title: 'Bench',
  description: 'Bench',
  author: { name: 'Bench' },
  postalAddress: 'Bench',
  locale: 'zh-CN',
  timezone: 'Asia/Shanghai',
  feedLimit: 20,
  subjectTemplate: '{{title}}',
};
const META: IssueMeta = { date: '2024-05-06T00:00:00.000Z', updated: '2024-05-06T00:00:00.000Z', feedId: 'https://news.example.org/x/' };
const ROUNDS = 3;

/** Parses `bytes` and builds its email view (the Markdown of every field, HTML and text). */
function parseAndView(bytes: Uint8Array, name: string): void {
  const { issue } = parseIssueFile(bytes, name, OPTIONS);
  if (issue) buildIssueView(issue, META, SITE, { absoluteLinks: true, onPage: false });
}

/** Mean milliseconds per call over one round: at least 3 calls and 300 ms. */
function msPerCall(bytes: Uint8Array, name: string): number {
  let runs = 0;
  const started = performance.now();
  while (runs < 3 || (performance.now() - started < 300 && runs < 100_000)) {
    parseAndView(bytes, name);
    runs += 1;
  }
  return (performance.now() - started) / runs;
}

function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? Number.NaN;
}

async function probe(url: string, until: () => boolean, maxSamples: number): Promise<number[]> {
  const samples: number[] = [];
  while (!until() && samples.length < maxSamples) {
    const started = performance.now();
    const response = await fetch(new URL('/healthz', url));
    await response.arrayBuffer();
    samples.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return samples;
}

async function main(): Promise<void> {
  const sampleBytes = await readFile(path.join(REPO, 'issues/2024-18.md'));
  const perMb = (ms: number, bytes: number) => ms / (bytes / 1_000_000);
  parseAndView(sampleBytes, '2024-18.md'); // warm up
  let sampleBest = Number.POSITIVE_INFINITY;
  console.log('shape'.padEnd(44), 'ms/file'.padStart(9), 'ms/MB'.padStart(9), 'ratio'.padStart(7), ' basis');
  let worst = 0;
  for (const hostile of hostileIssues()) {
    const bytes = new TextEncoder().encode(hostile.text);
    parseAndView(bytes, hostile.name); // warm up
    let best = Number.POSITIVE_INFINITY;
    let sampleHere = Number.POSITIVE_INFINITY;
    for (let round = 0; round < ROUNDS; round++) {
      sampleHere = Math.min(sampleHere, msPerCall(sampleBytes, '2024-18.md'));
      best = Math.min(best, msPerCall(bytes, hostile.name));
    }
    sampleBest = Math.min(sampleBest, sampleHere);
    const perFile = bytes.length < sampleBytes.length;
    const ratio = perFile ? best / sampleHere : perMb(best, bytes.length) / perMb(sampleHere, sampleBytes.length);
    worst = Math.max(worst, ratio);
    const label = `${hostile.shape} (${hostile.name})`.slice(0, 44).padEnd(44);
    const line = `${label} ${best.toFixed(3).padStart(9)} ${perMb(best, bytes.length).toFixed(1).padStart(9)} ${`${ratio.toFixed(2)}×`.padStart(7)}  ${perFile ? 'per file' : 'per MB'}`;
    console.log(line);
  }
  console.log(
    `sample issue 2024-18.md (${sampleBytes.length} bytes): ${sampleBest.toFixed(3)} ms/file, ${perMb(sampleBest, sampleBytes.length).toFixed(1)} ms/MB ` +
      '(each ratio is to the sample timed in the same rounds)',
  );
  console.log(`worst parse ratio: ${worst.toFixed(2)}× (target ≤ 3×)`);

  // The daemon: a project with the samples and the corpus; probe /healthz from the moment it
  // listens until its first pass has published the samples (parsing the corpus), then idle.
  const root = await createTempProject();
  await writeHostileIssues(path.join(root, 'issues'));
  const daemon = spawnDaemon(root, {
    LETTERPRESS_SECRET: 'bench-secret-0123456789abcdef0123456789',
    LETTERPRESS_SERVER_PORT: '0',
    LETTERPRESS_SCHEDULE_TICK: '0 0 1 1 *',
  });
  try {
    const url = await daemon.url();
    let passDone = false;
    void daemon
      .waitFor((line) => line.slug === '2024-32' && line.state === 'archived', 600_000, 'the first pass')
      .then(() => (passDone = true));
    const busy = await probe(url, () => passDone, 100_000);
    const idle = await probe(url, () => false, Math.max(200, busy.length));
    const ratio = p99(busy) / p99(idle);
    console.log(`/healthz while parsing the corpus: ${busy.length} requests, p99 ${p99(busy).toFixed(1)} ms`);
    console.log(`/healthz idle: ${idle.length} requests, p99 ${p99(idle).toFixed(1)} ms`);
    console.log(`healthz p99 ratio: ${ratio.toFixed(2)}× (target ≤ 2×)`);
  } finally {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
    await rm(root, { recursive: true, force: true });
  }
}

await main();
