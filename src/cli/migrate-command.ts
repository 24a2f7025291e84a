import type { Command } from 'commander';
import type { CopyReport } from '../store/copy-store.ts';
import type { StoreLocation } from '../store/store-location.ts';
import type { TableAccess } from '../store/table-access.ts';
import { LetterpressError } from '../util/errors.ts';
import { escapeForTerminal } from '../util/escape-for-terminal.ts';
import { runsWithoutProject, type CommandContext } from './command-context.ts';

interface MigrateOptions {
  from?: string;
  to?: string;
  dryRun?: boolean;
  force?: boolean;
  json?: boolean;
}

const HELP_AFTER = `
Copies subscribers, suppression hashes, token keys, issues with their renditions, the delivery
ledger, send stalls and holds, the confirmation log and queued subscription mail, table by
table, ids kept (links already sent keep working), then checks that the counts per table and
per delivery state match on both sides. Named leases, sender heartbeats and rate-limit slots
are not copied: they belong to the processes running on the source. Running it again copies only what is missing; a target that holds other data for
the same ids is refused before anything is written.

Stop the daemon, workers and sends on the source first: a live lease or messages being sent
there are refused unless --force. Messages a stopped sender left "sending" are copied as they
are; the first send on the target puts them back in the queue once their lease lapsed.

Examples:
  letterpress migrate --from sqlite:data/letterpress.db --to postgres://letterpress@db/news --dry-run
  letterpress migrate --from sqlite:data/letterpress.db --to postgres://letterpress@db/news`;

/** `letterpress migrate --from … --to …`: copies one store into another (src/store/copy-store.ts). */
export function registerMigrateCommand(program: Command, context: CommandContext): void {
  const migrate = program
    .command('migrate')
    .description('copy a store into another (SQLite → PostgreSQL, or back), ids kept; safe to run again')
    .option('--from <store>', 'the store to copy: sqlite:PATH, a file path, or postgres://…')
    .option('--to <store>', 'the store to fill: postgres://… (the database must exist), or sqlite:PATH')
    .option('--dry-run', 'count what would be copied and check the target, change nothing')
    .option('--force', 'copy even though the source shows a live lease (its holder is known to be dead)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', HELP_AFTER)
    .action(async (options: MigrateOptions, command: Command) => runMigrate(options, command, context));
  runsWithoutProject(migrate);
}

async function runMigrate(options: MigrateOptions, command: Command, context: CommandContext): Promise<void> {
  const { io } = context;
  if (options.from === undefined || options.to === undefined) {
    throw new LetterpressError('E_USAGE', 'migrate needs both --from and --to, e.g. --from sqlite:data/letterpress.db --to postgres://user@host/db');
  }
  const [{ resolveStoreLocation, describeStore }, { openStore }, { openTableAccess }, { checkSourceUse, copyStore, findMismatches }, { createCopyProgress }] =
    await Promise.all([
      import('../store/store-location.ts'),
      import('../store/open-store.ts'),
      import('../store/table-access.ts'),
      import('../store/copy-store.ts'),
      import('./copy-progress.ts'),
    ]);
  const root = context.rootOf(command);
  const from = resolveStoreLocation({ url: options.from, root });
  const to = resolveStoreLocation({ url: options.to, root });
  if (sameStore(from, to)) throw new LetterpressError('E_USAGE', `--from and --to name the same store (${from.shown}); name the store to fill with --to`);
  const dryRun = options.dryRun === true;
  const storeUrl = (location: StoreLocation) => (location.driver === 'sqlite' ? location.file : location.url);

  // The source must be a store already: opening it through the store brings an older schema up
  // to date (with its backup, as every command does), never makes a new one.
  const probe = await openTableAccess(from);
  const sourceTables = await probe.describeTables().finally(() => probe.close());
  if (sourceTables.length === 0) throw new LetterpressError('E_STORE', `${describeStore(from)} holds no Letterpress store; check --from`);
  await (await openStore({ url: storeUrl(from), root })).close();

  const source = await openTableAccess(from);
  let target: TableAccess | undefined;
  const progress = createCopyProgress(io.stderr);
  const started = Date.now();
  let report: CopyReport;
  try {
    // Before the target is touched: a refused migrate leaves both sides as they were.
    await checkSourceUse(source, new Date().toISOString(), options.force === true);
    if (!dryRun) {
      // A real run gives the target this version's schema first (a new SQLite file, or the
      // tables in an empty PostgreSQL database), exactly as any command opening it would.
      await (await openStore({ url: storeUrl(to), root })).close();
      target = await openTableAccess(to, { write: true });
    } else {
      target = await openTargetIfItHasTables(to, openTableAccess);
    }
    report = await copyStore({ source, target, now: new Date().toISOString(), force: options.force, dryRun, onEvent: progress.onEvent });
  } finally {
    progress.finish();
    await source.close();
    await target?.close();
  }
  const seconds = (Date.now() - started) / 1000;
  for (const finding of report.forcedPast) io.stderr.write(`letterpress: warning: copied although ${escapeForTerminal(finding)} (--force)\n`);
  const mismatches = findMismatches(report);

  if (options.json) {
    io.stdout.write(`${JSON.stringify({ from: from.shown, to: to.shown, seconds, ...report, mismatches }, null, 2)}\n`);
  } else {
    io.stdout.write(formatMigrateReport(report, { from: describeStore(from), to: describeStore(to), targetShown: to.shown, seconds }));
  }
  if (mismatches.length > 0) {
    throw new LetterpressError('E_MIGRATE_VERIFY', `the counts differ after the copy: ${mismatches.join('; ')}. Stop what writes to ${to.shown}, then run migrate again`);
  }
}

/** On a dry run nothing is created: a target without a file or without tables is simply new (undefined). */
async function openTargetIfItHasTables(
  location: StoreLocation,
  open: (location: StoreLocation, options?: { write?: boolean }) => Promise<TableAccess>,
): Promise<TableAccess | undefined> {
  if (location.driver === 'sqlite') {
    const { existsSync } = await import('node:fs');
    if (!existsSync(location.file)) return undefined;
  }
  const access = await open(location);
  if ((await access.describeTables()).length > 0) return access;
  await access.close();
  return undefined;
}

function sameStore(a: StoreLocation, b: StoreLocation): boolean {
  if (a.driver === 'sqlite' && b.driver === 'sqlite') return a.file === b.file;
  if (a.driver === 'postgres' && b.driver === 'postgres') {
    try {
      const left = new URL(a.url);
      const right = new URL(b.url);
      return left.hostname === right.hostname && (left.port || '5432') === (right.port || '5432') && left.pathname === right.pathname;
    } catch {
      return a.url === b.url;
    }
  }
  return false;
}

/** The human report: what was copied (or would be), a table of counts on both sides, what comes next. */
export function formatMigrateReport(report: CopyReport, context: { from: string; to: string; targetShown: string; seconds: number }): string {
  const lines: string[] = [];
  const total = report.tables.reduce((sum, row) => sum + row.source, 0);
  if (report.dryRun) {
    lines.push(`Dry run: ${context.from} → ${context.to}: ${report.copied} of ${total} rows would be copied; nothing was changed.`);
    if (report.targetIsNew) lines.push('  The target holds no store yet: a real run creates its tables first.');
  } else if (report.copied === 0) {
    lines.push(`Nothing to copy: the target ${context.to} already holds all ${total} rows of ${context.from}; nothing was changed.`);
  } else {
    lines.push(`Copied ${report.copied} rows from ${context.from} to ${context.to} in ${context.seconds.toFixed(1)} s.`);
  }
  const copiedHeader = report.dryRun ? 'to copy' : 'copied';
  const header = ['table', 'source', report.dryRun ? 'target now' : 'target', copiedHeader];
  const rows = report.tables.map((row) => [row.table, String(row.source), String(report.dryRun ? row.targetBefore : row.targetAfter), String(row.copied)]);
  const states = report.deliveryStates.map((row) => [`  ${escapeForTerminal(row.issueSlug)} ${row.state}`, String(row.source), String(row.target), '']);
  const table = [header, ...rows, ...(states.length > 0 ? [['deliveries by issue and state', '', '', ''], ...states] : [])];
  const widths = header.map((_, column) => Math.max(...table.map((cells) => cells[column]!.length)));
  for (const cells of table) {
    lines.push(`  ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')}`.trimEnd());
  }
  for (const orphan of report.orphans) {
    lines.push(
      `  ${escapeForTerminal(orphan.issueSlug)}: ${orphan.count} messages left "sending" by a sender that stopped (lease lapsed) are copied as they are; ` +
        'the first send on the target puts them back in the queue (as after any interrupted run, those may arrive twice)',
    );
  }
  if (!report.dryRun) {
    if (report.raisedIds.length > 0) lines.push(`  Id sequences raised past the source's on the target: ${report.raisedIds.join(', ')}.`);
    const mismatched = findMismatchCount(report);
    lines.push(mismatched === 0 ? 'Counts match on both sides, per table and per delivery state.' : `Counts differ in ${mismatched} places (see below).`);
    if (mismatched === 0) lines.push(`Next: point LETTERPRESS_DB (or store.url) at ${context.targetShown} and run nothing more against the source.`);
  }
  return `${lines.join('\n')}\n`;
}

function findMismatchCount(report: CopyReport): number {
  return report.tables.filter((row) => row.source !== row.targetAfter).length + report.deliveryStates.filter((row) => row.source !== row.target).length;
}
