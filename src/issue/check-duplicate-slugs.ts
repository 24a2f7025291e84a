import type { Diagnostic } from './diagnostic.ts';
import type { Issue } from './model.ts';

/**
 * One E_DUPLICATE_SLUG error for every issue whose slug another issue also claims, since two
 * issues cannot share one archive URL; each names the other files, at the `slug:` line when
 * the slug came from front matter, else at 1:1.
 */
export function findDuplicateSlugs(issues: readonly Issue[]): Diagnostic[] {
  const bySlug = new Map<string, Issue[]>();
  for (const issue of issues) bySlug.set(issue.slug, [...(bySlug.get(issue.slug) ?? []), issue]);

  const diagnostics: Diagnostic[] = [];
  for (const issue of issues) {
    const others = (bySlug.get(issue.slug) ?? []).filter((other) => other !== issue);
    if (others.length === 0) continue;
    const where = issue.slugPosition ?? { line: 1, column: 1 };
    const fix = issue.slugPosition ? 'change one of them' : 'give one of them its own `slug:` in the front matter';
    diagnostics.push({
      file: issue.sourcePath,
      ...where,
      severity: 'error',
      code: 'E_DUPLICATE_SLUG',
      message: `slug "${issue.slug}" is also used by ${others.map((other) => other.sourcePath).join(', ')}; ${fix}`,
    });
  }
  return diagnostics;
}
