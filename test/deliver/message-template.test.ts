import { createHash, generateKeyPairSync, verify as verifySignature, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildMessageTemplate,
  DKIM_SIGNED_HEADERS,
  messageIdFor,
  personalizeMessage,
  type MessageTemplate,
  type MessageTemplateInput,
  type Recipient,
} from '../../src/deliver/message-template.ts';
import type { OutgoingMessage } from '../../src/deliver/types.ts';
import { parseIssue } from '../../src/issue/parse-issue.ts';
import { renderIssue } from '../../src/render/render-issue.ts';
import { EMAIL_SLOTS, type EmailRendition } from '../../src/render/types.ts';
import { LetterpressError } from '../../src/util/errors.ts';
import { sampleMeta, sampleSite, shippedTemplates } from '../render/fixtures.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const SITE_URL = 'https://news.example.org';
const DATE = new Date('2024-05-06T01:00:00Z');

let email: EmailRendition;
let publicKey: KeyObject;
let privateKeyPem: string;

beforeAll(async () => {
  // The real sample issue, parsed from its file and rendered through MJML like a send run does.
  const text = await readFile(path.join(REPO_ROOT, 'issues/2024-18.md'), 'utf8');
  const parsed = parseIssue(text, 'issues/2024-18.md', { timezone: 'Asia/Shanghai' });
  if (!parsed.issue) throw new Error(`sample issue did not parse: ${JSON.stringify(parsed.diagnostics)}`);
  const rendition = await renderIssue(parsed.issue, sampleMeta(), await shippedTemplates(), sampleSite());
  email = rendition.email;
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  publicKey = pair.publicKey;
  privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
});

function input(overrides: Partial<MessageTemplateInput> = {}): MessageTemplateInput {
  return {
    issueSlug: '2024-18',
    subject: email.subject,
    email,
    sender: {
      fromName: '云计算技术动态',
      fromAddress: 'newsletter@news.example.org',
      replyTo: 'editor@news.example.org',
      envelopeFrom: 'bounces@news.example.org',
      listId: 'weekly.news.example.org',
      unsubscribeMailto: 'unsubscribe@news.example.org',
    },
    siteUrl: SITE_URL,
    date: DATE,
    ...overrides,
  };
}

function recipient(overrides: Partial<Recipient> = {}): Recipient {
  const subscriberId = overrides.subscriberId ?? 42;
  return {
    subscriberId,
    email: 'reader@example.com',
    name: '张三',
    unsubscribeToken: `v1.k1a2b3c4d.unsub.${subscriberId}.0.${createHash('sha256').update(String(subscriberId)).digest('base64url')}`,
    ...overrides,
  };
}

function unsubscribeUrl(r: Recipient): string {
  return `${SITE_URL}/unsubscribe?token=${r.unsubscribeToken}`;
}

/** The header section split into fields (continuation lines kept), and the body. */
function splitMessage(raw: Buffer): { fields: { name: string; raw: string; value: string }[]; body: string } {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const fields: { name: string; raw: string; value: string }[] = [];
  for (const line of text.slice(0, end).split('\r\n')) {
    if (/^[ \t]/.test(line)) {
      const last = fields.at(-1)!;
      last.raw += `\r\n${line}`;
      last.value += line;
    } else {
      const colon = line.indexOf(':');
      fields.push({ name: line.slice(0, colon), raw: line, value: line.slice(colon + 1).trim() });
    }
  }
  return { fields, body: text.slice(end + 4) };
}

/** The parts of the multipart body, in order: their header block and QP-encoded content. */
function bodyParts(message: OutgoingMessage): { headers: string; content: string }[] {
  const { fields, body } = splitMessage(message.raw);
  const contentType = fields.find((f) => f.name === 'Content-Type')!.value;
  const boundary = /boundary="([^"]+)"/.exec(contentType)![1]!;
  const sections = body.split(`--${boundary}`);
  expect(sections[0]).toBe('');
  expect(sections.at(-1)).toBe('--\r\n');
  return sections.slice(1, -1).map((section) => {
    expect(section.startsWith('\r\n')).toBe(true);
    expect(section.endsWith('\r\n')).toBe(true);
    const inner = section.slice(2, -2); // the CRLF before a delimiter belongs to the delimiter
    const split = inner.indexOf('\r\n\r\n');
    return { headers: inner.slice(0, split), content: inner.slice(split + 4) };
  });
}

/** A quoted-printable decoder written for the test (RFC 2045 §6.7), independent of the encoder. */
function decodeQuotedPrintable(encoded: string): string {
  const text = encoded.replace(/=\r\n/g, '');
  // Strict: only printable ASCII, CRLF, tab, and `=` followed by two upper-case hex digits.
  expect(text.replace(/=[0-9A-F]{2}/g, '')).toMatch(/^(?:[\t\x20-\x3c\x3e-\x7e]|\r\n)*$/);
  const bytes = text.split(/(=[0-9A-F]{2})/).map((piece) =>
    piece.startsWith('=') ? Buffer.from([parseInt(piece.slice(1), 16)]) : Buffer.from(piece, 'latin1'),
  );
  return Buffer.concat(bytes).toString('utf8');
}

/** Decodes `=?UTF-8?B?…?=` words, for the one header mailparser leaves encoded. */
function decodeBWords(value: string): string {
  return value.replace(/=\?UTF-8\?B\?([^?]*)\?=\s*/gi, (_, data: string) => Buffer.from(data, 'base64').toString('utf8')).trim();
}

function crlf(value: string): string {
  return value.replace(/\r\n|\r|\n/g, '\r\n');
}

function addresses(value: AddressObject | AddressObject[] | undefined) {
  return [value ?? []].flat().flatMap((object) => object.value);
}

function headerCount(parsed: ParsedMail, key: string): number {
  return parsed.headerLines.filter((line) => line.key === key).length;
}

describe('buildMessageTemplate + personalizeMessage', () => {
  it('produces a message mailparser reads back with every header once', async () => {
    const template = buildMessageTemplate(input());
    const r = recipient();
    const message = personalizeMessage(template, r);
    const parsed = await simpleParser(message.raw);

    for (const key of [
      'from',
      'to',
      'reply-to',
      'subject',
      'date',
      'message-id',
      'mime-version',
      'list-id',
      'list-unsubscribe',
      'list-unsubscribe-post',
      'content-type',
    ]) {
      expect(headerCount(parsed, key), key).toBe(1);
    }
    expect(parsed.subject).toBe('云计算技术动态 2024 年第十八期');
    expect(parsed.date?.toISOString()).toBe(DATE.toISOString());
    expect(parsed.messageId).toBe(message.messageId);
    expect(message.messageId).toBe(messageIdFor('2024-18', 42, 'news.example.org'));
    expect(addresses(parsed.from)).toEqual([{ address: 'newsletter@news.example.org', name: '云计算技术动态' }]);
    expect(addresses(parsed.to)).toEqual([{ address: 'reader@example.com', name: '张三' }]);
    expect(addresses(parsed.replyTo)).toEqual([{ address: 'editor@news.example.org', name: '' }]);

    const list = parsed.headers.get('list') as unknown as Record<string, { url?: string; mail?: string; id?: string; name?: string }>;
    expect(list.unsubscribe).toEqual({
      url: unsubscribeUrl(r),
      mail: 'unsubscribe@news.example.org?subject=unsubscribe',
    });
    // mailparser leaves encoded words in the List-Id phrase as they are; RFC 2047 allows them there.
    expect(list.id).toMatchObject({ id: 'weekly.news.example.org' });
    expect(decodeBWords(list.id!.name!)).toBe('云计算技术动态');
    const { fields } = splitMessage(message.raw);
    expect(fields.find((f) => f.name === 'List-Unsubscribe-Post')!.value).toBe('List-Unsubscribe=One-Click');
    expect(fields.find((f) => f.name === 'List-Unsubscribe')!.value).toBe(
      `<${unsubscribeUrl(r)}>, <mailto:unsubscribe@news.example.org?subject=unsubscribe>`,
    );
    expect(fields.find((f) => f.name === 'MIME-Version')!.value).toBe('1.0');
    expect(fields.find((f) => f.name === 'Date')!.value).toBe('Mon, 06 May 2024 01:00:00 +0000');

    expect(message.envelope).toEqual({ from: 'bounces@news.example.org', to: 'reader@example.com' });
    expect(message.issueSlug).toBe('2024-18');
  });

  it('puts the headers in the documented order and the text part before the HTML part', () => {
    const message = personalizeMessage(buildMessageTemplate(input()), recipient());
    expect(splitMessage(message.raw).fields.map((f) => f.name)).toEqual([
      'From',
      'To',
      'Reply-To',
      'Subject',
      'Date',
      'Message-ID',
      'MIME-Version',
      'List-Id',
      'List-Unsubscribe',
      'List-Unsubscribe-Post',
      'Content-Type',
    ]);
    expect(splitMessage(message.raw).fields.at(-1)!.value).toMatch(/^multipart\/alternative;\s+boundary="[^"]+"$/);
    const parts = bodyParts(message);
    expect(parts.map((part) => part.headers)).toEqual([
      'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable',
      'Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable',
    ]);
    const raw = message.raw.toString('latin1');
    expect(raw.indexOf('text/plain')).toBeLessThan(raw.indexOf('text/html'));
  });

  it('decodes to the rendition with the recipient URL in every slot', async () => {
    const r = recipient();
    const message = personalizeMessage(buildMessageTemplate(input()), r);
    const url = unsubscribeUrl(r);
    const expectedText = crlf(email.text.replaceAll(EMAIL_SLOTS.unsubscribeUrl, url));
    const expectedHtml = crlf(email.html.replaceAll(EMAIL_SLOTS.unsubscribeUrl, url));
    expect(email.text).toContain(EMAIL_SLOTS.unsubscribeUrl);
    expect(email.html).toContain(EMAIL_SLOTS.unsubscribeUrl);

    // Byte for byte, with an independent decoder.
    const [text, html] = bodyParts(message);
    expect(decodeQuotedPrintable(text!.content)).toBe(expectedText);
    expect(decodeQuotedPrintable(html!.content)).toBe(expectedHtml);

    // And as a mail client sees it.
    const parsed = await simpleParser(message.raw);
    expect(parsed.text?.replace(/\r\n/g, '\n')).toBe(expectedText.replace(/\r\n/g, '\n'));
    expect(typeof parsed.html === 'string' && parsed.html.replace(/\r\n/g, '\n')).toBe(expectedHtml.replace(/\r\n/g, '\n'));
    expect(parsed.html).toContain(`href="${url}"`);
    expect(parsed.text).not.toContain('%%');
  });

  it('keeps every line CRLF-terminated, at most 998 octets, and QP lines at most 76', () => {
    const template = buildMessageTemplate(input({ dkim: dkimInput() }));
    const message = personalizeMessage(template, recipient({ name: '一个很长很长的名字'.repeat(12) + ' 🎉' }));
    const raw = message.raw.toString('latin1');
    expect(raw.endsWith('\r\n')).toBe(true);
    expect(raw.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    const lines = raw.split('\r\n');
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(998);
    // 7-bit clean: everything non-ASCII is encoded.
    expect(message.raw.every((byte) => byte < 0x80)).toBe(true);
    const { fields } = splitMessage(message.raw);
    for (const field of fields) {
      for (const line of field.raw.split('\r\n')) {
        // The URL in List-Unsubscribe cannot be folded inside its angle brackets, and nodemailer's
        // signer writes the h= list on one line (folding it would change what was signed).
        if (field.name !== 'List-Unsubscribe' && field.name !== 'DKIM-Signature') {
          expect(line.length, field.name).toBeLessThanOrEqual(78);
        }
      }
    }
    for (const part of bodyParts(message)) {
      for (const line of part.content.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
    }
  });

  it('gives two recipients their own To, Message-ID and token, and otherwise the same bytes', async () => {
    const template = buildMessageTemplate(input());
    const a = recipient({ subscriberId: 1, name: '张三', email: 'zhang@example.com' });
    const b = recipient({ subscriberId: 2, name: '🎉 Party 派对', email: 'party@example.org' });
    const ma = personalizeMessage(template, a);
    const mb = personalizeMessage(template, b);
    expect(ma.messageId).not.toBe(mb.messageId);
    expect(a.unsubscribeToken).not.toBe(b.unsubscribeToken);

    const pa = await simpleParser(ma.raw);
    const pb = await simpleParser(mb.raw);
    expect(addresses(pa.to)).toEqual([{ address: 'zhang@example.com', name: '张三' }]);
    expect(addresses(pb.to)).toEqual([{ address: 'party@example.org', name: '🎉 Party 派对' }]);
    expect(pa.text).toContain(unsubscribeUrl(a));
    expect(pb.text).toContain(unsubscribeUrl(b));
    expect(pa.text).not.toContain(unsubscribeUrl(b));

    // Decoded parts differ only by the URL.
    const same = (m: OutgoingMessage, r: Recipient) =>
      bodyParts(m).map((part) => decodeQuotedPrintable(part.content).replaceAll(unsubscribeUrl(r), '<URL>'));
    expect(same(ma, a)).toEqual(same(mb, b));

    // Raw bytes: removing the recipient's lines and encoded URL leaves identical messages.
    const strip = (m: OutgoingMessage, r: Recipient) => {
      const { fields, body } = splitMessage(m.raw);
      const headers = fields
        .filter((f) => f.name !== 'To' && f.name !== 'Message-ID')
        .map((f) => f.raw.replace(unsubscribeUrl(r), '<URL>'));
      const encodedUrl = unsubscribeUrl(r).replace(/=/g, '=3D');
      return [...headers, body.replace(/=\r\n/g, '').replaceAll(encodedUrl, '<URL>')];
    };
    expect(strip(ma, a)).toEqual(strip(mb, b));
  });

  it('makes every message of one shape, with `raw` joined once from the parts', () => {
    const template = buildMessageTemplate(input());
    const ma = personalizeMessage(template, recipient({ subscriberId: 1 }));
    const mb = personalizeMessage(template, recipient({ subscriberId: 2, name: null }));
    // A getter made per message (an object literal's `get raw()`) gives each message a hidden
    // class of its own, which keeps its parts alive past young collections: on a million-reader
    // send that was 30 MB of old space between full collections. The getter is shared instead.
    expect(Object.getOwnPropertyDescriptor(ma, 'raw')).toBeUndefined();
    expect(Object.getPrototypeOf(ma)).toBe(Object.getPrototypeOf(mb));
    expect(Object.keys(ma)).toEqual(Object.keys(mb));
    expect(ma.raw).toEqual(Buffer.concat(ma.parts));
    expect(ma.raw.length).toBe(ma.size);
    expect(ma.raw).toBe(ma.raw);
  });

  it('sends IDN domains as punycode in To and in the envelope', async () => {
    const message = personalizeMessage(buildMessageTemplate(input()), recipient({ email: 'zhang@例子.测试', name: '张三' }));
    const to = splitMessage(message.raw).fields.find((f) => f.name === 'To')!;
    expect(to.value).toMatch(/<zhang@xn--fsqu00a\.xn--0zwm56d>$/);
    expect(message.envelope.to).toBe('zhang@xn--fsqu00a.xn--0zwm56d');
    const parsed = await simpleParser(message.raw);
    expect(addresses(parsed.to)).toHaveLength(1);
  });

  it('writes a bare address when the name is null, empty or only control characters', async () => {
    const template = buildMessageTemplate(input());
    for (const name of [null, '', '  ', '\r\n\t']) {
      const message = personalizeMessage(template, recipient({ name }));
      expect(splitMessage(message.raw).fields.find((f) => f.name === 'To')!.raw).toBe('To: reader@example.com');
    }
  });

  it('never lets a recipient name add a header or a recipient', async () => {
    const template = buildMessageTemplate(input());
    const baseline = splitMessage(personalizeMessage(template, recipient()).raw).fields.map((f) => f.name);
    const hostile = [
      'Eve\r\nBcc: x@evil.test',
      'Eve\nBcc: x@evil.test',
      'Eve\rBcc: x@evil.test',
      'Eve\u2028Bcc: x@evil.test',
      'a, b <c@d.e>',
      '"quoted" <evil@evil.test>, other@evil.test',
      '=?utf-8?B?RXZlIDxldmlsQGV2aWwudGVzdD4=?=',
      'back\\slash "and" quotes',
      'semi; colon: group;',
      'Eve\u0000\u001b\u007f\u0085 null',
      `${'x'.repeat(300)}, y@evil.test`,
    ];
    for (const name of hostile) {
      const message = personalizeMessage(template, recipient({ name }));
      const names = splitMessage(message.raw).fields.map((f) => f.name);
      expect(names, JSON.stringify(name)).toEqual(baseline);
      expect(message.raw.toString('latin1')).not.toMatch(/^Bcc:/im);
      const parsed = await simpleParser(message.raw);
      expect(parsed.bcc).toBeUndefined();
      expect(parsed.cc).toBeUndefined();
      const to = addresses(parsed.to);
      expect(to, JSON.stringify(name)).toHaveLength(1);
      expect(to[0]!.address).toBe('reader@example.com');
      expect(message.envelope.to).toBe('reader@example.com');
    }
    // A name that looks like an encoded word is itself encoded, so it reads back literally.
    const literal = '=?utf-8?B?RXZlIDxldmlsQGV2aWwudGVzdD4=?=';
    const parsed = await simpleParser(personalizeMessage(template, recipient({ name: literal })).raw);
    expect(addresses(parsed.to)[0]!.name).toBe(literal);
    const commas = await simpleParser(personalizeMessage(template, recipient({ name: 'a, b <c@d.e>' })).raw);
    expect(addresses(commas.to)[0]!.name).toBe('a, b <c@d.e>');
  });

  it('refuses addresses and tokens that could break out of their place', () => {
    const template = buildMessageTemplate(input());
    const badAddresses = [
      'reader@example.com\r\nBcc: x@evil.test',
      'reader@example.com, x@evil.test',
      'Reader <reader@example.com>',
      'reader@example.com>',
      'a"b@example.com',
      'a(b)@example.com',
      'a;b@example.com',
      'a\\b@example.com',
      'reader example@example.com',
      'reader',
      'a@b@example.com',
      '@example.com',
      'reader@',
      'reader\u0000@example.com',
      'rëader@example.com',
      `${'a'.repeat(250)}@example.com`,
    ];
    for (const address of badAddresses) {
      expect(() => personalizeMessage(template, recipient({ email: address })), address).toThrow(
        expect.objectContaining({ code: 'E_RECIPIENT' }),
      );
    }
    for (const token of ['abc\r\nBcc: x@evil.test', 'a>b', 'a b', 'a"b', '', 'x'.repeat(257)]) {
      expect(() => personalizeMessage(template, recipient({ unsubscribeToken: token })), token).toThrow(LetterpressError);
    }
  });

  it('builds the same bytes for the same input, with a boundary found in no part', () => {
    const first = personalizeMessage(buildMessageTemplate(input()), recipient()).raw;
    const second = personalizeMessage(buildMessageTemplate(input()), recipient()).raw;
    expect(first.equals(second)).toBe(true);
    const message = personalizeMessage(buildMessageTemplate(input()), recipient());
    const boundary = /boundary="([^"]+)"/.exec(message.raw.toString('latin1'))![1]!;
    expect(boundary).toMatch(/^=_/);
    for (const part of bodyParts(message)) expect(part.content).not.toContain(boundary);
    // Different content, different boundary.
    const other = buildMessageTemplate(input({ email: { ...email, text: `${email.text}\nP.S.` } }));
    const otherBoundary = /boundary="([^"]+)"/.exec(personalizeMessage(other, recipient()).raw.toString('latin1'))![1];
    expect(otherBoundary).not.toBe(boundary);
  });

  it('encodes an ASCII subject and From name plainly, and quotes From names with specials', async () => {
    const template = buildMessageTemplate(
      input({
        subject: 'Weekly digest: issue 18',
        sender: { ...input().sender, fromName: 'Cloud Weekly, by Letterpress', replyTo: undefined, unsubscribeMailto: undefined },
      }),
    );
    const message = personalizeMessage(template, recipient());
    const { fields } = splitMessage(message.raw);
    expect(fields.find((f) => f.name === 'Subject')!.raw).toBe('Subject: Weekly digest: issue 18');
    expect(fields.find((f) => f.name === 'From')!.raw).toBe('From: "Cloud Weekly, by Letterpress" <newsletter@news.example.org>');
    expect(fields.find((f) => f.name === 'List-Unsubscribe')!.value).toBe(`<${unsubscribeUrl(recipient())}>`);
    expect(fields.some((f) => f.name === 'Reply-To')).toBe(false);
    const parsed = await simpleParser(message.raw);
    expect(addresses(parsed.from)[0]!.name).toBe('Cloud Weekly, by Letterpress');
  });

  it('refuses sender settings that cannot go into a header', () => {
    const sender = input().sender;
    const bad: Partial<MessageTemplateInput>[] = [
      { sender: { ...sender, fromAddress: 'news@example.org\r\nBcc: x@evil.test' } },
      { sender: { ...sender, envelopeFrom: 'not an address' } },
      { sender: { ...sender, listId: 'no-dot' } },
      { sender: { ...sender, listId: 'has space.example.org' } },
      { siteUrl: 'javascript:alert(1)' },
      { siteUrl: 'https://example.org/a"b' },
      { siteUrl: 'https://example.org/a b' },
    ];
    for (const overrides of bad) {
      expect(() => buildMessageTemplate(input(overrides)), JSON.stringify(overrides)).toThrow(
        expect.objectContaining({ code: 'E_CONFIG' }),
      );
    }
    expect(() => buildMessageTemplate(input({ issueSlug: 'a b' }))).toThrow(expect.objectContaining({ code: 'E_MESSAGE' }));
  });

  it('escapes the URL for HTML attributes when the site URL needs it', () => {
    const template = buildMessageTemplate(input({ siteUrl: 'https://example.org/news?lang=zh&x=1' }));
    const r = recipient();
    const [text, html] = bodyParts(personalizeMessage(template, r));
    const url = `https://example.org/news?lang=zh&x=1/unsubscribe?token=${r.unsubscribeToken}`;
    expect(decodeQuotedPrintable(text!.content)).toContain(url);
    expect(decodeQuotedPrintable(html!.content)).toContain(`href="${url.replace('&', '&amp;')}"`);
  });
});

describe('quoted-printable slots', () => {
  /** Renditions that put slots where encoding gets tricky: edges, neighbours, long lines, spaces, `=`. */
  const SLOT = EMAIL_SLOTS.unsubscribeUrl;
  const cases: Record<string, string> = {
    'slot only': SLOT,
    'slot at both ends': `${SLOT}middle${SLOT}`,
    'adjacent slots': `a${SLOT}${SLOT}b`,
    'slot on its own line': `line one\n${SLOT}\nline three\n`,
    'trailing space before slot': `Unsubscribe: ${SLOT} `,
    'tab and spaces around': `\t  ${SLOT}  \t\n  `,
    'equals signs': `a=b ${SLOT}=c==`,
    'long line before slot': `${'x'.repeat(74)}${SLOT}${'y'.repeat(300)}`,
    'long line of 75': `${'x'.repeat(75)}${SLOT}`,
    'long line of 76': `${'x'.repeat(76)}${SLOT}`,
    'multibyte before slot': `${'中'.repeat(40)}${SLOT}${'文'.repeat(40)}`,
    'CRLF and CR line endings': `a\r\nb\rc${SLOT}\r\n`,
    'no slot at all': 'plain text\nwith two lines\n',
    'dots and dashes at line start': `.\n--\n${SLOT}\n.`,
  };

  for (const [name, content] of Object.entries(cases)) {
    it(`round-trips: ${name}`, async () => {
      const template = buildMessageTemplate(
        input({ email: { subject: 's', preheader: '', text: content, html: `<p>${content}</p>` } }),
      );
      for (const r of [recipient({ subscriberId: 7 }), recipient({ subscriberId: 123456789 })]) {
        const message = personalizeMessage(template, r);
        const url = unsubscribeUrl(r);
        const [text, html] = bodyParts(message);
        expect(decodeQuotedPrintable(text!.content)).toBe(crlf(content.replaceAll(SLOT, url)));
        expect(decodeQuotedPrintable(html!.content)).toBe(crlf(`<p>${content}</p>`.replaceAll(SLOT, url)));
        for (const part of [text!, html!]) {
          for (const line of part.content.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
          // No whitespace may end a line: transports and DKIM canonicalization would strip it.
          expect(part.content).not.toMatch(/[ \t]\r\n/);
          expect(part.content).not.toMatch(/[ \t]$/);
        }
        const parsed = await simpleParser(message.raw);
        expect(parsed.text?.replace(/\r\n/g, '\n')).toBe(crlf(content.replaceAll(SLOT, url)).replace(/\r\n/g, '\n'));
      }
    });
  }
});

describe('messageIdFor', () => {
  it('is stable for one issue and subscriber, and distinct across them', () => {
    const hash = createHash('sha256').update('2024-18\n42').digest('hex').slice(0, 12);
    expect(messageIdFor('2024-18', 42, 'news.example.org')).toBe(`<2024-18.42.${hash}@news.example.org>`);
    expect(messageIdFor('2024-18', 42, 'news.example.org')).toBe(messageIdFor('2024-18', 42, 'news.example.org'));
    expect(messageIdFor('2024-18', 43, 'news.example.org')).not.toBe(messageIdFor('2024-18', 42, 'news.example.org'));
    expect(messageIdFor('2024-32', 42, 'news.example.org')).not.toBe(messageIdFor('2024-18', 42, 'news.example.org'));
  });

  it('is the same on a retry of the same delivery', () => {
    const template = buildMessageTemplate(input());
    const first = personalizeMessage(template, recipient({ subscriberId: 5 }));
    const retry = personalizeMessage(buildMessageTemplate(input({ date: new Date(DATE.getTime() + 3_600_000) })), recipient({ subscriberId: 5 }));
    expect(retry.messageId).toBe(first.messageId);
  });

  it('refuses parts that would break the header', () => {
    expect(() => messageIdFor('a b', 1, 'example.org')).toThrow(LetterpressError);
    expect(() => messageIdFor('2024-18', 1, 'example.org>\r\nBcc: x')).toThrow(LetterpressError);
  });
});

function dkimInput(): NonNullable<MessageTemplateInput['dkim']> {
  return { domainName: 'news.example.org', keySelector: 'lp2024', privateKey: privateKeyPem };
}

/** RFC 6376 §3.4.4 relaxed body canonicalization, written for the test. */
function relaxedBody(body: string): string {
  const lines = body.split('\r\n').map((line) => line.replace(/[ \t]+/g, ' ').replace(/ $/, ''));
  if (lines.at(-1) === '') lines.pop();
  while (lines.length > 0 && lines.at(-1) === '') lines.pop();
  return lines.length === 0 ? '' : `${lines.join('\r\n')}\r\n`;
}

/** RFC 6376 §3.4.2 relaxed header canonicalization of one field. */
function relaxedHeader(field: { name: string; raw: string }): string {
  const value = field.raw.slice(field.raw.indexOf(':') + 1).replace(/\r\n/g, '');
  return `${field.name.toLowerCase().trim()}:${value.replace(/[ \t]+/g, ' ').trim()}`;
}

/** Verifies the message's DKIM signature the way a receiver does (DNS replaced by the key). */
function verifyDkim(raw: Buffer, key: KeyObject): { bodyHashMatches: boolean; signatureValid: boolean; signed: string[] } {
  const { fields, body } = splitMessage(raw);
  const signatureFields = fields.filter((f) => f.name.toLowerCase() === 'dkim-signature');
  expect(signatureFields).toHaveLength(1);
  const dkim = signatureFields[0]!;
  const tags = new Map(
    dkim.value
      .split(';')
      .map((tag) => tag.trim())
      .filter(Boolean)
      .map((tag) => [tag.slice(0, tag.indexOf('=')).trim(), tag.slice(tag.indexOf('=') + 1).replace(/\s+/g, '')]),
  );
  expect(tags.get('v')).toBe('1');
  expect(tags.get('a')).toBe('rsa-sha256');
  expect(tags.get('c')).toBe('relaxed/relaxed');
  expect(tags.get('d')).toBe('news.example.org');
  expect(tags.get('s')).toBe('lp2024');

  const bodyHash = createHash('sha256').update(relaxedBody(body), 'latin1').digest('base64');
  const signed = tags.get('h')!.split(':');
  // Each name takes the bottom-most instance not used yet (RFC 6376 §5.4.2).
  const used = new Set<number>();
  const lines: string[] = [];
  for (const name of signed) {
    for (let i = fields.length - 1; i >= 0; i--) {
      if (!used.has(i) && fields[i]!.name.toLowerCase() === name) {
        used.add(i);
        lines.push(`${relaxedHeader(fields[i]!)}\r\n`);
        break;
      }
    }
  }
  const unsignedDkim = relaxedHeader({ name: dkim.name, raw: dkim.raw.replace(/\r\n/g, '').replace(/(;\s*b=)[^;]*$/, '$1') });
  const data = Buffer.from(lines.join('') + unsignedDkim, 'latin1');
  return {
    bodyHashMatches: bodyHash === tags.get('bh'),
    signatureValid: verifySignature('sha256', data, key, Buffer.from(tags.get('b')!, 'base64')),
    signed,
  };
}

describe('DKIM', () => {
  let template: MessageTemplate;
  beforeAll(() => {
    template = buildMessageTemplate(input({ dkim: dkimInput() }));
  });

  it('signs each recipient with a signature that verifies, covering both List-Unsubscribe headers', () => {
    for (const r of [
      recipient({ subscriberId: 1 }),
      recipient({ subscriberId: 2, name: '🎉 Party 派对', email: 'zhang@例子.测试' }),
      recipient({ subscriberId: 3, name: null }),
    ]) {
      const message = personalizeMessage(template, r);
      expect(message.raw.toString('latin1')).toMatch(/^DKIM-Signature: /);
      const result = verifyDkim(message.raw, publicKey);
      expect(result.bodyHashMatches).toBe(true);
      expect(result.signatureValid).toBe(true);
      expect(result.signed).toEqual([
        'from',
        'to',
        'reply-to',
        'subject',
        'date',
        'message-id',
        'mime-version',
        'content-type',
        'list-id',
        'list-unsubscribe',
        'list-unsubscribe-post',
      ]);
    }
    expect(DKIM_SIGNED_HEADERS.split(':')).toEqual(expect.arrayContaining(['List-Unsubscribe', 'List-Unsubscribe-Post']));
  });

  it('computes a per-recipient body hash (the unsubscribe URL is in the body)', () => {
    const bh = (m: OutgoingMessage) => /bh=([^;]+);/.exec(m.raw.toString('latin1'))![1];
    const a = personalizeMessage(template, recipient({ subscriberId: 1 }));
    const b = personalizeMessage(template, recipient({ subscriberId: 2 }));
    expect(bh(a)).not.toBe(bh(b));
  });

  it('fails verification when a signed header or the body is changed', () => {
    const message = personalizeMessage(template, recipient());
    const raw = message.raw.toString('latin1');
    const changedPost = Buffer.from(raw.replace('List-Unsubscribe=One-Click', 'List-Unsubscribe=Two-Click'), 'latin1');
    expect(verifyDkim(changedPost, publicKey).signatureValid).toBe(false);
    expect(raw).toContain('<reader@example.com>');
    const changedTo = Buffer.from(raw.replace('<reader@example.com>', '<reader@evil.test>'), 'latin1');
    expect(verifyDkim(changedTo, publicKey).signatureValid).toBe(false);
    const changedBody = Buffer.from(raw.replace('token=3Dv1.', 'token=3Dv2.'), 'latin1');
    expect(verifyDkim(changedBody, publicKey).bodyHashMatches).toBe(false);
  });

  it('refuses a private key it cannot use', () => {
    expect(() => buildMessageTemplate(input({ dkim: { ...dkimInput(), privateKey: 'not a key' } }))).toThrow(
      expect.objectContaining({ code: 'E_CONFIG' }),
    );
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => buildMessageTemplate(input({ dkim: { ...dkimInput(), privateKey: ec } }))).toThrow(
      expect.objectContaining({ code: 'E_CONFIG' }),
    );
  });
});

describe('transactional messages', () => {
  const confirmEmail = (): EmailRendition => ({
    subject: 'Confirm your subscription',
    preheader: 'One click',
    html: `<p><a href="${EMAIL_SLOTS.confirmUrl}">Confirm</a></p><p>${EMAIL_SLOTS.confirmUrl}</p>`,
    text: `Confirm:\n\n   ${EMAIL_SLOTS.confirmUrl}\n`,
  });
  const transactional = (overrides: Partial<MessageTemplateInput> = {}) =>
    input({
      kind: 'transactional',
      issueSlug: 'confirm',
      subject: 'Confirm your subscription',
      email: confirmEmail(),
      link: { path: '/confirm?token=', placeholder: EMAIL_SLOTS.confirmUrl },
      ...overrides,
    });
  const confirmRecipient = (token = 'v1.k1.confirm.42.1725177600.abc') =>
    recipient({ name: null, unsubscribeToken: token });

  it('carries no List-* header and links its own path in both parts', async () => {
    const message = personalizeMessage(buildMessageTemplate(transactional()), confirmRecipient());
    const raw = message.raw.toString('latin1');
    expect(raw).not.toMatch(/^List-/im);
    expect(raw).not.toContain('unsubscribe');
    const parsed = await simpleParser(message.raw);
    const url = `${SITE_URL}/confirm?token=v1.k1.confirm.42.1725177600.abc`;
    expect(parsed.text).toBe(`Confirm:\n\n   ${url}\n`);
    expect(parsed.html).toBe(`<p><a href="${url}">Confirm</a></p><p>${url}</p>`);
    expect(addresses(parsed.to)).toEqual([{ address: 'reader@example.com', name: '' }]);
  });

  it('gives each token its own Message-ID, distinct from the issue ids', () => {
    const template = buildMessageTemplate(transactional());
    const a = personalizeMessage(template, confirmRecipient('v1.k1.confirm.42.1.aaa'));
    const b = personalizeMessage(template, confirmRecipient('v1.k1.confirm.42.2.bbb'));
    expect(a.messageId).toMatch(/^<confirm\.42\.[0-9a-f]{12}@news\.example\.org>$/);
    expect(a.messageId).not.toBe(b.messageId);
    expect(a.messageId).not.toBe(messageIdFor('confirm', 42, 'news.example.org'));
    expect(a.issueSlug).toBe('confirm');
  });

  it('signs with DKIM without List-* headers', () => {
    const message = personalizeMessage(buildMessageTemplate(transactional({ dkim: dkimInput() })), confirmRecipient());
    const result = verifyDkim(message.raw, publicKey);
    expect(result.bodyHashMatches).toBe(true);
    expect(result.signatureValid).toBe(true);
  });

  it('refuses another link on a newsletter, and link paths that are not a query prefix', () => {
    expect(() => buildMessageTemplate(input({ link: { path: '/confirm?token=', placeholder: EMAIL_SLOTS.confirmUrl } }))).toThrow(
      expect.objectContaining({ code: 'E_MESSAGE' }),
    );
    for (const path of ['confirm?token=', '/confirm', '/a b?token=', '/x?token=\r\nBcc: x', '//evil.example/?t=']) {
      expect(() => buildMessageTemplate(transactional({ link: { path, placeholder: EMAIL_SLOTS.confirmUrl } })), path).toThrow(
        expect.objectContaining({ code: 'E_MESSAGE' }),
      );
    }
  });
});
