import { createHash, createPrivateKey, type Hash, type KeyObject } from 'node:crypto';
import signDkim from 'nodemailer/lib/dkim/sign';
import { encodeWord, encodeWords, foldLines, quoteString } from 'nodemailer/lib/mime-funcs';
import { toASCII } from 'nodemailer/lib/punycode';
import { encode as encodeQp, wrap as wrapQp } from 'nodemailer/lib/qp';
import { EMAIL_SLOTS, type EmailRendition } from '../render/types.ts';
import { LetterpressError } from '../util/errors.ts';
import type { OutgoingMessage } from './types.ts';

/**
 * Render once, personalize many (DESIGN §1, §4 "Personalization"): the complete raw MIME
 * message is encoded once per issue into byte chunks with slots, and each recipient only gets
 * the To and Message-ID headers and the unsubscribe URL filled in before one Buffer.concat.
 */

/**
 * `newsletter`: an issue to the list (List-Id, List-Unsubscribe, List-Unsubscribe-Post; the link
 * is the unsubscribe URL). `transactional`: a message one person asked for, such as the
 * double opt-in email: no List-* headers, and the link goes to `link.path`.
 */
export type MessageKind = 'newsletter' | 'transactional';

/** Everything one issue's message is made of, resolved by the caller from config and the rendition. */
export interface MessageTemplateInput {
  /** Default `newsletter`. */
  kind?: MessageKind;
  /** The issue slug, or the name of a transactional message (`confirm`): Message-IDs and outbox folders. */
  issueSlug: string;
  /** UTF-8; goes out as MIME words when it is not plain ASCII. */
  subject: string;
  /** html + text, each may hold EMAIL_SLOTS.unsubscribeUrl any number of times. */
  email: EmailRendition;
  sender: {
    fromName?: string;
    fromAddress: string;
    replyTo?: string;
    envelopeFrom: string;
    /** List-Id value without angle brackets, e.g. `weekly.news.example.org`. */
    listId: string;
    /** The List-Id display title; defaults to fromName. */
    listName?: string;
    unsubscribeMailto?: string;
  };
  /** No trailing slash; unsubscribe URL = `${siteUrl}/unsubscribe?token=${token}`. */
  siteUrl: string;
  /**
   * Transactional messages only: the per-recipient link is `${siteUrl}${path}${token}` and
   * replaces every `placeholder` in both parts (e.g. `/confirm?token=`, EMAIL_SLOTS.confirmUrl).
   * Newsletters always link `/unsubscribe?token=` at EMAIL_SLOTS.unsubscribeUrl.
   */
  link?: { path: string; placeholder: string };
  /** The Date header. */
  date: Date;
  dkim?: { domainName: string; keySelector: string; privateKey: string };
}

/** The little that differs per message: who it goes to and the token for their unsubscribe link. */
export interface Recipient {
  subscriberId: number;
  /** Pre-validated; the domain may be Unicode (IDN) and goes out as punycode. */
  email: string;
  name: string | null;
  /** The token of the message's link: the unsubscribe token, or e.g. a confirm token for a transactional message. */
  unsubscribeToken: string;
}

/** The slots a recipient fills; numbers so the per-recipient loop is an array index. */
const SLOT_TO = 0;
const SLOT_MESSAGE_ID = 1;
const SLOT_HEADER_URL = 2;
const SLOT_TEXT_URL = 3;
const SLOT_HTML_URL = 4;
type Slot = typeof SLOT_TO | typeof SLOT_MESSAGE_ID | typeof SLOT_HEADER_URL | typeof SLOT_TEXT_URL | typeof SLOT_HTML_URL;
type Piece = Buffer | Slot;

interface DkimTemplate {
  domainName: string;
  keySelector: string;
  privateKey: KeyObject;
  /** Relaxed body hash state after the body's bytes before its first slot (shared by all). */
  bodyPrefixHash: Hash;
  /** The relaxed-canonical body from the first slot on: fixed chunks and slots. */
  bodyTail: readonly Piece[];
  /** Header lines as signed, with slots where the recipient's lines go. */
  headers: readonly ({ key: string; line: string } | Slot)[];
  /** What follows the URL in List-Unsubscribe (`>` and the optional mailto line). */
  unsubscribeTail: string;
}

/**
 * One issue's message, encoded once: treat it as opaque and hand it to personalizeMessage.
 * Every fixed chunk is ASCII with CRLF line endings; slots only ever hold ASCII.
 */
export interface MessageTemplate {
  readonly kind: MessageKind;
  readonly issueSlug: string;
  readonly envelopeFrom: string;
  readonly messageIdDomain: string;
  /** `${siteUrl}/unsubscribe?token=` for headers and text; escaped for HTML attributes below. */
  readonly urlPrefix: string;
  readonly htmlUrlPrefix: string;
  readonly pieces: readonly Piece[];
  readonly dkim?: DkimTemplate;
}

/** The DKIM h= list: both List-Unsubscribe headers are in it (nodemailer's default misses the Post one). */
export const DKIM_SIGNED_HEADERS =
  'From:To:Reply-To:Subject:Date:Message-ID:MIME-Version:Content-Type:List-Id:List-Unsubscribe:List-Unsubscribe-Post';

/** Longest line anywhere in a message (RFC 5322 §2.1.1, without the CRLF). */
const MAX_LINE = 998;
/** QP body lines are at most 76 characters; a line that a slot follows needs room for its soft break. */
const QP_LINE = 76;
const QP_LINE_BEFORE_SOFT_BREAK = QP_LINE - 1;
/** Header folding width (RFC 5322 recommends 78; nodemailer's helpers use 76). */
const HEADER_LINE = 76;
/** Longest token accepted in a URL; tokens are about 80 characters. */
const MAX_TOKEN_LENGTH = 256;
const MAX_ADDRESS_LENGTH = 254;
const MAX_SITE_URL_LENGTH = 512;
/** ASCII names up to this length are quoted; longer ones become MIME words, which fold. */
const MAX_QUOTED_NAME = 64;
/** Encoded-word length nodemailer uses for headers, so words fold under the line limit. */
const MIME_WORD_LENGTH = 52;

/** Anything but these may not appear in an address: whitespace, specials that separate or quote, controls. */
const ADDRESS_PATTERN = /^[^\s\p{Cc}<>,;"()\\@]+@[^\s\p{Cc}<>,;"()\\@]+$/u;
/** Addresses that need no angle brackets when they stand alone (nodemailer's PLAIN_ADDRESS). */
const PLAIN_ADDRESS = /^[^\s"(),:;<>@[\\\]]+@[^\s"(),:;<>@[\\\]]+$/;
/** Tokens go into a header, a URL and an HTML attribute unescaped: unreserved URL characters only. */
const TOKEN_PATTERN = /^[A-Za-z0-9._~-]+$/;
/** RFC 2919: a dot-atom with at least one dot. */
const LIST_ID_PATTERN = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)+$/;
/** Slugs go into Message-IDs as dot-atom text (the issue parser allows even less). */
const MESSAGE_ID_SLUG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;
/** A Message-ID domain: an ASCII host name. */
const DOMAIN_ASCII_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
/** A transactional link path: an absolute path whose query ends where the token starts. */
const LINK_PATH_PATTERN = /^\/(?!\/)[A-Za-z0-9._~\/-]*\?[A-Za-z0-9._~-]+=$/;
/** Control characters and Unicode line separators: never part of a header, whoever supplied them. */
const HEADER_CONTROLS = /[\p{Cc}\u2028\u2029]+/gu;

/**
 * Encodes one issue's message for every recipient at once: all MIME encoding, header
 * folding, the boundary and (with DKIM) the shared part of the body hash happen here, once.
 */
export function buildMessageTemplate(input: MessageTemplateInput): MessageTemplate {
  const { sender } = input;
  const kind = input.kind ?? 'newsletter';
  const newsletter = kind === 'newsletter';
  if (newsletter && input.link !== undefined) {
    throw new LetterpressError('E_MESSAGE', 'a newsletter links its unsubscribe URL; only transactional messages take another link');
  }
  const link = input.link ?? { path: '/unsubscribe?token=', placeholder: EMAIL_SLOTS.unsubscribeUrl };
  if (!LINK_PATH_PATTERN.test(link.path) || link.placeholder === '') {
    throw new LetterpressError('E_MESSAGE', `link path "${link.path}" must look like /confirm?token=`);
  }
  if (!MESSAGE_ID_SLUG_PATTERN.test(input.issueSlug)) {
    throw new LetterpressError('E_MESSAGE', `issue slug "${input.issueSlug}" cannot go into a Message-ID`);
  }
  if (Number.isNaN(input.date.getTime())) throw new LetterpressError('E_MESSAGE', 'the message date is not a valid instant');

  const fromAddress = configAddress(sender.fromAddress, 'sender.fromAddress');
  const envelopeFrom = configAddress(sender.envelopeFrom, 'sender.envelopeFrom');
  const replyTo = sender.replyTo === undefined ? undefined : configAddress(sender.replyTo, 'sender.replyTo');
  const mailto =
    sender.unsubscribeMailto === undefined ? undefined : configAddress(sender.unsubscribeMailto, 'sender.unsubscribeMailto');
  if (!LIST_ID_PATTERN.test(sender.listId) || sender.listId.length > 255) {
    throw new LetterpressError('E_CONFIG', `sender.listId "${sender.listId}" must look like a domain name (list.example.org)`);
  }
  const siteUrl = input.siteUrl.replace(/\/+$/, '');
  if (!/^https?:\/\/[\x21-\x7e]+$/.test(siteUrl) || /[<>"'\\^`{|}]/.test(siteUrl) || siteUrl.length > MAX_SITE_URL_LENGTH) {
    throw new LetterpressError('E_CONFIG', `site URL "${input.siteUrl}" must be an ASCII http(s) URL without spaces or quotes`);
  }
  const urlPrefix = `${siteUrl}${link.path}`;
  const messageIdDomain = fromAddress.slice(fromAddress.lastIndexOf('@') + 1);

  // Header section: fixed lines, with slots for the recipient's To, Message-ID and URL.
  const headerLines: ({ key: string; line: string } | Slot)[] = [];
  const addHeader = (line: string): void => {
    headerLines.push({ key: line.slice(0, line.indexOf(':')).toLowerCase(), line });
  };
  addHeader(foldLines(`From: ${formatMailbox(sender.fromName, fromAddress, false)}`, HEADER_LINE));
  headerLines.push(SLOT_TO);
  if (replyTo !== undefined) addHeader(`Reply-To: ${formatMailbox(undefined, replyTo, false)}`);
  addHeader(foldLines(`Subject: ${encodeHeaderText(input.subject)}`, HEADER_LINE));
  addHeader(`Date: ${formatDateHeader(input.date)}`);
  headerLines.push(SLOT_MESSAGE_ID);
  addHeader('MIME-Version: 1.0');
  // List-Unsubscribe is split around the URL slot; the mailto goes on its own folded line.
  const unsubscribeTail = mailto === undefined ? '>' : `>,\r\n <mailto:${mailto}?subject=unsubscribe>`;
  if (newsletter) {
    const listName = cleanHeaderText(sender.listName ?? sender.fromName ?? '');
    addHeader(foldLines(`List-Id: ${listName ? `${encodeDisplayName(listName, false)} ` : ''}<${sender.listId}>`, HEADER_LINE));
    headerLines.push(SLOT_HEADER_URL);
    addHeader('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
  }

  const text = toCrlf(input.email.text);
  const html = toCrlf(input.email.html);
  const boundary = chooseBoundary(text, html);
  addHeader(`Content-Type: multipart/alternative;\r\n boundary="${boundary}"`);

  // Body: text/plain first, then text/html, both quoted-printable with URL slots.
  const body: Piece[] = [];
  const partHeader = (type: string): string =>
    `Content-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n`;
  body.push(ascii(`--${boundary}\r\n${partHeader('text/plain')}`));
  pushQuotedPrintable(body, text, SLOT_TEXT_URL, link.placeholder);
  body.push(ascii(`\r\n--${boundary}\r\n${partHeader('text/html')}`));
  pushQuotedPrintable(body, html, SLOT_HTML_URL, link.placeholder);
  body.push(ascii(`\r\n--${boundary}--\r\n`));

  const pieces: Piece[] = [];
  for (const entry of headerLines) {
    if (entry === SLOT_HEADER_URL) {
      pieces.push(ascii('List-Unsubscribe: <'), SLOT_HEADER_URL, ascii(`${unsubscribeTail}\r\n`));
    } else if (typeof entry === 'number') {
      pieces.push(entry);
    } else {
      pieces.push(ascii(`${entry.line}\r\n`));
    }
  }
  pieces.push(ascii('\r\n'), ...body);
  const merged = mergeFixedPieces(pieces);
  for (const piece of merged) {
    if (typeof piece !== 'number') assertLineLengths(piece);
  }

  const template: MessageTemplate = {
    kind,
    issueSlug: input.issueSlug,
    envelopeFrom,
    messageIdDomain,
    urlPrefix,
    htmlUrlPrefix: escapeHtmlAttribute(urlPrefix),
    pieces: merged,
  };
  if (!input.dkim) return template;
  return {
    ...template,
    dkim: buildDkimTemplate(input.dkim, body, headerLines, unsubscribeTail),
  };
}

/**
 * Fills one recipient into the pre-built message: the only per-recipient work is the To and
 * Message-ID lines, the URL in three places (QP-encoded in the bodies), an optional DKIM
 * signature; the shared pieces are not copied. Throws E_RECIPIENT for an address or token that could
 * add a header or a recipient.
 */
export function personalizeMessage(template: MessageTemplate, recipient: Recipient): OutgoingMessage {
  const address = recipientAddress(recipient.email);
  const token = recipient.unsubscribeToken;
  if (token.length > MAX_TOKEN_LENGTH || !TOKEN_PATTERN.test(token)) {
    throw new LetterpressError('E_RECIPIENT', `unsubscribe token for subscriber ${recipient.subscriberId} is not URL-safe`);
  }
  const messageId =
    template.kind === 'newsletter'
      ? messageIdFor(template.issueSlug, recipient.subscriberId, template.messageIdDomain)
      : messageIdFor(template.issueSlug, recipient.subscriberId, template.messageIdDomain, token);
  const url = template.urlPrefix + token;
  const textUrl = Buffer.from(encodeUrlForQp(url), 'latin1');
  const htmlUrl =
    template.htmlUrlPrefix === template.urlPrefix ? textUrl : Buffer.from(encodeUrlForQp(template.htmlUrlPrefix + token), 'latin1');
  const toLine = foldLines(`To: ${formatMailbox(recipient.name, address, true)}`, HEADER_LINE);
  const messageIdLine = `Message-ID: ${messageId}`;
  const slots: Buffer[] = [
    Buffer.from(`${toLine}\r\n`, 'latin1'),
    Buffer.from(`${messageIdLine}\r\n`, 'latin1'),
    Buffer.from(url, 'latin1'),
    textUrl,
    htmlUrl,
  ];

  const parts: Buffer[] = [];
  if (template.dkim) parts.push(signRecipient(template.dkim, slots, toLine, messageIdLine, url));
  for (const piece of template.pieces) parts.push(typeof piece === 'number' ? slots[piece]! : piece);
  return new PersonalizedMessage({ from: template.envelopeFrom, to: address }, parts, messageId, template.issueSlug);
}

/**
 * One recipient's message. A class, not an object literal with a `raw` getter: a getter
 * closure made per message gives every message its own hidden class, which V8 keeps in old
 * space, and that keeps each message's parts alive past the young-generation collections
 * (about 1 MB promoted per scavenge on a big send, 30 MB of old space and 30 MB of pinned
 * buffer pool between full collections). With the getter on the prototype a message is
 * garbage as soon as the transport is done with it.
 */
class PersonalizedMessage implements OutgoingMessage {
  readonly size: number;
  #raw: Buffer | undefined;

  constructor(
    readonly envelope: OutgoingMessage['envelope'],
    readonly parts: readonly Buffer[],
    readonly messageId: string,
    readonly issueSlug: string,
  ) {
    let size = 0;
    for (const part of parts) size += part.length;
    this.size = size;
  }

  /** Joined on first use only: the SMTP and outbox transports write the parts as they are. */
  get raw(): Buffer {
    return (this.#raw ??= Buffer.concat(this.parts, this.size));
  }
}

/**
 * The Message-ID of one issue to one subscriber: derived, not random, so a retry after a crash
 * carries the same id and receivers can drop the duplicate. A transactional message passes its
 * link token too: each one asked for (a confirmation sent again after a cool-down carries a
 * new token) is then a new message that no receiver drops as a duplicate of the last.
 */
export function messageIdFor(issueSlug: string, subscriberId: number, domain: string, token?: string): string {
  if (!MESSAGE_ID_SLUG_PATTERN.test(issueSlug) || !Number.isSafeInteger(subscriberId) || !DOMAIN_ASCII_PATTERN.test(domain)) {
    throw new LetterpressError('E_MESSAGE', `cannot make a Message-ID from "${issueSlug}", ${subscriberId}, "${domain}"`);
  }
  const hash = createHash('sha256')
    .update(token === undefined ? `${issueSlug}\n${subscriberId}` : `${issueSlug}\n${subscriberId}\n${token}`)
    .digest('hex')
    .slice(0, 12);
  return `<${issueSlug}.${subscriberId}.${hash}@${domain}>`;
}

/**
 * QP-encodes `content` into `out`, leaving `slot` wherever the placeholder was. Invariant: a
 * slot always starts on a fresh line (the chunk before it ends with CRLF or a soft break) and
 * its last line is ended by the chunk after it, so a slot's bytes never share a line with
 * fixed text; that keeps every line within 76 characters and the DKIM canonical form of
 * each chunk independent of what fills the slots.
 */
function pushQuotedPrintable(out: Piece[], content: string, slot: Slot, placeholder: string): void {
  const segments = content.split(placeholder);
  const last = segments.length - 1;
  segments.forEach((segment, index) => {
    let chunk = '';
    // End the slot's line, unless the segment starts a new line anyway or nothing follows.
    if (index > 0 && !segment.startsWith('\r\n') && !(index === last && segment === '')) chunk += '=\r\n';
    if (segment !== '') {
      chunk += wrapQp(encodeQp(segment), index < last ? QP_LINE_BEFORE_SOFT_BREAK : QP_LINE);
      if (index < last && !chunk.endsWith('\r\n')) chunk += '=\r\n';
    }
    if (chunk !== '') out.push(ascii(chunk));
    if (index < last) out.push(slot);
  });
}

/** A URL as QP body lines (`=` becomes `=3D`), its last line leaving room for a soft break. */
function encodeUrlForQp(url: string): string {
  return wrapQp(encodeQp(url), QP_LINE_BEFORE_SOFT_BREAK);
}

/**
 * A boundary derived from the content, so the same issue always encodes to the same bytes.
 * `=_` can never occur in quoted-printable text (a `=` is always followed by hex digits or a
 * line break), so the boundary cannot collide with any part, whatever a recipient's URL.
 */
function chooseBoundary(text: string, html: string): string {
  const hash = createHash('sha256').update(text).update('\0').update(html).digest('hex');
  return `=_lp_${hash.slice(0, 32)}`;
}

/** Every line break as CRLF: bare CR or LF may not appear in a message. */
function toCrlf(value: string): string {
  return value.replace(/\r\n|\r|\n/g, '\r\n');
}

function ascii(value: string): Buffer {
  return Buffer.from(value, 'latin1');
}

/** Joins adjacent fixed chunks, so personalizing concatenates as few buffers as possible. */
function mergeFixedPieces(pieces: readonly Piece[]): Piece[] {
  const merged: Piece[] = [];
  let run: Buffer[] = [];
  for (const piece of pieces) {
    if (typeof piece === 'number') {
      if (run.length > 0) merged.push(Buffer.concat(run));
      run = [];
      merged.push(piece);
    } else {
      run.push(piece);
    }
  }
  if (run.length > 0) merged.push(Buffer.concat(run));
  return merged;
}

function assertLineLengths(chunk: Buffer): void {
  let start = 0;
  for (;;) {
    const end = chunk.indexOf('\r\n', start);
    const length = (end < 0 ? chunk.length : end) - start;
    if (length > MAX_LINE) throw new LetterpressError('E_MESSAGE', `a message line would be ${length} characters (max ${MAX_LINE})`);
    if (end < 0) return;
    start = end + 2;
  }
}

/** An address from config, checked like a recipient's but reported as a config problem. */
function configAddress(value: string, field: string): string {
  try {
    return recipientAddress(value);
  } catch (error) {
    throw new LetterpressError('E_CONFIG', `${field}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The ASCII form of an address that must go into a header and an SMTP envelope: exactly one
 * `@`, none of the characters that could end the address or start another, the domain in
 * punycode. The store validates addresses already; this is the last line of defence.
 */
function recipientAddress(email: string): string {
  if (email.length > MAX_ADDRESS_LENGTH || !ADDRESS_PATTERN.test(email)) {
    throw new LetterpressError('E_RECIPIENT', `address ${JSON.stringify(email)} cannot be put in a header`);
  }
  const at = email.indexOf('@');
  const local = email.slice(0, at);
  if (/[^\x21-\x7e]/.test(local)) {
    throw new LetterpressError('E_RECIPIENT', `address ${JSON.stringify(email)} has a non-ASCII local part (needs SMTPUTF8)`);
  }
  const domain = email.slice(at + 1);
  if (!/[^\x21-\x7e]/.test(domain)) return email;
  const asciiDomain = toASCII(domain);
  if (/[^\x21-\x7e]/.test(asciiDomain)) {
    throw new LetterpressError('E_RECIPIENT', `address ${JSON.stringify(email)} has a domain that does not convert to punycode`);
  }
  return `${local}@${asciiDomain}`;
}

/**
 * `Name <addr>` with the name made inert: control characters dropped, then always quoted or
 * MIME-encoded (recipients) so no comma, bracket, quote or line break in it is ever syntax.
 */
function formatMailbox(name: string | null | undefined, address: string, alwaysQuote: boolean): string {
  const display = cleanHeaderText(name ?? '');
  if (display === '') return PLAIN_ADDRESS.test(address) ? address : `<${address}>`;
  return `${encodeDisplayName(display, alwaysQuote)} <${address}>`;
}

/** Control characters become spaces, runs of whitespace one space. */
function cleanHeaderText(value: string): string {
  return value.replace(HEADER_CONTROLS, ' ').replace(/\s+/gu, ' ').trim();
}

/**
 * A display name as a phrase: plain words as they are (unless `alwaysQuote`), other printable
 * ASCII quoted, anything else, anything long and anything that looks like an encoded word as
 * MIME words, so a literal `=?utf-8?…` name reads back as itself.
 */
function encodeDisplayName(name: string, alwaysQuote: boolean): string {
  if (!alwaysQuote && /^[\w ]*$/.test(name)) return name;
  if (/^[\x20-\x7e]*$/.test(name) && !name.includes('=?') && name.length <= MAX_QUOTED_NAME) return quoteString(name);
  return encodeWord(name, chooseWordEncoding(name), MIME_WORD_LENGTH);
}

/** Unstructured header text (Subject): MIME words when anything is not plain ASCII. */
function encodeHeaderText(value: string): string {
  return encodeWords(cleanHeaderText(value), chooseWordEncoding(value), MIME_WORD_LENGTH, true);
}

/** nodemailer's rule: Q when mostly Latin letters, else B (shorter for CJK). */
function chooseWordEncoding(value: string): 'Q' | 'B' {
  let nonLatin = 0;
  let latin = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code >= 0x80) nonLatin++;
    else if ((code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) latin++;
  }
  return nonLatin < latin ? 'Q' : 'B';
}

/** RFC 5322 date in UTC: `Mon, 06 May 2024 01:00:00 +0000`. */
function formatDateHeader(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

function escapeHtmlAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/'/g, '&#39;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Relaxed body canonicalization (RFC 6376 §3.4.4) of whole lines: WSP runs to one SP, none at line ends. */
function relaxBody(chunk: string): string {
  return chunk
    .split('\r\n')
    .map((line) => line.replace(/[ \t]+/g, ' ').replace(/ $/, ''))
    .join('\r\n');
}

/**
 * Precomputes what DKIM needs from the fixed parts. The body differs per recipient only in
 * the URL slots, so the hash over everything before the first slot is taken once and copied;
 * the rest of the body is stored canonicalized. Slots need no canonicalization: they hold a
 * QP-encoded URL (no whitespace), and the invariant of pushQuotedPrintable keeps every fixed
 * chunk made of whole lines at the slot edges.
 */
function buildDkimTemplate(
  dkim: NonNullable<MessageTemplateInput['dkim']>,
  body: readonly Piece[],
  headerLines: readonly ({ key: string; line: string } | Slot)[],
  unsubscribeTail: string,
): DkimTemplate {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(dkim.privateKey);
  } catch (error) {
    throw new LetterpressError('E_CONFIG', 'sender.dkim: the private key cannot be read (PEM expected)', { cause: error });
  }
  if (privateKey.asymmetricKeyType !== 'rsa') {
    throw new LetterpressError('E_CONFIG', `sender.dkim: an RSA key is needed (got ${privateKey.asymmetricKeyType ?? 'unknown'})`);
  }
  const bodyPrefixHash = createHash('sha256');
  const bodyTail: Piece[] = [];
  for (const piece of body) {
    if (typeof piece === 'number' || bodyTail.length > 0) {
      bodyTail.push(typeof piece === 'number' ? piece : ascii(relaxBody(piece.toString('latin1'))));
    } else {
      bodyPrefixHash.update(relaxBody(piece.toString('latin1')), 'latin1');
    }
  }
  return {
    domainName: dkim.domainName,
    keySelector: dkim.keySelector,
    privateKey,
    bodyPrefixHash,
    bodyTail,
    headers: headerLines,
    unsubscribeTail,
  };
}

/**
 * The DKIM-Signature line for one recipient, made by nodemailer's signer from the body hash
 * (finished from the shared prefix state) and the header lines exactly as they go out.
 */
function signRecipient(dkim: DkimTemplate, slots: readonly Buffer[], toLine: string, messageIdLine: string, url: string): Buffer {
  const hash = dkim.bodyPrefixHash.copy();
  for (const piece of dkim.bodyTail) hash.update(typeof piece === 'number' ? slots[piece]! : piece);
  const headers = dkim.headers.map((entry) => {
    if (entry === SLOT_TO) return { key: 'to', line: toLine };
    if (entry === SLOT_MESSAGE_ID) return { key: 'message-id', line: messageIdLine };
    if (entry === SLOT_HEADER_URL) return { key: 'list-unsubscribe', line: `List-Unsubscribe: <${url}${dkim.unsubscribeTail}` };
    if (typeof entry === 'number') throw new LetterpressError('E_MESSAGE', `unexpected header slot ${entry}`);
    return entry;
  });
  const signature = signDkim(headers, 'sha256', hash.digest('base64'), {
    domainName: dkim.domainName,
    keySelector: dkim.keySelector,
    privateKey: dkim.privateKey,
    headerFieldNames: DKIM_SIGNED_HEADERS,
  });
  if (signature === false) throw new LetterpressError('E_DKIM', 'DKIM signing failed (is the private key usable?)');
  return Buffer.from(`${signature}\r\n`, 'latin1');
}
