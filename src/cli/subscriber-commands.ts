import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import type { Command } from 'commander';
import { normalizeEmail, sanitizeDisplayName } from '../store/email-address.ts';
import type { SubscriberStatus } from '../store/types.ts';
import { LetterpressError } from '../util/errors.ts';
import type { CommandContext } from './command-context.ts';
import { escapeForTerminal } from '../util/escape-for-terminal.ts';

const STATUSES: readonly SubscriberStatus[] = ['pending', 'active', 'unsubscribed', 'bounced', 'complained'];
const PAGE = 1000;

function parseStatus(value: string | undefined, option: string): SubscriberStatus | undefined {
  if (value === undefined) return undefined;
  if (!STATUSES.includes(value as SubscriberStatus)) {
    throw new LetterpressError('E_USAGE', `${option} ${JSON.stringify(value)}: use one of ${STATUSES.join(', ')}`);
  }
  return value as SubscriberStatus;
}

/** `letterpress subscribers …`: the operator's view of the list (DESIGN.md §4a rules). */
export function registerSubscriberCommands(program: Command, context: CommandContext): void {
  const subscribers = program
    .command('subscribers')
    .description('add, import, list, export and remove subscribers (the store: data/letterpress.db)');

  subscribers
    .command('add')
    .description('add one subscriber (active by default: you vouch for their consent)')
    .argument('<email>', 'the address')
    .option('--name <name>', 'display name, used in the To header')
    .option('--status <status>', `one of ${STATUSES.join(', ')}`, 'active')
    .option('--resubscribe', 'allow re-adding an unsubscribed, bounced, complained or erased address')
    .action(async (email: string, options: { name?: string; status: string; resubscribe?: boolean }, command: Command) => {
      const status = parseStatus(options.status, '--status')!;
      const normalized = normalizeEmail(email);
      if (!normalized.ok) throw new LetterpressError('E_EMAIL', `${JSON.stringify(email)}: ${normalized.reason}`);
      await context.withApp(command, async (app) => {
        const store = await app.store();
        const result = await store.upsertSubscriber({
          email: normalized.email,
          name: sanitizeDisplayName(options.name),
          status,
          source: 'add',
          resubscribe: options.resubscribe === true,
        });
        if (result.outcome === 'refused') {
          context.io.stderr.write(`letterpress: ${normalized.email}: not added: ${result.reason}\n`);
          context.setExitCode(1);
          return;
        }
        context.io.stdout.write(`${normalized.email}: ${result.outcome} (${result.subscriber?.status ?? status}).\n`);
      });
    });

  subscribers
    .command('import')
    .description('import a CSV file with a header row: email (required), name, status')
    .argument('<file>', 'UTF-8 CSV file (a BOM is fine)')
    .option('--status <status>', 'status of rows that give none', 'active')
    .option('--resubscribe', 'allow re-adding unsubscribed, bounced, complained or erased addresses')
    .option('--dry-run', 'show what the import would do and change nothing')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nEvery data row is counted once: added, updated, unchanged, refused (the consent rules keep it out)\n' +
        'or invalid (it cannot be read). Each refused or invalid row is named as FILE:LINE: on stderr.\n' +
        'Exit status 1 when any row was refused or invalid, or the file cannot be read.',
    )
    .action(
      async (
        file: string,
        options: { status: string; resubscribe?: boolean; dryRun?: boolean; json?: boolean },
        command: Command,
      ) => {
        const defaultStatus = parseStatus(options.status, '--status')!;
        const target = path.resolve(context.io.cwd, file);
        let bytes: Buffer;
        try {
          bytes = await readFile(target);
        } catch (error) {
          throw new LetterpressError('E_READ', `${file}: cannot read: ${(error as Error).message}`, { cause: error });
        }
        // The CSV parser and the importer load with the command that needs them.
        const [{ parseSubscriberCsv }, { formatImportProblems, formatImportSummary, importSubscribers }] = await Promise.all([
          import('../store/subscriber-csv.ts'),
          import('../store/import-subscribers.ts'),
        ]);
        const csv = parseSubscriberCsv(bytes, file);
        if (csv.fileProblem) {
          // Nothing in the file can be trusted to be a row: import nothing and say why, once.
          const { line, message } = csv.fileProblem;
          if (options.json) {
            const report = { file, dryRun: options.dryRun === true, rows: 0, fileProblem: { line, message } };
            context.io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          } else {
            context.io.stderr.write(`${file}:${line}: ${message}\n`);
            context.io.stderr.write('nothing imported.\n');
          }
          context.setExitCode(1);
          return;
        }
        await context.withApp(command, async (app) => {
          const report = await importSubscribers({
            rows: csv.rows,
            problems: csv.problems,
            store: await app.store(),
            defaultStatus,
            resubscribe: options.resubscribe === true,
            source: 'import',
            dryRun: options.dryRun === true,
          });
          if (options.json) {
            context.io.stdout.write(`${JSON.stringify({ file, ...report }, null, 2)}\n`);
          } else {
            for (const line of formatImportProblems(report, file)) context.io.stderr.write(`${line}\n`);
            for (const line of formatImportSummary(report, file)) context.io.stdout.write(`${line}\n`);
          }
          if (report.refused.length > 0 || report.invalid.length > 0) context.setExitCode(1);
        });
      },
    );

  subscribers
    .command('list')
    .description('list subscribers, oldest first')
    .option('--status <status>', `only this status (${STATUSES.join(', ')})`)
    .option('--json', 'print [{id, email, name, status, createdAt, …}]')
    .action(async (options: { status?: string; json?: boolean }, command: Command) => {
      const status = parseStatus(options.status, '--status');
      await context.withApp(command, async (app) => {
        const store = await app.store();
        let afterId = 0;
        let count = 0;
        if (options.json) context.io.stdout.write('[');
        for (;;) {
          const page = await store.listSubscribers({ status, afterId, limit: PAGE });
          for (const subscriber of page) {
            if (options.json) {
              context.io.stdout.write(`${count ? ',' : ''}\n  ${JSON.stringify(subscriber)}`);
            } else {
              context.io.stdout.write(
                `${String(subscriber.id).padStart(6)}  ${subscriber.status.padEnd(12)} ${escapeForTerminal(subscriber.email)}${subscriber.name ? `  (${escapeForTerminal(subscriber.name)})` : ''}\n`,
              );
            }
            count += 1;
          }
          if (page.length < PAGE) break;
          afterId = page[page.length - 1]!.id;
        }
        if (options.json) context.io.stdout.write(count ? '\n]\n' : ']\n');
        else context.io.stderr.write(`${count} subscriber${count === 1 ? '' : 's'}${status ? ` (${status})` : ''}.\n`);
      });
    });

  subscribers
    .command('export')
    .description('write subscribers as CSV (email,name,status,created_at,source) to a file or stdout')
    .argument('[file]', 'output file (default: standard output)')
    .option('--status <status>', 'only this status')
    .action(async (file: string | undefined, options: { status?: string }, command: Command) => {
      const status = parseStatus(options.status, '--status');
      const { formatCsvRow, SUBSCRIBER_CSV_HEADER, toExportFields } = await import('../store/subscriber-csv.ts');
      await context.withApp(command, async (app) => {
        const store = await app.store();
        const stream = file ? createWriteStream(path.resolve(context.io.cwd, file), { mode: 0o600 }) : undefined;
        const write = async (text: string) => {
          if (!stream) return context.io.stdout.write(text);
          if (!stream.write(text)) await once(stream, 'drain');
        };
        await write(formatCsvRow(SUBSCRIBER_CSV_HEADER));
        let afterId = 0;
        let count = 0;
        for (;;) {
          const page = await store.listSubscribers({ status, afterId, limit: PAGE });
          for (const subscriber of page) await write(formatCsvRow(toExportFields(subscriber)));
          count += page.length;
          if (page.length < PAGE) break;
          afterId = page[page.length - 1]!.id;
        }
        if (stream) {
          stream.end();
          await once(stream, 'finish');
          context.io.stderr.write(`Exported ${count} subscribers to ${file}.\n`);
        }
      });
    });

  subscribers
    .command('remove')
    .description('erase a subscriber: personal data deleted, a hash kept so an import cannot silently re-add them')
    .argument('<email>', 'the address')
    .action(async (email: string, _options: unknown, command: Command) => {
      const normalized = normalizeEmail(email);
      if (!normalized.ok) throw new LetterpressError('E_EMAIL', `${JSON.stringify(email)}: ${normalized.reason}`);
      await context.withApp(command, async (app) => {
        const erased = await (await app.store()).eraseSubscriber(normalized.email);
        if (!erased) {
          context.io.stderr.write(`letterpress: ${normalized.email}: no such subscriber\n`);
          context.setExitCode(1);
          return;
        }
        context.io.stdout.write(`${normalized.email}: erased (re-adding it needs --resubscribe).\n`);
      });
    });
}
