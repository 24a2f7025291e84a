import { rm } from 'node:fs/promises';
import { domainToASCII } from 'node:url';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKeyring } from '../../src/deliver/keyring.ts';
import { verifyToken, type Keyring } from '../../src/deliver/tokens.ts';
import type { Subscriber } from '../../src/store/types.ts';
import { activeRows, createSendProject, issueStatus, listSubscribers, SLUG, TEST_SECRET, withStore, type SubscriberRow } from '../helpers/send-project.ts';
import { startSmtpSink, type ReceivedMessage, type SmtpSink } from '../helpers/smtp-sink.ts';
import { runCli } from '../helpers/temp-project.ts';

/**
 * 500 active subscribers through a real SMTP server (smtp-server on loopback): one message
 * each, none to anyone else, and every message carries the headers and signed unsubscribe
 * links of DESIGN.md §4 "Every message".
 */

const ACTIVE = 500;
/** Active subscribers whose name or domain exercise header encoding and IDN. */
const SPECIAL: SubscriberRow[] = [
  { email: 'wang.fang@example.org', name: '王芳', status: 'active' },
  { email: 'li.lei@example.org', name: '李雷（技术部）', status: 'active' },
  { email: 'emoji@example.org', name: 'Zoë 🎉 Party 🚀', status: 'active' },
  { email: 'mixed@example.org', name: 'Ann 安 O\'Brien', status: 'active' },
  { email: 'user@例子.中国', name: '用户', status: 'active' },
  { email: 'hans@bücher.example', name: 'Hans Müller', status: 'active' },
  { email: 'UPPER@Example.ORG', name: 'Shouty Reader', status: 'active' },
  { email: 'noname@example.org', status: 'active' },
];
const PENDING = activeRows(25, 'pending').map((row) => ({ ...row, status: 'pending' }));
const UNSUBSCRIBED = activeRows(25, 'gone').map((row) => ({ ...row, status: 'unsubscribed' }));
const ROWS: SubscriberRow[] = [...SPECIAL, ...activeRows(ACTIVE - SPECIAL.length), ...PENDING, ...UNSUBSCRIBED];

/** The address as it must appear in the SMTP envelope: IDN domains in punycode. */
function asciiAddress(email: string): string {
  const at = email.lastIndexOf('@');
  return `${email.slice(0, at)}@${domainToASCII(email.slice(at + 1))}`;
}

/** The header section of a raw message, folded lines joined. */
function headerLines(raw: Buffer): string[] {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  return text
    .slice(0, end)
    .replace(/\r\n[ \t]/g, ' ')
    .split('\r\n');
}

const TOKEN_IN_URL = /\/unsubscribe\?token=([A-Za-z0-9._~-]+)/g;
const tokensIn = (text: string) => [...text.matchAll(TOKEN_IN_URL)].map((match) => match[1]!);

let sink: SmtpSink;
let root: string;
let env: Record<string, string>;
let sendRun: { code: number; stdout: string; stderr: string };
let subscribers: Subscriber[];
let parsed: { message: ReceivedMessage; mail: ParsedMail }[];
let keyring: Keyring;
let title: string;
let startedAt: number;

beforeAll(async () => {
  sink = await startSmtpSink();
  env = { LETTERPRESS_SMTP_URL: sink.url, LETTERPRESS_SECRET: TEST_SECRET, LETTERPRESS_SMTP_POOL_MAXCONNECTIONS: '5' };
  root = await createSendProject(ROWS, env);
  subscribers = await listSubscribers(root, env);
  startedAt = Date.now();
  sendRun = await runCli(['send', SLUG], root, env);
  parsed = await Promise.all(sink.messages.map(async (message) => ({ message, mail: await simpleParser(message.raw) })));
  keyring = await withStore(root, (store) => loadKeyring({ envSecret: TEST_SECRET, store, now: new Date() }));
  title = (await issueStatus(root, SLUG, env) as unknown as { title: string }).title;
}, 60_000);

afterAll(async () => {
  await sink?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe(`send ${SLUG} to ${ACTIVE} subscribers over SMTP`, () => {
  it('imports the list as given', () => {
    expect(subscribers).toHaveLength(ROWS.length);
    expect(subscribers.filter((s) => s.status === 'active')).toHaveLength(ACTIVE);
    expect(subscribers.find((s) => s.email.endsWith('@例子.中国'))?.email).toBe('user@例子.中国');
  });

  it('exits 0 and reports the sent messages', () => {
    expect(sendRun.code, sendRun.stderr).toBe(0);
    expect(sendRun.stdout).toContain('500');
  });

  it('sends exactly one message to every active subscriber and none to anyone else', () => {
    expect(sink.messages).toHaveLength(ACTIVE);
    for (const message of sink.messages) expect(message.rcpt).toHaveLength(1);
    // smtp-server reports IDN domains decoded to Unicode, as the store keeps them.
    const received = sink.messages.map((message) => message.rcpt[0]!).sort();
    const expected = subscribers
      .filter((s) => s.status === 'active')
      .map((s) => s.email)
      .sort();
    expect(received).toEqual(expected);
    for (const s of subscribers.filter((x) => x.status !== 'active')) expect(received).not.toContain(s.email);
    // The envelope sender is the configured one for every message.
    expect(new Set(sink.messages.map((m) => m.mailFrom))).toEqual(new Set(['newsletter@localhost']));
  });

  it('sends the envelope in ASCII: IDN domains as punycode, one RCPT TO per message', () => {
    const rcptLines = sink.commands.filter((line) => /^RCPT TO:/i.test(line));
    expect(rcptLines).toHaveLength(ACTIVE);
    for (const line of sink.commands) expect(line).toMatch(/^[\x20-\x7e]+$/);
    expect(rcptLines).toContain('RCPT TO:<user@xn--fsqu00a.xn--fiqs8s>');
    expect(rcptLines).toContain('RCPT TO:<hans@xn--bcher-kva.example>');
  });

  it('puts text/plain before text/html in the raw bytes', () => {
    for (const { message } of parsed) {
      const raw = message.raw.toString('latin1');
      const plain = raw.indexOf('Content-Type: text/plain');
      const html = raw.indexOf('Content-Type: text/html');
      expect(plain).toBeGreaterThan(0);
      expect(html).toBeGreaterThan(plain);
      expect(raw).toMatch(/^Content-Type: multipart\/alternative;/m);
    }
  });

  it('has From, To with the display name, Date, Subject, a unique derived Message-ID and List-Id', () => {
    const byAddress = new Map(subscribers.map((s) => [s.email, s]));
    const ids = new Set<string>();
    for (const { message, mail } of parsed) {
      const subscriber = byAddress.get(message.rcpt[0]!)!;
      expect(subscriber).toBeDefined();

      const from = mail.from!.value;
      expect(from).toHaveLength(1);
      expect(from[0]!.address).toBe('newsletter@localhost');
      expect(from[0]!.name).toBe('云计算技术动态');

      const to = (mail.to as AddressObject).value;
      expect(to).toHaveLength(1);
      expect(asciiAddress(to[0]!.address ?? '')).toBe(asciiAddress(message.rcpt[0]!));
      expect(to[0]!.name).toBe(subscriber.name ?? '');

      expect(mail.subject).toBe(title);
      expect(mail.date).toBeInstanceOf(Date);
      expect(Math.abs(mail.date!.getTime() - startedAt)).toBeLessThan(120_000);

      const match = /^<2024-18\.(\d+)\.([0-9a-f]{12})@localhost>$/.exec(mail.messageId ?? '');
      expect(match, mail.messageId).not.toBeNull();
      expect(Number(match![1])).toBe(subscriber.id);
      ids.add(mail.messageId!);

      const lines = headerLines(message.raw);
      expect(lines.find((line) => /^List-Id:/i.test(line))).toMatch(/^List-Id: .*<newsletter\.localhost>$/);
      for (const name of ['From', 'To', 'Date', 'Subject', 'Message-ID', 'List-Id', 'MIME-Version']) {
        expect(lines.filter((line) => line.toLowerCase().startsWith(`${name.toLowerCase()}:`)), name).toHaveLength(1);
      }
      expect(lines.some((line) => /^(bcc|cc):/i.test(line))).toBe(false);
    }
    expect(ids.size).toBe(ACTIVE);
  });

  it('names the recipient correctly for non-ASCII names and IDN domains', () => {
    const byRcpt = new Map(parsed.map(({ message, mail }) => [message.rcpt[0]!, mail]));
    const toOf = (rcpt: string) => (byRcpt.get(rcpt)!.to as AddressObject).value[0]!;
    expect(toOf('wang.fang@example.org').name).toBe('王芳');
    expect(toOf('emoji@example.org').name).toBe('Zoë 🎉 Party 🚀');
    expect(toOf('mixed@example.org').name).toBe("Ann 安 O'Brien");
    expect(toOf('user@例子.中国').name).toBe('用户');
    expect(toOf('hans@bücher.example').name).toBe('Hans Müller');
    expect(toOf('noname@example.org').name).toBe('');
    // The To header is ASCII (encoded words, punycode), whatever the name.
    const raw = parsed.find(({ message }) => message.rcpt[0] === 'user@例子.中国')!.message.raw;
    const toLine = headerLines(raw).find((line) => /^To:/i.test(line))!;
    expect(toLine).toMatch(/^[\x20-\x7e]+$/);
    expect(toLine).toContain('<user@xn--fsqu00a.xn--fiqs8s>');
  });

  it('has exactly one List-Unsubscribe (http URL with a token) and the One-Click List-Unsubscribe-Post', () => {
    for (const { message } of parsed) {
      const lines = headerLines(message.raw);
      const unsubscribe = lines.filter((line) => /^List-Unsubscribe:/i.test(line));
      expect(unsubscribe).toHaveLength(1);
      expect(unsubscribe[0]).toMatch(/^List-Unsubscribe: <https?:\/\/[^>\s]+\/unsubscribe\?token=[A-Za-z0-9._~-]+>$/);
      const post = lines.filter((line) => /^List-Unsubscribe-Post:/i.test(line));
      expect(post).toEqual(['List-Unsubscribe-Post: List-Unsubscribe=One-Click']);
    }
  });

  it('signs every unsubscribe token (header, text and html) for the subscriber who received it', () => {
    const byAddress = new Map(subscribers.map((s) => [s.email, s.id]));
    const now = new Date();
    for (const { message, mail } of parsed) {
      const subscriberId = byAddress.get(message.rcpt[0]!)!;
      const header = headerLines(message.raw).find((line) => /^List-Unsubscribe:/i.test(line))!;
      const inHeader = tokensIn(header);
      const inText = tokensIn(mail.text ?? '');
      // Attribute-escaped in the HTML source, so & would be &amp;; tokens themselves never need escaping.
      const inHtml = tokensIn(typeof mail.html === 'string' ? mail.html : '');
      expect(inHeader).toHaveLength(1);
      expect(inText.length).toBeGreaterThan(0);
      expect(inHtml.length).toBeGreaterThan(0);
      for (const token of [...inHeader, ...inText, ...inHtml]) {
        const verified = verifyToken(keyring, token, { purpose: 'unsub', now });
        expect(verified, `${message.rcpt[0]}: ${token}`).toEqual({ ok: true, subscriberId });
      }
    }
  });

  it('status --json shows 500 sent and the issue sent', async () => {
    const status = await issueStatus(root, SLUG, env);
    expect(status.state).toBe('sent');
    expect(status.counts).toEqual({ queued: 0, sending: 0, sent: ACTIVE, deferred: 0, failed: 0, bounced: 0, skipped: 0 });
  });

  it('a second send sends nothing more', async () => {
    const before = sink.messages.length;
    const again = await runCli(['send', SLUG], root, env);
    expect(again.code, again.stderr).toBe(0);
    expect(sink.messages.length).toBe(before);
    const all = await runCli(['send'], root, env);
    expect(all.code, all.stderr).toBe(0);
    expect(sink.messages.length).toBe(before);
    expect((await issueStatus(root, SLUG, env)).counts.sent).toBe(ACTIVE);
  });
});
