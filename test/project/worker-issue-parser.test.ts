import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hugeLinksIssue } from '../fixtures/parser/huge-links-issue.ts';
import { createWorkerIssueParser, procCpuTimeMs, reasonFromStderr } from '../../src/project/worker-issue-parser.ts';
import type { IssueParser } from '../../src/project/issue-parser.ts';
import { renderFeeds } from '../../src/render/render-feeds.ts';
import type { FeedEntry, SiteInfo } from '../../src/render/types.ts';
import { hostileIssues } from '../fixtures/hostile/hostile-issues.ts';

let parser: IssueParser | undefined;
afterEach(async () => {
  await parser?.close();
  parser = undefined;
});

const request = (file: string, text: string) => ({
  bytes: new TextEncoder().encode(text),
  file,
  timezone: 'UTC',
  maxBytes: 1024 * 1024,
});

const SITE: SiteInfo = {
  url: 'https://news.example',
  title: 'News',
  description: 'The news',
  author: { name: 'Editor' },
  postalAddress: '1 Street',
  locale: 'en',
  timezone: 'UTC',
  feedLimit: 20,
  subjectTemplate: '{{title}}',
};
const entry = (id: string): FeedEntry => ({
  id,
  slug: 'one',
  title: 'One',
  link: 'https://news.example/issues/one/',
  published: '2024-05-06T00:00:00.000Z',
  updated: '2024-05-06T00:00:00.000Z',
  summary: 'First',
  contentHtml: '<p>First</p>',
  categories: ['Section'],
});

describe('createWorkerIssueParser', () => {
  it('renders the feeds in the worker as renderFeeds does, and keeps the code of what it throws', async () => {
    parser = createWorkerIssueParser({ budgetMs: 60_000 });
    const good = { entries: [entry('https://news.example/issues/one/')], site: SITE };
    expect(await parser.renderFeeds!(good)).toEqual(renderFeeds(good.entries, good.site));
    await expect(parser.renderFeeds!({ entries: [entry('not a uri')], site: SITE })).rejects.toMatchObject({
      code: 'E_FEED',
      message: expect.stringContaining('not a URI'),
    });
  });

  it('hands big feeds over in the pieces they came in, which are exactly the feeds renderFeeds makes', async () => {
    parser = createWorkerIssueParser({ budgetMs: 60_000 });
    const big = { ...entry('https://news.example/issues/one/'), contentHtml: `<p>${'长文 long text '.repeat(30_000)}</p>` };
    const request = { entries: [big], site: SITE };
    const feeds = await parser.renderFeeds!(request);
    const expected = renderFeeds(request.entries, request.site);
    for (const name of ['atom', 'rss', 'json'] as const) {
      const text = feeds[name];
      // Over 128 Ki characters: never joined into one string on this side.
      expect(Array.isArray(text), name).toBe(true);
      expect((text as readonly string[]).join('')).toBe(expected[name]);
    }
  });

  it('parses in a worker process, one worker for many files', async () => {
    parser = createWorkerIssueParser({ budgetMs: 60_000 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => parser!.parse(request(`issue-${i}.md`, `# Issue ${i}\n\nBody ${i}\n`))),
    );
    expect(results.map((r) => r.issue?.title)).toEqual(Array.from({ length: 20 }, (_, i) => `Issue ${i}`));
  });

  it('stops a file over the budget with E_TOO_SLOW at a line, then goes on with a new worker', async () => {
    // A budget no 900 KB file can meet: the mechanism, not the clock, is under test.
    parser = createWorkerIssueParser({ budgetMs: 1 });
    await parser.parse(request('warm.md', '# Warm\n')); // the first request loads the worker
    const big = hostileIssues().find((issue) => issue.name === 'many-links.md')!;
    const slow = await parser.parse(request('issues/many-links.md', big.text));
    expect(slow.issue).toBeUndefined();
    expect(slow.diagnostics).toEqual([
      expect.objectContaining({ file: 'issues/many-links.md', code: 'E_TOO_SLOW', severity: 'error', column: 1 }),
    ]);
    expect(slow.diagnostics[0]!.line).toBeGreaterThanOrEqual(1);
    expect(slow.diagnostics[0]!.message).toContain('limits.parseSeconds');
    await parser.close();

    parser = createWorkerIssueParser({ budgetMs: 60_000 });
    expect((await parser.parse(request('after.md', '# After\n'))).issue?.title).toBe('After');
  });

  it('close() abandons the file in progress and those queued: they reject with E_ABORTED, later ones get a new worker', async () => {
    parser = createWorkerIssueParser({ budgetMs: 600_000 });
    await parser.parse(request('warm.md', '# Warm\n')); // the worker is loaded
    // 20 MB of links: seconds of parsing, far more than the wait below.
    const huge = `# Huge\n\n${Array.from({ length: 700_000 }, (_, i) => `[link ${i}](https://e.org/${i})`).join('\n')}\n`;
    const inProgress = { ...request('issues/huge.md', huge), maxBytes: 64 * 1024 * 1024 };
    const first = parser.parse(inProgress);
    const queued = parser.parse(request('issues/next.md', '# Next\n'));
    first.catch(() => undefined);
    queued.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await parser.close();
    await expect(first).rejects.toMatchObject({ code: 'E_ABORTED', message: expect.stringContaining('issues/huge.md') });
    await expect(queued).rejects.toMatchObject({ code: 'E_ABORTED', message: expect.stringContaining('issues/next.md') });
    expect((await parser.parse(request('after.md', '# After\n'))).issue?.title).toBe('After');
  });
});

describe('the budget of a worker at low priority', () => {
  it('is counted in CPU time when the worker waits for a core, up to four times the budget in wall time', async () => {
    const budgetMs = 100;
    const long = { ...request('issues/long.md', `# Long\n\n${Array.from({ length: 1_200_000 }, (_, i) => `[link ${i}](https://e.org/${i})`).join('\n')}\n`), maxBytes: 1 << 28 };
    // The same file (about ten budgets of parsing) for two workers whose CPU time is faked:
    // one that used ten times the wall time (never starved), one that never got the CPU. The
    // budget reads the CPU time when the worker takes the file and each time it runs out; when
    // those reads happen is the mechanism under test (handing the file over is not timed).
    const run = async (cpuTimeMs: () => number) => {
      const reads: number[] = [];
      const worker = createWorkerIssueParser({ budgetMs, cpuTimeMs: () => (reads.push(performance.now()), cpuTimeMs()) });
      parser = worker;
      await worker.parse(request('warm.md', '# Warm\n'));
      reads.length = 0;
      const result = await worker.parse(long);
      await worker.close();
      return { span: reads.at(-1)! - reads[0]!, reads: reads.length, codes: result.diagnostics.map((d) => d.code), parsed: result.issue !== undefined };
    };
    const busy = await run(() => performance.now() * 10);
    expect(busy.codes).toEqual(['E_TOO_SLOW']);
    expect(busy.reads).toBe(2); // taken, then over the budget at once
    const starved = await run(() => 0);
    // Starved, it is given the rest of its budget again and again: it finishes, or is stopped
    // at the cap of four budgets of wall time.
    expect(starved.reads).toBeGreaterThanOrEqual(3);
    if (!starved.parsed) {
      expect(starved.codes).toEqual(['E_TOO_SLOW']);
      expect(starved.span).toBeGreaterThanOrEqual(budgetMs * 4 - 5);
    }
  }, 60_000);

  it('reads the CPU time of a process from /proc, growing as it works', () => {
    const before = procCpuTimeMs(process.pid);
    expect(before).toBeGreaterThanOrEqual(0);
    const until = performance.now() + 100;
    while (performance.now() < until) Math.sqrt(Math.random());
    expect(procCpuTimeMs(process.pid)!).toBeGreaterThan(before!);
    expect(procCpuTimeMs(2 ** 22 + 12_345)).toBeUndefined();
  });
});

describe('prepare()', () => {
  it('starts the worker before any request, and the first file uses it', async () => {
    const worker = createWorkerIssueParser({ budgetMs: 60_000 });
    parser = worker;
    expect(worker.workerPid()).toBeUndefined();
    worker.prepare();
    const pid = worker.workerPid();
    expect(pid).toBeDefined();
    worker.prepare();
    expect(worker.workerPid()).toBe(pid);
    expect((await worker.parse(request('one.md', '# One\n'))).issue?.title).toBe('One');
    expect(worker.workerPid()).toBe(pid);
  });
});

describe('release()', () => {
  it('lets an idle worker go, and the next request starts a new one', async () => {
    const worker = createWorkerIssueParser({ budgetMs: 60_000 });
    parser = worker;
    expect((await worker.parse(request('one.md', '# One\n'))).issue?.title).toBe('One');
    const first = worker.workerPid();
    expect(first).toBeDefined();
    worker.release();
    expect(worker.workerPid()).toBeUndefined();
    expect((await worker.parse(request('two.md', '# Two\n'))).issue?.title).toBe('Two');
    expect(worker.workerPid()).toBeDefined();
    expect(worker.workerPid()).not.toBe(first);
  });

  it('keeps a worker that still has requests, running or waiting', async () => {
    const worker = createWorkerIssueParser({ budgetMs: 60_000 });
    parser = worker;
    await worker.parse(request('warm.md', '# Warm\n'));
    const pid = worker.workerPid();
    const running = worker.parse(request('a.md', '# A\n'));
    const waiting = worker.parse(request('b.md', '# B\n'));
    worker.release();
    expect((await running).issue?.title).toBe('A');
    worker.release();
    expect((await waiting).issue?.title).toBe('B');
    expect(worker.workerPid()).toBe(pid);
    worker.release();
    expect(worker.workerPid()).toBeUndefined();
  });
});

describe('the worker process', () => {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  // Seconds of parsing: long enough for the signals below to land mid-file.
  const huge = () => ({
    ...request('issues/huge.md', `# Huge\n\n${Array.from({ length: 400_000 }, (_, i) => `[link ${i}](https://e.org/${i})`).join('\n')}\n`),
    maxBytes: 64 * 1024 * 1024,
  });
  /** A loaded worker 100 ms into the huge file: its pid and the parse under way. */
  const midFile = async () => {
    const worker = createWorkerIssueParser({ budgetMs: 600_000 });
    parser = worker;
    await worker.parse(request('warm.md', '# Warm\n'));
    const pid = worker.workerPid()!;
    const parsing = worker.parse(huge());
    await new Promise((resolve) => setTimeout(resolve, 100));
    return { worker, pid, parsing };
  };

  it('that dies mid-file gives that file E_PARSER_CRASH, and the next file gets a new process', async () => {
    const { worker, pid, parsing } = await midFile();
    process.kill(pid, 'SIGKILL');
    expect((await parsing).diagnostics).toEqual([
      expect.objectContaining({ file: 'issues/huge.md', code: 'E_PARSER_CRASH', message: expect.stringContaining('SIGKILL') }),
    ]);
    expect((await worker.parse(request('after.md', '# After\n'))).issue?.title).toBe('After');
    expect(worker.workerPid()).not.toBe(pid);
  });

  it('ignores the Ctrl-C that reaches the whole process group, and is gone once the parser closes', async () => {
    const { worker, pid, parsing } = await midFile();
    process.kill(pid, 'SIGINT');
    expect((await parsing).issue?.title).toBe('Huge');
    expect(worker.workerPid()).toBe(pid);
    await worker.close();
    expect(alive(pid)).toBe(false);
  });

  it('leaves when its server dies by a signal, even in the middle of a file', async () => {
    // What finishing the file would take a worker here and now (it runs at nice 19, so a loaded
    // machine slows it down a lot): an orphan that parsed on to the end before it checked would
    // outlive its server by about that long.
    const reference = createWorkerIssueParser({ budgetMs: 600_000 });
    parser = reference;
    await reference.parse(request('warm.md', '# Warm\n'));
    const startedAt = performance.now();
    await reference.parse({ ...request('issues/huge.md', hugeLinksIssue()), maxBytes: 1 << 28 });
    const wholeFileMs = performance.now() - startedAt;
    await reference.close();
    parser = undefined;

    const server = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '../fixtures/parser/orphaning-server.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pid = await new Promise<number>((resolve) => {
      let out = '';
      server.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /worker (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    server.kill('SIGKILL');
    const killedAt = performance.now();
    // The worker leaves once it sees its server gone (the closed channel, or a new parent),
    // which happens between two parts of the file: well before its end.
    await expect.poll(() => alive(pid), { timeout: 120_000, interval: 50 }).toBe(false);
    expect(performance.now() - killedAt).toBeLessThan(wholeFileMs / 2);
  }, 300_000);

  it('fails a request it cannot send as a diagnostic, at once, with no unhandled rejection', async () => {
    const worker = createWorkerIssueParser({ budgetMs: 600_000 });
    parser = worker;
    await worker.parse(request('warm.md', '# Warm\n'));
    const uncloneable = { ...request('odd.md', '# Odd\n'), extra: () => 1 } as unknown as ReturnType<typeof request>;
    const result = await worker.parse(uncloneable);
    expect(result.diagnostics).toEqual([
      expect.objectContaining({ file: 'odd.md', code: 'E_PARSER_CRASH', message: expect.stringContaining('could not be sent to the worker') }),
    ]);
    expect((await worker.parse(request('after.md', '# After\n'))).issue?.title).toBe('After');
  });

  it('names why it died from the FATAL ERROR line of its stderr, not the backtrace after it', async () => {
    const report = [
      '<--- Last few GCs --->',
      'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
      '----- Native stack trace -----',
      ' 1: 0xb8ced1 node::OOMErrorHandler(char const*, v8::OOMDetails const&) [/usr/bin/node]',
      '11: 0x195e476  [/usr/bin/node]',
      '',
    ].join('\n');
    expect(reasonFromStderr(report)).toBe('FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory');
    expect(reasonFromStderr('first\nlast line\n\n')).toBe('last line');
    expect(reasonFromStderr('')).toBeUndefined();

    const worker = createWorkerIssueParser({ budgetMs: 600_000, maxHeapMb: 40 });
    parser = worker;
    const crashed = await worker.parse(huge());
    expect(crashed.diagnostics).toEqual([
      expect.objectContaining({ code: 'E_PARSER_CRASH', message: expect.stringMatching(/FATAL ERROR: .*heap/) }),
    ]);
  });
});
