import { constants, existsSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import path from 'node:path';
import type { Command } from 'commander';
import type { SmtpProbeOptions, SmtpProbeResult } from '../deliver/probe-smtp.ts';
import { MIN_ENV_SECRET_LENGTH } from '../deliver/keyring.ts';
import { describeLocalHost, findSendProblems, type PreflightProblem } from '../publish/preflight.ts';
import { wrapText } from '../render/wrap-text.ts';
import { displayWidth } from '../util/display-width.ts';
import { normalizeEmail } from '../store/email-address.ts';
import { resolveStoreLocation, type StoreLocation } from '../store/store-location.ts';
import type { App } from './app.ts';
import type { CommandContext } from './command-context.ts';
import { escapeForTerminal } from '../util/escape-for-terminal.ts';

/** One line of `doctor`'s report; `--json` prints an array of these. */
export interface DoctorCheck {
  /** Stable id: site-url, from, reply-to, postal-address, secret, store, smtp, dkim. */
  check: string;
  ok: boolean;
  /** A failure of this check stops a real send: `doctor` exits 1 when one is not ok. */
  blocking: boolean;
  /** What was found and what it means. */
  message: string;
  /** How to fix it, or null when there is nothing to do. */
  fix: string | null;
  /** dkim only: the DNS TXT record to publish, `name TXT "value"`. */
  record?: { name: string; type: 'TXT'; value: string };
}

/** The SMTP probe waits at most this long for the connection, the greeting and each reply. */
const SMTP_PROBE_TIMEOUT_MS = 10_000;
/** The report fits a 100-column terminal; labels take the first LABEL_WIDTH columns. */
const REPORT_WIDTH = 100;
const LABEL_WIDTH = 18;

const LABELS: Record<string, string> = {
  'site-url': 'site URL',
  from: 'From',
  'reply-to': 'Reply-To',
  'postal-address': 'postal address',
  secret: 'link secret',
  store: 'store',
  smtp: 'SMTP',
  dkim: 'DKIM',
};

function fromProblem(problem: PreflightProblem | undefined, allowLocal: boolean, passed: { check: string; message: string }): DoctorCheck {
  if (!problem) return { ...passed, ok: true, blocking: true, fix: null };
  if (problem.local && allowLocal) {
    return {
      check: problem.check,
      ok: true,
      blocking: true,
      message: `${problem.message}. Allowed by delivery.allowLocalAddresses (or --allow-local): staging only`,
      fix: `before mailing real readers: ${problem.fix}`,
    };
  }
  return { check: problem.check, ok: false, blocking: true, message: problem.message, fix: problem.fix };
}

function checkSiteUrl(app: App, problems: readonly PreflightProblem[], allowLocal: boolean): DoctorCheck {
  const url = app.loaded.config.site.url;
  const result = fromProblem(problems.find((p) => p.check === 'site-url'), allowLocal, {
    check: 'site-url',
    message: `every link in the email and the feeds (unsubscribe and confirm too) starts with ${url}`,
  });
  if (result.ok && !problems.some((p) => p.check === 'site-url') && !url.startsWith('https://')) {
    return {
      check: 'site-url',
      ok: false,
      blocking: false,
      message: `site.url ${url} is plain http: unsubscribe and confirmation links carry tokens that anyone on the way can read`,
      fix: 'serve the archive over https (a proxy in front of `letterpress serve`) and set site.url to the https:// address',
    };
  }
  return result;
}

function checkFrom(app: App, problems: readonly PreflightProblem[], allowLocal: boolean): DoctorCheck {
  const { sender, site } = app.loaded.config;
  const problem = problems.find((p) => p.check === 'from');
  const parsed = normalizeEmail(sender.fromAddress);
  if (!problem && !parsed.ok) {
    return {
      check: 'from',
      ok: false,
      blocking: true,
      message: `sender.fromAddress ${JSON.stringify(sender.fromAddress)} is not an address: ${parsed.reason}`,
      fix: 'set sender.fromAddress to an address such as news@your-domain.org',
    };
  }
  return fromProblem(problem, allowLocal, {
    check: 'from',
    message: `mail goes out From: ${sender.fromName ?? site.title} <${sender.fromAddress}>; bounces go to ${sender.envelopeFrom ?? sender.fromAddress}`,
  });
}

function checkReplyTo(app: App): DoctorCheck {
  const { replyTo, fromAddress } = app.loaded.config.sender;
  if (replyTo === undefined) {
    return { check: 'reply-to', ok: true, blocking: false, message: `not set: replies go to the From address, ${fromAddress}`, fix: null };
  }
  const why = describeLocalHost(replyTo.slice(replyTo.lastIndexOf('@') + 1));
  if (!normalizeEmail(replyTo).ok || why) {
    return {
      check: 'reply-to',
      ok: false,
      blocking: false,
      message: `sender.replyTo ${replyTo}: ${why ? `its domain is ${why}` : 'not a valid address'}, so readers' replies are lost`,
      fix: 'set sender.replyTo to a mailbox you read, or remove it to get replies at the From address',
    };
  }
  return { check: 'reply-to', ok: true, blocking: false, message: `replies go to ${replyTo}`, fix: null };
}

function checkPostalAddress(app: App, problems: readonly PreflightProblem[]): DoctorCheck {
  const postal = app.loaded.config.site.postalAddress;
  const result = fromProblem(problems.find((p) => p.check === 'postal-address'), false, {
    check: 'postal-address',
    message: `every footer shows: ${postal}`,
  });
  // The shipped sample and the usual placeholders: present, so not refused, but readers see it.
  if (result.ok && /示例|\bexample\b/i.test(postal)) {
    return {
      check: 'postal-address',
      ok: false,
      blocking: false,
      message: `site.postalAddress "${postal}" looks like a sample address; every footer shows it`,
      fix: 'set site.postalAddress to your real postal address',
    };
  }
  return result;
}

async function isWritable(target: string): Promise<boolean> {
  try {
    await access(target, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The store check, and how many generated link keys it holds (undefined: not opened). */
async function checkStore(app: App): Promise<{ result: DoctorCheck; storedKeys?: number }> {
  const fail = (message: string, fix: string) => ({ result: { check: 'store', ok: false, blocking: true, message, fix } });
  let location: StoreLocation;
  try {
    location = resolveStoreLocation({ url: app.loaded.config.store.url, root: app.loaded.root });
  } catch (error) {
    return fail((error as Error).message, 'set store.url (or LETTERPRESS_DB) to a SQLite file path such as data/letterpress.db, or a postgres:// URL');
  }
  if (location.driver === 'postgres') return checkPostgresStore(app, location.shown, fail);
  const file = location.file;
  const shown = path.relative(app.loaded.root, file) || file;
  if (!existsSync(file)) {
    let dir = path.dirname(file);
    while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
    if (!(await isWritable(dir))) return fail(`${shown} does not exist and ${dir} is not writable: the first build cannot create it`, `make ${dir} writable for this user, or point store.url elsewhere`);
    return { result: { check: 'store', ok: true, blocking: true, message: `${shown} does not exist yet: the first build or start creates it`, fix: null } };
  }
  // SQLite writes beside the file (the -wal and -shm files), so the folder must be writable too.
  if (!(await isWritable(file)) || !(await isWritable(path.dirname(file)))) {
    return fail(`${shown} (or its folder) is not writable: nothing could be recorded, planned or sent`, `make ${path.dirname(file)} and the file writable for the user that runs letterpress`);
  }
  try {
    const store = await app.store();
    const keys = (await store.listSecrets()).length;
    const active = await store.countSubscribers({ status: 'active' });
    const issues = (await store.listIssues()).length;
    return {
      result: { check: 'store', ok: true, blocking: true, message: `${shown} is writable: ${active} active subscriber${active === 1 ? '' : 's'}, ${issues} issue${issues === 1 ? '' : 's'}`, fix: null },
      storedKeys: keys,
    };
  } catch (error) {
    return fail(`${shown} cannot be opened: ${(error as Error).message}`, 'restore the store from a backup, or move it away to start afresh');
  }
}

/** The store check for a PostgreSQL store: it answers, takes writes, and what it holds. */
async function checkPostgresStore(
  app: App,
  shown: string,
  fail: (message: string, fix: string) => { result: DoctorCheck },
): Promise<{ result: DoctorCheck; storedKeys?: number }> {
  try {
    const store = await app.store();
    await store.checkReady();
    const keys = (await store.listSecrets()).length;
    const active = await store.countSubscribers({ status: 'active' });
    const issues = (await store.listIssues()).length;
    return {
      result: { check: 'store', ok: true, blocking: true, message: `PostgreSQL store ${shown} answers: ${active} active subscriber${active === 1 ? '' : 's'}, ${issues} issue${issues === 1 ? '' : 's'}`, fix: null },
      storedKeys: keys,
    };
  } catch (error) {
    return fail(`PostgreSQL store ${shown} cannot be used: ${(error as Error).message}`, 'start the server, create the database, or fix store.url (LETTERPRESS_DB, DATABASE_URL)');
  }
}

function checkSecret(app: App, storedKeys: number | undefined): DoctorCheck {
  const secret = app.loaded.secrets.tokenSecret;
  if (secret !== undefined) {
    if (secret.length < MIN_ENV_SECRET_LENGTH) {
      return {
        check: 'secret',
        ok: false,
        blocking: true,
        message: `LETTERPRESS_SECRET is ${secret.length} characters: too short to sign unsubscribe and confirmation links (${MIN_ENV_SECRET_LENGTH} at least); every send and the server refuse it`,
        fix: 'set LETTERPRESS_SECRET to the output of: openssl rand -base64 32',
      };
    }
    return {
      check: 'secret',
      ok: true,
      blocking: true,
      message: 'LETTERPRESS_SECRET is set: links are signed with it; every process that sends or serves needs the same value, and changing it breaks the links already sent',
      fix: null,
    };
  }
  const kept = storedKeys
    ? `is generated and kept in the store (${storedKeys} key${storedKeys === 1 ? '' : 's'})`
    : 'will be generated at first use and kept in the store';
  return {
    check: 'secret',
    ok: true,
    blocking: true,
    message: `LETTERPRESS_SECRET is not set: the key that signs unsubscribe and confirmation links ${kept}. Fine on one machine; back the store up (losing it breaks every link already sent), and whoever can read it can forge links`,
    fix: 'to keep the key outside the store, set LETTERPRESS_SECRET (openssl rand -base64 32) before the first send',
  };
}

async function checkSmtp(app: App, probe: (options: SmtpProbeOptions) => Promise<SmtpProbeResult>): Promise<DoctorCheck> {
  const { smtp, site } = app.loaded.config;
  if (!smtp.host) {
    const outbox = path.relative(app.loaded.root, app.outboxDir) || app.outboxDir;
    return {
      check: 'smtp',
      ok: true,
      blocking: false,
      message: `no SMTP server configured: outbox mode, every message is written to ${outbox}/<slug>/*.eml and nothing is sent (never refused by the preflight)`,
      fix: 'to send for real: LETTERPRESS_SMTP_URL=smtp://user:pass@relay.your-domain.org:587',
    };
  }
  const where = `${smtp.secure ? 'smtps' : 'smtp'}://${smtp.host}:${smtp.port}`;
  let clientName = smtp.clientName;
  try {
    clientName ??= new URL(site.url).hostname;
  } catch {
    // The relay gets nodemailer's default EHLO name.
  }
  const result = await probe({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: smtp.requireTLS,
    tlsRejectUnauthorized: smtp.tlsRejectUnauthorized,
    user: smtp.user,
    pass: app.loaded.secrets.smtpPass,
    clientName,
    timeoutMs: Math.min(SMTP_PROBE_TIMEOUT_MS, smtp.timeouts.connectionMs, smtp.timeouts.greetingMs),
  });
  if (result.ok) {
    const login = result.loggedIn ? `login as ${smtp.user} accepted` : 'no login (smtp.user not set): the relay must accept mail from this host without one';
    return {
      check: 'smtp',
      ok: true,
      blocking: false,
      message: `${where} answered; ${login}${result.secure ? '' : '; the connection is not encrypted'}`,
      fix: null,
    };
  }
  const { failure } = result;
  const reply = failure.reply;
  if (failure.kind === 'session' && failure.code !== 'E_SMTP_CONNECT') {
    // The relay answered and refused us: a setting to fix, not a passing outage.
    return { check: 'smtp', ok: false, blocking: true, message: `${where}: ${reply} [${failure.code}]`, fix: failure.hint };
  }
  return {
    check: 'smtp',
    ok: false,
    blocking: false,
    message: `${where} cannot be reached: ${reply}. Sends stop and leave every message queued until it answers (\`letterpress status\` shows it)`,
    fix: 'check smtp.host and smtp.port (or LETTERPRESS_SMTP_URL) and that this machine may connect to the relay',
  };
}

/** The DNS name and TXT value that publish a DKIM public key. */
export function dkimRecord(selector: string, domain: string, publicKey: KeyObject): { name: string; type: 'TXT'; value: string } {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return { name: `${selector}._domainkey.${domain}`, type: 'TXT', value: `v=DKIM1; k=rsa; p=${der.toString('base64')}` };
}

async function checkDkim(app: App): Promise<DoctorCheck> {
  const { dkim, fromAddress } = app.loaded.config.sender;
  if (!dkim) {
    return {
      check: 'dkim',
      ok: false,
      blocking: false,
      message: 'sender.dkim is not set: messages go out unsigned, and Gmail and Yahoo junk or refuse bulk mail without DKIM',
      fix: 'openssl genrsa -out keys/dkim.pem 2048, then set sender.dkim {domainName, keySelector, privateKeyPath}; doctor then prints the DNS record to publish',
    };
  }
  const file = path.resolve(app.loaded.root, dkim.privateKeyPath);
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (error) {
    return {
      check: 'dkim',
      ok: false,
      blocking: true,
      message: `sender.dkim.privateKeyPath: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; every send would stop`,
      fix: 'point sender.dkim.privateKeyPath (relative to the project) at the PEM private key, readable by this user',
    };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    return {
      check: 'dkim',
      ok: false,
      blocking: true,
      message: `${dkim.privateKeyPath} is not a PEM private key: ${(error as Error).message}`,
      fix: 'generate one with: openssl genrsa -out keys/dkim.pem 2048',
    };
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < 1024) {
    return {
      check: 'dkim',
      ok: false,
      blocking: true,
      message: `${dkim.privateKeyPath} is ${key.asymmetricKeyType === 'rsa' ? `a ${bits}-bit RSA key: receivers ignore signatures this weak` : `a ${key.asymmetricKeyType} key: only RSA keys can sign here`}`,
      fix: 'generate an RSA key with: openssl genrsa -out keys/dkim.pem 2048',
    };
  }
  const record = dkimRecord(dkim.keySelector, dkim.domainName, createPublicKey(key));
  const fromDomain = fromAddress.slice(fromAddress.lastIndexOf('@') + 1).toLowerCase();
  const domain = dkim.domainName.toLowerCase();
  const aligned = fromDomain === domain || fromDomain.endsWith(`.${domain}`);
  return {
    check: 'dkim',
    ok: aligned,
    blocking: false,
    message:
      `${dkim.privateKeyPath}: a ${bits}-bit RSA key, signing as d=${dkim.domainName} s=${dkim.keySelector}; publish its public key: ${record.name} TXT "${record.value}"` +
      (aligned ? '' : `. The From domain ${fromDomain} is not ${domain} nor under it, so the signature does not count for DMARC`),
    fix: aligned ? null : `set sender.dkim.domainName to ${fromDomain} (or a parent domain of it)`,
    record,
  };
}

/** Runs every check; the SMTP probe is the only network use (the configured relay, nothing else). */
export async function runDoctorChecks(
  app: App,
  options: { probe?: (options: SmtpProbeOptions) => Promise<SmtpProbeResult> } = {},
): Promise<DoctorCheck[]> {
  const { config } = app.loaded;
  const problems = findSendProblems(config);
  const allowLocal = config.delivery.allowLocalAddresses;
  const store = await checkStore(app);
  return [
    checkSiteUrl(app, problems, allowLocal),
    checkFrom(app, problems, allowLocal),
    checkReplyTo(app),
    checkPostalAddress(app, problems),
    checkSecret(app, store.storedKeys),
    store.result,
    // nodemailer loads only for the doctor, not with every command.
    await checkSmtp(app, options.probe ?? (await import('../deliver/probe-smtp.ts')).probeSmtp),
    await checkDkim(app),
  ];
}

/** Splits a line wider than `width` columns (a long URL or key the word wrap leaves whole). */
function hardWrap(line: string, width: number, indent: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const ch of line) {
    if (displayWidth(current + ch) > width) {
      out.push(current);
      current = indent + ch;
    } else {
      current += ch;
    }
  }
  out.push(current);
  return out;
}

/** Lines of `text` after `firstIndent`, continued under `indent`, none wider than the report. */
function wrapBlock(text: string, firstIndent: string, indent: string): string[] {
  return wrapText(text, { width: REPORT_WIDTH, firstIndent, indent })
    .split('\n')
    .flatMap((line) => (displayWidth(line) > REPORT_WIDTH ? hardWrap(line, REPORT_WIDTH, indent) : [line]));
}

/** The TXT record in zone-file form, in quoted pieces short enough for the report and any DNS host. */
function formatRecord(record: NonNullable<DoctorCheck['record']>, indent: string): string[] {
  const pieces = ['v=DKIM1; k=rsa; ', ...(record.value.slice('v=DKIM1; k=rsa; '.length).match(/.{1,64}/g) ?? [])];
  return [
    `${indent}publish in DNS (zone-file syntax; the pieces join into one value):`,
    `${indent}${record.name}. IN TXT (`,
    ...pieces.map((piece) => `${indent}  "${piece}"`),
    `${indent})`,
  ];
}

/** The human report: one entry per check (✓ fine, ✗ blocks a real send, ! worth a look), ≤ 100 columns. */
export function formatDoctorReport(checks: readonly DoctorCheck[], options: { color: boolean; header: string }): string {
  const paint = (code: string, text: string) => (options.color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const indent = ' '.repeat(LABEL_WIDTH);
  const lines = [...wrapBlock(options.header, '', ''), ''];
  for (const check of checks) {
    const symbol = check.ok ? '✓' : check.blocking ? '✗' : '!';
    const label = `${symbol} ${LABELS[check.check] ?? check.check}`.padEnd(LABEL_WIDTH);
    // Messages quote SMTP replies and DNS answers: the far side must not drive the terminal.
    const block = wrapBlock(escapeForTerminal(check.message), label, indent);
    const color = check.ok ? '32' : check.blocking ? '31' : '33';
    block[0] = paint(color, symbol) + block[0]!.slice(symbol.length);
    lines.push(...block);
    if (check.fix) lines.push(...wrapBlock(`fix: ${escapeForTerminal(check.fix)}`, indent, `${indent}     `));
    if (check.record) lines.push(...formatRecord(check.record, indent));
  }
  const blocking = checks.filter((check) => !check.ok && check.blocking);
  const warnings = checks.filter((check) => !check.ok && !check.blocking);
  lines.push('');
  const names = (list: readonly DoctorCheck[]) => list.map((check) => LABELS[check.check] ?? check.check).join(', ');
  if (blocking.length > 0) {
    lines.push(
      ...wrapBlock(
        `${paint('31', '✗')} ${blocking.length} to fix before a real send: ${names(blocking)}.` +
          (warnings.length ? ` Worth a look: ${names(warnings)}.` : ''),
        '',
        '  ',
      ),
    );
  } else {
    lines.push(...wrapBlock(`${paint('32', '✓')} ready for a real send.${warnings.length ? ` Worth a look: ${names(warnings)}.` : ''}`, '', '  '));
  }
  return `${lines.join('\n')}\n`;
}

/** `letterpress doctor [--json]`. */
export function registerDoctorCommand(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('doctor')
    .description('check the setup before a real send: site URL, From, postal address, secret, store, SMTP, DKIM; exits 1 when something blocks a send')
    .option('--json', 'print [{check, ok, blocking, message, fix}]')
    .option('--allow-local', 'check as `send --allow-local` would (loopback and example addresses allowed, for staging)')
    .action(async (options: { json?: boolean }, command: Command) => {
      await context.withApp(command, async (app) => {
        const checks = await runDoctorChecks(app);
        if (options.json) {
          io.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
        } else {
          const { root, configFile, config } = app.loaded;
          const mode = config.smtp.host ? `sends via SMTP ${config.smtp.host}:${config.smtp.port}` : 'outbox mode (no SMTP server configured)';
          const header = `Preflight for ${root} (${configFile ? path.relative(root, configFile) : 'no config file: defaults'}), ${mode}:`;
          const color = io.stdout.isTTY === true && !io.env.NO_COLOR;
          io.stdout.write(formatDoctorReport(checks, { color, header }));
        }
        if (checks.some((check) => !check.ok && check.blocking)) context.setExitCode(1);
      });
    });
}
