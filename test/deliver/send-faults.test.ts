import { cp, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { SMTPServerOptions } from 'smtp-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryState } from '../../src/store/types.ts';
import { activeRows, createSendProject, deliveryRows, issueStatus, listSubscribers, SLUG, TEST_SECRET, totalOf, withStore } from '../helpers/send-project.ts';
import { countByRecipient, startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { main } from '../../src/cli/main.ts';
import { MASS_BOUNCE, STALL_LIMIT } from '../../src/deliver/send-issue.ts';
import { runCli } from '../helpers/temp-project.ts';

/**
 * DESIGN.md §4 "Errors" against scripted SMTP servers: per-recipient 4xx and drops are
 * deferred, per-recipient 5xx fail (unknown mailboxes also bounce the subscriber), and
 * problems with the sender's own setup stop the run with every unsent row left queued; so do
 * a message too big for the relay, a relay that goes silent after DATA and a mass bounce.
 * Whatever happens, no row is left `sending` and every active subscriber has exactly one row.
 */

const ACTIVE = 20;
const ADDRESSES = activeRows(ACTIVE).map((row) => row.email);
/** The recipients a case treats badly: every fourth one. */
const BAD = new Set(ADDRESSES.filter((_, i) => i % 4 === 1));
const GOOD = ADDRESSES.filter((address) => !BAD.has(address));
const PASSWORD = 's3cret-smtp-pw';

const BASE_ENV = {
  LETTERPRESS_SECRET: TEST_SECRET,
  LETTERPRESS_DELIVERY_RETRY_BASESECONDS: '0.05',
  LETTERPRESS_DELIVERY_RETRY_WAITSECONDS: '0',
  LETTERPRESS_SMTP_POOL_MAXCONNECTIONS: '4',
  // A bug that hangs must fail the test, not stall it for the default 30-60 s.
  LETTERPRESS_SMTP_TIMEOUTS_CONNECTIONMS: '3000',
  LETTERPRESS_SMTP_TIMEOUTS_GREETINGMS: '3000',
  LETTERPRESS_SMTP_TIMEOUTS_SOCKETMS: '3000',
};

/**
 * A retry delay longer than any run here: with the 0.05 s base a deferred row is due again
 * while the run still works on other rows, and the same run retries it (allowed, but then a
 * case cannot tell one attempt from several).
 */
const NO_RETRY_IN_RUN = { LETTERPRESS_DELIVERY_RETRY_BASESECONDS: '60' };

/** An error an smtp-server hook answers with: `<code> <message>`. */
const smtpError = (responseCode: number, message: string) => Object.assign(new Error(message), { responseCode });

let template: string;
const roots: string[] = [];
const sinks: SmtpSink[] = [];

beforeAll(async () => {
  template = await createSendProject([
    ...activeRows(ACTIVE),
    { email: 'waiting@example.org', name: 'Pending Person', status: 'pending' },
    { email: 'left@example.org', name: 'Former Reader', status: 'unsubscribed' },
  ]);
}, 60_000);

afterEach(async () => {
  await Promise.all(sinks.splice(0).map((sink) => sink.close()));
});

afterAll(async () => {
  await Promise.all([template, ...roots].filter(Boolean).map((root) => rm(root, { recursive: true, force: true })));
});

/** A fresh copy of the prepared project: same store, nothing planned yet. */
async function cloneProject(from = template): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'letterpress-faults-'));
  roots.push(root);
  await cp(from, root, { recursive: true });
  return root;
}

async function scriptedServer(options: SMTPServerOptions): Promise<SmtpSink> {
  const sink = await startSmtpSink(options);
  sinks.push(sink);
  return sink;
}

/**
 * Runs `send` once against a server scripted by `options` (a function gets the server itself,
 * for hooks that need its connections) on a fresh copy of the project.
 */
async function sendCase(
  options: SMTPServerOptions | ((self: () => SmtpSink) => SMTPServerOptions),
  extraEnv: Record<string, string> = {},
  from = template,
) {
  let self: SmtpSink | undefined;
  const sink = await scriptedServer(typeof options === 'function' ? options(() => self!) : options);
  self = sink;
  const root = await cloneProject(from);
  const env = { ...BASE_ENV, LETTERPRESS_SMTP_URL: `smtp://user:${PASSWORD}@127.0.0.1:${sink.port}`, ...extraEnv };
  const run = await runCli(['send', SLUG], root, env);
  return { sink, root, env, run, rows: await deliveryRows(root) };
}

/** Like runCli, with stderr a terminal (the progress bar is drawn, as a person sees it). */
async function runCliOnTerminal(args: string[], root: string, env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'letterpress', '--root', root, ...args], {
    stdout: { write: (text) => void (stdout += text) },
    stderr: { write: (text) => void (stderr += text), isTTY: true },
    env,
    cwd: root,
  });
  return { code, stdout, stderr };
}

type Rows = Awaited<ReturnType<typeof deliveryRows>>;

/** The invariants of every case: one row per active subscriber, none `sending`, only the states the case allows. */
async function expectLedger(root: string, rows: Rows, allowed: readonly DeliveryState[]) {
  expect(rows).toHaveLength(ACTIVE);
  expect(rows.map((row) => row.email).sort()).toEqual([...ADDRESSES].sort());
  expect(rows.filter((row) => row.state === 'sending')).toEqual([]);
  for (const row of rows) expect(allowed, `${row.email} is ${row.state} (${row.reply})`).toContain(row.state);
  const status = await issueStatus(root);
  expect(status.counts.sending).toBe(0);
  expect(totalOf(status.counts)).toBe(ACTIVE);
}

/** Polls the ledger until no deferred row's next attempt lies in the future (a generous deadline). */
async function waitUntilRetriesDue(root: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const pending = await withStore(root, async (store) =>
      (await store.listDeliveries(SLUG, { afterId: 0, limit: 1000 })).filter((row) => row.state === 'deferred' && Date.parse(row.nextAttemptAt ?? '') > Date.now()),
    );
    if (pending.length === 0) return;
    if (Date.now() > deadline) throw new Error(`retries still not due after 30 s: ${pending.map((row) => row.nextAttemptAt).join(', ')}`);
    await delay(20);
  }
}

const stateOf = (rows: Rows) => new Map(rows.map((row) => [row.email, row.state]));
const rcptOf = (session: { envelope: { rcptTo: { address: string }[] } }) => session.envelope.rcptTo[0]?.address ?? '';

/** Part of the message arrives, then the connection is gone: no reply ever comes. */
function dropDuringData(sink: SmtpSink, stream: NodeJS.ReadableStream, session: unknown): void {
  stream.once('data', () => sink.connections().find((connection) => connection.session === session)?._socket.destroy());
  stream.resume();
}

/** Takes the message like a normal server and answers 250. */
function acceptMessage(sink: SmtpSink, stream: Parameters<SmtpSink['collect']>[0], session: Parameters<SmtpSink['collect']>[1], callback: (error?: Error | null) => void): void {
  sink.collect(stream, session).then((message) => {
    sink.messages.push(message);
    callback(null);
  }, callback);
}

describe('per-recipient and connection trouble', () => {
  it('421 at the greeting: every message deferred, the run ends, nothing sent', async () => {
    const { sink, root, run, rows } = await sendCase({
      onConnect: (_session, callback) => callback(smtpError(421, '4.3.2 Service not available, closing transmission channel')),
    }, NO_RETRY_IN_RUN);
    expect(run.code, run.stderr).toBe(0);
    expect(sink.messages).toHaveLength(0);
    await expectLedger(root, rows, ['deferred']);
    expect(rows[0]!.reply).toContain('421');
    expect(run.stdout).toMatch(/20 deferred for retry/);
  });

  it('451 for some recipients: those deferred, the rest sent; a later run delivers them', async () => {
    let answer451 = true;
    const { sink, root, env, run, rows } = await sendCase({
      onRcptTo: (address, _session, callback) =>
        answer451 && BAD.has(address.address) ? callback(smtpError(451, '4.3.0 Mailbox busy, try again later')) : callback(),
    });
    expect(run.code, run.stderr).toBe(0);
    await expectLedger(root, rows, ['sent', 'deferred']);
    const states = stateOf(rows);
    for (const address of BAD) expect(states.get(address)).toBe('deferred');
    for (const address of GOOD) expect(states.get(address)).toBe('sent');
    expect(sink.messages.map((m) => m.rcpt[0]).sort()).toEqual([...GOOD].sort());
    expect(rows.find((row) => BAD.has(row.email))!.reply).toContain('451');
    expect((await issueStatus(root)).state).toBe('sending');

    // The server recovers; the next run starts once every retry (base 0.05 s) is due.
    answer451 = false;
    await waitUntilRetriesDue(root);
    const again = await runCli(['send', SLUG], root, env);
    expect(again.code, again.stderr).toBe(0);
    const after = await deliveryRows(root);
    await expectLedger(root, after, ['sent']);
    const counts = countByRecipient(sink.messages);
    expect([...counts.keys()].sort()).toEqual([...ADDRESSES].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect((await issueStatus(root)).state).toBe('sent');
  });

  it('451 once per recipient: a run that may wait for retries delivers everything itself', async () => {
    const refused = new Set<string>();
    const { sink, root, run, rows } = await sendCase(
      {
        onRcptTo: (address, _session, callback) => {
          if (BAD.has(address.address) && !refused.has(address.address)) {
            refused.add(address.address);
            return callback(smtpError(451, '4.7.1 Greylisted, please try again'));
          }
          callback();
        },
      },
      { LETTERPRESS_DELIVERY_RETRY_WAITSECONDS: '10' },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(refused.size).toBe(BAD.size);
    await expectLedger(root, rows, ['sent']);
    expect(sink.messages).toHaveLength(ACTIVE);
    expect((await issueStatus(root)).state).toBe('sent');
  });

  it('connection dropped during DATA: each such message deferred after one attempt, never resent at once', async () => {
    const attempts = new Map<string, number>();
    const { sink, root, run, rows } = await sendCase(
      (self) => ({
        onData: (stream, session, callback) => {
          const rcpt = rcptOf(session);
          attempts.set(rcpt, (attempts.get(rcpt) ?? 0) + 1);
          if (BAD.has(rcpt)) return dropDuringData(self(), stream, session);
          acceptMessage(self(), stream, session, callback);
        },
      }),
      NO_RETRY_IN_RUN,
    );
    expect(run.code, run.stderr).toBe(0);
    await expectLedger(root, rows, ['sent', 'deferred']);
    const states = stateOf(rows);
    for (const address of BAD) expect(states.get(address), address).toBe('deferred');
    for (const address of GOOD) expect(states.get(address), address).toBe('sent');
    expect(sink.messages.map((m) => m.rcpt[0]).sort()).toEqual([...GOOD].sort());
    // The bytes of the message went out: sending it again on the spot could duplicate it, so it
    // waits for its retry like any other deferral (DESIGN.md §4, Errors).
    for (const address of ADDRESSES) expect(attempts.get(address), address).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`${BAD.size} deferred for retry`));
  });

  it('connection dropped during DATA: nothing is lost, a later run delivers the deferred messages once', async () => {
    let drop = true;
    const { sink, root, env, run, rows } = await sendCase((self) => ({
      onData: (stream, session, callback) => {
        if (drop && BAD.has(rcptOf(session))) return dropDuringData(self(), stream, session);
        acceptMessage(self(), stream, session, callback);
      },
    }));
    expect(run.code, run.stderr).toBe(0);
    await expectLedger(root, rows, ['sent', 'deferred']);
    expect(rows.filter((row) => row.state === 'deferred').map((row) => row.email).sort()).toEqual([...BAD].sort());

    drop = false;
    // This run may wait for the deferred rows to come due.
    const again = await runCli(['send', SLUG], root, { ...env, LETTERPRESS_DELIVERY_RETRY_WAITSECONDS: '10' });
    expect(again.code, again.stderr).toBe(0);
    await expectLedger(root, await deliveryRows(root), ['sent']);
    const counts = countByRecipient(sink.messages);
    expect([...counts.keys()].sort()).toEqual([...ADDRESSES].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect((await issueStatus(root)).state).toBe('sent');
  });

  it('550 5.1.1 for some recipients: those rows bounced and the subscribers marked bounced', async () => {
    const { sink, root, env, run, rows } = await sendCase({
      onRcptTo: (address, _session, callback) =>
        BAD.has(address.address) ? callback(smtpError(550, '5.1.1 <' + address.address + '>: Recipient address rejected: User unknown')) : callback(),
    });
    expect(run.code, run.stderr).toBe(0);
    await expectLedger(root, rows, ['sent', 'bounced']);
    const states = stateOf(rows);
    for (const address of BAD) expect(states.get(address), address).toBe('bounced');
    for (const address of GOOD) expect(states.get(address), address).toBe('sent');
    expect(rows.find((row) => BAD.has(row.email))!.reply).toContain('5.1.1');
    expect(sink.messages).toHaveLength(GOOD.length);
    const subscribers = await listSubscribers(root, env);
    for (const subscriber of subscribers.filter((s) => ADDRESSES.includes(s.email))) {
      expect(subscriber.status, subscriber.email).toBe(BAD.has(subscriber.email) ? 'bounced' : 'active');
    }
    // Bounced rows are final: the issue is complete.
    expect((await issueStatus(root)).state).toBe('sent');
  });

  it('552 5.2.2 (mailbox full) at DATA for some recipients: those rows failed, the subscribers stay active', async () => {
    const { sink, root, env, run, rows } = await sendCase((self) => ({
      onData: (stream, session, callback) => {
        self().collect(stream, session).then((message) => {
          if (BAD.has(rcptOf(session))) return callback(smtpError(552, '5.2.2 Mailbox full'));
          self().messages.push(message);
          callback(null);
        }, callback);
      },
    }));
    expect(run.code, run.stderr).toBe(0);
    await expectLedger(root, rows, ['sent', 'failed']);
    const states = stateOf(rows);
    for (const address of BAD) expect(states.get(address), address).toBe('failed');
    for (const address of GOOD) expect(states.get(address), address).toBe('sent');
    expect(rows.find((row) => BAD.has(row.email))!.reply).toContain('552 5.2.2');
    expect(sink.messages).toHaveLength(GOOD.length);
    const subscribers = await listSubscribers(root, env);
    expect(subscribers.filter((s) => ADDRESSES.includes(s.email)).every((s) => s.status === 'active')).toBe(true);
    expect((await issueStatus(root)).state).toBe('sent');
  });

  it('progress never counts past the total, even when the run retries rows itself', async () => {
    const refused = new Set<string>();
    const sink = await scriptedServer({
      onRcptTo: (address, _session, callback) => {
        // Every recipient is greylisted once: each row is tried twice within the run.
        if (!refused.has(address.address)) {
          refused.add(address.address);
          return callback(smtpError(451, '4.7.1 Greylisted, please try again'));
        }
        callback();
      },
    });
    const root = await cloneProject();
    const env = { ...BASE_ENV, LETTERPRESS_SMTP_URL: sink.url, LETTERPRESS_DELIVERY_RETRY_WAITSECONDS: '10' };
    const run = await runCliOnTerminal(['send', SLUG], root, env);
    expect(run.code, run.stderr).toBe(0);
    expect(refused.size).toBe(ACTIVE);
    expect(sink.messages).toHaveLength(ACTIVE);
    const frames = [...run.stderr.matchAll(/\] (\d+)\/(\d+) /g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    expect(frames.length).toBeGreaterThan(0);
    for (const [done, total] of frames) expect(done, `progress ${done}/${total}`).toBeLessThanOrEqual(total);
    expect(frames.at(-1)).toEqual([ACTIVE, ACTIVE]);
    // The summary counts each row once, at its final state.
    expect(run.stdout).toMatch(new RegExp(`${ACTIVE} sent, 0 failed, 0 bounced, 0 skipped, 0 deferred .*${ACTIVE} handled`));
  });

  // Such a run takes a second or two (five 300 ms attempts a connection). Its bound is
  // 30 s: many times that, for a loaded machine, and still under what a single attempt takes
  // when the configured timeout does not reach nodemailer (its defaults: 30 s and 10 min).
  const ENDS_WITHIN_MS = 30_000;

  it('a server that never sends its greeting: greeting timeout, messages deferred', async () => {
    const started = Date.now();
    const { root, run, rows } = await sendCase(
      { onConnect: () => undefined },
      { ...NO_RETRY_IN_RUN, LETTERPRESS_SMTP_TIMEOUTS_GREETINGMS: '300', LETTERPRESS_SMTP_TIMEOUTS_SOCKETMS: '300' },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(ENDS_WITHIN_MS);
    await expectLedger(root, rows, ['deferred']);
    for (const row of rows) expect(row.reply, row.email).toMatch(/timeout/i);
  }, 2 * ENDS_WITHIN_MS);
});

describe('session errors: the run stops, every row stays queued', () => {
  const expectStopped = async (result: Awaited<ReturnType<typeof sendCase>>, code: string, words: RegExp) => {
    const { run, root, rows } = result;
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`[${code}]`);
    expect(run.stderr).toMatch(words);
    expect(run.stderr).toContain('stays queued');
    expect(`${run.stdout}${run.stderr}`).not.toContain(PASSWORD);
    await expectLedger(root, rows, ['queued']);
  };

  it('535 at AUTH: exits non-zero naming the login problem; a later run with good credentials sends everything once', async () => {
    let refuse = true;
    const result = await sendCase({
      onAuth: (_auth, _session, callback) =>
        refuse ? callback(smtpError(535, '5.7.8 Authentication credentials invalid')) : callback(null, { user: 'ok' }),
    });
    await expectStopped(result, 'E_SMTP_AUTH', /535 5\.7\.8 Authentication credentials invalid.*refused the login/);
    expect(result.sink.messages).toHaveLength(0);

    refuse = false;
    const again = await runCli(['send', SLUG], result.root, result.env);
    expect(again.code, again.stderr).toBe(0);
    await expectLedger(result.root, await deliveryRows(result.root), ['sent']);
    expect([...countByRecipient(result.sink.messages).values()]).toEqual(Array(ACTIVE).fill(1));
  });

  it('550 5.7.1 at RCPT (policy): E_SMTP_POLICY, rows queued', async () => {
    const result = await sendCase({
      onRcptTo: (_address, _session, callback) => callback(smtpError(550, '5.7.1 Relaying denied')),
    });
    await expectStopped(result, 'E_SMTP_POLICY', /5\.7\.1 Relaying denied.*policy/);
    expect(result.sink.messages).toHaveLength(0);
  });

  it('554 at the greeting: E_SMTP_REJECTED, rows queued', async () => {
    const result = await sendCase({
      onConnect: (_session, callback) => callback(smtpError(554, 'No SMTP service here')),
    });
    await expectStopped(result, 'E_SMTP_REJECTED', /554 No SMTP service here.*rejected the connection/);
  });

  it('553 5.1.8 at MAIL FROM (bad sender): E_SMTP_SENDER, rows queued', async () => {
    const result = await sendCase({
      onMailFrom: (_address, _session, callback) => callback(smtpError(553, '5.1.8 Sender address rejected: Domain not found')),
    });
    await expectStopped(result, 'E_SMTP_SENDER', /5\.1\.8 Sender address rejected.*envelope sender/);
  });

  it('a message larger than the SIZE the server advertises: E_SMTP_SIZE, rows queued, not one deferral per recipient', async () => {
    let connections = 0;
    const result = await sendCase(
      {
        size: 2000,
        onConnect: (_session, callback) => {
          connections += 1;
          callback();
        },
      },
      NO_RETRY_IN_RUN,
    );
    await expectStopped(result, 'E_SMTP_SIZE', /larger than allowed 2000.*refuses a message of this size \(\d+ KB\)/);
    expect(result.sink.messages).toHaveLength(0);
    // The run stops at once instead of opening a connection per recipient.
    expect(connections).toBeLessThanOrEqual(4);
  });

  it('552 5.3.4 after DATA: E_SMTP_SIZE naming the size, every row queued, status says so; a rerun with a fixed relay sends each once', async () => {
    let tooBig = true;
    const result = await sendCase((self) => ({
      onData: (stream, session, callback) => {
        self().collect(stream, session).then((message) => {
          if (tooBig) return callback(smtpError(552, '5.3.4 Message size exceeds fixed limit'));
          self().messages.push(message);
          callback(null);
        }, callback);
      },
    }));
    await expectStopped(result, 'E_SMTP_SIZE', /552 5\.3\.4 Message size exceeds fixed limit.*refuses a message of this size \(\d+ KB\).*smaller.*images.*larger message size limit/);
    expect(result.sink.messages).toHaveLength(0);
    const stalled = (await issueStatus(result.root)).stalled;
    expect(stalled).toMatchObject({ code: 'E_SMTP_SIZE', message: expect.stringContaining('552 5.3.4') });
    const human = await runCli(['status'], result.root, result.env);
    expect(human.stdout).toMatch(/stalled since .*E_SMTP_SIZE/);

    tooBig = false;
    const again = await runCli(['send', SLUG], result.root, result.env);
    expect(again.code, again.stderr).toBe(0);
    await expectLedger(result.root, await deliveryRows(result.root), ['sent']);
    expect([...countByRecipient(result.sink.messages).values()]).toEqual(Array(ACTIVE).fill(1));
    expect((await issueStatus(result.root)).stalled).toBeNull();
  });

  it('530 5.7.0 "Must issue a STARTTLS command first": E_SMTP_TLS with a hint about TLS, not the login; rows queued', async () => {
    const result = await sendCase({
      onMailFrom: (_address, _session, callback) => callback(smtpError(530, '5.7.0 Must issue a STARTTLS command first')),
    });
    await expectStopped(result, 'E_SMTP_TLS', /530 5\.7\.0 Must issue a STARTTLS command first.*wants TLS.*smtp\.requireTLS.*465.*smtp\.secure true/);
    expect(result.run.stderr).not.toMatch(/login|smtp\.user/);
    expect((await issueStatus(result.root)).stalled).toMatchObject({ code: 'E_SMTP_TLS' });
  });

  it('nothing listening on the port: E_SMTP_CONNECT, rows queued', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const root = await cloneProject();
    const run = await runCli(['send', SLUG], root, { ...BASE_ENV, LETTERPRESS_SMTP_URL: `smtp://user:${PASSWORD}@127.0.0.1:${port}` });
    // The relay is down: temporary, retry later (75), not "fix something" (1).
    expect(run.code).toBe(75);
    expect(run.stderr).toContain('[E_SMTP_CONNECT]');
    expect(run.stderr).toMatch(/cannot reach the SMTP server/);
    await expectLedger(root, await deliveryRows(root), ['queued']);
  });
});

describe('relay faults that look like the recipients\' (DESIGN.md §4: the sender\'s problem)', () => {
  it(`a relay that goes silent after DATA: the run stops after ${STALL_LIMIT} in a row with E_SMTP_STALLED, rows deferred or queued, none failed`, async () => {
    const started = Date.now();
    let silent = true;
    const { sink, root, env, run, rows } = await sendCase(
      (self) => ({
        onData: (stream, session, callback) => {
          // Read the whole message, then never answer.
          if (silent) return void self().collect(stream, session);
          acceptMessage(self(), stream, session, callback);
        },
      }),
      {
        LETTERPRESS_SMTP_TIMEOUTS_SOCKETMS: '300',
        // Every deferral is past the give-up age: only the breaker keeps these rows from `failed`.
        LETTERPRESS_DELIVERY_RETRY_GIVEUPHOURS: '0',
      },
    );
    expect(run.code).toBe(75); // a relay that stopped answering is temporary: retry later
    expect(run.stderr).toContain('[E_SMTP_STALLED]');
    expect(run.stderr).toMatch(/took 3 messages in a row and then never answered \(Timeout\).*without an answer are deferred.*none failed/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(sink.messages).toHaveLength(0);
    await expectLedger(root, rows, ['deferred', 'queued']);
    const deferred = rows.filter((row) => row.state === 'deferred');
    // The ones that tripped it, plus those the other connections had in flight: no more.
    expect(deferred.length).toBeGreaterThanOrEqual(STALL_LIMIT);
    expect(deferred.length).toBeLessThanOrEqual(STALL_LIMIT + 4 - 1);
    for (const row of deferred) expect(row.reply, row.email).toMatch(/timeout/i);
    expect(run.stdout).toMatch(/0 failed/);
    expect((await issueStatus(root)).stalled).toMatchObject({ code: 'E_SMTP_STALLED' });

    // The relay recovers: the next run (allowed to wait for the deferred rows) sends everything once.
    silent = false;
    const again = await runCli(['send', SLUG], root, { ...env, LETTERPRESS_DELIVERY_RETRY_WAITSECONDS: '10', LETTERPRESS_DELIVERY_RETRY_GIVEUPHOURS: '72' });
    expect(again.code, again.stderr).toBe(0);
    await expectLedger(root, await deliveryRows(root), ['sent']);
    expect((await issueStatus(root)).stalled).toBeNull();
  });

  it('one silent transaction between answered ones is only that message: deferred, the run goes on', async () => {
    const silentFor = ADDRESSES[5]!;
    const { sink, root, run, rows } = await sendCase(
      (self) => ({
        onData: (stream, session, callback) => {
          if (rcptOf(session) === silentFor) return void self().collect(stream, session);
          acceptMessage(self(), stream, session, callback);
        },
      }),
      { ...NO_RETRY_IN_RUN, LETTERPRESS_SMTP_TIMEOUTS_SOCKETMS: '300' },
    );
    expect(run.code, run.stderr).toBe(0);
    await expectLedger(root, rows, ['sent', 'deferred']);
    expect(rows.filter((row) => row.state === 'deferred').map((row) => row.email)).toEqual([silentFor]);
    expect(sink.messages).toHaveLength(ACTIVE - 1);
  });

  describe('a bigger list (55 subscribers)', () => {
    const LIST = 55;
    const BIG = activeRows(LIST, 'member').map((row) => row.email);
    let big: string;

    beforeAll(async () => {
      big = await createSendProject(activeRows(LIST, 'member'));
    }, 60_000);

    const rcptCommands = (sink: SmtpSink) => sink.commands.filter((line) => /^RCPT TO:/i.test(line));

    it('550 5.1.1 to every RCPT: stops at the first 20 with E_SMTP_MASS_BOUNCE, those deferred, the rest queued, nobody bounced', async () => {
      let unknownToAll = true;
      const { sink, root, env, run, rows } = await sendCase(
        {
          onRcptTo: (address, _session, callback) =>
            unknownToAll ? callback(smtpError(550, `5.1.1 <${address.address}>: Recipient address rejected: User unknown in virtual mailbox table`)) : callback(),
        },
        {},
        big,
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('[E_SMTP_MASS_BOUNCE]');
      expect(run.stderr).toMatch(/called 20 of the first 20 recipients unknown \(550 5\.1\.1 <address>: Recipient address rejected.*relay or configuration fault.*no subscriber was marked bounced/);
      // The stall record (shown by `status`, logged by the daemon) names no subscriber.
      expect(run.stderr).not.toMatch(/member-\d+@/);
      // The verdict waits for the first 20 answers: not one RCPT past them.
      expect(rcptCommands(sink)).toHaveLength(MASS_BOUNCE.window);
      expect(rows).toHaveLength(LIST);
      expect(rows.filter((row) => row.state === 'deferred')).toHaveLength(MASS_BOUNCE.window);
      expect(rows.filter((row) => row.state === 'queued')).toHaveLength(LIST - MASS_BOUNCE.window);
      expect(rows.filter((row) => !['deferred', 'queued'].includes(row.state))).toEqual([]);
      const subscribers = await listSubscribers(root, env);
      expect(subscribers.filter((s) => BIG.includes(s.email)).map((s) => s.status)).toEqual(Array(LIST).fill('active'));
      const status = await issueStatus(root);
      expect(status.counts).toMatchObject({ bounced: 0, failed: 0, sending: 0 });
      expect(status.stalled).toMatchObject({ code: 'E_SMTP_MASS_BOUNCE', message: expect.stringContaining('5.1.1') });
      const human = await runCli(['status'], root, env);
      expect(human.stdout).toMatch(/stalled since .*E_SMTP_MASS_BOUNCE/);

      // The relay is fixed: the next run sends every message once and marks nobody.
      unknownToAll = false;
      await delay(150);
      const again = await runCli(['send', SLUG], root, { ...env, LETTERPRESS_DELIVERY_RETRY_WAITSECONDS: '10' });
      expect(again.code, again.stderr).toBe(0);
      const after = await deliveryRows(root);
      expect(after.every((row) => row.state === 'sent')).toBe(true);
      expect([...countByRecipient(sink.messages).values()]).toEqual(Array(LIST).fill(1));
      expect((await issueStatus(root)).stalled).toBeNull();
    });

    it('a few real 5.1.1 bounces, some among the first 20: those rows and subscribers bounced, the rest sent', async () => {
      const gone = new Set([BIG[0]!, BIG[3]!, BIG[11]!, BIG[40]!]);
      const { sink, root, env, run, rows } = await sendCase(
        {
          onRcptTo: (address, _session, callback) =>
            gone.has(address.address) ? callback(smtpError(550, `5.1.1 <${address.address}>: User unknown`)) : callback(),
        },
        {},
        big,
      );
      expect(run.code, run.stderr).toBe(0);
      for (const row of rows) expect(row.state, row.email).toBe(gone.has(row.email) ? 'bounced' : 'sent');
      expect(sink.messages).toHaveLength(LIST - gone.size);
      const subscribers = await listSubscribers(root, env);
      for (const subscriber of subscribers.filter((s) => BIG.includes(s.email))) {
        expect(subscriber.status, subscriber.email).toBe(gone.has(subscriber.email) ? 'bounced' : 'active');
      }
      const status = await issueStatus(root);
      expect(status.state).toBe('sent');
      expect(status.stalled).toBeNull();
    });

    it('17 of the first 20 unknown (85 %) is below the bar: they bounce, the run goes on', async () => {
      const gone = new Set(BIG.slice(0, 17));
      const { root, env, run, rows } = await sendCase(
        {
          onRcptTo: (address, _session, callback) =>
            gone.has(address.address) ? callback(smtpError(550, '5.1.1 User unknown')) : callback(),
        },
        { LETTERPRESS_SMTP_POOL_MAXCONNECTIONS: '1' },
        big,
      );
      expect(run.code, run.stderr).toBe(0);
      for (const row of rows) expect(row.state, row.email).toBe(gone.has(row.email) ? 'bounced' : 'sent');
      const bounced = (await listSubscribers(root, env)).filter((s) => s.status === 'bounced');
      expect(bounced.map((s) => s.email).sort()).toEqual([...gone].sort());
    });
  });

  describe(`a list shorter than ${MASS_BOUNCE.window}: judged on all its recipients, from ${MASS_BOUNCE.minimum} on`, () => {
    /** Leaves only the first `keep` subscribers active, so the plan has that many rows. */
    const shortList = async (keep: number) => {
      const root = await cloneProject();
      await withStore(root, async (store) => {
        for (const subscriber of await store.listSubscribers({ limit: 1000 })) {
          if (ADDRESSES.indexOf(subscriber.email) >= keep) await store.setSubscriberStatus(subscriber.id, 'unsubscribed', new Date().toISOString());
        }
      });
      return root;
    };
    const everyoneUnknown: SMTPServerOptions = { onRcptTo: (_address, _session, callback) => callback(smtpError(550, '5.1.1 User unknown')) };

    it(`${MASS_BOUNCE.minimum} recipients, all unknown: a mass bounce, nobody marked`, async () => {
      const sink = await scriptedServer(everyoneUnknown);
      const root = await shortList(MASS_BOUNCE.minimum);
      const env = { ...BASE_ENV, LETTERPRESS_SMTP_URL: sink.url };
      const run = await runCli(['send', SLUG], root, env);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/called 10 of the first 10 recipients unknown.*\[E_SMTP_MASS_BOUNCE\]/);
      const rows = await deliveryRows(root);
      expect(rows.map((row) => row.state)).toEqual(Array(MASS_BOUNCE.minimum).fill('deferred'));
      expect((await listSubscribers(root, env)).filter((s) => s.status === 'bounced')).toEqual([]);
    });

    it(`${MASS_BOUNCE.minimum - 1} recipients, all unknown: too few to judge, each bounces`, async () => {
      const sink = await scriptedServer(everyoneUnknown);
      const root = await shortList(MASS_BOUNCE.minimum - 1);
      const env = { ...BASE_ENV, LETTERPRESS_SMTP_URL: sink.url };
      const run = await runCli(['send', SLUG], root, env);
      expect(run.code, run.stderr).toBe(0);
      const rows = await deliveryRows(root);
      expect(rows.map((row) => row.state)).toEqual(Array(MASS_BOUNCE.minimum - 1).fill('bounced'));
      expect((await listSubscribers(root, env)).filter((s) => s.status === 'bounced')).toHaveLength(MASS_BOUNCE.minimum - 1);
    });
  });
});

describe('connection pool', () => {
  it('replaces a connection after smtp.pool.maxMessages without wasting the next one', async () => {
    let connections = 0;
    const { sink, root, run, rows } = await sendCase(
      {
        onConnect: (_session, callback) => {
          connections += 1;
          callback();
        },
      },
      { LETTERPRESS_SMTP_POOL_MAXCONNECTIONS: '1', LETTERPRESS_SMTP_POOL_MAXMESSAGES: '5' },
    );
    expect(run.code, run.stderr).toBe(0);
    await expectLedger(root, rows, ['sent']);
    expect(sink.messages).toHaveLength(ACTIVE);
    expect(connections).toBe(ACTIVE / 5);
  });
});


describe('a recipient whose stored address cannot go into a message', () => {
  it('fails that row only; the others are sent, the run ends cleanly and later runs are not stuck on it', async () => {
    const sink = await scriptedServer({});
    const root = await cloneProject();
    // The CLI refuses such an address; a store written by something else may still hold one.
    await withStore(root, (store) => store.upsertSubscriber({ email: 'bad address@example.org', status: 'active', source: 'api' }));
    const env = { ...BASE_ENV, LETTERPRESS_SMTP_URL: sink.url };
    const run = await runCli(['send', SLUG], root, env);
    expect(run.code, run.stderr).toBe(0);

    const rows = await deliveryRows(root);
    expect(rows).toHaveLength(ACTIVE + 1);
    expect(rows.filter((row) => row.state === 'sending')).toEqual([]);
    const bad = rows.find((row) => row.email === 'bad address@example.org')!;
    expect(bad.state).toBe('failed');
    expect(bad.reply).toMatch(/cannot be put in a header/);
    expect(rows.filter((row) => row !== bad).every((row) => row.state === 'sent')).toBe(true);
    expect(sink.messages).toHaveLength(ACTIVE);
    expect((await issueStatus(root)).state).toBe('sent');

    const again = await runCli(['send', SLUG], root, env);
    expect(again.code, again.stderr).toBe(0);
    expect(sink.messages).toHaveLength(ACTIVE);
  });
});
