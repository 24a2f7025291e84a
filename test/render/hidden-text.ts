/** The elements of an HTML document hidden with `display:none`: their tag, class and inline style. */
export function hiddenElements(html: string): { tag: string; className: string; style: string; text: string }[] {
  const found: { tag: string; className: string; style: string; text: string }[] = [];
  for (const match of html.matchAll(/<([a-z0-9]+)\b([^>]*)>([^<]*)/gi)) {
    const attributes = match[2] ?? '';
    const style = /\sstyle="([^"]*)"/i.exec(attributes)?.[1] ?? '';
    if (!/display:\s*none/i.test(style)) continue;
    const className = /\sclass="([^"]*)"/i.exec(attributes)?.[1] ?? '';
    found.push({ tag: match[1]!.toLowerCase(), className, style, text: match[3] ?? '' });
  }
  return found;
}

/**
 * The one preheader of an email, checked to be hidden by layout alone: the declarations every
 * client honours between them, and no colour of its own (SpamAssassin's HTML_FONT_LOW_CONTRAST
 * scores text coloured like its background).
 */
export const PREHEADER_STYLE = [
  'display:none',
  'max-height:0',
  'overflow:hidden',
  'mso-hide:all',
  'font-size:0',
  'line-height:0',
  'opacity:0',
] as const;
