import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createOutgoingMailSender, type OutgoingMailPolicy } from '../../src/deliver/outgoing-mail-sender.ts';
import type { SendOutcome } from '../../src/deliver/types.ts';
import type { SubscriptionMailer } from '../../src/server/types.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { createTempProject } from '../helpers/temp-project.ts';

const POLICY: OutgoingMailPolicy = { retryBaseMs: 1000, retryMaxMs: 4000, maxAttempts: 3, leaseMs: 60_000, pollMs: 50 };
const silent = { info() {}, warn() {}, error() {} };

let root: string | undefined;
let store: Store | undefined;
afterEach(async () => {
  await store?.close();
  if (root) await rm(root, { recursive: true, force: true });
  store = undefined;
  root = undefined;
});

async function queueOne(email: string, at: string): Promise<Store> {
  root = await createTempProject();
  store = await openStore({ url: 'data/letterpress.db', root });
  const windows = { addressSince: at, mailboxSince: at, overallSince: at };
  const result = await store.requestConfirmation({ email, name: null, at, windows, decide: () => ({ send: true }) });
  expect(result.queued).toBe(true);
  return store;
}

/** A mailer that answers from a script (the relay's side is what the test varies). */
function scriptedMailer(answers: (SendOutcome | Error)[]): SubscriptionMailer & { count: number } {
  const mailer = {
    count: 0,
    async sendConfirmation() {
      const answer = answers[Math.min(mailer.count, answers.length - 1)]!;
      mailer.count += 1;
      if (answer instanceof Error) throw answer;
      return answer;
    },
    async sendWelcome() {
      return undefined;
    },
  };
  return mailer;
}

describe('the outgoing-mail sender', () => {
  it('retries a temporary failure with backoff, then sends it and marks it sent', async () => {
    let now = Date.parse('2026-03-01T10:00:00.000Z');
    const clock = { now: () => new Date(now) };
    const queued = await queueOne('retry@example.org', clock.now().toISOString());
    const mailer = scriptedMailer([{ status: 'deferred', reply: '451 try later' }, Object.assign(new Error('connect ECONNREFUSED'), { code: 'E_SMTP_CONNECT' }), { status: 'sent', reply: '250 ok' }]);
    const sender = createOutgoingMailSender({ store: queued, mailer, clock, log: silent, policy: POLICY, random: () => 0 });
    expect(await sender.runOnce()).toBe(1);
    let [row] = await queued.listOutgoingMail();
    expect(row).toMatchObject({ state: 'queued', attempts: 1, lastReply: '451 try later', nextAttemptAt: '2026-03-01T10:00:00.500Z' });
    expect(await sender.runOnce()).toBe(0);
    now += 500;
    expect(await sender.runOnce()).toBe(1);
    [row] = await queued.listOutgoingMail();
    expect(row).toMatchObject({ state: 'queued', attempts: 2, nextAttemptAt: '2026-03-01T10:00:01.500Z' });
    now += 1000;
    expect(await sender.runOnce()).toBe(1);
    [row] = await queued.listOutgoingMail();
    expect(row).toMatchObject({ state: 'sent', attempts: 3, leaseHolder: null });
    expect(mailer.count).toBe(3);
  });

  it('gives up after maxAttempts, and at once on a permanent refusal', async () => {
    let now = Date.parse('2026-03-01T10:00:00.000Z');
    const clock = { now: () => new Date(now) };
    const queued = await queueOne('never@example.org', clock.now().toISOString());
    const mailer = scriptedMailer([{ status: 'deferred', reply: '421 busy' }]);
    const sender = createOutgoingMailSender({ store: queued, mailer, clock, log: silent, policy: POLICY, random: () => 1 });
    for (let attempt = 0; attempt < 5; attempt += 1) {
      await sender.runOnce();
      now += 10_000;
    }
    expect(mailer.count).toBe(3);
    expect((await queued.listOutgoingMail())[0]).toMatchObject({ state: 'failed', attempts: 3 });

    const refused = scriptedMailer([{ status: 'failed', reply: '550 5.7.1 no' }]);
    const windows = { addressSince: clock.now().toISOString(), mailboxSince: clock.now().toISOString(), overallSince: clock.now().toISOString() };
    await queued.requestConfirmation({ email: 'refused@example.org', name: null, at: clock.now().toISOString(), windows, decide: () => ({ send: true }) });
    await createOutgoingMailSender({ store: queued, mailer: refused, clock, log: silent, policy: POLICY }).runOnce();
    expect(refused.count).toBe(1);
    expect((await queued.listOutgoingMail())[1]).toMatchObject({ state: 'failed', attempts: 1, lastReply: '550 5.7.1 no' });
  });

  it('skips a confirmation whose subscriber confirmed meanwhile, and is woken at once when mail is queued', async () => {
    const clock = { now: () => new Date() };
    const queued = await queueOne('early@example.org', clock.now().toISOString());
    const subscriber = await queued.findSubscriberByEmail('early@example.org');
    await queued.activateSubscriber(subscriber!.id, clock.now().toISOString(), { queueWelcome: false });
    const mailer = scriptedMailer([{ status: 'sent', reply: '250 ok' }]);
    const sender = createOutgoingMailSender({ store: queued, mailer, clock, log: silent, policy: { ...POLICY, pollMs: 3_600_000 } });
    await sender.runOnce();
    expect(mailer.count).toBe(0);
    expect((await queued.listOutgoingMail())[0]).toMatchObject({ state: 'skipped', lastReply: 'subscriber is active' });

    sender.start();
    const at = clock.now().toISOString();
    await queued.requestConfirmation({ email: 'woken@example.org', name: null, at, windows: { addressSince: at, mailboxSince: at, overallSince: at }, decide: () => ({ send: true }) });
    sender.wake();
    await expect.poll(() => mailer.count, { timeout: 10_000 }).toBe(1);
    await sender.stop(1000);
  });
});
