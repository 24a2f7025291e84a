import { Feed, type FeedOptions, type Item } from 'feed';
import { LetterpressError } from '../util/errors.ts';
import { toInstant } from './format-date.ts';
import { escapeHtml } from './markdown.ts';
import { sortNewestFirst } from './order-issues.ts';
import type { FeedEntry, RenderedFeeds, SiteInfo } from './types.ts';

/** The `updated` of a feed with no entries: fixed, so an empty feed is still deterministic. */
export const EMPTY_FEED_UPDATED = '1970-01-01T00:00:00.000Z';

// Characters XML 1.0 forbids (C0 controls but tab/LF/CR, U+FFFE/U+FFFF) plus the C1 controls
// and DEL, which are legal but never intended in a newsletter.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u0084\u0086-\u009f\ufffe\uffff]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Removes characters that would make a feed invalid XML (and replaces lone surrogates). */
export function stripControlChars(text: string): string {
  return text.replace(CONTROL_CHARS, '').replace(LONE_SURROGATE, '\ufffd');
}

/** Text destined for a CDATA section: `]]>` would end it early. */
function cdataSafe(html: string): string {
  return html.replace(/]]>/g, ']]&gt;');
}

/** The `feed` package writes attribute values with only `&` and `"` escaped; fix `<` and `>`. */
function escapeCategoryAttributes(xml: string): string {
  return xml.replace(/<category((?:\s+[\w:]+="[^"]*")*)\s*\/>/g, (_m, attrs: string) => {
    const fixed = attrs.replace(/="([^"]*)"/g, (_a, value: string) =>
      `="${value.replace(/</g, '&lt;').replace(/>/g, '&gt;')}"`,
    );
    return `<category${fixed}/>`;
  });
}

/** An entry's id as the `feed` package will print it (it parses ids as URLs). */
function normalisedId(entry: FeedEntry): string {
  try {
    return new URL(entry.id).toString();
  } catch (error) {
    throw new LetterpressError(
      'E_FEED',
      `feed id "${entry.id}" of issue ${entry.slug} is not a URI (Atom ids must be IRIs such as the permalink or a tag: URI)`,
      { cause: error },
    );
  }
}

interface CleanEntry {
  id: string;
  link: string;
  title: string;
  summary: string;
  contentHtml: string;
  categories: string[];
  published: Date;
  updated: Date;
}

function cleanEntry(entry: FeedEntry): CleanEntry {
  return {
    id: stripControlChars(normalisedId(entry)),
    link: stripControlChars(entry.link),
    title: stripControlChars(entry.title),
    summary: stripControlChars(entry.summary),
    contentHtml: stripControlChars(entry.contentHtml),
    categories: entry.categories.map(stripControlChars),
    published: toInstant(entry.published),
    updated: toInstant(entry.updated),
  };
}

/** JSON text with `<` and `>` as escapes: same value, and safe to embed or serve anywhere. */
function stringifyJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2).replace(/</g, '\\u003c').replace(/>/g, '\\u003e')}\n`;
}

/**
 * Renders the Atom 1.0, RSS 2.0 and JSON Feed 1.1 documents from rendered entries: the
 * newest `site.feedLimit` issues (in the archive's order, `sortNewestFirst`), full content, and a feed date taken from the entries (the
 * latest `updated` among them), never from the clock, so the same entries give the same bytes.
 */
export function renderFeeds(entries: FeedEntry[], site: SiteInfo): RenderedFeeds {
  const newest = sortNewestFirst(entries)
    .slice(0, Math.max(0, site.feedLimit))
    .map(cleanEntry);
  const updated = new Date(
    newest.length === 0 ? EMPTY_FEED_UPDATED : Math.max(...newest.map((entry) => entry.updated.getTime())),
  );

  const home = `${site.url}/`;
  const links = { atom: `${site.url}/feed.atom`, rss: `${site.url}/feed.rss`, json: `${site.url}/feed.json` };
  const title = stripControlChars(site.title);
  const description = stripControlChars(site.description);
  const author = {
    name: stripControlChars(site.author.name),
    ...(site.author.email ? { email: stripControlChars(site.author.email) } : {}),
  };
  const options: FeedOptions = {
    id: home,
    title,
    description,
    link: home,
    language: site.locale,
    updated,
    generator: 'Letterpress',
    feedLinks: links,
    author,
  };

  const item = (entry: CleanEntry, withAuthor: boolean): Item => ({
    id: entry.id,
    title: cdataSafe(escapeHtml(entry.title)),
    link: entry.link,
    date: entry.updated,
    published: entry.published,
    description: cdataSafe(escapeHtml(entry.summary)),
    content: cdataSafe(entry.contentHtml),
    category: entry.categories.map((name) => ({ name, term: name })),
    ...(withAuthor ? { author: [author] } : {}),
  });

  // Atom entries inherit the feed's author; RSS <author> must be an address, so only then.
  const atom = new Feed(options);
  for (const entry of newest) atom.addItem(item(entry, false));
  const rss = new Feed(options);
  for (const entry of newest) rss.addItem(item(entry, author.email !== undefined));

  const json = {
    version: 'https://jsonfeed.org/version/1.1',
    title,
    home_page_url: home,
    feed_url: links.json,
    description,
    language: site.locale,
    authors: [{ name: author.name }],
    items: newest.map((entry) => ({
      id: entry.id,
      url: entry.link,
      title: entry.title,
      content_html: entry.contentHtml,
      summary: entry.summary,
      date_published: entry.published.toISOString(),
      date_modified: entry.updated.toISOString(),
      tags: entry.categories,
    })),
  };

  return {
    atom: `${escapeCategoryAttributes(atom.atom1())}\n`,
    rss: `${rss.rss2()}\n`,
    json: stringifyJson(json),
  };
}
