/** What a link destination may become: an item link, nothing (unsafe), or just text. */
export type UrlKind = 'web' | 'unsafe' | 'other';

/**
 * Sorts a link destination: `web` (http, https, mailto: the only item links the model keeps),
 * `unsafe` (javascript:, vbscript:, data:, also when disguised with case, whitespace, control
 * characters or HTML character references, as browsers would still run them) or `other`.
 */
export function classifyUrl(url: string): UrlKind {
  // A URL that starts with an http(s) scheme as written cannot hide another one.
  const webScheme = /^https?:/i.test(url);
  if (!webScheme && /^(?:javascript|vbscript|data):/.test(revealScheme(url))) return 'unsafe';
  if (/^https?:\/\/[^\s/?#]+[^\s]*$/i.test(url) || /^mailto:[^\s]+$/i.test(url)) return 'web';
  return 'other';
}

// Only a character reference, whitespace or a control character can disguise a scheme.
const DISGUISE = /[&\s\u0000-\u001F\u007F-\u009F]/;

/** The URL lower-cased as a browser reads its scheme: references decoded, blanks and controls gone. */
function revealScheme(url: string): string {
  if (!DISGUISE.test(url)) return url.toLowerCase();
  return url
    .replace(/&#x([0-9a-f]+);?/gi, (_, hex: string) => fromCodePoint(Number.parseInt(hex, 16)))
    .replace(/&#(\d+);?/g, (_, dec: string) => fromCodePoint(Number(dec)))
    .replace(/&colon;/gi, ':')
    .replace(/&(?:tab|newline);/gi, '')
    .replace(/[\s\u0000-\u001F\u007F-\u009F]/g, '')
    .toLowerCase();
}

function fromCodePoint(value: number): string {
  return value <= 0x10ffff ? String.fromCodePoint(value) : '';
}
