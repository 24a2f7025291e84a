import type { Diagnostic } from './diagnostic.ts';
import type { Issue } from './model.ts';

/** The year a front-matter date was written in (its wall clock, as the editor typed it). */
function writtenYear(iso: string): number {
  return Number(iso.slice(0, 4));
}

function describe(issue: Issue): string {
  return issue.number !== undefined ? `#${issue.number} (${issue.sourcePath})` : issue.sourcePath;
}

/**
 * Warnings about dates that contradict the rest of what the editor wrote, at the `date:` line:
 * a date in another year than the title announces (W_DATE_YEAR), and issues whose numbers run
 * one way while their dates run the other (W_DATE_ORDER, on the later-numbered issue of each
 * such neighbouring pair, naming the other). Issues compare by title year (else date year),
 * then number, so a numbering that restarts each year is fine. Pure.
 */
export function checkIssueDates(issues: readonly Issue[]): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const at = (issue: Issue) => ({ file: issue.sourcePath, ...(issue.datePosition ?? { line: 1, column: 1 }) });
  for (const issue of issues) {
    if (issue.date === undefined || issue.year === undefined || writtenYear(issue.date) === issue.year) continue;
    diagnostics.push({
      ...at(issue),
      severity: 'warning',
      code: 'W_DATE_YEAR',
      message: `date ${issue.date.slice(0, 10)} is in ${writtenYear(issue.date)}, but the title says ${issue.year}; fix whichever is wrong`,
    });
  }
  const numbered = issues
    .filter((issue): issue is Issue & { date: string; number: number } => issue.date !== undefined && issue.number !== undefined)
    .map((issue) => ({ issue, year: issue.year ?? writtenYear(issue.date), instant: Date.parse(issue.date) }))
    .sort((a, b) => a.year - b.year || a.issue.number - b.issue.number);
  for (let index = 1; index < numbered.length; index++) {
    const before = numbered[index - 1]!;
    const after = numbered[index]!;
    if (after.instant >= before.instant) continue;
    diagnostics.push({
      ...at(after.issue),
      severity: 'warning',
      code: 'W_DATE_ORDER',
      message:
        `issue ${describe(after.issue)} is dated ${after.issue.date.slice(0, 10)}, before issue ${describe(before.issue)} ` +
        `dated ${before.issue.date.slice(0, 10)}: the numbers and the dates disagree; check both dates`,
    });
  }
  return diagnostics;
}
