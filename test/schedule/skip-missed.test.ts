import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/cli/app.ts';
import { runPass } from '../../src/schedule/daemon.ts';
import { createLogger } from '../../src/util/logger.ts';
import { createTempProject, runCli } from '../helpers/temp-project.ts';

const env = { LETTERPRESS_SECRET: 'skip-missed-secret-0123456789abcdef0123' };
const ISSUE = `---\ntitle: Missed issue\ndate: 2024-09-01\npublish_at: 2024-09-01T09:00:00Z\n---\n# Missed issue\n\nText.\n`;

async function firstPassAfterDowntime(skipMissed: boolean) {
  const root = await createTempProject();
  await runCli(['subscribers', 'add', 'ann@example.org'], root, env);
  await runCli(['build'], root, env); // the daemon ran before: the samples are its backlog
  // While it was down, an issue became due.
  await writeFile(path.join(root, 'issues', 'missed.md'), ISSUE);
  const app = await createApp({ root, env });
  const lines: string[] = [];
  try {
    const logger = createLogger({ write: (line) => void lines.push(line), pretty: false });
    const { sends } = await runPass(app, logger, { reason: 'start', archiveNew: skipMissed, holdForWindow: false });
    const record = await (await app.store()).getIssue('missed');
    return { record, sends, lines };
  } finally {
    await app.close();
  }
}

describe('issues that became due while the daemon was down', () => {
  it('go out once at the next start by default', async () => {
    const { record, sends } = await firstPassAfterDowntime(false);
    expect(record?.state).toBe('sent');
    expect(sends.find((report) => report.slug === 'missed')?.sent).toBe(1);
  });

  it('are archived, not emailed, with schedule.skipMissed', async () => {
    const { record, sends, lines } = await firstPassAfterDowntime(true);
    expect(record?.state).toBe('archived');
    expect(sends.find((report) => report.slug === 'missed')).toBeUndefined();
    expect(lines.some((line) => line.includes('archived missed'))).toBe(true);
  });
});
