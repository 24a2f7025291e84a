import markdownIt, { type MarkdownIt, type StateCore, type Token } from '../vendor/markdown-it.ts';
import { isEmphasisOff, stripEmphasisMarkers } from '../issue/emphasis-budget.ts';
import { budgetInline } from '../issue/inline-budget.ts';
import { isCanonicalWebUrl } from './canonical-web-url.ts';
import { normalizeLink } from './normalize-link.ts';

/**
 * Markdown → HTML / text for everything the editor wrote. The configuration is fixed and the
 * instance is never mutated after module load, so every call is a pure function of its input.
 *
 * Safety model (defence in depth):
 * - `html: false`: raw HTML in the source is shown as text, never passed through;
 * - links and images are checked by `isSafeHref` after markdown-it has decoded entities and
 *   normalised the URL; an unsafe link keeps its text and loses its anchor, so neither the
 *   URL (`javascript:…`) nor the Markdown source of the link reaches any output;
 * - images are never loaded: they become a link to the image (emails and pages load nothing
 *   from outside);
 * - every text node is escaped like Handlebars escapes (`& < > " ' \` =`).
 */

/** Options shared by the Markdown renderers. */
export interface MarkdownOptions {
  /**
   * Absolute URL relative links are resolved against (the issue permalink). Emails and
   * feeds need absolute links; leave it out to keep relative links as written.
   */
  baseUrl?: string;
  /** Added to heading levels so an editor's `#` never competes with the page's own h1–h3. */
  headingOffset?: number;
}

// A type alias (not an interface) so it fits markdown-it's index-signature `Env`.
type RenderEnv = {
  baseUrl?: string;
  headingOffset: number;
};

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#x27;',
  '`': '&#x60;',
  '=': '&#x3D;',
};

/** Escapes text for HTML exactly as Handlebars does, so both layers agree on one encoding. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`=]/g, (ch) => ESCAPES[ch] ?? ch);
}

const SAFE_SCHEMES = new Set(['http:', 'https:', 'mailto:']);

/**
 * True for http(s), mailto and scheme-less (relative) links; everything else
 * (`javascript:`, `data:`, `vbscript:`, `file:`…) is refused. Browsers ignore ASCII
 * whitespace and control characters inside a scheme, so the check does too.
 */
export function isSafeHref(href: string): boolean {
  // Most links start with a safe scheme as written: no need to look further.
  if (href.startsWith('https:') || href.startsWith('http:') || href.startsWith('mailto:')) return true;
  // eslint-disable-next-line no-control-regex
  const compact = href.replace(/[\u0000-\u0020\u007f-\u009f]/g, '');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(compact);
  if (!scheme) return true;
  return SAFE_SCHEMES.has(`${scheme[1]!.toLowerCase()}:`);
}

/** A token attribute as a string ('' when absent). */
function attr(token: Token, name: string): string {
  const value = token.attrGet(name);
  return value === null ? '' : String(value);
}

/** Resolves a safe link against the base; returns undefined when the link must be dropped. */
function resolveHref(href: string, baseUrl: string | undefined): string | undefined {
  if (!isSafeHref(href)) return undefined;
  // An absolute URL already in the parser's canonical form resolves to itself: parsing one
  // per link was most of what securing a file of links cost.
  if (baseUrl === undefined || isCanonicalWebUrl(href)) return href;
  try {
    const resolved = new URL(href, baseUrl);
    return SAFE_SCHEMES.has(resolved.protocol) ? resolved.href : undefined;
  } catch {
    return undefined;
  }
}

/** Removes anchors around unsafe links (keeping their text) and resolves the others. */
function secureLinks(state: StateCore): void {
  const env = state.env as unknown as RenderEnv;
  for (const block of state.tokens) {
    if (block.type === 'heading_open' && env.headingOffset > 0) {
      const level = Math.min(6, Number(block.tag.slice(1)) + env.headingOffset);
      block.tag = `h${level}`;
    }
    if (block.type === 'heading_close' && env.headingOffset > 0) {
      const level = Math.min(6, Number(block.tag.slice(1)) + env.headingOffset);
      block.tag = `h${level}`;
    }
    if (block.type !== 'inline' || !block.children) continue;
    const kept: Token[] = [];
    let droppingLink = false;
    let droppingText = false;
    for (const token of block.children) {
      if (droppingText && token.type !== 'link_close') continue;
      if (token.type === 'link_open') {
        const href = resolveHref(attr(token, 'href'), env.baseUrl);
        if (href === undefined) {
          droppingLink = true;
          // An autolink's text is the unsafe URL itself: nothing of it may reach the output.
          droppingText = token.markup === 'autolink' || token.markup === 'linkify';
          continue;
        }
        token.attrSet('href', href);
        token.attrSet('rel', 'noopener');
      } else if (token.type === 'link_close' && droppingLink) {
        droppingLink = false;
        droppingText = false;
        continue;
      } else if (token.type === 'image') {
        const src = resolveHref(attr(token, 'src'), env.baseUrl);
        token.attrSet('src', src ?? '');
      }
      kept.push(token);
    }
    block.children = kept;
  }
}

function createMarkdown(): MarkdownIt {
  const md = markdownIt('commonmark', {
    html: false,
    linkify: true,
    typographer: false,
    breaks: false,
  });
  // Tables and strikethrough are what editors expect beyond CommonMark.
  md.enable(['table', 'strikethrough', 'linkify']);
  md.linkify.set({ fuzzyLink: false, fuzzyEmail: false, fuzzyIP: false });
  // Every link is parsed (so an unsafe one can be shown as its text alone) and then judged
  // by `secureLinks`, which runs after markdown-it has decoded and normalised the URL.
  md.validateLink = () => true;
  md.normalizeLink = normalizeLink;
  md.core.ruler.push('letterpress_secure_links', secureLinks);

  const rules = md.renderer.rules;
  rules.text = (tokens, idx) => escapeHtml(tokens[idx]!.content);
  rules.code_inline = (tokens, idx) => `<code>${escapeHtml(tokens[idx]!.content)}</code>`;
  rules.code_block = (tokens, idx) => `<pre><code>${escapeHtml(tokens[idx]!.content)}</code></pre>\n`;
  rules.fence = (tokens, idx) => `<pre><code>${escapeHtml(tokens[idx]!.content)}</code></pre>\n`;
  rules.html_block = (tokens, idx) => `<p>${escapeHtml(tokens[idx]!.content)}</p>\n`;
  rules.html_inline = (tokens, idx) => escapeHtml(tokens[idx]!.content);
  rules.image = (tokens, idx, options, env, self) => {
    const token = tokens[idx]!;
    const src = attr(token, 'src');
    const alt = self.renderInlineAsText(token.children ?? [], options, env);
    const label = escapeHtml(alt.trim() === '' ? src : alt);
    if (src === '') return label;
    return `<a href="${escapeHtml(src)}" rel="noopener">${label}</a>`;
  };
  const defaultLinkOpen = rules.link_open;
  rules.link_open = (tokens, idx, options, env, self) => {
    // secureLinks already vetted every href; this re-check makes a missed path harmless.
    const href = attr(tokens[idx]!, 'href');
    if (!isSafeHref(href)) tokens[idx]!.attrSet('href', '#');
    return defaultLinkOpen
      ? defaultLinkOpen(tokens, idx, options, env, self)
      : self.renderToken(tokens, idx, options);
  };
  return md;
}

const md = createMarkdown();
// A paragraph with thousands of `*`/`_`, of unclosed `[` or of backtick runs (a file built to
// be slow) is parsed without emphasis, links or code spans: their markers show as written in
// HTML, and emphasis markers are dropped from plain text.
budgetInline(md, createMarkdown);

function envFor(options: MarkdownOptions): RenderEnv {
  return { baseUrl: options.baseUrl, headingOffset: options.headingOffset ?? 0 };
}

/** Renders block Markdown (summaries, notes, intros) to safe HTML. */
export function markdownToHtml(source: string, options: MarkdownOptions = {}): string {
  return md.render(source, envFor(options)).trim();
}

/** Renders one line of Markdown without a wrapping `<p>`, for titles and short labels. */
export function markdownInlineToHtml(source: string, options: MarkdownOptions = {}): string {
  return md.renderInline(source, envFor(options)).trim();
}

const CJK = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u;

/** Joins two lines of one paragraph: no space between CJK characters, one space otherwise. */
function softJoin(before: string, after: string): string {
  const last = before.at(-1) ?? '';
  const first = after.charAt(0);
  return CJK.test(last) || CJK.test(first) ? '' : ' ';
}

function inlineToText(tokens: readonly Token[], emphasisOff = false): string {
  // Parts joined once at the end: slicing a growing `+=` string at every link flattened it
  // each time, which made 50,000 links quadratic.
  const parts: string[] = [];
  let linkHref: string | undefined;
  let linkText = '';
  const add = (text: string) => {
    parts.push(text);
    if (linkHref !== undefined) linkText += text;
  };
  for (const token of tokens) {
    switch (token.type) {
      case 'text':
        add(emphasisOff ? stripEmphasisMarkers(token.content) : token.content);
        break;
      case 'code_inline':
        add(token.content);
        break;
      case 'softbreak':
        add('\u0000');
        break;
      case 'hardbreak':
        add('\n');
        break;
      case 'link_open':
        linkHref = attr(token, 'href');
        linkText = '';
        break;
      case 'link_close': {
        const href = linkHref ?? '';
        const bare = href.startsWith('mailto:') ? href.slice(7) : href;
        linkHref = undefined;
        if (href !== '' && linkText !== href && linkText !== bare) add(` (${href})`);
        linkText = '';
        break;
      }
      case 'image': {
        const alt = inlineToText(token.children ?? [], emphasisOff);
        const src = attr(token, 'src');
        add(src === '' ? alt : alt === '' ? src : `${alt} (${src})`);
        break;
      }
      default:
        break;
    }
  }
  const out = parts.join('');
  // Soft line breaks inside a paragraph become a space, or nothing between CJK characters.
  // Only the characters either side matter: slicing the whole text per break was quadratic.
  return out.replace(/\u0000/g, (_m, offset: number, whole: string) =>
    softJoin(whole.charAt(offset - 1), whole.charAt(offset + 1)),
  );
}

/**
 * Renders Markdown to plain text for the text/plain email part: paragraphs separated by a
 * blank line, lists as `- ` / `1. `, links as `text (url)`. Lines are not wrapped here.
 */
export function markdownToText(source: string, options: MarkdownOptions = {}): string {
  return tokensToText(md.parse(source, envFor(options)));
}

/**
 * `markdownToHtml` and `markdownToText` of the same source and options from one parse: the
 * email and the feed need both of every field, and parsing is most of the cost of a long one.
 */
export function markdownToHtmlAndText(source: string, options: MarkdownOptions = {}): { html: string; text: string } {
  const env = envFor(options);
  // Rendering only reads the tokens, so both renderers can walk the same ones.
  const tokens = md.parse(source, env);
  return { html: md.renderer.render(tokens, md.options, env).trim(), text: tokensToText(tokens) };
}

function tokensToText(tokens: readonly Token[]): string {
  const blocks: Array<{ text: string; tight: boolean; boundary: boolean }> = [];
  const prefixes: string[] = [];
  let tight = false;
  // Set when a top-level list starts or ends: the next block is never glued to the previous.
  let boundary = false;
  const listCounters: Array<number | undefined> = [];
  let pendingBullet: string | undefined;
  for (const token of tokens) {
    switch (token.type) {
      case 'bullet_list_open':
        boundary ||= listCounters.length === 0;
        listCounters.push(undefined);
        break;
      case 'ordered_list_open':
        boundary ||= listCounters.length === 0;
        listCounters.push(Number(token.attrGet('start') ?? 1));
        break;
      case 'bullet_list_close':
      case 'ordered_list_close':
        listCounters.pop();
        boundary ||= listCounters.length === 0;
        break;
      case 'list_item_open': {
        const depth = listCounters.length - 1;
        const counter = listCounters[depth];
        const indent = '  '.repeat(Math.max(0, depth));
        if (counter === undefined) {
          pendingBullet = `${indent}- `;
        } else {
          pendingBullet = `${indent}${counter}. `;
          listCounters[depth] = counter + 1;
        }
        break;
      }
      case 'paragraph_open':
        tight = token.hidden;
        break;
      case 'blockquote_open':
        prefixes.push('> ');
        break;
      case 'blockquote_close':
        prefixes.pop();
        break;
      case 'inline': {
        const text = inlineToText(token.children ?? [], isEmphasisOff(token));
        const prefix = prefixes.join('');
        const bullet = pendingBullet ?? '';
        pendingBullet = undefined;
        const lines = text.split('\n').map((line, i) => (i === 0 ? bullet + line : ' '.repeat(bullet.length) + line));
        blocks.push({ text: lines.map((line) => prefix + line).join('\n'), tight, boundary });
        tight = false;
        boundary = false;
        break;
      }
      case 'fence':
      case 'code_block': {
        const prefix = prefixes.join('');
        const text = token.content
          .replace(/\n$/, '')
          .split('\n')
          .map((line: string) => `${prefix}    ${line}`)
          .join('\n');
        blocks.push({ text, tight: false, boundary });
        boundary = false;
        break;
      }
      case 'hr':
        blocks.push({ text: '* * *', tight: false, boundary });
        boundary = false;
        break;
      default:
        break;
    }
  }
  // Items of a tight list stay on consecutive lines; every other block gets a blank line.
  let out = '';
  blocks.forEach((block, i) => {
    if (i > 0) out += block.tight && !block.boundary && blocks[i - 1]!.tight ? '\n' : '\n\n';
    out += block.text;
  });
  return out.trim();
}
