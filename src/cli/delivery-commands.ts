import path from 'node:path';
import type { Command } from 'commander';
import { formatDiagnostic } from '../issue/diagnostic.ts';
import { loadIssues } from '../build/load-issues.ts';
import { classifyIssue } from '../build/build-site.ts';
import { prepareIssueEmail } from '../deliver/prepare-issue-email.ts';
import { dryRunSend, sendTestCopy } from '../deliver/preview-send.ts';
import { isLocalHolderAlive } from '../deliver/runner-lease.ts';
import { readDaemonStatus, type DaemonStatus } from '../schedule/daemon-status.ts';
import type { App } from './app.ts';
import { LetterpressError } from '../util/errors.ts';
import type { CommandContext } from './command-context.ts';
import { createSendProgress, formatSendSummary } from './send-progress.ts';
import { checkSendPreflight, formatPreflightRefusal, isOutboxMode } from '../publish/preflight.ts';

/** Sends what is due and prints the summary; shared by `send` and `start`. */
export async function sendAndReport(app: App, context: CommandContext, slug?: string): Promise<void> {
  const { io } = context;
  const progress = createSendProgress(io.stderr);
  const abort = new AbortController();
  // Ctrl-C stops claiming; messages in flight finish and the rest stays queued.
  const onSignal = () => {
    io.stderr.write('\nstopping: letting messages in flight finish; the rest stays queued…\n');
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const reports = await app.send({ slug, signal: abort.signal, onEvent: progress.onEvent });
    progress.finish();
    if (reports.length === 0) io.stdout.write('Nothing to send: no published issue is waiting.\n');
    for (const report of reports) {
      io.stdout.write(`${formatSendSummary(report)}\n`);
      if (report.stoppedBy) {
        io.stderr.write(`letterpress: sending stopped: ${report.stoppedBy.message} [${report.stoppedBy.code}]\n`);
        io.stderr.write('  every unsent message stays queued; fix the problem and run `letterpress send` again.\n');
        context.setExitCode(1);
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** Tells the operator what the store did with the issues this build saw. */
export function reportRegistration(app: App, context: CommandContext, registered: { added: { slug: string; state: string }[]; renamed: { file: string; frozenSlug: string }[]; backlog: boolean } | undefined): void {
  if (!registered) return;
  const { io } = context;
  const archived = registered.added.filter((entry) => entry.state === 'archived').map((entry) => entry.slug);
  if (registered.backlog && archived.length > 0) {
    io.stdout.write(
      `  new store: ${archived.length} issue${archived.length === 1 ? '' : 's'} already in issues/ archived (on the site and in the feeds, never emailed): ${archived.join(', ')}\n` +
        `  to email one of them: letterpress send <slug>\n`,
    );
  }
  for (const entry of registered.added.filter((added) => added.state === 'published')) {
    io.stdout.write(`  published: ${entry.slug} (planned for every active subscriber; \`letterpress send\` sends it)\n`);
  }
  for (const entry of registered.renamed) {
    io.stdout.write(`  ${entry.file}: same content as the published issue ${entry.frozenSlug}; kept its slug and never re-sent\n`);
  }
}

/** The daemon's last word, with whether it still runs (a killed daemon cannot say it stopped). */
async function readDaemonView(dataDir: string): Promise<(DaemonStatus & { alive: boolean }) | undefined> {
  const status = await readDaemonStatus(dataDir);
  if (!status) return undefined;
  return { ...status, alive: status.state === 'running' && isLocalHolderAlive(`${status.host}:${status.pid}:x`) };
}

/** The daemon part of `letterpress status`, as lines. */
export function formatDaemonView(daemon: DaemonStatus & { alive: boolean }): string[] {
  const lines = [
    daemon.alive
      ? `daemon: running (pid ${daemon.pid} on ${daemon.host}, since ${daemon.startedAt})${daemon.url ? `, serving ${daemon.url}` : ''}`
      : `daemon: not running (last seen ${daemon.updatedAt}${daemon.state === 'running' ? ', it did not stop cleanly' : ''})`,
  ];
  if (daemon.alive && daemon.nextTick) lines.push(`  next look at issues/: ${daemon.nextTick}`);
  if (daemon.alive && daemon.nextWindow) lines.push(`  next send window: ${daemon.nextWindow}`);
  for (const item of daemon.scheduled) lines.push(`  scheduled: ${item.slug} at ${item.publishAt}`);
  for (const slug of daemon.waitingForWindow) lines.push(`  waiting for the send window: ${slug}`);
  for (const pass of daemon.lastPasses.slice(0, 3)) {
    lines.push(
      `  pass (${pass.reason}) ${pass.finishedAt}: ${pass.published.length ? `published ${pass.published.join(', ')}; ` : ''}sent ${pass.sent}, failed ${pass.failed}, deferred ${pass.deferred}${pass.errors ? `, ${pass.errors} file errors` : ''}`,
    );
  }
  return lines;
}

/** `send`, `publish` and `status`. */
export function registerDeliveryCommands(program: Command, context: CommandContext): void {
  const { io } = context;

  program
    .command('send')
    .description('send published issues to their planned subscribers (an archived issue when named)')
    .argument('[slug]', 'only this issue; an archived issue is planned and sent')
    .option('--dry-run', 'render and check every message, send nothing, change nothing')
    .option('--to <address>', 'send one test copy to this address, without touching the ledger')
    .option('--no-build', 'do not rebuild out/ first')
    .option('--allow-local', 'send via SMTP even with a loopback, localhost or example site URL or From (staging)')
    .action(async (slug: string | undefined, options: { dryRun?: boolean; to?: string; build: boolean }, command: Command) => {
      await context.withApp(command, async (app) => {
        // A dry run or a test copy changes nothing: no build, so nothing is recorded or planned.
        if (options.build && !options.dryRun && options.to === undefined) {
          const report = await app.build();
          for (const d of report.diagnostics.filter((x) => x.severity === 'error')) io.stderr.write(`${formatDiagnostic(d)}\n`);
          reportRegistration(app, context, report.registered);
        }
        const store = await app.store();
        const deps = {
          loaded: app.loaded,
          store,
          clock: app.clock,
          keyring: await app.keyring(),
          renderEmail: (record: Parameters<typeof prepareIssueEmail>[0]) => prepareIssueEmail(record, app.loaded),
          transport: app.transport(),
        };
        if (options.to !== undefined) {
          const { slug: sent, outcome, message } = await sendTestCopy(deps, options.to, slug);
          io.stdout.write(`Test copy of ${sent} to ${message.envelope.to} via ${deps.transport.description}: ${outcome.status} (${outcome.reply})\n`);
          if (outcome.status !== 'sent') context.setExitCode(1);
          return;
        }
        if (options.dryRun) {
          // A dry run sends nothing, so the preflight only warns about what a real send would refuse.
          const problems = isOutboxMode(app.loaded.config) ? [] : checkSendPreflight(app.loaded.config);
          if (problems.length > 0) io.stderr.write(`warning: ${formatPreflightRefusal(problems).replace(/^refusing/, 'a real send would refuse')}\n`);
          const reports = await dryRunSend(deps, slug);
          if (reports.length === 0) io.stdout.write('Nothing to send: no published issue is waiting.\n');
          for (const report of reports) {
            io.stdout.write(
              `${report.slug}: ${report.messages} messages would be sent (${(report.bytes / 1024 / 1024).toFixed(1)} MB), ${report.invalid.length} invalid\n`,
            );
            for (const bad of report.invalid.slice(0, 20)) io.stdout.write(`  subscriber ${bad.subscriberId} ${bad.email}: ${bad.reason}\n`);
            if (report.invalid.length > 0) context.setExitCode(1);
          }
          return;
        }
        await sendAndReport(app, context, slug);
      });
    });

  program
    .command('publish')
    .description('publish one issue file now: on the site and in the feeds, planned for every active subscriber')
    .argument('<file>', 'the issue file (in issues/)')
    .action(async (file: string, _options: unknown, command: Command) => {
      await context.withApp(command, async (app) => {
        const target = path.resolve(io.cwd, file);
        const { issues, diagnostics } = await loadIssues([target], {
          root: app.loaded.root,
          timezone: app.loaded.config.timezone,
          maxBytes: app.loaded.config.limits.maxIssueBytes,
        });
        for (const d of diagnostics) io.stderr.write(`${formatDiagnostic(d)}\n`);
        const issue = issues[0]?.issue;
        if (!issue) throw new LetterpressError('E_ISSUE_FILE', `${file}: not published: fix the errors above`);
        if (path.relative(app.loaded.paths.issues, target).startsWith('..')) {
          throw new LetterpressError('E_USAGE', `${file}: publish files from ${app.loaded.paths.issues} (copy it there first)`);
        }
        const when = classifyIssue(issue, app.clock.now());
        if (when === 'draft') throw new LetterpressError('E_DRAFT', `${file}: is a draft (draft: true); remove that line to publish it`);
        if (when === 'scheduled') {
          throw new LetterpressError('E_NOT_DUE', `${file}: publish_at is ${issue.publishAt}; it is published then (or remove publish_at to publish now)`);
        }
        const report = await app.build(undefined, { publish: new Set([issue.slug]) });
        reportRegistration(app, context, report.registered);
        const record = await (await app.store()).getIssue(issue.slug);
        io.stdout.write(`${issue.slug}: ${record?.state ?? 'not recorded'}; page: ${path.join(path.relative(io.cwd, app.loaded.paths.out) || '.', 'issues', issue.slug, 'index.html')}\n`);
        if (record?.state === 'planned') io.stdout.write(`  send it now: letterpress send ${issue.slug}\n`);
      });
    });

  program
    .command('status')
    .description('per-issue state and delivery counts')
    .argument('[slug]', 'only this issue')
    .option('--json', 'print [{slug, title, state, publishedAt, counts}]')
    .option('--daemon', 'with --json: print {issues: [...], daemon: {...}} including the daemon\'s view')
    .action(async (slug: string | undefined, options: { json?: boolean; daemon?: boolean }, command: Command) => {
      await context.withApp(command, async (app) => {
        const store = await app.store();
        const records = (await store.listIssues()).filter((record) => slug === undefined || record.slug === slug);
        if (slug !== undefined && records.length === 0) throw new LetterpressError('E_UNKNOWN_ISSUE', `no issue has the slug "${slug}"`);
        const rows = [];
        for (const record of records) {
          const counts = await store.countDeliveries(record.slug);
          rows.push({ slug: record.slug, title: record.title, state: record.state, publishedAt: record.publishedAt, counts, nextRetryAt: counts.deferred ? await store.nextDeferredAt(record.slug) : undefined });
        }
        const daemon = await readDaemonView(app.loaded.paths.data);
        if (options.json) {
          const issues = rows.map(({ nextRetryAt: _, ...row }) => row);
          io.stdout.write(`${JSON.stringify(options.daemon ? { issues, daemon: daemon ?? null } : issues, null, 2)}\n`);
          return;
        }
        if (rows.length === 0) io.stdout.write('No issues recorded yet: run `letterpress build`.\n');
        for (const row of rows) {
          const c = row.counts;
          io.stdout.write(
            `${row.slug.padEnd(20)} ${row.state.padEnd(9)} queued ${c.queued}, sending ${c.sending}, sent ${c.sent}, deferred ${c.deferred}, failed ${c.failed}, bounced ${c.bounced}, skipped ${c.skipped}${row.nextRetryAt ? ` (next retry ${row.nextRetryAt})` : ''}  ${row.title}\n`,
          );
        }
        if (daemon && slug === undefined) for (const line of formatDaemonView(daemon)) io.stdout.write(`${line}\n`);
      });
    });
}
