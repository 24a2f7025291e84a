import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type LoadedConfig } from '../../src/config/load-config.ts';
import { loadKeyring } from '../../src/deliver/keyring.ts';
import { createOutboxTransport } from '../../src/deliver/outbox-transport.ts';
import { createSmtpTransport } from '../../src/deliver/smtp-transport.ts';
import { createSubscriptionMailer, newestPublishedIssue } from '../../src/deliver/subscription-mailer.ts';
import { CONFIRM_TOKEN_TTL_MS, verifyToken, type Keyring } from '../../src/deliver/tokens.ts';
import type { OutgoingMessage, Transport } from '../../src/deliver/types.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { IssueRecord, Store, Subscriber } from '../../src/store/types.ts';
import { TEST_SECRET } from '../helpers/send-project.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { createTempProject, runCli } from '../helpers/temp-project.ts';

const SITE_URL = 'https://news.example.org';
const ENV = { LETTERPRESS_SECRET: TEST_SECRET, LETTERPRESS_SITE_URL: SITE_URL };
/** A name no message may ever carry: whoever fills in the form chooses it. */
const HOSTILE_NAME = 'Zed<script>alert(1)</script>';

let root: string;
let loaded: LoadedConfig;
let store: Store;
let keyring: Keyring;
let now = new Date('2024-09-01T08:00:00Z');
const clock = { now: () => now };
const sinks: SmtpSink[] = [];

beforeAll(async () => {
  root = await createTempProject();
  // The first build records the sample issues as the backlog (archived).
  const built = await runCli(['build'], root, ENV);
  expect(built.code, built.stderr).toBe(0);
  loaded = await loadConfig({ root, env: ENV });
  store = await openStore({ url: loaded.config.store.url, root });
  keyring = await loadKeyring({ envSecret: TEST_SECRET, store, now });
});
afterEach(async () => {
  while (sinks.length) await sinks.pop()!.close();
});
afterAll(async () => {
  await store?.close();
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
async function pendingSubscriber(email = `zed-${++counter}@example.org`): Promise<Subscriber> {
  const result = await store.upsertSubscriber({ email, name: HOSTILE_NAME, status: 'pending', source: 'form' });
  expect(result.subscriber?.name).toBe(HOSTILE_NAME);
  return result.subscriber!;
}

/** A transport that keeps what it is given (the unit under test is the mailer, not a transport). */
function recordingTransport(into: OutgoingMessage[], inner: Transport): Transport {
  return { ...inner, send: (message) => (into.push(message), inner.send(message)) };
}

const addressesOf = (field: AddressObject | AddressObject[] | undefined) =>
  (Array.isArray(field) ? field : field ? [field] : []).flatMap((entry) => entry.value);

function expectNoListHeaders(parsed: ParsedMail, raw: Buffer) {
  expect(raw.toString('latin1')).not.toMatch(/^List-/im);
  expect([...parsed.headers.keys()].filter((key) => key.startsWith('list-'))).toEqual([]);
}

function confirmTokenOf(parsed: ParsedMail): string {
  const match = /https:\/\/news\.example\.org\/confirm\?token=([A-Za-z0-9._~-]+)/.exec(parsed.text ?? '');
  expect(match, parsed.text).not.toBeNull();
  return match![1]!;
}

describe('sendConfirmation', () => {
  it('writes one confirmation to the outbox: the address only, no List-* headers, a 7-day confirm token', async () => {
    const subscriber = await pendingSubscriber();
    const outbox = path.join(root, 'data', 'outbox-confirm');
    const mailer = createSubscriptionMailer({ loaded, keyring, clock, store, transport: createOutboxTransport({ dir: outbox }) });
    const outcome = await mailer.sendConfirmation(subscriber);
    expect(outcome.status).toBe('sent');

    const files = await readdir(path.join(outbox, 'confirm'));
    expect(files).toHaveLength(1);
    const raw = await readFile(path.join(outbox, 'confirm', files[0]!));
    // Nothing the visitor typed as a name, in any encoding: raw bytes, decoded parts, headers.
    for (const needle of ['Zed', '<script', '=3Cscript', 'alert(']) expect(raw.toString('latin1')).not.toContain(needle);
    const parsed = await simpleParser(raw);
    for (const part of [parsed.text ?? '', parsed.html || '', parsed.subject ?? '']) expect(part).not.toMatch(/Zed|<script/);

    const to = addressesOf(parsed.to);
    expect(to).toEqual([{ address: subscriber.email, name: '' }]);
    expect(raw.toString('latin1')).toMatch(new RegExp(`^To: ${subscriber.email.replace('.', '\\.')}\\r$`, 'm'));
    expect(parsed.cc).toBeUndefined();
    expect(parsed.bcc).toBeUndefined();
    expectNoListHeaders(parsed, raw);
    expect(parsed.subject).toBe('请确认订阅「云计算技术动态」');
    expect(parsed.from?.value[0]?.address).toBe(loaded.config.sender.fromAddress);
    expect(parsed.date?.toISOString()).toBe(now.toISOString());
    expect(parsed.messageId).toMatch(new RegExp(`^<confirm\\.${subscriber.id}\\.[0-9a-f]{12}@`));

    const token = confirmTokenOf(parsed);
    expect(parsed.html).toContain(`href="${SITE_URL}/confirm?token=${token}"`);
    const verified = verifyToken(keyring, token, { purpose: 'confirm', now });
    expect(verified).toEqual({ ok: true, subscriberId: subscriber.id, expiresAt: new Date(now.getTime() + CONFIRM_TOKEN_TTL_MS) });
    expect(verifyToken(keyring, token, { purpose: 'unsub', now })).toEqual({ ok: false, reason: 'wrong-purpose' });
    expect(verifyToken(keyring, token, { purpose: 'confirm', now: new Date(now.getTime() + CONFIRM_TOKEN_TTL_MS) })).toEqual({
      ok: false,
      reason: 'expired',
    });
  });

  it('goes through SMTP with one recipient, and each send is a new message with its own token', async () => {
    const sink = await startSmtpSink();
    sinks.push(sink);
    const sent: OutgoingMessage[] = [];
    const smtp = createSmtpTransport({
      host: '127.0.0.1',
      port: sink.port,
      secure: false,
      requireTLS: false,
      tlsRejectUnauthorized: true,
      maxConnections: 1,
      maxMessages: 0,
      rateLimit: 0,
      timeouts: { connectionMs: 5000, greetingMs: 5000, socketMs: 5000 },
    });
    const mailer = createSubscriptionMailer({ loaded, keyring, clock, store, transport: recordingTransport(sent, smtp) });
    const first = await pendingSubscriber();
    const second = await pendingSubscriber();
    try {
      expect((await mailer.sendConfirmation(first)).status).toBe('sent');
      expect((await mailer.sendConfirmation(second)).status).toBe('sent');
      now = new Date(now.getTime() + 11 * 60_000);
      expect((await mailer.sendConfirmation(first)).status).toBe('sent');
    } finally {
      await smtp.close();
    }

    expect(sink.messages.map((message) => message.rcpt)).toEqual([[first.email], [second.email], [first.email]]);
    const parsed = await Promise.all(sink.messages.map((message) => simpleParser(message.raw)));
    parsed.forEach((mail, index) => {
      expect(addressesOf(mail.to).map((entry) => entry.address)).toEqual([sink.messages[index]!.rcpt[0]]);
      expectNoListHeaders(mail, sink.messages[index]!.raw);
      expect(sink.messages[index]!.raw.toString('latin1')).not.toContain('Zed');
    });
    const tokens = parsed.map(confirmTokenOf);
    expect(verifyToken(keyring, tokens[1]!, { purpose: 'confirm', now })).toMatchObject({ ok: true, subscriberId: second.id });
    // The resend after the cool-down: a fresh token, a fresh Message-ID, a current Date header.
    expect(tokens[2]).not.toBe(tokens[0]);
    expect(parsed[2]!.messageId).not.toBe(parsed[0]!.messageId);
    expect(parsed[2]!.date?.toISOString()).toBe(now.toISOString());
    expect(new Set(parsed.map((mail) => mail.messageId)).size).toBe(3);
    // Built once: the two first messages share every fixed piece; only the small slots differ.
    const [a, b] = [sent[0]!.parts, sent[1]!.parts];
    expect(a).toHaveLength(b.length);
    const differing = a.filter((part, i) => part !== b[i]);
    expect(a.length - differing.length).toBeGreaterThan(differing.length);
    for (const part of differing) expect(part.length).toBeLessThan(300);
  });
});

describe('rendering once', () => {
  it('renders the confirmation email once per mailer, not once per message', async () => {
    const sent: OutgoingMessage[] = [];
    const transport = recordingTransport(sent, createOutboxTransport({ dir: path.join(root, 'data', 'outbox-once') }));
    const mailer = createSubscriptionMailer({ loaded, keyring, clock, store, transport });
    await mailer.sendConfirmation(await pendingSubscriber());
    const template = path.join(root, 'templates', 'email', 'confirm.txt.hbs');
    const original = await readFile(template, 'utf8');
    try {
      await writeFile(template, `${original}Changed after the first render\n`);
      await mailer.sendConfirmation(await pendingSubscriber());
      // A new mailer (a new process) reads the templates again.
      await createSubscriptionMailer({ loaded, keyring, clock, store, transport }).sendConfirmation(await pendingSubscriber());
    } finally {
      await writeFile(template, original);
    }
    const texts = await Promise.all(sent.map(async (message) => (await simpleParser(message.raw)).text ?? ''));
    expect(texts.map((text) => text.includes('Changed after the first render'))).toEqual([false, false, true]);
  });
});

describe('sendWelcome', () => {
  it('sends the newest published issue with the subscriber own unsubscribe link, outside the ledger', async () => {
    const subscriber = await pendingSubscriber();
    await store.setSubscriberStatus(subscriber.id, 'active', now.toISOString());
    const active = (await store.getSubscriber(subscriber.id))!;
    const sent: OutgoingMessage[] = [];
    const outbox = path.join(root, 'data', 'outbox-welcome');
    const mailer = createSubscriptionMailer({
      loaded,
      keyring,
      clock,
      store,
      transport: recordingTransport(sent, createOutboxTransport({ dir: outbox })),
    });
    const newest = newestPublishedIssue(await store.listIssues())!;
    expect(newest.slug).toBe('2024-32');

    const outcome = await mailer.sendWelcome(active);
    expect(outcome?.status).toBe('sent');
    expect(sent).toHaveLength(1);
    const parsed = await simpleParser(sent[0]!.raw);
    expect(parsed.subject).toBe(newest.title);
    expect(addressesOf(parsed.to).map((entry) => entry.address)).toEqual([active.email]);
    expect(parsed.messageId).toMatch(new RegExp(`^<2024-32\\.${active.id}\\.`));
    const header = /^List-Unsubscribe: <([^>]+)>/m.exec(sent[0]!.raw.toString('latin1'))?.[1] ?? '';
    const token = /^https:\/\/news\.example\.org\/unsubscribe\?token=([A-Za-z0-9._~-]+)$/.exec(header)?.[1];
    expect(token).toBeDefined();
    expect(verifyToken(keyring, token!, { purpose: 'unsub', now })).toEqual({ ok: true, subscriberId: active.id });
    expect(parsed.text).toContain(`${SITE_URL}/unsubscribe?token=${token}`);
    // Outside the delivery ledger: no row was planned for the welcome.
    expect((await store.countDeliveries('2024-32')).sent).toBe(0);
    expect(await readdir(path.join(outbox, '2024-32'))).toHaveLength(1);
  });

  it('resolves undefined when nothing is published yet', async () => {
    const mailer = createSubscriptionMailer({
      loaded,
      keyring,
      clock,
      store: { listIssues: async () => [] },
      transport: createOutboxTransport({ dir: path.join(root, 'data', 'outbox-none') }),
    });
    expect(await mailer.sendWelcome(await pendingSubscriber())).toBeUndefined();
  });
});

describe('newestPublishedIssue', () => {
  const record = (slug: string, state: IssueRecord['state'], publishedAt: string | null, firstSeenAt = '2024-01-01T00:00:00Z'): IssueRecord => ({
    slug,
    title: slug,
    contentHash: slug,
    sourceFile: `issues/${slug}.md`,
    state,
    firstSeenAt,
    publishedAt,
    updatedAt: firstSeenAt,
    feedId: slug,
  });

  it('skips drafts and scheduled issues and prefers the latest publication', () => {
    expect(
      newestPublishedIssue([
        record('old', 'sent', '2024-01-01T00:00:00Z'),
        record('draft', 'draft', '2024-06-01T00:00:00Z'),
        record('later', 'scheduled', '2024-07-01T00:00:00Z'),
        record('new', 'archived', '2024-05-01T00:00:00Z'),
        record('mid', 'published', '2024-03-01T00:00:00Z'),
      ])?.slug,
    ).toBe('new');
    expect(newestPublishedIssue([record('draft', 'draft', null)])).toBeUndefined();
    // A backlog recorded at one instant: first seen, then slug.
    expect(
      newestPublishedIssue([
        record('b', 'archived', '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z'),
        record('c', 'archived', '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z'),
        record('a', 'archived', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z'),
      ])?.slug,
    ).toBe('c');
  });
});
