/**
 * `npm run bench:cli [-- ROUNDS]`: cold start of the built CLI (`bin/letterpress.js`, which
 * runs dist/) for `--version`, `status` and `check` on a temp project holding the sample issues
 * (built once, so `status` reads recorded issues), each ÷ `node -e 0` measured in the same run:
 * the rounds interleave the four commands so a busy machine slows all of them alike. Prints
 * the median wall time, the ratio to the baseline against its target (≤ 3×, ≤ 5×, ≤ 10×) and
 * each command's peak resident set size (maxRSS, from /usr/bin/time -f %M).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import buildDist from '../test/helpers/build-dist.ts';
import { createTempProject, REPO_ROOT } from '../test/helpers/temp-project.ts';

const rounds = Number(process.argv[2] ?? process.env.BENCH_ROUNDS ?? 15);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds must be a positive integer, got ${process.argv[2]}`);
const TIME = '/usr/bin/time';
if (!existsSync(TIME)) throw new Error(`${TIME} is needed for the peak RSS (Debian package "time")`);

buildDist();
const BIN = path.join(REPO_ROOT, 'bin/letterpress.js');
const root = await createTempProject();
const timeFile = path.join(tmpdir(), `letterpress-bench-cli-${process.pid}.txt`);

interface Case {
  name: string;
  args: string[];
  target?: number;
}
const cases: Case[] = [
  { name: 'node -e 0', args: ['-e', '0'] },
  { name: '--version', args: [BIN, '--version'], target: 3 },
  { name: 'status', args: [BIN, '--root', root, 'status'], target: 5 },
  { name: 'check', args: [BIN, '--root', root, 'check'], target: 10 },
];

/** One cold run: wall milliseconds (measured here) and peak RSS in KB (from /usr/bin/time). */
async function runOnce(args: string[]): Promise<{ ms: number; rssKb: number }> {
  const started = performance.now();
  const result = spawnSync(TIME, ['-f', '%M', '-o', timeFile, process.execPath, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const ms = performance.now() - started;
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr.toString()}`);
  return { ms, rssKb: Number((await readFile(timeFile, 'utf8')).trim().split('\n').pop()) };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

try {
  // Records the sample issues (archived) so `status` has rows to show; not measured.
  const setup = spawnSync(process.execPath, [BIN, '--root', root, 'build'], { stdio: 'ignore' });
  if (setup.status !== 0) throw new Error(`setup build exited ${setup.status}`);
  for (const entry of cases) await runOnce(entry.args); // warm the file cache once

  const samples = new Map(cases.map((entry) => [entry.name, [] as { ms: number; rssKb: number }[]]));
  for (let round = 0; round < rounds; round += 1) {
    for (const entry of cases) samples.get(entry.name)!.push(await runOnce(entry.args));
  }

  const baseline = median(samples.get('node -e 0')!.map((sample) => sample.ms));
  console.log(`bench:cli — ${rounds} interleaved cold runs each, Node ${process.versions.node}, medians`);
  console.log(`${'command'.padEnd(12)} ${'wall'.padStart(9)} ${'÷ node -e 0'.padStart(12)} ${'target'.padStart(7)} ${'peak RSS'.padStart(9)}`);
  for (const entry of cases) {
    const runs = samples.get(entry.name)!;
    const ms = median(runs.map((sample) => sample.ms));
    const ratio = ms / baseline;
    const rss = Math.max(...runs.map((sample) => sample.rssKb)) / 1024;
    const verdict = entry.target === undefined ? '' : ratio <= entry.target ? '  ok' : '  OVER';
    console.log(
      `${entry.name.padEnd(12)} ${`${ms.toFixed(0)} ms`.padStart(9)} ${`${ratio.toFixed(2)} ×`.padStart(12)} ${(entry.target ? `≤ ${entry.target} ×` : '').padStart(7)} ${`${rss.toFixed(1)} MB`.padStart(9)}${verdict}`,
    );
  }
} finally {
  await rm(root, { recursive: true, force: true });
  await rm(timeFile, { force: true });
}
