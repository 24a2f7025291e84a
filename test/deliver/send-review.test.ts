import { writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireRunnerLease } from '../../src/deliver/runner-lease.ts';
import { createSmtpTransport } from '../../src/deliver/smtp-transport.ts';
import type { OutgoingMessage } from '../../src/deliver/types.ts';
import { abortableSleep } from '../../src/util/sleep.ts';
import { activeRows, createSendProject, issueStatus, SLUG, TEST_SECRET, withStore } from '../helpers/send-project.ts';
import { countByRecipient, startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { runCli } from '../helpers/temp-project.ts';

const sinks: SmtpSink[] = [];
afterEach(async () => {
  for (const sink of sinks.splice(0)) await sink.close();
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('the send loop under a slow relay', () => {
  it('never sends a row twice in one run when a batch outlasts the row lease', async () => {
    const sink = await startSmtpSink({
      onData(stream, session, callback) {
        // 300 ms a message, 3 connections, batches of 10: a batch takes about a second,
        // longer than the 1 s lease, so in-flight rows come back from the claim.
        sink.collect(stream, session).then(async (message) => {
          await sleep(300);
          sink.messages.push(message);
          callback(null);
        }, callback);
      },
    });
    sinks.push(sink);
    const env = {
      LETTERPRESS_SECRET: TEST_SECRET,
      LETTERPRESS_SMTP_URL: sink.url,
      LETTERPRESS_SMTP_POOL_MAXCONNECTIONS: '3',
      LETTERPRESS_DELIVERY_BATCHSIZE: '10',
      LETTERPRESS_DELIVERY_LEASESECONDS: '1',
    };
    const root = await createSendProject(activeRows(24), env);
    const sent = await runCli(['send', SLUG], root, env);
    expect(sent.code, sent.stderr).toBe(0);
    const counts = countByRecipient(sink.messages);
    expect(counts.size).toBe(24);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect((await issueStatus(root, SLUG, env)).counts).toMatchObject({ sent: 24, sending: 0, queued: 0 });
  });
});

describe('the SMTP pool after a session error', () => {
  it('tries the server again on the next send once the failed run is over (a relay that restarted)', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const transport = createSmtpTransport({
      host: '127.0.0.1',
      port,
      secure: false,
      requireTLS: false,
      tlsRejectUnauthorized: true,
      maxConnections: 2,
      maxMessages: 0,
      rateLimit: 0,
      timeouts: { connectionMs: 2000, greetingMs: 2000, socketMs: 2000 },
    });
    const raw = Buffer.from('From: a@example.org\r\nTo: b@example.org\r\nSubject: x\r\n\r\nbody\r\n');
    const message: OutgoingMessage = { envelope: { from: 'a@example.org', to: 'b@example.org' }, parts: [raw], size: raw.length, raw, messageId: '<1@x>', issueSlug: 's' };
    await expect(transport.send(message)).rejects.toMatchObject({ code: 'E_SMTP_CONNECT' });
    // The relay comes (back) up on the very port the transport knows.
    const received: string[] = [];
    const relay = new SMTPServer({
      logger: false,
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, session, callback) {
        stream.resume();
        stream.on('end', () => {
          received.push(session.envelope.rcptTo[0]?.address ?? '');
          callback(null);
        });
      },
    });
    await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', () => resolve()));
    try {
      await expect(transport.send(message)).resolves.toMatchObject({ status: 'sent' });
      await transport.close();
      expect(received).toEqual(['b@example.org']);
    } finally {
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });
});

describe('commands that must change nothing', () => {
  it('send --dry-run and --to do not record or plan a new issue', async () => {
    const root = await createSendProject(activeRows(3), { LETTERPRESS_SECRET: TEST_SECRET });
    const issue = `---\ntitle: New issue\ndate: 2024-09-01\n---\n# New issue\n\nText.\n`;
    await writeFile(path.join(root, 'issues', 'new-issue.md'), issue);
    await runCli(['send', '--dry-run'], root, { LETTERPRESS_SECRET: TEST_SECRET });
    await runCli(['send', '2024-18', '--to', 'editor@example.org'], root, { LETTERPRESS_SECRET: TEST_SECRET });
    expect(await withStore(root, (store) => store.getIssue('new-issue'))).toBeUndefined();
  });
});

describe('waiting for the send lease', () => {
  it('ends with E_ABORTED when the run is stopped while another runner sends', async () => {
    const root = await createSendProject([], { LETTERPRESS_SECRET: TEST_SECRET });
    await withStore(root, async (store) => {
      const until = new Date(Date.now() + 60_000).toISOString();
      // A live holder: this very process, so the wait cannot take the lease over.
      expect(await store.acquireLease('send', `${(await import('node:os')).hostname()}:${process.pid}:other`, until, new Date().toISOString())).toBe(true);
      // Stopped once it is waiting (not after a fixed delay, which a slow machine may reach before the wait starts).
      const stop = new AbortController();
      let waited = 0;
      await expect(
        acquireRunnerLease('send', 'me:1:x', {
          store,
          clock: { now: () => new Date() },
          sleep: abortableSleep,
          leaseMs: 60_000,
          signal: stop.signal,
          onWait: () => {
            waited += 1;
            setImmediate(() => stop.abort());
          },
        }),
      ).rejects.toMatchObject({ code: 'E_ABORTED' });
      expect(waited).toBe(1);
    });
  });
});
