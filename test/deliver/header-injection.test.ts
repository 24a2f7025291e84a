import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleParser, type AddressObject } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Subscriber } from '../../src/store/types.ts';
import { listSubscribers, SLUG, subscriberCsv, TEST_SECRET, type SubscriberRow } from '../helpers/send-project.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { createTempProject, runCli } from '../helpers/temp-project.ts';

/**
 * DESIGN.md §4 "Personalization": whatever an operator imports or a subscriber types, a
 * recipient can never add a header or a recipient. Addresses that could are refused with a
 * reason; names are kept (sanitized) and always go out as an inert quoted string or MIME word.
 */

/** Addresses that must be refused, with (part of) the reason the operator sees. */
const BAD_ADDRESSES: { email: string; reason: RegExp }[] = [
  { email: 'victim@example.org\r\nBcc: attacker@evil.example', reason: /line break/ },
  { email: 'victim@example.org\nCc: attacker@evil.example', reason: /line break/ },
  { email: 'victim@example.org\rBcc: attacker@evil.example', reason: /line break/ },
  { email: 'victim@example.org\u2028Bcc: attacker@evil.example', reason: /line break/ },
  { email: 'victim@example.org\u0085Bcc: attacker@evil.example', reason: /line break/ },
  { email: 'a@example.org,b@evil.example', reason: /comma/ },
  { email: 'a@example.org;b@evil.example', reason: /semicolon/ },
  { email: 'Eve <eve@example.org>', reason: /angle bracket/ },
  { email: '<eve@example.org>', reason: /angle bracket/ },
  { email: '"quoted"@example.org', reason: /double quote/ },
  { email: 'eve@example.org (Eve)', reason: /parenthesis/ },
  { email: 'eve@[127.0.0.1]', reason: /square bracket/ },
  { email: 'eve@exa mple.org', reason: /space/ },
  { email: 'bcc:eve@example.org', reason: /colon/ },
  { email: 'eve\\@example.org', reason: /backslash/ },
  { email: 'eve@example.org\u200b', reason: /invisible/ },
  { email: 'eve@@example.org', reason: /more than one @/ },
  { email: '用户@example.org', reason: /non-ASCII/ },
  // Legal atext, but mail readers decode it and show another (or no) address.
  { email: '=?utf-8?B?YUBldmlsLmV4YW1wbGU=?=@example.org', reason: /encoded word/ },
];

/** Names that are accepted; each must come out as exactly the display name of one To address. */
const TRICKY_NAMES: SubscriberRow[] = [
  { email: 'crlf@example.org', name: 'Evil\r\nBcc: victim@evil.example' },
  { email: 'lf@example.org', name: 'Evil\nCc: victim@evil.example\nX-Injected: yes' },
  { email: 'cr@example.org', name: 'Evil\rTo: victim@evil.example' },
  { email: 'ls@example.org', name: 'Evil\u2028Bcc: victim@evil.example' },
  { email: 'comma@example.org', name: 'Smith, John' },
  { email: 'angle@example.org', name: '<admin@evil.example>' },
  { email: 'angle2@example.org', name: 'Admin <admin@evil.example>, victim@evil.example' },
  { email: 'quotes@example.org', name: 'He said "hi" \\ and left' },
  { email: 'quote-end@example.org', name: 'trailing backslash \\' },
  { email: 'encoded@example.org', name: '=?utf-8?B?QmNjOiB2aWN0aW1AZXZpbC5leGFtcGxl?=' },
  { email: 'encoded-q@example.org', name: '=?utf-8?Q?x=0D=0ABcc:_victim@evil.example?=' },
  { email: 'encoded-mixed@example.org', name: 'Hi =?ISO-8859-1?Q?a?= there' },
  { email: 'semicolon@example.org', name: 'group: a@evil.example, b@evil.example;' },
  { email: 'tab@example.org', name: 'Tab\there\tBcc: victim@evil.example' },
  { email: 'bidi@example.org', name: 'Bidi \u202Eelpmaxe.live@mitciv' },
  { email: 'long@example.org', name: `${'Long, name <x@evil.example> '.repeat(10)}end` },
  { email: 'cjk@example.org', name: '王芳\r\nBcc: victim@evil.example' },
];

/** Added with `subscribers add`: [address, --name], and the refusals. */
const ADDED: { email: string; name: string }[] = [
  { email: 'add-crlf@example.org', name: 'Mallory\r\nBcc: mallory@evil.example' },
  { email: 'add-comma@example.org', name: 'Doe, Jane <jane@evil.example>' },
];
const ADD_REFUSED: { email: string; reason: RegExp }[] = [
  { email: 'add@example.org\r\nBcc: mallory@evil.example', reason: /line break/ },
  { email: 'add@example.org, mallory@evil.example', reason: /comma/ },
  { email: 'nul\u0000@example.org', reason: /control character/ },
  { email: 'Mallory <add@example.org>', reason: /angle bracket/ },
];

let sink: SmtpSink;
let root: string;
let env: Record<string, string>;
let imported: { code: number; report: { added: number; invalid: { line: number; value: string; reason: string }[] } };
const addRuns: { email: string; code: number; stderr: string }[] = [];
let subscribers: Subscriber[];
let sendCode: number;

/** Header lines of a raw message, folded lines joined. */
function headerLines(raw: Buffer): string[] {
  const text = raw.toString('latin1');
  return text
    .slice(0, text.indexOf('\r\n\r\n'))
    .replace(/\r\n[ \t]/g, ' ')
    .split('\r\n');
}
const headerNames = (raw: Buffer) => headerLines(raw).map((line) => line.slice(0, line.indexOf(':')).toLowerCase());

beforeAll(async () => {
  sink = await startSmtpSink();
  env = { LETTERPRESS_SMTP_URL: sink.url, LETTERPRESS_SECRET: TEST_SECRET };
  root = await createTempProject({ allowLocalAddresses: true });
  const built = await runCli(['build'], root, env);
  if (built.code !== 0) throw new Error(built.stderr);

  const rows = [
    ...BAD_ADDRESSES.map(({ email }) => ({ email, name: 'Bad Address', status: 'active' })),
    ...TRICKY_NAMES.map((row) => ({ ...row, status: 'active' })),
  ];
  await writeFile(path.join(root, 'subscribers.csv'), subscriberCsv(rows));
  const run = await runCli(['subscribers', 'import', 'subscribers.csv', '--json'], root, env);
  imported = { code: run.code, report: JSON.parse(run.stdout) };

  for (const { email, name } of ADDED) {
    const result = await runCli(['subscribers', 'add', email, '--name', name], root, env);
    addRuns.push({ email, code: result.code, stderr: result.stderr });
  }
  for (const { email } of ADD_REFUSED) {
    const result = await runCli(['subscribers', 'add', email, '--name', 'x'], root, env);
    addRuns.push({ email, code: result.code, stderr: result.stderr });
  }
  subscribers = await listSubscribers(root, env);
  sendCode = (await runCli(['send', SLUG], root, env)).code;
}, 60_000);

afterAll(async () => {
  await sink?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('import and add refuse addresses that could add a header or recipient', () => {
  it('import reports every bad address with its line and reason, and exits 1', () => {
    expect(imported.code).toBe(1);
    expect(imported.report.added).toBe(TRICKY_NAMES.length);
    expect(imported.report.invalid).toHaveLength(BAD_ADDRESSES.length);
    BAD_ADDRESSES.forEach(({ email, reason }, i) => {
      const entry = imported.report.invalid[i]!;
      expect(entry.value, email).toBe(email);
      expect(entry.reason, JSON.stringify(email)).toMatch(reason);
    });
    // Lines are physical lines: the quoted line breaks in earlier rows push later rows down.
    expect(imported.report.invalid[0]!.line).toBe(2);
    expect(imported.report.invalid[1]!.line).toBe(4);
  });

  it('add refuses bad addresses with the reason and accepts tricky names', () => {
    for (const { email } of ADDED) expect(addRuns.find((run) => run.email === email)!.code, email).toBe(0);
    for (const { email, reason } of ADD_REFUSED) {
      const run = addRuns.find((r) => r.email === email)!;
      expect(run.code, JSON.stringify(email)).not.toBe(0);
      expect(run.stderr, JSON.stringify(email)).toMatch(reason);
      expect(run.stderr).toContain('[E_EMAIL]');
    }
  });

  it('stores names without line breaks or control characters, and nothing from a refused row', () => {
    expect(subscribers).toHaveLength(TRICKY_NAMES.length + ADDED.length);
    for (const subscriber of subscribers) {
      expect(subscriber.name ?? '', subscriber.email).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/);
      expect(subscriber.email).not.toMatch(/evil/);
    }
    expect(subscribers.find((s) => s.email === 'crlf@example.org')!.name).toBe('Evil Bcc: victim@evil.example');
    expect(subscribers.find((s) => s.email === 'long@example.org')!.name!.length).toBeLessThanOrEqual(100);
  });
});

describe('messages to subscribers with hostile names', () => {
  it('the send succeeds: one message per subscriber, one envelope recipient each', () => {
    expect(sendCode).toBe(0);
    expect(sink.messages).toHaveLength(subscribers.length);
    for (const message of sink.messages) expect(message.rcpt).toHaveLength(1);
    expect(sink.messages.map((m) => m.rcpt[0]).sort()).toEqual(subscribers.map((s) => s.email).sort());
    // On the wire too: one RCPT TO per message, never an address from a name.
    const rcptLines = sink.commands.filter((line) => /^RCPT TO:/i.test(line));
    expect(rcptLines).toHaveLength(subscribers.length);
    expect(rcptLines.join('\n')).not.toMatch(/evil/);
  });

  it('every message has the same header fields, exactly one To, and no Cc, Bcc or injected header', () => {
    const expected = headerNames(sink.messages[0]!.raw).sort();
    expect(expected.filter((name) => name === 'to')).toHaveLength(1);
    for (const name of ['cc', 'bcc', 'x-injected', 'resent-to']) expect(expected).not.toContain(name);
    for (const message of sink.messages) {
      expect(headerNames(message.raw).sort(), message.rcpt[0]).toEqual(expected);
    }
  });

  it('has no bare CR or LF anywhere and an ASCII header section', () => {
    for (const message of sink.messages) {
      const text = message.raw.toString('latin1');
      expect(text, message.rcpt[0]).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
      const header = text.slice(0, text.indexOf('\r\n\r\n'));
      expect(header, message.rcpt[0]).toMatch(/^[\x20-\x7e\r\n\t]*$/);
      for (const line of header.split('\r\n')) expect(line.length).toBeLessThanOrEqual(998);
    }
  });

  it('parses to exactly one To address: the subscriber, with the stored name as its display name', async () => {
    const byEmail = new Map(subscribers.map((s) => [s.email, s]));
    for (const message of sink.messages) {
      const mail = await simpleParser(message.raw);
      const subscriber = byEmail.get(message.rcpt[0]!)!;
      expect(mail.headers.has('cc')).toBe(false);
      expect(mail.headers.has('bcc')).toBe(false);
      const to = (mail.to as AddressObject).value;
      expect(to, message.rcpt[0]).toHaveLength(1);
      expect(to[0]!.name, JSON.stringify(subscriber.name)).toBe(subscriber.name ?? '');
      expect(to[0]!.group).toBeUndefined();
      expect(to[0]!.address).toBe(subscriber.email);
    }
  });
});
