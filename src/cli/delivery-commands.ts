import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { formatDiagnostic } from '../issue/diagnostic.ts';
import { readDaemonView, type DaemonStatus } from '../schedule/daemon-status.ts';
import type { App } from './app.ts';
import type { ArchiveOutcome } from '../store/issue-registry.ts';
import { describeStore, resolveStoreLocation } from '../store/store-location.ts';
import { exitStatusOf } from '../util/error-codes.ts';
import { LetterpressError } from '../util/errors.ts';
import { escapeForTerminal } from '../util/escape-for-terminal.ts';
import type { CommandContext } from './command-context.ts';
import { createSendProgress, formatSendSummary } from './send-progress.ts';
import { formatDaemonView, formatIssueStatus, formatWorkers, passErrors, type IssueStatusView } from './format-status.ts';
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
        io.stderr.write(`letterpress: sending stopped: ${escapeForTerminal(report.stoppedBy.message)} [${report.stoppedBy.code}]\n`);
        io.stderr.write('  every unsent message stays queued; fix the problem and run `letterpress send` again.\n');
        // Relay down or an interrupted run is temporary (75); a refusal the operator must fix is 1.
        context.setExitCode(exitStatusOf(report.stoppedBy.code));
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** Tells the operator what the store did with the issues this build saw. */
export function reportRegistration(
  app: App,
  context: CommandContext,
  registered:
    | {
        added: { slug: string; state: string; reason?: string }[];
        renamed: { file: string; frozenSlug: string }[];
        backlog: boolean;
        unplanned?: ArchiveOutcome[];
      }
    | undefined,
): void {
  if (!registered) return;
  const { io } = context;
  const archived = registered.added
    .filter((entry) => entry.state === 'archived' && entry.reason !== 'email-false')
    .map((entry) => entry.slug);
  if (registered.backlog && archived.length > 0) {
    io.stdout.write(
      `  new store: ${archived.length} issue${archived.length === 1 ? '' : 's'} already in issues/ archived (on the site and in the feeds, never emailed): ${archived.join(', ')}\n` +
        `  to email one of them: letterpress send <slug>\n`,
    );
  }
  for (const entry of registered.added.filter((added) => added.reason === 'email-false')) {
    io.stdout.write(`  archived: ${entry.slug} (email: false: on the site and in the feeds, never emailed)\n`);
  }
  for (const outcome of registered.unplanned ?? []) {
    if (outcome.outcome === 'archived') {
      io.stdout.write(`  archived: ${outcome.slug} (email: false: its ${outcome.removedDeliveries} planned messages were cancelled, none had been sent)\n`);
    } else if (outcome.outcome === 'refused') {
      io.stdout.write(`  ${outcome.slug}: says email: false but stays as it is: ${escapeForTerminal(outcome.reason)}\n`);
    }
  }
  for (const entry of registered.added.filter((added) => added.state === 'published')) {
    io.stdout.write(`  published: ${entry.slug} (planned for every active subscriber; \`letterpress send\` sends it)\n`);
  }
  for (const entry of registered.renamed) {
    io.stdout.write(`  ${escapeForTerminal(entry.file)}: same content as the published issue ${entry.frozenSlug}; kept its slug and never re-sent\n`);
  }
}

/**
 * The daemon's error counts of its latest pass for `status --json --daemon`: `errors` (all of
 * them, as before), split into `fileErrors` (broken issue files) and `transportErrors` (sends a
 * session error stopped: dead relay, refused login).
 */
function withErrorCounts(daemon: DaemonStatus & { alive: boolean }) {
  const latest = daemon.lastPasses[0];
  const { fileErrors, transportErrors } = latest ? passErrors(latest) : { fileErrors: 0, transportErrors: 0 };
  return { ...daemon, errors: fileErrors + transportErrors, fileErrors, transportErrors };
}

/**
 * `send <slug>` of an issue whose file says `email: false` is refused unless `--force`: the
 * editor said "site and feeds only". The file is the one the store recorded (it follows renames).
 */
async function refuseEmailOff(app: App, slug: string): Promise<void> {
  const record = await (await app.store()).getIssue(slug);
  if (!record) return;
  const file = path.resolve(app.loaded.root, record.sourceFile);
  if (!existsSync(file)) return;
  const { loadIssues } = await import('../project/load-issues.ts');
  const { issues } = await loadIssues([file], {
    root: app.loaded.root,
    timezone: app.loaded.config.timezone,
    maxBytes: app.loaded.config.limits.maxIssueBytes,
    parser: app.issueParser,
    issuesDir: app.loaded.paths.issues,
  });
  if (issues[0]?.issue.email === false) {
    throw new LetterpressError(
      'E_EMAIL_OFF',
      `${record.sourceFile} says \`email: false\`: ${slug} is on the site and in the feeds only and is not emailed; ` +
        `to email it anyway: letterpress send ${slug} --force (or remove that line)`,
    );
  }
}

/** `send`, `publish` and `status`. */
export function registerDeliveryCommands(program: Command, context: CommandContext): void {
  const { io } = context;

  program
    .command('send')
    .description('send published issues to their planned subscribers (an archived issue when named)')
    .argument('[slug]', 'only this issue; an archived issue is planned and sent (one with `email: false` needs --force)')
    .option('--dry-run', 'render and check every message, send nothing, change nothing')
    .option('--to <address>', 'send one test copy to this address, without touching the ledger')
    .option('--no-build', 'do not rebuild out/ first')
    .option('--force', 'email the named issue even though its front matter says `email: false`')
    .option('--allow-local', 'send via SMTP even with a loopback, localhost or example site URL or From (staging)')
    .action(async (slug: string | undefined, options: { dryRun?: boolean; to?: string; build: boolean; force?: boolean; allowLocal?: boolean }, command: Command) => {
      await context.withApp(command, async (app) => {
        // A dry run or a test copy changes nothing: no build, so nothing is recorded or planned.
        // A sender with only the store and the config (no issues/ or templates/ here) sends the
        // renditions the store holds: there is nothing to build.
        const hasTree = existsSync(app.loaded.paths.issues) && existsSync(app.loaded.paths.templates);
        if (!hasTree && options.build && !options.dryRun && options.to === undefined) {
          io.stderr.write('no issues/ or templates/ here: not building; sending the planned issues the store holds\n');
        }
        if (hasTree && options.build && !options.dryRun && options.to === undefined) {
          const report = await app.build();
          for (const d of report.diagnostics.filter((x) => x.severity === 'error')) io.stderr.write(`${formatDiagnostic(d)}\n`);
          reportRegistration(app, context, report.registered);
        }
        const store = await app.store();
        // Loaded here, not at the top: `status` and the other commands of this file never render.
        const [{ prepareIssueEmail }, { dryRunSend, sendTestCopy }] = await Promise.all([
          import('../deliver/prepare-issue-email.ts'),
          import('../deliver/preview-send.ts'),
        ]);
        const deps = {
          loaded: app.loaded,
          store,
          clock: app.clock,
          keyring: await app.keyring(),
          renderEmail: (record: Parameters<typeof prepareIssueEmail>[0]) => prepareIssueEmail(record, app.loaded, { parser: app.issueParser }),
          transport: app.transport(),
        };
        if (options.to !== undefined) {
          const { slug: sent, outcome, message } = await sendTestCopy(deps, options.to, slug);
          io.stdout.write(`Test copy of ${escapeForTerminal(sent)} to ${escapeForTerminal(String(message.envelope.to))} via ${deps.transport.description}: ${outcome.status} (${escapeForTerminal(outcome.reply)})\n`);
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
            for (const bad of report.invalid.slice(0, 20)) io.stdout.write(`  subscriber ${bad.subscriberId} ${escapeForTerminal(bad.email)}: ${escapeForTerminal(bad.reason)}\n`);
            if (report.invalid.length > 0) context.setExitCode(1);
          }
          return;
        }
        if (slug !== undefined && !options.force) await refuseEmailOff(app, slug);
        await sendAndReport(app, context, slug);
      }, { oneShot: true });
    });

  program
    .command('publish')
    .description('publish one issue file now: on the site and in the feeds, planned for every active subscriber')
    .argument('<file>', 'the issue file (in issues/)')
    .action(async (file: string, _options: unknown, command: Command) => {
      await context.withApp(command, async (app) => {
        const target = path.resolve(io.cwd, file);
        const [{ loadIssues }, { classifyIssue }] = await Promise.all([import('../project/load-issues.ts'), import('../site/build-site.ts')]);
        const { issues, diagnostics } = await loadIssues([target], {
          root: app.loaded.root,
          timezone: app.loaded.config.timezone,
          maxBytes: app.loaded.config.limits.maxIssueBytes,
          parser: app.issueParser,
          issuesDir: app.loaded.paths.issues,
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
      }, { oneShot: true });
    });

  program
    .command('status')
    .description('per-issue state, delivery counts and why a send is stalled; with --daemon the daemon\'s view')
    .argument('[slug]', 'only this issue')
    .option('--json', 'print [{slug, title, state, publishedAt, counts, stalled}] (times in UTC)')
    .option('--daemon', 'with --json: print {issues: [...], daemon: {..., errors, fileErrors, transportErrors, workers}}')
    .action(async (slug: string | undefined, options: { json?: boolean; daemon?: boolean }, command: Command) => {
      await context.withApp(command, async (app) => {
        const store = await app.store();
        const records = (await store.listIssues()).filter((record) => slug === undefined || record.slug === slug);
        if (slug !== undefined && records.length === 0) throw new LetterpressError('E_UNKNOWN_ISSUE', `no issue has the slug "${slug}"`);
        const daemon = await readDaemonView(app.loaded.paths.data);
        const rows: IssueStatusView[] = [];
        for (const record of records) {
          const counts = await store.countDeliveries(record.slug);
          const stall = await store.getSendStall(record.slug);
          rows.push({
            slug: record.slug,
            title: record.title,
            state: record.state,
            publishedAt: record.publishedAt,
            counts,
            // Only a running daemon retries by itself, at its next pass.
            stalled: stall
              ? { code: stall.code, message: stall.message, since: stall.since, nextRetryAt: daemon?.alive ? (daemon.nextTick ?? stall.nextRetryAt) : null }
              : null,
            nextDeferredAt: counts.deferred ? await store.nextDeferredAt(record.slug) : undefined,
          });
        }
        // Senders whose heartbeat is older than three leases died: not shown (the next beat prunes them).
        const workers = await store.listWorkers(new Date(app.clock.now().getTime() - 3 * app.loaded.config.delivery.leaseSeconds * 1000).toISOString());
        if (options.json) {
          const issues = rows.map(({ nextDeferredAt: _, ...row }) => row);
          // Workers run on other machines too: with no daemon here, `daemon` still lists them.
          const daemonJson = daemon ? { ...withErrorCounts(daemon), workers } : workers.length > 0 ? { alive: false, workers } : null;
          io.stdout.write(`${JSON.stringify(options.daemon ? { issues, daemon: daemonJson } : issues, null, 2)}\n`);
          return;
        }
        const timezone = app.loaded.config.timezone;
        if (rows.length === 0) io.stdout.write('No issues recorded yet: run `letterpress build`.\n');
        else io.stdout.write(`Issues (times in ${timezone}):\n`);
        for (const row of rows) {
          for (const line of formatIssueStatus(row, { timezone, daemonAlive: daemon?.alive === true, liveSenders: workers.length })) io.stdout.write(`${line}\n`);
        }
        io.stdout.write(`Store: ${describeStore(resolveStoreLocation({ url: app.loaded.config.store.url, root: app.loaded.root }))}\n`);
        if (daemon && slug === undefined) for (const line of formatDaemonView(daemon, { timezone })) io.stdout.write(`${line}\n`);
        if (slug === undefined) for (const line of formatWorkers(workers, { timezone })) io.stdout.write(`${line}\n`);
      });
    });
}
