import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { formatDiagnostic } from '../issue/diagnostic.ts';
import type { ArchiveOutcome } from '../store/issue-registry.ts';
import type { CommandContext } from './command-context.ts';
import { reportRegistration } from './delivery-commands.ts';

/** A target names a file when it exists as one or looks like one; otherwise it is a slug. */
function isFileTarget(cwd: string, target: string): boolean {
  const resolved = path.resolve(cwd, target);
  if (existsSync(resolved)) return statSync(resolved).isFile();
  return target.endsWith('.md') || target.includes('/') || target.includes(path.sep);
}

/** `letterpress archive <file|slug>...`: on the site and in the feeds, never emailed. */
export function registerArchiveCommand(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('archive')
    .description('put issues on the site and in the feeds without emailing them (state archived); a planned, unsent issue is unplanned')
    .argument('<targets...>', 'issue files (issues/*.md) or recorded slugs')
    .addHelpText(
      'after',
      '\nAn issue already emailed (or being emailed) is refused with the reason. `letterpress send <slug>` still\n' +
        'emails an archived issue later, unless its front matter says `email: false` (then it needs --force).\n',
    )
    .action(async (targets: string[], _options: unknown, command: Command) => {
      await context.withApp(command, async (app) => {
        const lines: string[] = [];
        let failed = false;
        const refuse = (target: string, reason: string) => {
          lines.push(`${target}: not archived: ${reason}`);
          failed = true;
        };
        const store = await app.store();
        const recorded: string[] = [];
        const fresh = new Set<string>();
        const files = targets.filter((target) => isFileTarget(io.cwd, target));
        for (const slug of targets.filter((target) => !isFileTarget(io.cwd, target))) recorded.push(slug);

        // Parsing and rendering load with the command that uses them, not with every command.
        const [{ loadIssues }, { classifyIssue }] = await Promise.all([import('../project/load-issues.ts'), import('../site/build-site.ts')]);
        const { issues, diagnostics } = await loadIssues(
          files.map((file) => path.resolve(io.cwd, file)),
          { root: app.loaded.root, timezone: app.loaded.config.timezone, maxBytes: app.loaded.config.limits.maxIssueBytes, parser: app.issueParser, issuesDir: app.loaded.paths.issues },
        );
        for (const d of diagnostics.filter((x) => x.severity === 'error')) io.stderr.write(`${formatDiagnostic(d)}\n`);
        for (const file of files) {
          const loaded = issues.find((entry) => entry.file === path.resolve(io.cwd, file));
          if (!loaded) {
            refuse(file, existsSync(path.resolve(io.cwd, file)) ? 'fix the errors above first' : 'no such file');
            continue;
          }
          const { issue } = loaded;
          if (path.relative(app.loaded.paths.issues, loaded.file).startsWith('..')) {
            refuse(file, `archive files from ${app.loaded.paths.issues} (copy it there first)`);
            continue;
          }
          const when = classifyIssue(issue, app.clock.now());
          if (when !== 'due') {
            refuse(
              file,
              when === 'draft'
                ? 'it is a draft (draft: true); to keep it off email for good, add `email: false` to its front matter'
                : `it is not due before ${issue.publishAt}; add \`email: false\` to its front matter so it is archived when it is published`,
            );
            continue;
          }
          if (await store.getIssue(issue.slug)) recorded.push(issue.slug);
          else fresh.add(issue.slug);
        }

        let outcomes: ArchiveOutcome[] = [];
        if (recorded.length > 0) {
          outcomes = await app.archive(recorded);
        }
        for (const outcome of outcomes) {
          if (outcome.outcome === 'refused') refuse(outcome.slug, outcome.reason);
          else if (outcome.outcome === 'already-archived') lines.push(`${outcome.slug}: already archived (on the site and in the feeds, never emailed)`);
          else {
            lines.push(
              `${outcome.slug}: archived (on the site and in the feeds, never emailed)` +
                (outcome.removedDeliveries > 0 ? `; ${outcome.removedDeliveries} planned message${outcome.removedDeliveries === 1 ? "" : "s"} cancelled, none had been sent` : ''),
            );
          }
        }
        if (fresh.size > 0 || outcomes.some((outcome) => outcome.outcome === 'archived')) {
          const report = await app.build(undefined, { archive: fresh });
          for (const d of report.diagnostics.filter((x) => x.severity === 'error')) io.stderr.write(`${formatDiagnostic(d)}\n`);
          for (const slug of fresh) {
            const record = await store.getIssue(slug);
            if (record?.state === 'archived') lines.push(`${slug}: archived (on the site and in the feeds, never emailed)`);
            else refuse(slug, `recorded as ${record?.state ?? 'nothing'}`);
          }
          if (report.registered) {
            reportRegistration(app, context, { ...report.registered, added: report.registered.added.filter((entry) => !fresh.has(entry.slug)) });
          }
        }
        for (const line of lines) io.stdout.write(`${line}\n`);
        if (lines.some((line) => !line.includes('not archived'))) {
          io.stdout.write('  to email an archived issue later: letterpress send <slug>\n');
        }
        if (failed) context.setExitCode(1);
      }, { oneShot: true });
    });
}
