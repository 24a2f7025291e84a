/**
 * `npm run bench:subscribe [-- N]`: does the subscribe answer's timing give away the address's
 * state? POST /subscribe over loopback HTTP, N requests (default 150) per subscriber state (new,
 * pending, active, unsubscribed, bounced, erased), the states interleaved, while the server's
 * own sender mails the confirmations through an in-process smtp-server relay that delays every
 * command (connect, MAIL, RCPT, DATA) by 50 ms. Prints median and p90 per state and the spread
 * of the medians (max ÷ min; target ≤ 1.25×). The baseline in the same run: the bare request
 * cost, a GET /healthz on the same server.
 */
import type { AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { SMTPServer } from 'smtp-server';
import { createApp } from '../src/cli/app.ts';
import { createSubscriptionMailer } from '../src/deliver/subscription-mailer.ts';
import { createServer } from '../src/server/create-server.ts';
import { createTempProject } from '../test/helpers/temp-project.ts';

const PER_STATE = Number(process.argv[2] ?? 150);
const RELAY_DELAY_MS = 50;
const STATES = ['new', 'pending', 'active', 'unsubscribed', 'bounced', 'erased'] as const;
type State = (typeof STATES)[number];

/** An SMTP relay that takes 50 ms for every command it can be made to wait on. */
async function startSlowRelay(): Promise<{ port: number; received: () => number; close(): Promise<void> }> {
  let received = 0;
  const wait = (callback: (error?: Error) => void) => void setTimeout(() => callback(), RELAY_DELAY_MS);
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    onConnect: (_session, callback) => wait(callback),
    onMailFrom: (_address, _session, callback) => wait(callback),
    onRcptTo: (_address, _session, callback) => wait(callback),
    onData: (stream, _session, callback) => {
      stream.resume();
      stream.on('end', () => {
        received += 1;
        wait(callback);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.server.address() as AddressInfo).port,
    received: () => received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function quantile(sorted: readonly number[], q: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}

async function main(): Promise<void> {
  const relay = await startSlowRelay();
  const root = await createTempProject({ allowLocalAddresses: true });
  const app = await createApp({
    root,
    env: {
      LETTERPRESS_SECRET: 'bench-subscribe-secret-0123456789abcdefgh',
      LETTERPRESS_SMTP_URL: `smtp://127.0.0.1:${relay.port}`,
      LETTERPRESS_SERVER_LIMITS_PERIPPERMINUTE: '100000000',
      LETTERPRESS_SERVER_LIMITS_PERADDRESSPERDAY: '1000',
      LETTERPRESS_SERVER_LIMITS_PERMAILBOXPERDAY: '1000',
      LETTERPRESS_SERVER_LIMITS_CONFIRMATIONSPERHOUR: '100000',
      LETTERPRESS_SERVER_LIMITS_RESENDCOOLDOWNMINUTES: '0',
    },
  });
  try {
    await app.build();
    const store = await app.store();
    const keyring = await app.keyring();
    const mailer = createSubscriptionMailer({ loaded: app.loaded, keyring, transport: app.transport(), clock: app.clock, store });
    const server = await createServer({ loaded: app.loaded, store, keyring, clock: app.clock, mailer, logger: false });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;

    // N addresses per state; each is posted once, so "pending" and "unsubscribed" really get mail.
    const addresses: Record<State, string[]> = { new: [], pending: [], active: [], unsubscribed: [], bounced: [], erased: [] };
    for (let n = 0; n < PER_STATE; n += 1) {
      for (const state of STATES) addresses[state].push(`${state}-${n}@example.org`);
      await store.upsertSubscriber({ email: addresses.pending[n]!, status: 'pending', source: 'form' });
      await store.upsertSubscriber({ email: addresses.active[n]!, status: 'active', source: 'add' });
      await store.upsertSubscriber({ email: addresses.unsubscribed[n]!, status: 'unsubscribed', source: 'add' });
      await store.upsertSubscriber({ email: addresses.bounced[n]!, status: 'bounced', source: 'add' });
      await store.upsertSubscriber({ email: addresses.erased[n]!, status: 'active', source: 'add' });
      await store.eraseSubscriber(addresses.erased[n]!);
    }

    const post = async (email: string): Promise<number> => {
      const started = process.hrtime.bigint();
      const response = await fetch(`${url}/subscribe`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `email=${encodeURIComponent(email)}`,
      });
      await response.arrayBuffer();
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (response.status !== 200) throw new Error(`POST /subscribe answered ${response.status} for ${email}`);
      return ms;
    };
    const bare = async (): Promise<number> => {
      const started = process.hrtime.bigint();
      await (await fetch(`${url}/healthz`)).arrayBuffer();
      return Number(process.hrtime.bigint() - started) / 1e6;
    };

    // Warm-up (templates, the first SMTP connection), not measured.
    await post('warm-up@example.org');
    await delay(500);

    const times: Record<State | 'healthz', number[]> = { new: [], pending: [], active: [], unsubscribed: [], bounced: [], erased: [], healthz: [] };
    for (let n = 0; n < PER_STATE; n += 1) {
      for (const state of STATES) times[state].push(await post(addresses[state][n]!));
      times.healthz.push(await bare());
    }

    // Everything queued goes out through the slow relay after the answers.
    const queued = PER_STATE * 3 + 1;
    const deadline = Date.now() + 120_000;
    const settled = async () => (await store.listOutgoingMail()).every((row) => row.state === 'sent');
    while (!(await settled()) && Date.now() < deadline) await delay(50);

    console.log(`POST /subscribe over loopback, ${PER_STATE} requests per state, relay delays every command by ${RELAY_DELAY_MS} ms`);
    const medians: number[] = [];
    for (const state of [...STATES, 'healthz'] as const) {
      const sorted = [...times[state]].sort((a, b) => a - b);
      const median = quantile(sorted, 0.5);
      if (state !== 'healthz') medians.push(median);
      const label = state === 'healthz' ? 'GET /healthz (baseline)' : state;
      console.log(`  ${label.padEnd(24)} median ${median.toFixed(2).padStart(7)} ms   p90 ${quantile(sorted, 0.9).toFixed(2).padStart(7)} ms`);
    }
    const spread = Math.max(...medians) / Math.min(...medians);
    console.log(`spread of the medians (max ÷ min over the six states): ${spread.toFixed(2)}× (target ≤ 1.25×)`);
    console.log(`relay accepted ${relay.received()} of ${queued} queued confirmations after the answers`);
    const rows = await store.listOutgoingMail();
    console.log(`queue: ${rows.filter((row) => row.state === 'sent').length} sent, ${rows.filter((row) => row.state !== 'sent').length} other`);
    if (relay.received() < queued) process.exitCode = 1;
    await server.close();
  } finally {
    await app.close();
    await relay.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
