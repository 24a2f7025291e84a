import { describe, expect, it } from 'vitest';
import { checkIssueDates } from '../../src/issue/check-issue-dates.ts';
import { parseIssue } from '../../src/issue/parse-issue.ts';
import type { Issue } from '../../src/issue/model.ts';

const parse = (file: string, frontMatter: string, title: string): Issue => {
  const { issue, diagnostics } = parseIssue(`---\n${frontMatter}\n---\n# ${title}\n\nText.\n`, file, { timezone: 'Asia/Shanghai' });
  if (!issue) throw new Error(JSON.stringify(diagnostics));
  return issue;
};

describe('checkIssueDates', () => {
  it('warns at the date line when the date is in another year than the title', () => {
    const issue = parse('issues/2024-18.md', 'slug: 2024-18\ndate: 2023-05-06', '云计算技术动态 2024 年第十八期');
    expect(checkIssueDates([issue])).toEqual([
      expect.objectContaining({ file: 'issues/2024-18.md', line: 3, column: 7, severity: 'warning', code: 'W_DATE_YEAR' }),
    ]);
    expect(checkIssueDates([issue])[0]?.message).toContain('2023');
  });

  it('warns when the number order contradicts the date order, naming the other issue', () => {
    const a = parse('issues/a.md', 'date: 2024-05-13', '云计算技术动态 2024 年第十八期');
    const b = parse('issues/b.md', 'date: 2024-05-06', '云计算技术动态 2024 年第十九期');
    const c = parse('issues/c.md', 'date: 2024-05-20', '云计算技术动态 2024 年第二十期');
    const diagnostics = checkIssueDates([c, b, a]);
    expect(diagnostics.map((d) => [d.file, d.line, d.code])).toEqual([['issues/b.md', 2, 'W_DATE_ORDER']]);
    expect(diagnostics[0]?.message).toContain('issues/a.md');
  });

  it('says nothing about consistent dates, undated issues, or numbering that restarts each year', () => {
    const issues = [
      parse('issues/a.md', 'date: 2023-12-25', 'Weekly 2023 #52'),
      parse('issues/b.md', 'date: 2024-01-01', 'Weekly 2024 #1'),
      parse('issues/c.md', 'slug: c', 'Weekly 2024 #2'),
    ];
    expect(checkIssueDates(issues)).toEqual([]);
  });
});
