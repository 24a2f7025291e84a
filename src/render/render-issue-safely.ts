import type { Diagnostic } from '../issue/diagnostic.ts';
import type { Issue } from '../issue/model.ts';
import { renderIssue, type Templates } from './index.ts';
import type { IssueMeta, Rendition, SiteInfo } from './types.ts';
import { LetterpressError } from '../util/errors.ts';

/**
 * Renders one issue, turning a template or MJML failure into an E_RENDER diagnostic on the
 * issue's file, so one issue that cannot render never stops the others.
 */
export async function renderIssueSafely(
  issue: Issue,
  meta: IssueMeta,
  templates: Templates,
  site: SiteInfo,
): Promise<{ rendition?: Rendition; diagnostics: Diagnostic[] }> {
  try {
    const rendition = await renderIssue(issue, meta, templates, site);
    return { rendition, diagnostics: rendition.diagnostics };
  } catch (error) {
    const located = error instanceof LetterpressError ? error : undefined;
    return {
      diagnostics: [
        {
          file: issue.sourcePath,
          line: located?.line ?? 1,
          column: located?.column ?? 1,
          severity: 'error',
          code: 'E_RENDER',
          message: `could not render: ${(error as Error).message}`,
        },
      ],
    };
  }
}
