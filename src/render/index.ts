/** The render stage's public API: pure functions from Issue + templates + site to strings. */
export {
  compileTemplates,
  templatesFingerprint,
  REQUIRED_TEMPLATE_FILES,
  TEMPLATE_NAMES,
  type I18nStrings,
  type SubjectContext,
  type TemplateContext,
  type TemplateName,
  type Templates,
} from './compile-templates.ts';
export { formatDate, formatIsoDate, type DateContext } from './format-date.ts';
export { issuePermalink } from './issue-view.ts';
export {
  escapeHtml,
  isSafeHref,
  markdownInlineToHtml,
  markdownToHtml,
  markdownToText,
  type MarkdownOptions,
} from './markdown.ts';
export { renderConfirmationEmail } from './render-confirmation-email.ts';
export { EMAIL_HTML_BUDGET_BYTES, MJML_OPTIONS, renderEmail, renderEmailMjml, renderEmailSubject } from './render-email.ts';
export { EMPTY_FEED_UPDATED, renderFeeds, stripControlChars } from './render-feeds.ts';
export { renderFeedEntry, renderIndexEntry, renderIssue } from './render-issue.ts';
export { sortNewestFirst, type OrderFacts } from './order-issues.ts';
export { renderIndex, renderPage } from './render-page.ts';
export { displayWidth, wrapText } from './wrap-text.ts';
export {
  EMAIL_SLOTS,
  type EmailRendition,
  type FeedEntry,
  type IndexEntry,
  type IssueMeta,
  type RenderedFeeds,
  type Rendition,
  type SiteInfo,
  type TemplateSources,
} from './types.ts';
