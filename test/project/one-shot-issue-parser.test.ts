import { describe, expect, it } from 'vitest';
import { createOneShotIssueParser } from '../../src/project/one-shot-issue-parser.ts';
import type { IssueParser, ParseRequest } from '../../src/project/issue-parser.ts';
import { createInProcessIssueParser } from '../../src/project/issue-parser.ts';
import { loadTemplateSources } from '../../src/project/load-templates.ts';
import { compileTemplates } from '../../src/render/index.ts';
import { sampleMeta, sampleSite, TEMPLATES_DIR } from '../render/fixtures.ts';

const request = (file: string, text: string): ParseRequest => ({
  bytes: new TextEncoder().encode(text),
  file,
  timezone: 'UTC',
  maxBytes: 1024 * 1024,
});

/** Stands in for the worker (orchestration only): records what reaches it. */
function recordingWorker(seen: string[]): () => IssueParser {
  return () => {
    const inner = createInProcessIssueParser();
    return {
      parse: (r) => (seen.push(`parse ${r.file}`), inner.parse(r)),
      render: (r) => (seen.push(`render ${r.issue.sourcePath}`), inner.render(r)),
      close: async () => void seen.push('close'),
    };
  };
}

describe('createOneShotIssueParser', () => {
  it('parses and renders small files in-process and starts no worker for them', async () => {
    const seen: string[] = [];
    let started = 0;
    const make = recordingWorker(seen);
    const parser = createOneShotIssueParser({ budgetMs: 10_000, createWorker: () => (started++, make()) });
    const parsed = await parser.parse(request('issues/small.md', '# Small\n\nBody\n'));
    expect(parsed.issue?.title).toBe('Small');
    const sources = await loadTemplateSources(TEMPLATES_DIR);
    const { fingerprint } = compileTemplates(sources);
    const rendered = await parser.render({ issue: parsed.issue!, meta: sampleMeta(), site: sampleSite(), templates: { fingerprint, sources } });
    expect(rendered.rendition?.email.html).toContain('Small');
    await parser.close();
    expect(started).toBe(0);
    expect(seen).toEqual([]);
  });

  it('sends files over the size limit to the worker, which keeps the budget', async () => {
    const seen: string[] = [];
    const parser = createOneShotIssueParser({ budgetMs: 10_000, inlineMaxBytes: 100, createWorker: recordingWorker(seen) });
    await parser.parse(request('issues/small.md', '# Small\n'));
    const big = await parser.parse(request('issues/big.md', `# Big\n\n${'word '.repeat(100)}\n`));
    expect(big.issue?.title).toBe('Big');
    await parser.close();
    expect(seen).toEqual(['parse issues/big.md', 'close']);
  });

  it('reports E_TOO_SLOW for an in-process file that took longer than the budget', async () => {
    let now = 0;
    // The fake clock jumps 20 s during the parse: the budget is 10 s.
    const parser = createOneShotIssueParser({ budgetMs: 10_000, now: () => (now += 20_000) });
    const result = await parser.parse(request('issues/slow.md', '# Slow\n\nline\n'));
    expect(result.issue).toBeUndefined();
    expect(result.diagnostics).toEqual([
      expect.objectContaining({ file: 'issues/slow.md', code: 'E_TOO_SLOW', severity: 'error', line: expect.any(Number) }),
    ]);
    expect(result.diagnostics[0]!.message).toContain('limits.parseSeconds');
  });
});
