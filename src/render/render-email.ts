import type { Diagnostic } from '../issue/diagnostic.ts';
import type { Issue } from '../issue/model.ts';
import { LetterpressError } from '../util/errors.ts';
import type { Templates } from './compile-templates.ts';
import { buildIssueView } from './issue-view.ts';
import { compileMjmlHere } from './mjml-compiler.ts';
import type { EmailRendition, IssueMeta, SiteInfo } from './types.ts';

export { MJML_OPTIONS } from './mjml-compiler.ts';

/** Gmail clips messages whose HTML exceeds about 102 KB; past this the render warns. */
export const EMAIL_HTML_BUDGET_BYTES = 100 * 1024;

const MJML_TEMPLATE = 'email/issue.mjml.hbs';

interface MjmlValidationIssue {
  line: number;
  message: string;
  tagName: string;
  formattedMessage: string;
}

function mjmlError(error: unknown, mjml: string, template: string, subject: string): LetterpressError {
  const list = (error as { errors?: MjmlValidationIssue[] }).errors;
  const first = Array.isArray(list) ? list[0] : undefined;
  if (first) {
    const source = mjml.split('\n')[first.line - 1]?.trim() ?? '';
    const more = list!.length > 1 ? ` (and ${list!.length - 1} more)` : '';
    return new LetterpressError(
      'E_MJML',
      `MJML from ${template} is invalid for ${subject}: line ${first.line} <${first.tagName}>: ` +
        `${first.message}${more}\n  ${first.line} | ${source}`,
      { cause: error, file: template, line: first.line },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new LetterpressError('E_MJML', `MJML from ${template} failed for ${subject}: ${message}`, {
    cause: error,
    file: template,
  });
}

/**
 * Raw HTML tags an editor wrote are dropped from the text part. text/plain is never
 * interpreted, but it is also served from the archive and previewed by clients that guess
 * types; the parser has already warned (W_RAW_HTML) and the HTML part shows the tags as text.
 */
function stripHtmlTags(text: string): string {
  return text.replace(/<\/?[a-z][a-z0-9-]*(?:\s[^<>]*)?\/?>/gi, '');
}

/** Trims trailing spaces, collapses runs of blank lines, ends with exactly one newline (every text part). */
export function tidyEmailText(text: string): string {
  return `${stripHtmlTags(text)
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}

/**
 * Where MJML compiles: on this thread, unless `check` handed it to a thread of its own with
 * compileMjmlOn (see mjml-thread.ts). The result and the errors are the same either way.
 */
let compileMjml: (mjml: string) => Promise<string> = compileMjmlHere;

/** Sends every later compile to `compile` (a thread), or back to this thread when undefined. */
export function compileMjmlOn(compile: ((mjml: string) => Promise<string>) | undefined): void {
  compileMjml = compile ?? compileMjmlHere;
}

/**
 * Compiles MJML that `template` rendered (strict, no font imports) to HTML; invalid MJML
 * throws E_MJML naming the template and line, and `subject` (what was being rendered).
 */
export async function compileEmailMjml(mjml: string, template: string, subject: string): Promise<string> {
  try {
    return await compileMjml(mjml);
  } catch (error) {
    throw mjmlError(error, mjml, template, subject);
  }
}

/** The Subject of an issue's email, from the configured Handlebars template. */
export function renderEmailSubject(issue: Issue, templates: Templates, site: SiteInfo): string {
  return templates.renderSubject(site.subjectTemplate, {
    title: issue.title,
    number: issue.number ?? null,
    slug: issue.slug,
    site: { ...site },
  });
}

/** The MJML source of an issue's email: the Handlebars stage alone, before compilation. */
export function renderEmailMjml(issue: Issue, meta: IssueMeta, templates: Templates, site: SiteInfo): string {
  return templates.render(MJML_TEMPLATE, buildIssueView(issue, meta, site, { absoluteLinks: true, onPage: false }));
}

/**
 * Renders the issue email once (HTML via Handlebars → MJML strict → minified HTML, text via
 * its own template, Subject from the config template); the per-recipient step only fills
 * the EMAIL_SLOTS placeholders. Invalid MJML throws E_MJML with the offending MJML line.
 */
export async function renderEmail(
  issue: Issue,
  meta: IssueMeta,
  templates: Templates,
  site: SiteInfo,
): Promise<{ email: EmailRendition; diagnostics: Diagnostic[] }> {
  const view = buildIssueView(issue, meta, site, { absoluteLinks: true, onPage: false });
  const mjml = templates.render(MJML_TEMPLATE, view);
  const html = await compileEmailMjml(mjml, MJML_TEMPLATE, `issue ${issue.slug}`);

  const subject = renderEmailSubject(issue, templates, site);
  const text = tidyEmailText(templates.render('email/issue.txt.hbs', view));

  const diagnostics: Diagnostic[] = [];
  const bytes = Buffer.byteLength(html, 'utf8');
  if (bytes > EMAIL_HTML_BUDGET_BYTES) {
    diagnostics.push({
      file: issue.sourcePath,
      line: 1,
      column: 1,
      severity: 'warning',
      code: 'W_MJML',
      message: `the email HTML is ${Math.round(bytes / 1024)} KB; Gmail clips messages over 102 KB`,
    });
  }
  return { email: { subject, preheader: issue.summary, html, text }, diagnostics };
}
