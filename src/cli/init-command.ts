import { lstat, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { AnswerKey, InitAnswers, ScaffoldFile } from '../config/scaffold-project.ts';
import { LetterpressError } from '../util/errors.ts';
import { runsWithoutProject, type CommandContext } from './command-context.ts';

/** The templates that ship with the package, copied into every new project. */
/**
 * What init runs on, loaded when it runs: the config schema (zod) and the store (SQLite) are
 * not loaded by the program set-up that every command shares.
 */
async function loadInitModules() {
  const [config, scaffold, inspect, store, location] = await Promise.all([
    import('../config/load-config.ts'),
    import('../config/scaffold-project.ts'),
    import('../store/inspect-store-file.ts'),
    import('../store/open-store.ts'),
    import('../store/store-location.ts'),
  ]);
  return { ...config, ...scaffold, ...inspect, ...store, ...location };
}

type InitModules = Awaited<ReturnType<typeof loadInitModules>>;

const SHIPPED_TEMPLATES = fileURLToPath(new URL('../../templates/', import.meta.url));

interface InitOptions {
  title?: string;
  url?: string;
  from?: string;
  postalAddress?: string;
  locale?: string;
  timezone?: string;
  yes?: boolean;
  force?: boolean;
  store?: boolean;
}

/** Reads every file under `dir` as `{path, content}` with `/`-separated relative paths. */
async function readShippedTemplates(dir: string): Promise<ScaffoldFile[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: ScaffoldFile[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    files.push({ path: path.relative(dir, file).split(path.sep).join('/'), content: await readFile(file) });
  }
  return files;
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function initError(message: string): LetterpressError {
  return new LetterpressError('E_INIT', message);
}

/** A path as the person typed it would read: relative to the working directory when inside it. */
function displayPath(cwd: string, target: string): string {
  const relative = path.relative(cwd, target);
  if (relative === '') return '.';
  return !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : target;
}

/** Quotes a path for the shell line printed under "Next steps" when it needs quoting. */
function shellPath(file: string): string {
  return /^[\w@%+=:,./-]+$/.test(file) ? file : `'${file.replace(/'/g, `'\\''`)}'`;
}

/** Refuses a target that is a Letterpress project already, or (without --force) holds anything but dotfiles. */
async function checkTarget(m: InitModules, target: string, shown: string, force: boolean): Promise<void> {
  let names: string[] = [];
  try {
    const stat = await lstat(target);
    if (!stat.isDirectory()) throw initError(`${shown} exists and is not a directory; nothing was written`);
    names = await readdir(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return;
  }
  if (await exists(path.join(target, m.CONFIG_FILE))) {
    throw initError(
      `${path.join(shown, m.CONFIG_FILE)} exists: this is a Letterpress project already; nothing was written (init never overwrites a config, not even with --force)`,
    );
  }
  const occupying = m.occupyingEntries(names);
  if (occupying.length && !force) {
    const listed = occupying.slice(0, 8).join(', ') + (occupying.length > 8 ? `, … (${occupying.length} in all)` : '');
    throw initError(
      `${shown} is not empty (${listed}); nothing was written. Run init in a new or empty directory, or pass --force to add the project's files next to what is there (existing files are never overwritten)`,
    );
  }
}

/** Validates the answers given as flags; a bad one stops the command and names its flag. */
function answersFromFlags(m: InitModules, options: InitOptions): Partial<InitAnswers> {
  const given: Partial<Record<AnswerKey, string>> = {};
  for (const question of m.INIT_QUESTIONS) {
    const raw = options[question.key];
    if (raw === undefined) continue;
    const check = m.checkAnswer(question.key, raw);
    if (!check.ok) throw initError(`${question.flag} ${JSON.stringify(raw)}: ${check.reason}`);
    given[question.key] = check.value;
  }
  return given as Partial<InitAnswers>;
}

/** Asks every question not answered yet, one line each; an invalid answer is asked again with the reason. */
async function askQuestions(
  m: InitModules,
  context: CommandContext,
  input: NodeJS.ReadableStream,
  given: Partial<InitAnswers>,
  defaults: InitAnswers,
): Promise<InitAnswers> {
  const { io } = context;
  const answers: Record<string, string> = { ...given };
  // The async iterator buffers lines, so answers typed (or piped) ahead of a prompt are not lost.
  const lines = createInterface({ input, crlfDelay: Infinity });
  const iterator = lines[Symbol.asyncIterator]();
  try {
    for (const question of m.INIT_QUESTIONS) {
      if (answers[question.key] !== undefined) continue;
      const fallback = defaults[question.key];
      for (;;) {
        io.stdout.write(`${question.prompt} [${fallback}]: `);
        const next = await iterator.next();
        if (next.done) {
          io.stdout.write('\n');
          const open = m.INIT_QUESTIONS.filter((q) => answers[q.key] === undefined).map((q) => q.flag);
          throw initError(`the input ended before every question was answered; pass the rest as flags: ${open.join(', ')}`);
        }
        const typed = next.value.trim();
        const check = m.checkAnswer(question.key, typed === '' ? fallback : typed);
        if (check.ok) {
          answers[question.key] = check.value;
          break;
        }
        io.stdout.write(`  ${question.configKey}: ${check.reason}. Please try again.\n`);
      }
    }
  } finally {
    lines.close();
  }
  return answers as unknown as InitAnswers;
}

/** Works out every answer: flags first, then the prompts on a terminal, then (with --yes) the defaults. */
async function resolveAnswers(m: InitModules, context: CommandContext, options: InitOptions): Promise<InitAnswers> {
  const given = answersFromFlags(m, options);
  const defaults = m.defaultAnswers(Intl.DateTimeFormat().resolvedOptions().timeZone);
  if (options.yes) return { ...defaults, ...given };
  const missing = m.INIT_QUESTIONS.filter((question) => given[question.key] === undefined);
  if (missing.length === 0) return given as InitAnswers;
  const input = context.io.stdin;
  if (!input?.isTTY) {
    throw initError(
      `not a terminal, so nothing can be asked; pass ${missing.map((q) => q.flag).join(', ')} (or --yes to take the defaults for what is not given)`,
    );
  }
  return askQuestions(m, context, input, given, defaults);
}

/** Writes each file unless something is already at its path; returns what was written and skipped. */
async function writeFiles(target: string, files: readonly ScaffoldFile[]): Promise<{ written: string[]; skipped: string[] }> {
  const written: string[] = [];
  const skipped: string[] = [];
  for (const file of files) {
    const destination = path.join(target, ...file.path.split('/'));
    if (await exists(destination)) {
      skipped.push(file.path);
      continue;
    }
    await mkdir(path.dirname(destination), { recursive: true });
    try {
      // `wx`: a file that appeared since the check above is still never overwritten.
      await writeFile(destination, file.content, { flag: 'wx' });
      written.push(file.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      skipped.push(file.path);
    }
  }
  return { written, skipped };
}

/** Lists written paths, folding the copied templates into one line. */
function summarizeWritten(written: readonly string[]): string[] {
  const templates = written.filter((file) => file.startsWith('templates/'));
  const lines = written.filter((file) => !file.startsWith('templates/'));
  if (templates.length) {
    lines.splice(1, 0, `templates/ (${templates.length} file${templates.length === 1 ? '' : 's'}: email, web page and feed templates, i18n strings)`);
  }
  return lines.map((line) => (line === 'issues/example.md' ? `${line} (an example draft: never published while it says draft: true)` : line));
}

/** A file name suffix for now, without characters some file systems refuse (`:`). */
function fileStamp(now: Date): string {
  return `${now.toISOString().slice(0, 19).replace(/:/g, '-')}Z`;
}

/** Asks a yes/no question on the terminal; anything but y/yes is no. */
async function confirm(input: NodeJS.ReadableStream, context: CommandContext, question: string): Promise<boolean> {
  context.io.stdout.write(`${question} [y/N]: `);
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    const next = await lines[Symbol.asyncIterator]().next();
    if (next.done) context.io.stdout.write('\n');
    return !next.done && /^y(es)?$/i.test(next.value.trim());
  } finally {
    lines.close();
  }
}

/**
 * `letterpress init --store`: starts over with a new, empty store on purpose. A file that is
 * not a usable store (empty, truncated, foreign) is moved aside after confirmation (a terminal,
 * or --yes/--force), never deleted; a working store is replaced only with --force. Its `-wal`
 * and `-shm` files move with it: left beside the new store, SQLite would replay them into it.
 */
async function initStore(context: CommandContext, root: string, options: InitOptions): Promise<void> {
  const { io } = context;
  const { loadConfig, resolveStoreLocation, inspectStoreFile, openStore } = await loadInitModules();
  const loaded = await loadConfig({ root, env: io.env });
  const location = resolveStoreLocation({ url: loaded.config.store.url, root: loaded.root });
  if (location.driver === 'postgres') {
    // A database is the operator's to drop: Letterpress never deletes one.
    throw initError(
      `the store is the PostgreSQL database ${location.shown}; init --store starts SQLite stores over. To start a PostgreSQL store afresh, drop and create the database (dropdb, createdb): Letterpress makes its tables on first use`,
    );
  }
  const file = location.file;
  const shown = displayPath(io.cwd, file);
  const found = inspectStoreFile(file);
  let movedTo: string | undefined;
  if (found.state !== 'missing') {
    let what: string;
    if (found.state === 'store') {
      const store = await openStore({ url: loaded.config.store.url, root: loaded.root, lockWaitMs: loaded.config.store.lockWaitMs });
      const subscribers = await store.countSubscribers().finally(() => store.close());
      what = `${shown} is a working Letterpress store with ${subscribers} subscriber${subscribers === 1 ? '' : 's'}`;
      if (!options.force) {
        throw initError(`${what}; nothing was changed. To replace it anyway with an empty store: letterpress init --store --force (the old file is moved aside, not deleted)`);
      }
    } else {
      what = `${shown} is not a usable store: ${found.reason}`;
    }
    const suffix = `${found.state === 'store' ? 'replaced' : 'broken'}-${fileStamp(new Date())}`;
    const target = `${file}.${suffix}`;
    if (!options.yes && !options.force) {
      const input = io.stdin;
      if (!input?.isTTY) throw initError(`${what}; nothing was changed. Not a terminal, so nothing can be asked: pass --yes to move it to ${displayPath(io.cwd, target)} and create a new, empty store`);
      if (!(await confirm(input, context, `${what}. Move it to ${displayPath(io.cwd, target)} and create a new, empty store?`))) {
        throw initError('nothing was changed');
      }
    }
    for (const sidecar of ['-wal', '-shm', '-journal']) {
      try {
        await rename(`${file}${sidecar}`, `${target}${sidecar}`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    await rename(file, target);
    movedTo = target;
  }
  const fresh = await openStore({ url: loaded.config.store.url, root: loaded.root, lockWaitMs: loaded.config.store.lockWaitMs });
  await fresh.close();
  if (movedTo !== undefined) io.stdout.write(`Moved the old store to ${displayPath(io.cwd, movedTo)} (kept, not deleted).\n`);
  io.stdout.write(`Created a new, empty store at ${shown}.\n`);
  if (movedTo !== undefined) {
    io.stdout.write('  it has no subscribers and no issues: the next build archives what is in issues/ (never emailed);\n');
    io.stdout.write('  unsubscribe links already sent verify only while LETTERPRESS_SECRET is the key that signed them.\n');
  }
}

/** Registers `letterpress init [dir]`. */
export function registerInitCommand(program: Command, context: CommandContext): void {
  const { io } = context;
  const init = program
    .command('init')
    .description('start a new newsletter: write config/, templates/, issues/ (with an example draft) and .gitignore')
    .argument('[dir]', 'where to create the project (default: the current directory, or --root)')
    .option('--title <text>', 'newsletter title')
    .option('--url <url>', 'public site URL: https://…, or http://127.0.0.1:8080 to try it out')
    .option('--from <address>', 'sender address (From), optionally "Name <address>"')
    .option('--postal-address <text>', 'postal address shown in every email footer')
    .option('--locale <locale>', 'en or zh-CN')
    .option('--timezone <zone>', 'IANA timezone (default: this machine\'s)')
    .option('-y, --yes', 'take the defaults for every answer not given as a flag; ask nothing')
    .option('--force', 'write into a non-empty directory (existing files are still never overwritten); with --store: replace even a working store')
    .option('--store', 'only make a new, empty store (data/letterpress.db) in an existing project: a lost or damaged one is moved aside after confirmation (or --yes), never deleted')
    .action(async (dir: string | undefined, options: InitOptions, command: Command) => {
      const target = dir === undefined ? context.rootOf(command) : path.resolve(io.cwd, dir);
      if (options.store) return initStore(context, target, options);
      const shown = displayPath(io.cwd, target);
      const m = await loadInitModules();
      await checkTarget(m, target, shown, options.force ?? false);
      const answers = await resolveAnswers(m, context, options);
      const files = m.scaffoldProject({ answers, templates: await readShippedTemplates(SHIPPED_TEMPLATES) });
      await mkdir(target, { recursive: true });
      const { written, skipped } = await writeFiles(target, files);
      try {
        // The config is checked on its own, without this shell's LETTERPRESS_* overrides.
        await m.loadConfig({ root: target, env: {} });
      } catch (error) {
        throw initError(`the config init just wrote does not load: ${(error as Error).message}`);
      }

      io.stdout.write(`Created a Letterpress newsletter in ${shown === '.' ? 'the current directory' : shown}:\n`);
      for (const line of summarizeWritten(written)) io.stdout.write(`  ${line}\n`);
      if (skipped.length) {
        io.stdout.write(`Skipped (already there, left as they were):\n`);
        for (const file of skipped) io.stdout.write(`  ${file}\n`);
      }
      io.stdout.write(`\nNext steps:\n`);
      if (path.resolve(io.cwd) !== target) io.stdout.write(`  cd ${shellPath(shown)}\n`);
      io.stdout.write(`  npx letterpress check                             # the example issue, with diagnostics\n`);
      io.stdout.write(`  npx letterpress subscribers add you@example.org   # your first reader\n`);
      io.stdout.write(`  npx letterpress start                             # publish and send what is due (start --once: one pass)\n`);
    });
  runsWithoutProject(init);
}
