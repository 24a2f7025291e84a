import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { activeRows, createSendProject, deliveryRows, issueStatus, SLUG, TEST_SECRET } from '../helpers/send-project.ts';
import { digestIssue, dropIssue } from '../helpers/daemon-child.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { runCli } from '../helpers/temp-project.ts';

/**
 * Issue 9, seen point 2: with LETTERPRESS_SMTP_URL set and the shipped config, real mail went
 * out From newsletter@localhost with every link on http://127.0.0.1:8080. Now a real send is
 * refused with the reason and sends nothing, unless --allow-local says this is staging.
 */

let sink: SmtpSink;
let root: string;
let env: Record<string, string>;

beforeEach(async () => {
  sink = await startSmtpSink();
  env = { LETTERPRESS_SMTP_URL: sink.url, LETTERPRESS_SECRET: TEST_SECRET };
  // The shipped config as it is: local addresses not allowed.
  root = await createSendProject(activeRows(3), env, { allowLocalAddresses: false });
});

afterEach(async () => {
  await sink.close();
});

describe('a real send with the shipped config', () => {
  it('is refused with the reason, sends nothing and changes nothing', async () => {
    const run = await runCli(['send', SLUG], root, env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('[E_PREFLIGHT]');
    expect(run.stderr).toContain('http://127.0.0.1:8080');
    expect(run.stderr).toContain('newsletter@localhost');
    expect(run.stderr).toContain('--allow-local');
    expect(sink.messages).toHaveLength(0);
    // Refused before planning: the archived issue stays archived, with no delivery rows.
    expect((await issueStatus(root, SLUG, env)).state).toBe('archived');
    expect(await deliveryRows(root)).toHaveLength(0);
  });

  it('sends with --allow-local (staging)', async () => {
    const run = await runCli(['send', SLUG, '--allow-local'], root, env);
    expect(run.code, run.stderr).toBe(0);
    expect(sink.messages).toHaveLength(3);
    expect((await issueStatus(root, SLUG, env)).counts.sent).toBe(3);
  });

  it('sends with delivery.allowLocalAddresses (here from its env variable)', async () => {
    const run = await runCli(['send', SLUG], root, { ...env, LETTERPRESS_DELIVERY_ALLOWLOCALADDRESSES: 'true' });
    expect(run.code, run.stderr).toBe(0);
    expect(sink.messages).toHaveLength(3);
  });

  it('start --once publishes and builds a new issue, then refuses to send it', async () => {
    await dropIssue(root, '2024-40.md', await digestIssue(40));
    const run = await runCli(['start', '--once'], root, env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('[E_PREFLIGHT]');
    expect(sink.messages).toHaveLength(0);
    const status = await issueStatus(root, '2024-40', env);
    expect(status.state).toBe('planned');
    expect(status.counts.queued).toBe(3);
    await access(path.join(root, 'out', 'issues', '2024-40', 'index.html'));
    const allowed = await runCli(['start', '--once', '--allow-local'], root, env);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(sink.messages).toHaveLength(3);
  });

  it('a test copy to a real relay is a real send: refused, then sent with --allow-local', async () => {
    const refused = await runCli(['send', SLUG, '--to', 'me@acme-mail.com'], root, env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('[E_PREFLIGHT]');
    expect(sink.messages).toHaveLength(0);
    const sent = await runCli(['send', SLUG, '--to', 'me@acme-mail.com', '--allow-local'], root, env);
    expect(sent.code, sent.stderr).toBe(0);
    expect(sink.messages.map((message) => message.rcpt)).toEqual([['me@acme-mail.com']]);
  });

  it('a dry run warns about what a real send would refuse, and changes nothing', async () => {
    const run = await runCli(['send', SLUG, '--dry-run'], root, env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('a real send would refuse');
    expect(run.stderr).toContain('newsletter@localhost');
    expect(run.stdout).toContain('3 messages would be sent');
    expect(sink.messages).toHaveLength(0);
  });

  it('a missing postal address is refused even with --allow-local', async () => {
    const run = await runCli(['send', SLUG, '--allow-local'], root, { ...env, LETTERPRESS_SITE_POSTALADDRESS: '' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('site.postalAddress');
    expect(sink.messages).toHaveLength(0);
  });
});

describe('outbox mode (no SMTP configured)', () => {
  it('is never refused', async () => {
    const run = await runCli(['send', SLUG], root, { LETTERPRESS_SECRET: TEST_SECRET });
    expect(run.code, run.stderr).toBe(0);
    expect(await readdir(path.join(root, 'data', 'outbox', SLUG))).toHaveLength(3);
  });
});
