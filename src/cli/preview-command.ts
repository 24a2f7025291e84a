import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_PREVIEW_PORT } from '../server/preview-port.ts';
import { LetterpressError } from '../util/errors.ts';
import { parsePort, waitForStopSignal } from './cli-options.ts';
import type { CommandContext } from './command-context.ts';

/**
 * `letterpress preview [file]`: the editor's live preview of one issue file (the newest in
 * issues/ by default, drafts and scheduled issues included) on 127.0.0.1, until Ctrl+C.
 * `waitForStop` replaces the signal wait (tests).
 */
export function registerPreviewCommand(
  program: Command,
  context: CommandContext,
  waitForStop: () => Promise<unknown> = waitForStopSignal,
): void {
  program
    .command('preview')
    .description('preview an issue file (email at desktop and mobile width, text part, web page, diagnostics); reloads on save')
    .argument('[file]', 'the issue file (default: the newest file in issues/)')
    .option('--port <port>', 'port on 127.0.0.1', String(DEFAULT_PREVIEW_PORT))
    .action(async (file: string | undefined, options: { port: string }, command: Command) => {
      const { io } = context;
      const [loaded, { newestIssueFile, startPreviewServer }] = await Promise.all([
        context.loadConfig(command),
        import('../server/preview-server.ts'),
      ]);
      const port = parsePort(options.port, DEFAULT_PREVIEW_PORT);
      const target = file !== undefined ? path.resolve(io.cwd, file) : await newestIssueFile(loaded.paths.issues);
      if (target === undefined) {
        throw new LetterpressError(
          'E_NO_ISSUE',
          `no issue file in ${path.relative(io.cwd, loaded.paths.issues) || '.'}/ to preview: write one, or name it (letterpress preview path/to/issue.md)`,
        );
      }
      if (!existsSync(target)) throw new LetterpressError('E_READ', `${path.relative(io.cwd, target) || target}: no such file`);
      const server = await startPreviewServer({ loaded, file: target, port });
      io.stdout.write(
        `Previewing ${path.relative(io.cwd, target) || target} at ${server.url}/\n` +
          '  reloads when the file or the templates change; Ctrl+C to stop\n',
      );
      try {
        await waitForStop();
      } finally {
        await server.close();
      }
    });
}
