/**
 * Plain text from a line of inline Markdown, for item titles, feed summaries and preheaders,
 * which every output escapes and shows as text: links and images keep their text, emphasis
 * markers, code ticks and backslash escapes go, whitespace collapses to single spaces.
 */
export function toPlainText(markdown: string): string {
  return markdown
    .replace(/!?\[([^\]]*)\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g, '$1')
    .replace(/<((?:https?|mailto):[^\s<>]+)>/gi, '$1')
    .replace(/(`+)(.+?)\1/g, '$2')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .replace(/~~(.+?)~~/g, '$1')
    // Single `*`/`_` emphasis only at word edges, so snake_case and 5 * 3 survive.
    .replace(/(^|[^\p{L}\p{N}\\])([*_])(?=\S)(.+?)(?<=\S)\2(?![\p{L}\p{N}])/gu, '$1$3')
    .replace(/^\*\*|\*\*$/g, '') // a stray half of a bold pair at either end
    .replace(/\\([!-/:-@[-`{-~])/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
}
