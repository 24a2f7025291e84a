import { domainToASCII, domainToUnicode } from 'node:url';

/**
 * Subscriber addresses as the store keeps them (DESIGN §4a): trimmed, the domain lower-cased,
 * an IDN domain kept in Unicode for people and in punycode for SMTP. The rules are stricter than
 * RFC 5322 on purpose: an address must be a plain `dot-atom@hostname` that can go into a `To`
 * header and an SMTP envelope as is, so nothing a subscriber types can add a header or a
 * recipient. Local parts are ASCII only because messages are sent without SMTPUTF8.
 */

/**
 * Why an address was refused, as a stable code: pages and other front ends show their own
 * sentence for it (in the site's locale), while `reason` stays the English text for the CLI.
 */
export const EMAIL_PROBLEMS = [
  'empty',
  'line-break',
  'control-character',
  'invisible-character',
  'double-quote',
  'angle-bracket',
  'comma',
  'semicolon',
  'parenthesis',
  'backslash',
  'square-bracket',
  'colon',
  'space',
  'no-at',
  'several-at',
  'local-empty',
  'local-non-ascii',
  'local-too-long',
  'local-dot-start',
  'local-dot-end',
  'local-double-dot',
  'local-character',
  'encoded-word',
  'domain-empty',
  'domain-character',
  'domain-invalid',
  'domain-dot-start',
  'domain-dot-end',
  'domain-double-dot',
  'domain-no-dot',
  'domain-label-too-long',
  'domain-label-invalid',
  'domain-label-hyphen',
  'domain-numeric',
  'domain-too-long',
  'too-long',
] as const;
/** One of EMAIL_PROBLEMS. */
export type EmailProblem = (typeof EMAIL_PROBLEMS)[number];

/** A refused address: the stable code, the English reason, and the offending character when one is to blame. */
export interface EmailRefusal {
  ok: false;
  code: EmailProblem;
  reason: string;
  /** The printable character the reason is about (`local-character`, `domain-character`). */
  character?: string;
}

/** The address in both forms the system needs, or a short reason a person can act on. */
export type NormalizedEmail = { ok: true; email: string; ascii: string } | EmailRefusal;

const MAX_LOCAL_OCTETS = 64;
const MAX_ADDRESS_OCTETS = 254; // RFC 5321 path limit (256) minus the angle brackets
const MAX_DOMAIN_OCTETS = 253;
const MAX_LABEL_OCTETS = 63;
const MAX_NAME_CHARACTERS = 100;

/** RFC 5322 `atext`: what a dot-atom local part may hold besides the dots. */
const ATEXT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]$/;

/**
 * Characters that are legal somewhere in RFC 5322 but have no place in a plain address; each
 * gets its own reason so the operator sees at once what is wrong with the row.
 */
const FORBIDDEN: readonly [pattern: RegExp, code: EmailProblem, reason: string, namesCodePoint?: boolean][] = [
  [/[\r\n\u0085\u2028\u2029]/u, 'line-break', 'contains a line break'],
  [/[\u0000-\u001F\u007F-\u009F]/u, 'control-character', 'contains a control character', true],
  [/\p{Default_Ignorable_Code_Point}/u, 'invisible-character', 'contains an invisible character', true],
  [/"/, 'double-quote', 'contains a double quote'],
  [/[<>]/, 'angle-bracket', 'contains an angle bracket'],
  [/,/, 'comma', 'contains a comma'],
  [/;/, 'semicolon', 'contains a semicolon'],
  [/[()]/, 'parenthesis', 'contains a parenthesis'],
  [/\\/, 'backslash', 'contains a backslash'],
  [/[[\]]/, 'square-bracket', 'contains a square bracket (IP-address domains are not accepted)'],
  [/:/, 'colon', 'contains a colon'],
  [/\s/u, 'space', 'contains a space'],
];

function refuse(code: EmailProblem, reason: string, character?: string): EmailRefusal {
  return character === undefined ? { ok: false, code, reason } : { ok: false, code, reason, character };
}

/**
 * Checks and normalizes one address typed by a person or read from a file, so the store only
 * ever holds addresses that are safe to put in a header and an SMTP envelope.
 */
export function normalizeEmail(input: string): NormalizedEmail {
  const trimmed = input.trim();
  if (trimmed === '') return refuse('empty', 'is empty');

  for (const [pattern, code, reason, namesCodePoint] of FORBIDDEN) {
    const found = pattern.exec(trimmed);
    if (found) return refuse(code, namesCodePoint ? `${reason} (${describeCodePoint(found[0])})` : reason);
  }

  const at = trimmed.indexOf('@');
  if (at < 0) return refuse('no-at', 'has no @');
  if (trimmed.indexOf('@', at + 1) >= 0) return refuse('several-at', 'has more than one @');

  const local = trimmed.slice(0, at);
  const localProblem = checkLocalPart(local);
  if (localProblem) return localProblem;
  // Legal in RFC 5322, but mail readers decode `=?…?=` inside addresses and then show a
  // different (or empty) address: no real mailbox needs it, so it is refused.
  if (local.includes('=?')) return refuse('encoded-word', 'local part looks like a MIME encoded word (=?…?=)');

  const domain = normalizeDomain(trimmed.slice(at + 1));
  if (!domain.ok) return domain;

  const ascii = `${local}@${domain.ascii}`;
  if (ascii.length > MAX_ADDRESS_OCTETS) {
    return refuse('too-long', `is longer than ${MAX_ADDRESS_OCTETS} characters`);
  }
  return { ok: true, email: `${local}@${domain.unicode}`, ascii };
}

/** The case-insensitive uniqueness key of a normalized address, so `Ann@x.org` and `ann@x.org` are one subscriber. */
export function emailKey(email: string): string {
  return email.normalize('NFC').toLowerCase();
}

/**
 * The mailbox behind an address, for budgets only: its key with a `+tag` folded away, so
 * `victim+1@x.org` and `victim+2@x.org` count as one mailbox (they stay two addresses). A local
 * part that starts with `+` is kept whole: there is no mailbox name to fold it into.
 */
export function mailboxKey(email: string): string {
  const key = emailKey(email);
  const at = key.lastIndexOf('@');
  if (at < 0) return key;
  const local = key.slice(0, at);
  const plus = local.indexOf('+');
  return plus > 0 ? `${local.slice(0, plus)}${key.slice(at)}` : key;
}

/**
 * Keeps stored display names clean (no line breaks, control or bidi-override characters, one
 * space between words, at most 100 characters); header encoding happens later, when sending.
 */
export function sanitizeDisplayName(name: string | null | undefined): string | null {
  if (name === null || name === undefined) return null;
  const cleaned = name
    .normalize('NFC')
    // Lone surrogates cannot be encoded in a header; drop them.
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '')
    // Line breaks and tabs separate words; other C0/C1 controls and DEL are paste accidents.
    .replace(/[\t\n\v\f\r\u0085\u2028\u2029]/g, ' ')
    .replace(/[\u0000-\u001F\u007F-\u009F]/g, '')
    // Bidi embeddings, overrides and isolates can make a name display as something else.
    .replace(/[\u202A-\u202E\u2066-\u2069]/g, '')
    .replace(/\s+/gu, ' ')
    .trim();
  const capped = Array.from(cleaned).slice(0, MAX_NAME_CHARACTERS).join('').trim();
  return capped === '' ? null : capped;
}

/** Why a local part is refused, or undefined when it is a plain ASCII dot-atom. */
function checkLocalPart(local: string): EmailRefusal | undefined {
  if (local === '') return refuse('local-empty', 'local part (before the @) is empty');
  if (/[^\u0000-\u007F]/.test(local)) {
    return refuse('local-non-ascii', 'local part contains non-ASCII characters (such addresses need SMTPUTF8, which is not used)');
  }
  if (local.length > MAX_LOCAL_OCTETS) return refuse('local-too-long', `local part is longer than ${MAX_LOCAL_OCTETS} characters`);
  if (local.startsWith('.')) return refuse('local-dot-start', 'local part starts with a dot');
  if (local.endsWith('.')) return refuse('local-dot-end', 'local part ends with a dot');
  if (local.includes('..')) return refuse('local-double-dot', 'local part has two dots in a row');
  for (const character of local) {
    if (character !== '.' && !ATEXT.test(character)) {
      return refuse('local-character', `local part contains the character "${character}"`, character);
    }
  }
  return undefined;
}

/** The domain in Unicode (lower-case, NFC) and in punycode, or the reason it is refused. */
function normalizeDomain(raw: string): { ok: true; unicode: string; ascii: string } | EmailRefusal {
  if (raw === '') return refuse('domain-empty', 'domain (after the @) is empty');
  const domain = raw.normalize('NFC').toLowerCase();

  // Checked before domainToASCII, which would percent-decode or rewrite them silently.
  const badAscii = /[\u0000-\u007F]/g;
  for (const [character] of domain.matchAll(badAscii)) {
    if (!/[a-z0-9.-]/.test(character)) return refuse('domain-character', `domain contains the character "${character}"`, character);
  }
  const ascii = domainToASCII(domain);
  if (ascii === '') return refuse('domain-invalid', 'domain is not a valid domain name');

  // domainToASCII keeps empty labels and stray dots, and maps the Unicode full stops to ".".
  const labels = ascii.split('.');
  if (ascii.startsWith('.')) return refuse('domain-dot-start', 'domain starts with a dot');
  if (ascii.endsWith('.')) return refuse('domain-dot-end', 'domain ends with a dot');
  if (labels.includes('')) return refuse('domain-double-dot', 'domain has two dots in a row');
  if (labels.length < 2) return refuse('domain-no-dot', 'domain must contain a dot');
  for (const label of labels) {
    if (label.length > MAX_LABEL_OCTETS) {
      return refuse('domain-label-too-long', `domain label "${label.slice(0, 20)}…" is longer than ${MAX_LABEL_OCTETS} characters`);
    }
    if (!/^[a-z0-9-]+$/.test(label)) return refuse('domain-label-invalid', `domain label "${label}" is not a valid host name label`);
    if (label.startsWith('-')) return refuse('domain-label-hyphen', `domain label "${label}" starts with a hyphen`);
    if (label.endsWith('-')) return refuse('domain-label-hyphen', `domain label "${label}" ends with a hyphen`);
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    return refuse('domain-numeric', 'domain ends in a number (IP addresses are not accepted)');
  }
  if (ascii.length > MAX_DOMAIN_OCTETS) return refuse('domain-too-long', `domain is longer than ${MAX_DOMAIN_OCTETS} characters`);
  return { ok: true, unicode: domainToUnicode(ascii), ascii };
}

function describeCodePoint(character: string): string {
  return `U+${(character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}
