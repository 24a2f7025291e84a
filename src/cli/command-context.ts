import path from 'node:path';
import type { Command } from 'commander';
import { createApp, type App, type AppEnvironment } from './app.ts';
import type { CliIo } from './main.ts';

/** What every command registration needs: the streams, the exit code, and a wired app. */
export interface CommandContext {
  io: CliIo;
  setExitCode(code: number): void;
  /** Creates the app for the command's `--root`, runs `fn`, and always closes the app. */
  withApp<T>(command: Command, fn: (app: App) => Promise<T>): Promise<T>;
  rootOf(command: Command): string;
}

/** Builds the context; `overrides` lets tests and benchmarks swap the transport or the clock. */
export function createCommandContext(
  io: CliIo,
  setExitCode: (code: number) => void,
  overrides: Omit<AppEnvironment, 'root' | 'env'> = {},
): CommandContext {
  const rootOf = (command: Command): string => path.resolve(io.cwd, command.optsWithGlobals().root as string);
  return {
    io,
    setExitCode,
    rootOf,
    async withApp(command, fn) {
      // `--allow-local` (send, start) is `delivery.allowLocalAddresses: true` for this run, set
      // the way every config key is, so each send path sees it without being handed a flag.
      const allowLocal = command.opts().allowLocal === true;
      const env = allowLocal ? { ...io.env, LETTERPRESS_DELIVERY_ALLOWLOCALADDRESSES: 'true' } : io.env;
      const app = await createApp({ ...overrides, root: rootOf(command), env });
      try {
        return await fn(app);
      } finally {
        await app.close();
      }
    },
  };
}
