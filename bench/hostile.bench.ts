/**
 * `npm run bench:hostile`: how the parser fares on the hostile corpus
 * (test/fixtures/hostile/), beside a plain sample issue measured in the same run:
 *   (a) parse + Markdown render time per MB of each hostile shape, and its ratio to the
 *       sample's (target ≤ 3×), and
 *   (b) the daemon's `/healthz` p99 while it parses the corpus ÷ its idle p99 (target ≤ 2×).
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseIssueFile } from '../src/issue/index.ts';
import { markdownToHtml, markdownToText } from '../src/render/markdown.ts';
import { hostileIssues, writeHostileIssues } from '../test/fixtures/hostile/hostile-issues.ts';
import { spawnDaemon } from '../test/helpers/daemon-child.ts';
import { createTempProject } from '../test/helpers/temp-project.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const OPTIONS = { timezone: 'Asia/Shanghai', maxBytes: 1024 * 1024 };

/** Milliseconds per MB for parsing `bytes` and turning its Markdown into HTML and text. */
function msPerMb(bytes: Uint8Array, name: string): number {
  const once = () => {
    const { issue } = parseIssueFile(bytes, name, OPTIONS);
    const markdown = [issue?.intro ?? '', ...(issue?.sections ?? []).flatMap((s) => s.items.map((i) => i.summary ?? ''))].join('\n\n');
    markdownToHtml(markdown);
    markdownToText(markdown);
  };
  once(); // warm up
  let runs = 0;
  const started = performance.now();
  while (runs < 3 || (performance.now() - started < 300 && runs < 200)) {
    once();
    runs += 1;
  }
  return (performance.now() - started) / runs / (bytes.length / 1_000_000);
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
  const baseline = msPerMb(sampleBytes, '2024-18.md');
  console.log(`sample issue 2024-18.md (${sampleBytes.length} bytes): ${baseline.toFixed(1)} ms/MB`);
  console.log('shape'.padEnd(44), 'ms/MB'.padStart(9), 'ratio'.padStart(7));
  let worst = 0;
  for (const hostile of hostileIssues()) {
    const bytes = new TextEncoder().encode(hostile.text);
    const perMb = msPerMb(bytes, hostile.name);
    const ratio = perMb / baseline;
    worst = Math.max(worst, ratio);
    console.log(`${hostile.shape} (${hostile.name})`.slice(0, 44).padEnd(44), perMb.toFixed(1).padStart(9), `${ratio.toFixed(2)}×`.padStart(7));
  }
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
