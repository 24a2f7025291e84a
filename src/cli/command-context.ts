import path from 'node:path';
import type { Command } from 'commander';
import type { LoadedConfig } from '../config/load-config.ts';
import type { App, AppEnvironment } from './app.ts';
import type { CliIo } from './main.ts';

/** What every command registration needs: the streams, the exit code, and a wired app. */
export interface CommandContext {
  io: CliIo;
  setExitCode(code: number): void;
  /**
   * Creates the app for the command's project, runs `fn`, and always closes the app. `env`:
   * variables a command's own flags stand for (`worker --store` is LETTERPRESS_DB).
   */
  /**
   * Runs `fn` with the app of this command. `oneShot`: the command serves nothing and ends
   * when done (build, send, publish, archive), so small issue files are parsed on its own
   * thread instead of in a worker process (see createOneShotIssueParser).
   */
  withApp<T>(command: Command, fn: (app: App) => Promise<T>, options?: { env?: Record<string, string>; oneShot?: boolean }): Promise<T>;
  /** Loads the config of the command's project (for commands that need no store). */
  loadConfig(command: Command): Promise<LoadedConfig>;
  /**
   * The command's project root: the one found for it before it ran, or (for a command that
   * runs without a project, such as `init`) `--root`, else the working directory.
   */
  rootOf(command: Command): string;
  /**
   * Runs before every command's action (the program's preAction hook): warns about unknown
   * `LETTERPRESS_*` variables and finds the project, unless the command runs without one.
   */
  prepare(command: Command): Promise<void>;
}

type OptionTest = (options: Record<string, unknown>) => boolean;

const withoutProject = new WeakMap<Command, OptionTest>();

/**
 * Declares that `command` needs no project tree (it works from the store and the environment,
 * or creates the project), so no `config/letterpress.json` is searched for; with `when`, only
 * for the options it accepts (`config --env`). One line per command, next to its definition.
 */
export function runsWithoutProject<C extends Command>(command: C, when: OptionTest = () => true): C {
  withoutProject.set(command, when);
  return command;
}

/** Builds the context; `overrides` lets tests and benchmarks swap the transport or the clock. */
export function createCommandContext(
  io: CliIo,
  setExitCode: (code: number) => void,
  overrides: Omit<AppEnvironment, 'root' | 'env'> = {},
): CommandContext {
  const found = new WeakMap<Command, string>();
  const givenRoot = (command: Command): string | undefined => command.optsWithGlobals().root as string | undefined;
  const rootOf = (command: Command): string => found.get(command) ?? path.resolve(io.cwd, givenRoot(command) ?? '.');
  return {
    io,
    setExitCode,
    rootOf,
    // The config schema (zod), the store and the app load when a command runs, not when the
    // program is set up: `--version` and `--help` need none of them.
    async prepare(command) {
      const { findUnknownEnvVariables } = await import('../config/load-config.ts');
      for (const { name, suggestion } of findUnknownEnvVariables(io.env)) {
        io.stderr.write(
          `letterpress: warning: ${name} is not a Letterpress variable and is ignored; ${suggestion ? `did you mean ${suggestion}?` : '`letterpress config --env` lists the known ones'}\n`,
        );
      }
      if (withoutProject.get(command)?.(command.opts())) return;
      const { findProjectRoot } = await import('../config/find-project-root.ts');
      found.set(command, await findProjectRoot({ cwd: io.cwd, root: givenRoot(command) }));
    },
    loadConfig: async (command) => (await import('../config/load-config.ts')).loadConfig({ root: rootOf(command), env: io.env, cwd: io.cwd }),
    async withApp(command, fn, options = {}) {
      // `--allow-local` (send, start) is `delivery.allowLocalAddresses: true` for this run, set
      // the way every config key is, so each send path sees it without being handed a flag.
      const allowLocal = command.opts().allowLocal === true;
      const env = { ...io.env, ...options.env, ...(allowLocal && { LETTERPRESS_DELIVERY_ALLOWLOCALADDRESSES: 'true' }) };
      const { createApp } = await import('./app.ts');
      const app = await createApp({ ...overrides, root: rootOf(command), env, cwd: io.cwd, ...(options.oneShot && { oneShotParser: true }) });
      try {
        return await fn(app);
      } finally {
        await app.close();
      }
    },
  };
}
