import { afterEach, describe, expect, it } from 'vitest';
import { createWorkerIssueParser } from '../../src/build/worker-issue-parser.ts';
import type { IssueParser } from '../../src/build/issue-parser.ts';
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

describe('createWorkerIssueParser', () => {
  it('parses in a worker thread, one worker for many files', async () => {
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
});
