import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { formatDiagnostic, type Diagnostic } from '../issue/diagnostic.ts';
import { exitStatusOf, formatErrorCodes, formatErrorCodesMarkdown } from '../util/error-codes.ts';
import { LetterpressError } from '../util/errors.ts';
import { escapeForTerminal } from '../util/escape-for-terminal.ts';
import type { AppEnvironment } from './app.ts';
import type { MjmlThread } from '../render/mjml-thread.ts';
import { createCommandContext, runsWithoutProject } from './command-context.ts';
import { parseRole } from './cli-options.ts';
import { registerDeliveryCommands, reportRegistration, sendAndReport } from './delivery-commands.ts';
import { createBuildProgress, type Output } from './progress.ts';
import { createProcessOutput } from './process-output.ts';
import { registerPreviewCommand } from './preview-command.ts';
import { registerSubscriberCommands } from './subscriber-commands.ts';
import { registerInitCommand } from './init-command.ts';
import { registerArchiveCommand } from './archive-command.ts';
import { registerDoctorCommand } from './doctor-command.ts';
import { registerServerCommands } from './server-commands.ts';
import { registerMigrateCommand } from './migrate-command.ts';
import { keepYoungGenerationSmall } from './young-generation.ts';

/** The commands that run until stopped or through a whole list: they keep the heap small. */
const RUNS_LONG = new Set(['send', 'start', 'serve', 'worker']);

const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** The streams and process facts a CLI run uses; injectable so tests run it in-process. */
export interface CliIo {
  stdout: Output;
  stderr: Output;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** The run is the whole process (the `letterpress` binary), so it may set process-wide options. */
  ownsProcess?: boolean;
  /** Where `init` reads answers; it asks only when this is a terminal. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
}

const defaultIo = (): CliIo => ({
  stdout: createProcessOutput(process.stdout),
  stderr: createProcessOutput(process.stderr),
  env: process.env,
  cwd: process.cwd(),
  stdin: process.stdin,
  ownsProcess: true,
});

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

function summarizeDiagnostics(diagnostics: readonly Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  return `${plural(errors, 'error')}, ${plural(diagnostics.length - errors, 'warning')}`;
}

/** Builds the command tree; `io` receives all output and `exit` collects the exit code. */
function createProgram(
  io: CliIo,
  setExitCode: (code: number) => void,
  overrides: Omit<AppEnvironment, 'root' | 'env'>,
): Command {
  const context = createCommandContext(io, setExitCode, overrides);
  const program = new Command('letterpress')
    .description('Markdown issue files in, a newsletter out: email, web archive and Atom/RSS/JSON feeds.')
    .version(PACKAGE_VERSION, '-V, --version', 'print the version')
    .option(
      '--root <dir>',
      'project root (config/, issues/, templates/, out/, data/); default: the nearest directory at or above this one that holds config/letterpress.json',
    )
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride()
    // Every command's action runs after this: the project is found (or the command declared
    // with runsWithoutProject skips it) before anything is read or created.
    .hook('preAction', (_program, actionCommand) => {
      if (io.ownsProcess && RUNS_LONG.has(actionCommand.name())) keepYoungGenerationSmall();
      return context.prepare(actionCommand);
    });

  const runBuild = async (command: Command, options: { strict?: boolean; json?: boolean }, verb: string, then?: (app: import('./app.ts').App) => Promise<void>) =>
    context.withApp(command, async (app) => {
    const progress = createBuildProgress(io.stderr);
    const report = await app.build(progress.onProgress);
    progress.finish();
    for (const diagnostic of report.diagnostics) io.stderr.write(`${formatDiagnostic(diagnostic)}\n`);
    const out = path.relative(io.cwd, app.loaded.paths.out) || '.';
    if (options.json) {
      io.stdout.write(`${JSON.stringify({ ...report, out: app.loaded.paths.out }, null, 2)}\n`);
    } else {
      const parts = [
        `${report.rendered.length} rendered`,
        `${report.unchanged.length} unchanged`,
        report.drafts.length ? `${plural(report.drafts.length, 'draft')} left out` : '',
        report.scheduled.length ? `${report.scheduled.length} scheduled for later` : '',
        report.removed.length ? `${report.removed.length} removed` : '',
        report.failedFiles.length ? `${plural(report.failedFiles.length, 'file')} skipped with errors` : '',
        report.kept.length ? `${report.kept.length} kept at their last good version` : '',
      ].filter(Boolean);
      io.stdout.write(
        `${verb} ${plural(report.published.length, 'issue')} into ${out}/ in ${(report.durationMs / 1000).toFixed(1)} s: ${parts.join(', ')}.\n`,
      );
      for (const item of report.scheduled) io.stdout.write(`  scheduled: ${item.slug} at ${item.publishAt}\n`);
      io.stdout.write(`  archive: ${path.join(out, 'index.html')}\n`);
      io.stdout.write(`  feeds:   ${['feed.atom', 'feed.rss', 'feed.json'].map((f) => path.join(out, f)).join(', ')}\n`);
      if (report.failedFiles.length) {
        io.stdout.write(`  fix the errors above and build again; \`letterpress check\` lists them.\n`);
      }
      reportRegistration(app, context, report.registered);
    }
    if (options.strict && report.failedFiles.length) setExitCode(1);
    await then?.(app);
  }, { oneShot: true });

  program
    .command('build')
    .description('render every due, non-draft issue into out/: web pages, emails and feeds')
    .option('--strict', 'exit non-zero when any issue file has errors (they are skipped either way)')
    .option('--json', 'print the build report as JSON')
    .action(async (options, command: Command) => runBuild(command, options, 'Built'));

  /** `check`'s work; MJML compiles on `mjmlThread` when there is one. */
  const checkCommand = async (files: string[], options: { json?: boolean }, command: Command, mjmlThread?: MjmlThread) => {
    const [loaded, { checkIssues }, { listIssueFiles }, { createOneShotIssueParser }, { compileMjmlOn }] = await Promise.all([
      context.loadConfig(command),
      import('../project/check-issues.ts'),
      import('../project/list-issue-files.ts'),
      import('../project/one-shot-issue-parser.ts'),
      import('../render/render-email.ts'),
    ]);
    compileMjmlOn(mjmlThread && ((mjml) => mjmlThread.compile(mjml)));
    const targets = files.length
      ? files.map((file) => path.resolve(io.cwd, file))
      : await listIssueFiles(loaded.paths.issues);
    // No server shares this process: small files are checked in-process (no worker start-up).
    const parser = createOneShotIssueParser({ budgetMs: loaded.config.limits.parseSeconds * 1000 });
    let diagnostics: Awaited<ReturnType<typeof checkIssues>>;
    try {
      diagnostics = await checkIssues(targets, loaded, parser);
    } finally {
      compileMjmlOn(undefined);
      await parser.close();
    }
    if (options.json) {
      io.stdout.write(`${JSON.stringify(diagnostics, null, 2)}\n`);
    } else {
      for (const diagnostic of diagnostics) io.stdout.write(`${formatDiagnostic(diagnostic)}\n`);
      io.stdout.write(`${plural(targets.length, 'file')} checked: ${summarizeDiagnostics(diagnostics)}.\n`);
    }
    if (diagnostics.some((d) => d.severity === 'error')) setExitCode(1);
  };

  program
    .command('check')
    .description('validate issue files (all of issues/ by default) and print diagnostics; exits 1 on errors')
    .argument('[files...]', 'issue files to check')
    .option('--json', 'print [{file, line, column, severity, code, message}]')
    .action(async (files: string[], options: { json?: boolean }, command: Command) => {
      // MJML loads on a thread of its own while this one reads the configuration and parses.
      // The binary only: a test's check compiles here, in the test's own process.
      const mjmlThread = io.ownsProcess ? (await import('../render/mjml-thread.ts')).startMjmlThread() : undefined;
      try {
        await checkCommand(files, options, command, mjmlThread);
      } finally {
        await mjmlThread?.close();
      }
    });

  program
    .command('start')
    .description(
      'the main job: serve the archive, watch issues/, and publish and send each issue when it is due (until Ctrl-C); --once does one pass and exits',
    )
    .option('--once', 'one pass for system cron and CI: publish what is due, build, send, exit')
    .option('--port <port>', 'HTTP port (default: server.port, 8080; 0 picks a free one)')
    .option('--host <host>', 'HTTP address (default: server.host, 127.0.0.1)')
    .option('--no-serve', 'do not serve HTTP (another process serves the archive)')
    .option('--allow-local', 'send via SMTP even with a loopback, localhost or example site URL or From (staging)')
    .option(
      '--role <role>',
      'all (default): serve, send, and schedule when elected; web: serve HTTP only; scheduler: watch, build, plan and hold for the send window, no HTTP, no sending; worker: send only',
    )
    .action(async (options: { once?: boolean; port?: string; host?: string; serve: boolean; role?: string }, command: Command) => {
      const role = parseRole(options.role);
      if (options.once && role !== 'all') throw new LetterpressError('E_USAGE', `--once is one pass of everything; it takes no --role (${role})`);
      if (options.once) {
        return runBuild(command, {}, 'Published', async (app) => {
          await sendAndReport(app, context);
          if (!app.loaded.config.smtp.host) {
            io.stdout.write(`  no SMTP server configured: messages go to ${path.relative(io.cwd, app.outboxDir) || app.outboxDir}/ (set LETTERPRESS_SMTP_URL to send)\n`);
          }
        });
      }
      const { runStartDaemon } = await import('./start-command.ts');
      return runStartDaemon(command, context, { ...options, role });
    });

  const worker = program
    .command('worker')
    .description(
      'send planned messages of every issue until stopped (SIGTERM: messages in flight finish, exit 0), from the store and the environment alone: no project needed',
    )
    .option('--store <path|url>', 'the store to send from: a SQLite file, sqlite:PATH or postgres://…; default: LETTERPRESS_DB, else LETTERPRESS_STORE_URL, else DATABASE_URL, else store.url of the project config here')
    .option('--allow-local', 'send via SMTP even with a loopback, localhost or example site URL or From (staging)')
    .addHelpText(
      'after',
      '\nThe rest comes from the environment, as for every command: LETTERPRESS_SMTP_URL (or LETTERPRESS_SMTP_HOST…),\n' +
        'LETTERPRESS_SECRET (the key that signs unsubscribe links: the same as the other senders\'),\n' +
        'LETTERPRESS_SITE_POSTALADDRESS, LETTERPRESS_DELIVERY_GLOBALRATELIMIT; `letterpress config --env` lists them all.\n' +
        'Messages are made of the rendition stored when the issue was planned: no issues/ or templates/ needed.\n',
    )
    .action(async (options: { store?: string }, command: Command) => {
      const { runWorkerCommand } = await import('./worker-command.ts');
      return runWorkerCommand(command, context, options);
    });
  runsWithoutProject(worker);

  registerInitCommand(program, context);
  registerSubscriberCommands(program, context);
  registerDeliveryCommands(program, context);
  registerArchiveCommand(program, context);
  registerPreviewCommand(program, context);
  registerServerCommands(program, context);
  registerDoctorCommand(program, context);
  registerMigrateCommand(program, context);

  const configCommand = program
    .command('config')
    .description('print the effective configuration (config file + LETTERPRESS_* env overrides), secrets masked')
    .option('--env', 'list the environment variable of every config key, and any unknown LETTERPRESS_* set here, instead')
    .action(async (options: { env?: boolean }, command: Command) => {
      if (options.env) {
        const { ENV_SHORTCUTS, findUnknownEnvVariables, listEnvOverrides } = await import('../config/load-config.ts');
        for (const { key, env } of listEnvOverrides()) io.stdout.write(`${env.padEnd(40)} ${key}\n`);
        for (const { env, meaning } of ENV_SHORTCUTS) io.stdout.write(`${env.padEnd(40)} ${meaning}\n`);
        const unknown = findUnknownEnvVariables(io.env);
        if (unknown.length) {
          io.stdout.write(`\nSet here but unknown (ignored):\n`);
          for (const { name, suggestion } of unknown) {
            io.stdout.write(`${name.padEnd(40)} ${suggestion ? `did you mean ${suggestion}?` : 'no similar name'}\n`);
          }
        }
        return;
      }
      const loaded = await context.loadConfig(command);
      // A PostgreSQL URL may hold a password: shown masked, like every secret.
      const { maskStoreUrl } = await import('../store/store-location.ts');
      const shown = { ...loaded.config, store: { ...loaded.config.store, url: maskStoreUrl(loaded.config.store.url) } };
      io.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    });
  runsWithoutProject(configCommand, (options) => options.env === true);

  registerHelpCommand(program, io);

  return program;
}

/**
 * `help [command…]` as commander gives it, plus `help errors`: the table of error codes and
 * exit statuses (the README's table is `help errors --markdown`). Needs no project.
 */
function registerHelpCommand(program: Command, io: CliIo): void {
  program.helpCommand(false);
  const help = program
    .command('help')
    .description('show help for a command; `help errors` lists every error code, its exit status and what to do')
    .argument('[command...]', 'a command (e.g. `subscribers import`), or `errors`')
    .option('--markdown', 'with `errors`: print the table as Markdown (as in README.md)')
    .action((names: string[], options: { markdown?: boolean }) => {
      if (names.length === 1 && names[0] === 'errors') {
        io.stdout.write(options.markdown ? formatErrorCodesMarkdown() : formatErrorCodes());
        return;
      }
      let target: Command = program;
      for (const name of names) {
        const next = target.commands.find((command) => command.name() === name || command.aliases().includes(name));
        if (!next) throw new LetterpressError('E_USAGE', `no command "${names.join(' ')}": run \`letterpress --help\` for the list, or \`letterpress help errors\``);
        target = next;
      }
      target.outputHelp();
    });
  runsWithoutProject(help);
}

/** Runs the CLI with `argv` (as in process.argv) and returns the exit code. */
export async function main(
  argv: readonly string[],
  io: CliIo = defaultIo(),
  overrides: Omit<AppEnvironment, 'root' | 'env'> = {},
): Promise<number> {
  let exitCode = 0;
  const program = createProgram(
    io,
    (code) => {
      exitCode = code;
    },
    overrides,
  );
  try {
    await program.parseAsync(argv as string[]);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version arrive here as "errors" with exit code 0.
      return error.exitCode;
    }
    if (error instanceof LetterpressError) {
      // The code goes on the first line; what follows it (an excerpt with a caret) stays as it is.
      // Messages quote slugs, file names and SMTP replies: control characters are shown escaped.
      const [first, ...rest] = escapeForTerminal(error.message, { keepNewlines: true }).split('\n');
      const code = error.code.startsWith('E_') ? ` [${error.code}]` : '';
      io.stderr.write(`letterpress: ${first}${code}\n${rest.map((line) => `${line}\n`).join('')}`);
      // The table says which codes are temporary (75: store busy, relay down), usage (2) or a bug (70).
      return exitStatusOf(error.code);
    }
    io.stderr.write(`letterpress: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
    return 70;
  }
}
