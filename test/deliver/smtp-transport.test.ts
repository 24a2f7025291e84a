import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmtpTransport } from '../../src/deliver/smtp-transport.ts';
import type { OutgoingMessage } from '../../src/deliver/types.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { createTempProject, runCli } from '../helpers/temp-project.ts';

const sinks: SmtpSink[] = [];
afterEach(async () => {
  for (const sink of sinks.splice(0)) await sink.close();
});

function message(i: number): OutgoingMessage {
  const raw = Buffer.from(`From: a@example.org\r\nTo: r${i}@example.org\r\nSubject: ${i}\r\n\r\nbody ${i}\r\n`);
  return { envelope: { from: 'a@example.org', to: `r${i}@example.org` }, parts: [raw], size: raw.length, raw, messageId: `<${i}@x>`, issueSlug: 's' };
}

describe('createSmtpTransport', () => {
  it('spaces messages out to the configured rate over the whole pool', async () => {
    const sink = await startSmtpSink();
    sinks.push(sink);
    let clock = 0;
    const waits: number[] = [];
    const transport = createSmtpTransport({
      host: '127.0.0.1',
      port: sink.port,
      secure: false,
      requireTLS: false,
      tlsRejectUnauthorized: true,
      maxConnections: 3,
      maxMessages: 0,
      rateLimit: 10,
      timeouts: { connectionMs: 5000, greetingMs: 5000, socketMs: 5000 },
      now: () => clock,
      // The fake clock moves by exactly what the limiter asked to wait.
      sleep: async (ms) => {
        waits.push(ms);
        clock += ms;
      },
    });
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => transport.send(message(i))));
    await transport.close();
    expect(outcomes.every((outcome) => outcome.status === 'sent')).toBe(true);
    expect(sink.messages).toHaveLength(10);
    // 10 messages at 10/s: the last one may start 0.9 s after the first, never sooner.
    expect(clock).toBeGreaterThanOrEqual(900);
    expect(waits.every((ms) => ms > 0 && ms <= 1000)).toBe(true);
  });
});

describe('DKIM through the CLI', () => {
  it('signs every message with the configured key, covering both List-Unsubscribe headers', async () => {
    const root = await createTempProject();
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await mkdir(path.join(root, 'keys'));
    await writeFile(path.join(root, 'keys', 'dkim.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const config = JSON.parse(await readFile(path.join(root, 'config', 'letterpress.json'), 'utf8'));
    config.sender = {
      fromAddress: 'news@example.org',
      dkim: { domainName: 'example.org', keySelector: 'lp2026', privateKeyPath: 'keys/dkim.pem' },
    };
    await writeFile(path.join(root, 'config', 'letterpress.json'), JSON.stringify(config));
    const env = { LETTERPRESS_SECRET: 'dkim-test-secret-0123456789abcdef0123' };
    await runCli(['subscribers', 'add', 'ann@example.org'], root, env);
    const sent = await runCli(['send', '2024-18'], root, env);
    expect(sent.code, sent.stderr).toBe(0);
    const folder = path.join(root, 'data', 'outbox', '2024-18');
    const [file] = await readdir(folder);
    const raw = await readFile(path.join(folder, file!), 'latin1');
    const header = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
    const signature = header.split('\r\n').find((line) => line.startsWith('DKIM-Signature:'));
    expect(signature).toBeDefined();
    expect(signature).toContain('d=example.org');
    expect(signature).toContain('s=lp2026');
    const signed = /\bh=([^;]+)/.exec(signature!)![1]!.toLowerCase().split(':').map((name) => name.trim());
    expect(signed).toEqual(expect.arrayContaining(['list-unsubscribe', 'list-unsubscribe-post', 'from', 'to', 'subject']));
  });

  it('names the key file when it cannot be read', async () => {
    const root = await createTempProject();
    const config = JSON.parse(await readFile(path.join(root, 'config', 'letterpress.json'), 'utf8'));
    config.sender = { dkim: { domainName: 'example.org', keySelector: 's', privateKeyPath: 'keys/missing.pem' } };
    await writeFile(path.join(root, 'config', 'letterpress.json'), JSON.stringify(config));
    await runCli(['subscribers', 'add', 'ann@example.org'], root);
    const sent = await runCli(['send', '2024-18'], root);
    expect(sent.code).toBe(1);
    expect(sent.stderr).toContain('sender.dkim.privateKeyPath');
    expect(sent.stderr).toContain('missing.pem');
  });
});
