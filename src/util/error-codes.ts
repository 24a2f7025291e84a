/**
 * The one table of error codes (DESIGN.md §4a): what each code means, the exit status a
 * command ends with when it stops on it, and what the operator does about it. `LetterpressError`
 * takes only codes from here (tsc rejects any other), `main` takes its exit status from here,
 * `letterpress help errors` prints it, and the README's table is generated from it.
 * Codes are stable: add, never rename.
 */

/** 0 done; 1 the operator must fix something; 2 usage; 70 a bug (report it); 75 temporary (retry later). */
export type ExitStatus = 0 | 1 | 2 | 70 | 75;

export interface ErrorCodeEntry {
  meaning: string;
  exit: ExitStatus;
  action: string;
}

export interface DiagnosticCodeEntry {
  meaning: string;
  severity: 'error' | 'warning';
  action: string;
}

/** Errors that stop a command (or, during a send, the run). */
export const ERROR_CODES = {
  E_ABORTED: { meaning: 'stopped by Ctrl-C or a shutdown before the work was done', exit: 75, action: 'nothing is lost: unsent messages stay queued; run the command again' },
  E_BUILD_STATE: { meaning: 'data/build-state.json (the render cache of the last build) is unreadable', exit: 1, action: 'delete the file; the next build rebuilds everything' },
  E_CONFIG: { meaning: 'config/letterpress.json or a LETTERPRESS_* variable is invalid', exit: 1, action: 'fix the key the message names (the caret points at it); `letterpress config --env` lists the variables' },
  E_DKIM: { meaning: 'DKIM signing failed', exit: 1, action: 'check that sender.dkim.privateKeyPath holds a usable PEM private key' },
  E_DRAFT: { meaning: 'the named issue file is a draft (draft: true)', exit: 1, action: 'remove the draft line to publish it' },
  E_EMAIL: { meaning: 'an email address is not valid', exit: 1, action: 'correct the address' },
  E_EMAIL_OFF: { meaning: 'the issue says email: false, so it is never emailed', exit: 1, action: 'remove `email: false` from its front matter to send it' },
  E_FEED: { meaning: 'a feed could not be built', exit: 1, action: 'fix the issue or site setting the message names and build again' },
  E_INIT: { meaning: '`letterpress init` cannot create the project there', exit: 1, action: 'pick an empty or new directory, or the answer the message asks for' },
  E_INTERNAL: { meaning: 'an internal inconsistency', exit: 70, action: 'a bug: report it with the command and its output' },
  E_ISSUE_FILE: { meaning: 'the issue file has errors and is not published', exit: 1, action: 'fix the errors listed above it (`letterpress check`)' },
  E_LISTEN: { meaning: 'the HTTP server cannot listen on that address or port', exit: 1, action: 'stop what uses the port, or pick another with --port / server.port' },
  E_MESSAGE: { meaning: 'a message was built from inconsistent parts', exit: 70, action: 'a bug: report it with the command and its output' },
  E_MIME: { meaning: 'a built message is not well-formed MIME', exit: 70, action: 'a bug: report it with the issue file' },
  E_MIGRATE_CONFLICT: { meaning: '`migrate` found the target holding other data than the source (the same id, different values; or rows the source lacks)', exit: 1, action: 'migrate into an empty database (drop and create it), or into the one an earlier migrate from this source filled and nothing used since' },
  E_MIGRATE_IN_USE: { meaning: '`migrate` found the source in use: a live lease, or messages being sent under one', exit: 1, action: 'stop the daemon, workers and sends on the source (or wait for the lease the message names to lapse), then run migrate again; --force if that holder is known to be dead' },
  E_MIGRATE_SCHEMA: { meaning: '`migrate` found a table or column on one side that the other lacks', exit: 1, action: 'run the same Letterpress version against both stores; the message names the table' },
  E_MIGRATE_VERIFY: { meaning: 'after `migrate` copied, the counts on the two sides differ: something wrote to the target meanwhile', exit: 1, action: 'stop what writes to the target, then run migrate again: it copies only what is missing' },
  E_NO_ISSUE: { meaning: 'there is no issue to preview', exit: 1, action: 'add an issue file to issues/ or name one' },
  E_NO_RENDITION: { meaning: 'an issue planned by an older Letterpress has no stored rendition, and this sender has no project tree to make one', exit: 1, action: 'run `letterpress build`, or `letterpress send` once, where issues/ and templates/ are; its messages stay queued until then' },
  E_NO_PROJECT: { meaning: 'no Letterpress project here (no config/letterpress.json at or above this directory)', exit: 1, action: 'cd into the project, pass --root, or run `letterpress init`' },
  E_NOT_DUE: { meaning: 'the issue has a publish_at in the future', exit: 1, action: 'wait for it, or remove publish_at to publish now' },
  E_OUTBOX: { meaning: 'a message cannot be written to data/outbox/', exit: 1, action: 'check that data/ is writable and the disk not full' },
  E_DISK_FULL: { meaning: 'the disk holding the store, out/ or the outbox is full: the write was rolled back', exit: 1, action: 'free space on the disk the message names, then run the command again' },
  E_PORT: { meaning: 'the preview port is not usable', exit: 2, action: 'pass a port number from 0 to 65535' },
  E_PREFLIGHT: { meaning: 'a real send was refused: site URL or From is local or an example address', exit: 1, action: 'set site.url and sender.fromAddress, or pass --allow-local for staging; `letterpress doctor` explains' },
  E_RATE_LIMIT: { meaning: 'too many requests from one address (HTTP 429)', exit: 75, action: 'the client waits and retries; limits are under server.rateLimit' },
  E_RECIPIENT: { meaning: 'a recipient cannot be put into a message header', exit: 1, action: 'correct or remove that subscriber' },
  E_SECRET: { meaning: 'the token key (LETTERPRESS_SECRET or the stored key) is missing or invalid', exit: 1, action: 'set LETTERPRESS_SECRET to 32 or more characters, or run `letterpress secret rotate`' },
  E_SEND: { meaning: 'the send loop failed unexpectedly', exit: 70, action: 'a bug: report it; unsent messages stay queued' },
  E_SMTP_AUTH: { meaning: 'the SMTP server refused the login (535)', exit: 1, action: 'fix the user and password in LETTERPRESS_SMTP_URL' },
  E_SMTP_CLOSED: { meaning: 'the SMTP connection closed before the message was sent', exit: 75, action: 'run again later; the message stays queued' },
  E_SMTP_CONNECT: { meaning: 'the SMTP server cannot be reached', exit: 75, action: 'check smtp.host and smtp.port, or wait for the relay; messages stay queued' },
  E_SMTP_MASS_BOUNCE: { meaning: '90 % or more of the first 20 recipients bounced hard', exit: 1, action: 'check the list and the relay before sending again; rows are deferred, no subscriber is marked' },
  E_SMTP_POLICY: { meaning: 'the SMTP server refused this sender by policy (5.7.x, 554)', exit: 1, action: 'fix SPF/DKIM/relay permission with your mail provider' },
  E_SMTP_REJECTED: { meaning: 'the SMTP server rejected the session', exit: 1, action: 'read the server reply in the message and fix the relay setup' },
  E_SMTP_SENDER: { meaning: 'the SMTP server refused the sender address (5.1.7, 5.1.8)', exit: 1, action: 'fix sender.fromAddress or sender.envelopeFrom' },
  E_SMTP_SIZE: { meaning: 'the message is too large for the SMTP server (552, 5.3.4)', exit: 1, action: 'shorten the issue or raise the relay limit; messages stay queued' },
  E_SMTP_STALLED: { meaning: 'three SMTP transactions in a row timed out after DATA', exit: 75, action: 'check the relay, then run again; messages stay queued' },
  E_SMTP_TLS: { meaning: 'the TLS handshake with the SMTP server failed', exit: 1, action: 'fix smtp.secure / smtp.requireTLS or the server certificate' },
  E_STORE: { meaning: 'the store cannot be opened or used (lost, damaged, or from a newer version)', exit: 1, action: 'follow the advice in the message (restore a backup, or upgrade Letterpress)' },
  E_STORE_BUSY: { meaning: 'the store is locked by another process', exit: 75, action: 'retry in a moment (store.lockWaitMs sets how long to wait)' },
  E_TEMPLATE: { meaning: 'a template file is missing or does not compile', exit: 1, action: 'fix the template file the message names' },
  E_TOKEN: { meaning: 'a token was asked for with invalid parts', exit: 70, action: 'a bug: report it' },
  E_TRANSPORT: { meaning: 'the transport failed in a way Letterpress does not know', exit: 75, action: 'read the message; run again once the transport works; messages stay queued' },
  E_UNKNOWN_ISSUE: { meaning: 'no issue has that slug', exit: 1, action: 'use a slug that `letterpress status` lists' },
  E_USAGE: { meaning: 'a command-line option has an invalid value', exit: 2, action: 'see the command\'s --help' },
} as const satisfies Record<string, ErrorCodeEntry>;

/** Findings about issue files (`check`, `build`): errors keep a file out, warnings do not. */
export const DIAGNOSTIC_CODES = {
  E_ENCODING: { meaning: 'not UTF-8 text (GBK, binary, NUL bytes…)', severity: 'error', action: 'save the file as UTF-8' },
  E_EMPTY: { meaning: 'the file holds nothing but whitespace', severity: 'error', action: 'write the issue, or delete the file' },
  E_TOO_LARGE: { meaning: 'the file is over limits.maxIssueBytes', severity: 'error', action: 'shorten it, or raise limits.maxIssueBytes' },
  E_FRONT_MATTER: { meaning: 'front matter that does not parse as a YAML mapping', severity: 'error', action: 'fix the YAML at the position shown' },
  E_FIELD: { meaning: 'a front-matter field of the wrong type or form', severity: 'error', action: 'fix the field the message names' },
  E_NO_TITLE: { meaning: 'neither a front-matter title nor a `# ` heading', severity: 'error', action: 'add a title' },
  E_DUPLICATE_SLUG: { meaning: 'two files claim one slug', severity: 'error', action: 'give one of them another slug or file name' },
  E_READ: { meaning: 'the file cannot be read', severity: 'error', action: 'check that it exists and is readable' },
  E_RENDER: { meaning: 'a template failed for this issue', severity: 'error', action: 'fix the template or the issue the message names' },
  E_OUTSIDE: { meaning: 'a file (an issue, a template, the config) is a symlink, or in a symlinked folder, that leads out of its folder: refused', severity: 'error', action: 'replace the link by the file itself, inside its folder' },
  E_TOO_SLOW: { meaning: 'parsing or rendering the file took longer than limits.parseSeconds: stopped at the line named', severity: 'error', action: 'simplify the file around that line, or raise limits.parseSeconds' },
  E_PARSER_CRASH: { meaning: 'the worker process of the parser died on this file (out of memory, a crash, killed)', severity: 'error', action: 'shrink or split the file; report it if it is an ordinary issue' },
  E_MJML: { meaning: 'MJML failed to compile the email', severity: 'error', action: 'fix the email template the message names' },
  W_UNKNOWN_FIELD: { meaning: 'a front-matter key Letterpress does not know (kept, ignored)', severity: 'warning', action: 'check its spelling' },
  W_UNSAFE_LINK: { meaning: 'a javascript:, data: or vbscript: link, neutralised', severity: 'warning', action: 'use an http(s) or mailto link' },
  W_RAW_HTML: { meaning: 'raw HTML in Markdown, shown as text', severity: 'warning', action: 'use Markdown instead' },
  W_UNCLOSED_BRACKETS: { meaning: 'a paragraph with over 1000 unclosed `[`: its links are not parsed, its brackets show as written', severity: 'warning', action: 'close the brackets, or escape them as `\\[`' },
  W_BACKTICK_RUNS: { meaning: 'a paragraph with over 2000 runs of backticks: its code spans are not parsed, its backticks show as written', severity: 'warning', action: 'split the paragraph, or put the code in a fenced block' },
  W_ITEM_NO_LINK: { meaning: 'a digest item without a link', severity: 'warning', action: 'add the item\'s URL line' },
  W_ITEM_NO_SUMMARY: { meaning: 'a digest item without a summary', severity: 'warning', action: 'add a 摘要: / Summary: line' },
  W_ITEM_NUMBER: { meaning: 'item numbers skip or repeat within a section', severity: 'warning', action: 'renumber the items' },
  W_NUMBER_MISMATCH: { meaning: 'front matter number disagrees with the title', severity: 'warning', action: 'make them agree' },
  W_CONTROL_CHAR: { meaning: 'control characters were removed', severity: 'warning', action: 'remove them from the file' },
  W_DATE_YEAR: { meaning: 'front matter date is in another year than the title says', severity: 'warning', action: 'correct the date or the title' },
  W_DATE_ORDER: { meaning: 'issue numbers and dates run in opposite directions', severity: 'warning', action: 'correct the date or the number' },
  W_MJML: { meaning: 'MJML validation warnings that did not stop the render', severity: 'warning', action: 'fix the email template' },
} as const satisfies Record<string, DiagnosticCodeEntry>;

export type ErrorCode = keyof typeof ERROR_CODES;
export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;
/** Any code a `LetterpressError` may carry: a diagnostic's code when a file problem is thrown. */
export type LetterpressCode = ErrorCode | DiagnosticCode;

/** The exit status for a code: the table's, 1 for a file problem, 70 for a code not in the table (a bug). */
export function exitStatusOf(code: string): ExitStatus {
  if (Object.hasOwn(ERROR_CODES, code)) return ERROR_CODES[code as ErrorCode].exit;
  if (Object.hasOwn(DIAGNOSTIC_CODES, code)) return 1;
  return 70;
}

const EXIT_MEANINGS: Record<ExitStatus, string> = {
  0: 'done',
  1: 'the operator must fix something (bad input, config, refused)',
  2: 'usage error',
  70: 'internal error (a bug: report it)',
  75: 'temporary (relay down, store busy: retry later)',
};

/** Plain text for `letterpress help errors`: the exit statuses, then one block per code. */
export function formatErrorCodes(): string {
  const lines = ['Exit statuses:', ...Object.entries(EXIT_MEANINGS).map(([status, meaning]) => `  ${status.padStart(2)}  ${meaning}`), ''];
  lines.push('Error codes (code, exit status, meaning; then what to do):');
  for (const [code, entry] of Object.entries(ERROR_CODES)) {
    lines.push(`  ${code.padEnd(20)} ${String(entry.exit).padStart(2)}  ${entry.meaning}`, `${' '.repeat(26)}→ ${entry.action}`);
  }
  lines.push('', 'Issue file diagnostics (`letterpress check`; errors keep the file out and make check exit 1):');
  for (const [code, entry] of Object.entries(DIAGNOSTIC_CODES)) {
    lines.push(`  ${code.padEnd(20)} ${entry.severity.padEnd(7)} ${entry.meaning}`, `${' '.repeat(26)}→ ${entry.action}`);
  }
  return `${lines.join('\n')}\n`;
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

/** The README's tables (between its error-codes markers), generated from the same data. */
export function formatErrorCodesMarkdown(): string {
  const lines = [
    '| Exit status | Meaning |',
    '|---|---|',
    ...Object.entries(EXIT_MEANINGS).map(([status, meaning]) => `| ${status} | ${cell(meaning)} |`),
    '',
    '| Code | Exit | Meaning | What to do |',
    '|---|---|---|---|',
    ...Object.entries(ERROR_CODES).map(([code, e]) => `| \`${code}\` | ${e.exit} | ${cell(e.meaning)} | ${cell(e.action)} |`),
    '',
    '| Diagnostic | Severity | Meaning | What to do |',
    '|---|---|---|---|',
    ...Object.entries(DIAGNOSTIC_CODES).map(([code, d]) => `| \`${code}\` | ${d.severity} | ${cell(d.meaning)} | ${cell(d.action)} |`),
  ];
  return `${lines.join('\n')}\n`;
}
