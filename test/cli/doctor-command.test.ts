import { execFile } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { DoctorCheck } from '../../src/cli/doctor-command.ts';
import { displayWidth } from '../../src/render/wrap-text.ts';
import { BIN, childEnv } from '../helpers/daemon-child.ts';
import { TEST_SECRET } from '../helpers/send-project.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { createTempProject, runCli } from '../helpers/temp-project.ts';

/** Issue 9's preflight: `letterpress doctor` says what must change before a real send. */

const USER = 'relay-user';
const PASSWORD = 'relay-password-0123';
let sink: SmtpSink | undefined;

afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

/** An SMTP server on loopback that wants a login and accepts only USER / PASSWORD. */
async function startRelay(): Promise<SmtpSink> {
  return startSmtpSink({
    authOptional: false,
    onAuth: (auth, _session, callback) =>
      auth.username === USER && auth.password === PASSWORD ? callback(null, { user: USER }) : callback(new Error('535 5.7.8 bad credentials')),
  });
}

/** A project ready for a real send: complete sender settings, a DKIM key, local links allowed (the relay is on loopback). */
async function createCompleteProject(): Promise<{ root: string; publicKey: string }> {
  const root = await createTempProject();
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await mkdir(path.join(root, 'keys'));
  await writeFile(path.join(root, 'keys', 'dkim.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const file = path.join(root, 'config', 'letterpress.json');
  const config = JSON.parse(await readFile(file, 'utf8'));
  config.site.postalAddress = 'Acme Mail Ltd, 12 Harbour Road, 4000 Basel';
  config.sender = {
    fromAddress: 'news@acme-mail.com',
    replyTo: 'editors@acme-mail.com',
    dkim: { domainName: 'acme-mail.com', keySelector: 'lp2026', privateKeyPath: 'keys/dkim.pem' },
  };
  config.delivery = { allowLocalAddresses: true };
  await writeFile(file, JSON.stringify(config));
  const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64');
  return { root, publicKey };
}

const byCheck = (checks: DoctorCheck[]) => Object.fromEntries(checks.map((check) => [check.check, check]));

describe('letterpress doctor on the shipped config', () => {
  it('lists what must change before a real send and exits 1', async () => {
    const root = await createTempProject();
    const human = await runCli(['doctor'], root);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/✗ site URL .*http:\/\/127\.0\.0\.1:8080/);
    expect(human.stdout).toMatch(/✗ From .*newsletter@localhost/);
    expect(human.stdout).toContain('fix: set site.url');
    expect(human.stdout).toContain('outbox mode');
    expect(human.stdout).toMatch(/2 to fix before a real send: site URL, From/);
    for (const line of human.stdout.split('\n')) expect(displayWidth(line), line).toBeLessThanOrEqual(100);

    const json = await runCli(['doctor', '--json'], root);
    expect(json.code).toBe(1);
    const checks = byCheck(JSON.parse(json.stdout) as DoctorCheck[]);
    expect(checks['site-url']).toMatchObject({ ok: false, blocking: true });
    expect(checks.from).toMatchObject({ ok: false, blocking: true });
    // The shipped postal address is a sample: worth a look, not a refusal.
    expect(checks['postal-address']).toMatchObject({ ok: false, blocking: false });
    expect(checks.smtp).toMatchObject({ ok: true, blocking: false, message: expect.stringContaining('outbox mode') });
    expect(checks.dkim).toMatchObject({ ok: false, blocking: false });
    expect(checks.secret!.message).toContain('LETTERPRESS_SECRET is not set');
    expect(checks.store!.ok).toBe(true);
  });

  it('creates nothing', async () => {
    const root = await createTempProject();
    await runCli(['doctor'], root);
    await expect(readFile(path.join(root, 'data', 'letterpress.db'))).rejects.toThrow();
  });
});

describe('letterpress doctor on a complete config', () => {
  it('exits 0, logs in to the relay, and prints the DKIM record to publish; --json has the documented shape', async () => {
    sink = await startRelay();
    const { root, publicKey } = await createCompleteProject();
    const env = { LETTERPRESS_SMTP_URL: `smtp://${USER}:${PASSWORD}@127.0.0.1:${sink.port}`, LETTERPRESS_SECRET: TEST_SECRET };
    expect((await runCli(['build'], root, env)).code).toBe(0);

    const json = await runCli(['doctor', '--json'], root, env);
    expect(json.code, json.stdout).toBe(0);
    const list = JSON.parse(json.stdout) as DoctorCheck[];
    expect(list.map((check) => check.check)).toEqual(['site-url', 'from', 'reply-to', 'postal-address', 'secret', 'store', 'smtp', 'dkim']);
    for (const check of list) {
      expect(Object.keys(check).filter((key) => key !== 'record').sort()).toEqual(['blocking', 'check', 'fix', 'message', 'ok']);
      expect(typeof check.ok).toBe('boolean');
      expect(typeof check.blocking).toBe('boolean');
      expect(typeof check.message).toBe('string');
      expect(check.fix === null || typeof check.fix === 'string').toBe(true);
      expect(check.ok, check.message).toBe(true);
    }
    const checks = byCheck(list);
    expect(checks['site-url']!.message).toContain('allowLocalAddresses');
    expect(checks.smtp!.message).toContain(`login as ${USER} accepted`);
    expect(checks.store!.message).toContain('writable');
    expect(checks.dkim!.record).toEqual({ name: 'lp2026._domainkey.acme-mail.com', type: 'TXT', value: `v=DKIM1; k=rsa; p=${publicKey}` });
    expect(checks.dkim!.message).toContain(`lp2026._domainkey.acme-mail.com TXT "v=DKIM1; k=rsa; p=${publicKey}"`);
    expect(sink.messages).toHaveLength(0);

    const human = await runCli(['doctor'], root, env);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('ready for a real send');
    expect(human.stdout).toContain('lp2026._domainkey.acme-mail.com. IN TXT (');
    // The record's pieces join back into the key.
    const pieces = [...human.stdout.matchAll(/^\s+"([^"]*)"$/gm)].map((match) => match[1]).join('');
    expect(pieces).toBe(`v=DKIM1; k=rsa; p=${publicKey}`);
    for (const line of human.stdout.split('\n')) expect(displayWidth(line), line).toBeLessThanOrEqual(100);
  });

  it('a rejected login blocks; an unreachable relay is reported but does not', async () => {
    sink = await startRelay();
    const { root } = await createCompleteProject();
    const wrong = await runCli(['doctor', '--json'], root, { LETTERPRESS_SMTP_URL: `smtp://${USER}:nope@127.0.0.1:${sink.port}`, LETTERPRESS_SECRET: TEST_SECRET });
    expect(wrong.code).toBe(1);
    expect(byCheck(JSON.parse(wrong.stdout) as DoctorCheck[]).smtp).toMatchObject({ ok: false, blocking: true, message: expect.stringContaining('E_SMTP_AUTH') });

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const dead = await runCli(['doctor', '--json'], root, { LETTERPRESS_SMTP_URL: `smtp://127.0.0.1:${port}`, LETTERPRESS_SECRET: TEST_SECRET });
    expect(dead.code, dead.stdout).toBe(0);
    expect(byCheck(JSON.parse(dead.stdout) as DoctorCheck[]).smtp).toMatchObject({ ok: false, blocking: false, message: expect.stringContaining('cannot be reached') });
  });

  it('an unreadable DKIM key and a short LETTERPRESS_SECRET block', async () => {
    const { root } = await createCompleteProject();
    await writeFile(path.join(root, 'keys', 'dkim.pem'), 'not a key');
    const run = await runCli(['doctor', '--json'], root, { LETTERPRESS_SECRET: 'short' });
    expect(run.code).toBe(1);
    const checks = byCheck(JSON.parse(run.stdout) as DoctorCheck[]);
    expect(checks.dkim).toMatchObject({ ok: false, blocking: true, message: expect.stringContaining('not a PEM private key') });
    expect(checks.secret).toMatchObject({ ok: false, blocking: true });
  });
});

describe('letterpress doctor on a terminal', () => {
  it('is coloured and fits 100 columns', async () => {
    const root = await createTempProject();
    const log = path.join(root, 'doctor.log');
    const command = `node ${BIN} --root ${root} doctor`;
    await promisify(execFile)('script', ['-qfec', command, log], { env: childEnv({ COLUMNS: '100' }) }).catch((error: { code?: number }) => {
      // doctor exits 1 on the shipped config; script passes that on.
      if (error.code !== 1) throw error;
    });
    const text = await readFile(log, 'utf8');
    expect(text).toContain('\u001b[31m✗\u001b[0m site URL');
    const plain = text.replace(/\u001b\[[0-9;]*m/g, '').replace(/\r/g, '');
    expect(plain).toContain('to fix before a real send');
    // script(1) frames the log with its own "Script started/done" lines.
    const lines = plain.split('\n').filter((line) => !/^Script (started|done)/.test(line));
    for (const line of lines) expect(displayWidth(line), line).toBeLessThanOrEqual(100);
  });
});
