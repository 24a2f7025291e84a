import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findDuplicateSlugs } from '../../src/issue/check-duplicate-slugs.ts';
import type { Issue } from '../../src/issue/model.ts';
import { parseIssueFile } from '../../src/issue/parse-issue.ts';

const OPTIONS = { timezone: 'UTC', maxBytes: 1024 * 1024 };
function load(name: string, as = `issues/${name}`): Issue {
  const { issue } = parseIssueFile(readFileSync(new URL(`../fixtures/issues/${name}`, import.meta.url)), as, OPTIONS);
  if (!issue) throw new Error(`fixture ${name} did not parse`);
  return issue;
}

describe('findDuplicateSlugs', () => {
  it('reports every file of a clash at its slug line, naming the other file', () => {
    const a = load('duplicate-slug-a.md');
    const b = load('duplicate-slug-b.md');
    const unrelated = load('plain.md');
    expect(findDuplicateSlugs([a, unrelated, b])).toEqual([
      {
        file: 'issues/duplicate-slug-a.md',
        line: 2,
        column: 7,
        severity: 'error',
        code: 'E_DUPLICATE_SLUG',
        message: 'slug "same-slug" is also used by issues/duplicate-slug-b.md; change one of them',
      },
      {
        file: 'issues/duplicate-slug-b.md',
        line: 3,
        column: 7,
        severity: 'error',
        code: 'E_DUPLICATE_SLUG',
        message: 'slug "same-slug" is also used by issues/duplicate-slug-a.md; change one of them',
      },
    ]);
  });

  it('reports derived slugs at 1:1 and lists all other claimants', () => {
    const first = load('plain.md', 'issues/2024/plain.md');
    const second = load('plain.md', 'issues/2025/plain.md');
    const third = load('plain.md', 'archive/plain.md');
    const diagnostics = findDuplicateSlugs([first, second, third]);
    expect(diagnostics.map((d) => [d.file, d.line, d.column])).toEqual([
      ['issues/2024/plain.md', 1, 1],
      ['issues/2025/plain.md', 1, 1],
      ['archive/plain.md', 1, 1],
    ]);
    expect(diagnostics[0]?.message).toBe(
      'slug "plain" is also used by issues/2025/plain.md, archive/plain.md; give one of them its own `slug:` in the front matter',
    );
  });

  it('finds nothing when slugs are unique', () => {
    expect(findDuplicateSlugs([load('plain.md'), load('english-digest.md'), load('duplicate-slug-a.md')])).toEqual([]);
    expect(findDuplicateSlugs([])).toEqual([]);
  });
});
