import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/cli/app.ts';
import { createOutgoingMailSender } from '../../src/deliver/outgoing-mail-sender.ts';
import { createSubscriptionMailer } from '../../src/deliver/subscription-mailer.ts';
import type { OutgoingMessage, SendOutcome, Transport } from '../../src/deliver/types.ts';
import { createServer } from '../../src/server/create-server.ts';
import type { FastifyInstance } from 'fastify';
import { waitForMailQueue } from '../helpers/mail-queue.ts';
import { createTempProject } from '../helpers/temp-project.ts';
import { createTestClock, FORM, form, SECRET, startServer, type ServerFixture } from './server-fixture.ts';

const ENV = { LETTERPRESS_SECRET: SECRET, LETTERPRESS_SERVER_LIMITS_PERIPPERMINUTE: '100000' };

/** A transport whose relay takes every message and never answers. */
function silentTransport(): Transport & { messages: OutgoingMessage[] } {
  const messages: OutgoingMessage[] = [];
  return {
    description: 'a relay that never answers',
    concurrency: 1,
    messages,
    send: (message) => {
      messages.push(message);
      return new Promise<SendOutcome>(() => {});
    },
    close: async () => {},
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function project(env: Record<string, string> = {}): Promise<{ root: string; app: App }> {
  const root = await createTempProject();
  const app = await createApp({ root, env: { ...ENV, ...env }, clock: createTestClock() });
  await app.build();
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  return { root, app };
}

const post = (server: FastifyInstance, email: string, headers: Record<string, string> = {}) =>
  server.inject({ method: 'POST', url: '/subscribe', headers: { ...FORM, ...headers }, payload: form({ email }) });

/** One address in each state the store can hold, the new one not yet on file. */
async function addressesInEveryState(app: App): Promise<Record<string, string>> {
  const store = await app.store();
  await store.upsertSubscriber({ email: 'pending@example.org', status: 'pending', source: 'form' });
  await store.upsertSubscriber({ email: 'active@example.org', status: 'active', source: 'add' });
  await store.upsertSubscriber({ email: 'gone@example.org', status: 'unsubscribed', source: 'add' });
  await store.upsertSubscriber({ email: 'bounced@example.org', status: 'bounced', source: 'add' });
  await store.upsertSubscriber({ email: 'erased@example.org', status: 'active', source: 'add' });
  await store.eraseSubscriber('erased@example.org');
  return {
    new: 'new@example.org',
    pending: 'pending@example.org',
    active: 'active@example.org',
    unsubscribed: 'gone@example.org',
    bounced: 'bounced@example.org',
    erased: 'erased@example.org',
  };
}

describe('answer first, mail later', () => {
  it('returns for new, pending, active, unsubscribed, bounced and erased addresses alike while the relay never answers', async () => {
    const { app } = await project({ LETTERPRESS_SERVER_SHUTDOWNTIMEOUTSECONDS: '0.2' });
    cleanups.push(() => app.close());
    const store = await app.store();
    const keyring = await app.keyring();
    const addresses = await addressesInEveryState(app);
    const transport = silentTransport();
    const mailer = createSubscriptionMailer({ loaded: app.loaded, keyring, transport, clock: app.clock, store });
    // The handler must not touch the transport at all: a sender that only runs when told shows it.
    const sender = createOutgoingMailSender({
      store,
      mailer,
      clock: app.clock,
      log: { info() {}, warn() {}, error() {} },
      policy: { retryBaseMs: 1000, retryMaxMs: 1000, maxAttempts: 3, leaseMs: 60_000, pollMs: 60_000 },
    });
    const server = await createServer({ loaded: app.loaded, store, keyring, clock: app.clock, mailer, mailQueue: sender });
    cleanups.push(() => server.close());
    const answers = new Map<string, { statusCode: number; body: string }>();
    for (const [state, email] of Object.entries(addresses)) answers.set(state, await post(server, email));
    expect(transport.messages).toHaveLength(0);
    const first = answers.get('new')!;
    expect(first.statusCode).toBe(200);
    for (const [state, answer] of answers) {
      const body = answer.body.replace(addresses[state]!, addresses.new!);
      expect({ state, status: answer.statusCode, body }).toEqual({ state, status: 200, body: first.body });
    }
    // Only now does anything reach the relay: new, pending and unsubscribed get a confirmation.
    void sender.runOnce();
    await expect.poll(() => transport.messages.length, { timeout: 10_000 }).toBe(3);
    expect(transport.messages.map((message) => message.envelope.to).sort()).toEqual(['gone@example.org', 'new@example.org', 'pending@example.org']);
    await sender.stop(50);
  });

  it('keeps answering every state while the server’s own sender is stuck on a relay that never answers', async () => {
    const { app } = await project({ LETTERPRESS_SERVER_SHUTDOWNTIMEOUTSECONDS: '0.2' });
    cleanups.push(() => app.close());
    const store = await app.store();
    const keyring = await app.keyring();
    const addresses = await addressesInEveryState(app);
    const transport = silentTransport();
    const mailer = createSubscriptionMailer({ loaded: app.loaded, keyring, transport, clock: app.clock, store });
    const server = await createServer({ loaded: app.loaded, store, keyring, clock: app.clock, mailer });
    await server.ready();
    cleanups.push(() => server.close());
    expect((await post(server, addresses.new!)).statusCode).toBe(200);
    // The sender has the confirmation in hand and waits on the relay for good.
    await expect.poll(() => transport.messages.length, { timeout: 10_000 }).toBe(1);
    for (const email of Object.values(addresses).slice(1)) expect((await post(server, email)).statusCode).toBe(200);
    expect((await store.listOutgoingMail()).map((row) => row.state).sort()).toEqual(['queued', 'queued', 'sending']);
  });

  it('sends a confirmation queued by a server that died before its sender ran, once, after a restart', async () => {
    const { root, app } = await project();
    const store = await app.store();
    const keyring = await app.keyring();
    const mailer = createSubscriptionMailer({ loaded: app.loaded, keyring, transport: app.transport(), clock: app.clock, store });
    // No sender in this process: it is gone before one could run.
    const dying = await createServer({ loaded: app.loaded, store, keyring, clock: app.clock, mailer, mailQueue: false });
    expect((await post(dying, 'survivor@example.org')).statusCode).toBe(200);
    await dying.close();
    await app.close();
    expect(await readdir(app.outboxDir).catch((): string[] => [])).not.toContain('confirm');

    const again = await createApp({ root, env: ENV, clock: createTestClock() });
    cleanups.push(() => again.close());
    const store2 = await again.store();
    const keyring2 = await again.keyring();
    const mailer2 = createSubscriptionMailer({ loaded: again.loaded, keyring: keyring2, transport: again.transport(), clock: again.clock, store: store2 });
    const server = await createServer({ loaded: again.loaded, store: store2, keyring: keyring2, clock: again.clock, mailer: mailer2 });
    await server.ready();
    cleanups.push(() => server.close());
    const rows = await waitForMailQueue(store2);
    expect(rows.map((row) => [row.kind, row.state, row.attempts])).toEqual([['confirmation', 'sent', 1]]);
    const files = (await readdir(path.join(again.outboxDir, 'confirm'))).filter((name) => name.endsWith('.eml'));
    expect(files).toHaveLength(1);
  });

  it('takes over a confirmation whose sender died mid-send once its lease lapsed, and sends it once', async () => {
    const { app } = await project();
    const store = await app.store();
    const clock = createTestClock();
    const keyring = await app.keyring();
    const sent: OutgoingMessage[] = [];
    const transport: Transport = {
      description: 'recording relay',
      concurrency: 1,
      send: async (message) => (sent.push(message), { status: 'sent', reply: '250 ok' }),
      close: async () => {},
    };
    cleanups.push(() => app.close());
    const mailer = createSubscriptionMailer({ loaded: app.loaded, keyring, transport, clock, store });
    const dying = await createServer({ loaded: app.loaded, store, keyring, clock, mailer, mailQueue: false });
    await post(dying, 'orphan@example.org');
    await dying.close();
    // A sender claimed it and died: the row stays `sending` under its lease.
    const [claimed] = await store.claimOutgoingMail({ holder: 'dead-host:1', now: clock.now().toISOString(), leaseUntil: new Date(clock.now().getTime() + 60_000).toISOString(), limit: 10 });
    expect(claimed?.mail.state).toBe('sending');
    const log = { info() {}, warn() {}, error() {} };
    const policy = { retryBaseMs: 1000, retryMaxMs: 1000, maxAttempts: 3, leaseMs: 60_000, pollMs: 60_000 };
    const sender = createOutgoingMailSender({ store, mailer, clock, log, policy });
    expect(await sender.runOnce()).toBe(0);
    clock.advance(60_001);
    expect(await sender.runOnce()).toBe(1);
    expect(await sender.runOnce()).toBe(0);
    expect(sent.map((message) => message.envelope.to)).toEqual(['orphan@example.org']);
    // The dead sender's late record changes nothing.
    expect(await store.finishOutgoingMail(claimed!.mail.id, 'dead-host:1', { state: 'failed', at: clock.now().toISOString() })).toBe(false);
    expect((await store.listOutgoingMail()).map((row) => row.state)).toEqual(['sent']);
  });
});

describe('confirmation budgets', () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('sends at most perMailboxPerDay confirmations to victim+N@ from one IP, tags folded; the page never changes', async () => {
    let log = '';
    const stream = new Writable({ write: (chunk, _enc, done) => void ((log += String(chunk)), done()) });
    fixture = await startServer({ logger: { level: 'info', stream } });
    const bodies = new Set<string>();
    for (let n = 1; n <= 30; n += 1) {
      const response = await post(fixture.server, `victim+${n}@example.org`, { 'x-forwarded-for': '203.0.113.9' });
      expect(response.statusCode).toBe(200);
      // The page names the address typed; beyond that it is the same for everyone.
      bodies.add(response.body.replace(`victim+${n}@`, 'victim@'));
    }
    await fixture.settle();
    expect(bodies.size).toBe(1);
    const limit = fixture.app.loaded.config.server.limits.perMailboxPerDay;
    expect(limit).toBe(5);
    expect(fixture.calls.map((call) => call.subscriber.email)).toEqual([1, 2, 3, 4, 5].map((n) => `victim+${n}@example.org`));
    // Tagged addresses stay distinct subscribers; the mailbox budget held the rest back, and the log says so.
    const store = await fixture.app.store();
    expect((await store.findSubscriberByEmail('victim+2@example.org'))?.status).toBe('pending');
    expect(await store.findSubscriberByEmail('victim+6@example.org')).toBeUndefined();
    expect(log.split('\n').filter((line) => line.includes('nothing sent (mailbox-limit)'))).toHaveLength(25);
    // Another mailbox on the same domain is not affected.
    await post(fixture.server, 'someone-else@example.org');
    await fixture.settle();
    expect(fixture.calls).toHaveLength(6);
  });

  it('caps confirmations per hour overall, and frees the budget an hour later', async () => {
    let log = '';
    const stream = new Writable({ write: (chunk, _enc, done) => void ((log += String(chunk)), done()) });
    fixture = await startServer({ env: { LETTERPRESS_SERVER_LIMITS_CONFIRMATIONSPERHOUR: '3' }, logger: { level: 'info', stream } });
    const first = await post(fixture.server, 'one@example.org');
    for (const email of ['two@example.org', 'three@example.org', 'four@example.org', 'five@example.org']) {
      expect((await post(fixture.server, email)).body.replace(email, 'one@example.org')).toBe(first.body);
    }
    await fixture.settle();
    expect(fixture.calls.map((call) => call.subscriber.email)).toEqual(['one@example.org', 'two@example.org', 'three@example.org']);
    expect(log.split('\n').filter((line) => line.includes('nothing sent (hourly-limit)'))).toHaveLength(2);
    fixture.clock.advance(60 * 60_000 + 1);
    await post(fixture.server, 'four@example.org');
    await fixture.settle();
    expect(fixture.calls.map((call) => call.subscriber.email).at(-1)).toBe('four@example.org');
  });
});
