import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { createScriptedParser } from '../helpers/scripted-parser.ts';
import { createTempProject, runCli } from '../helpers/temp-project.ts';

/**
 * Issue 11: `send`, `publish` and `archive` parse issue files through the app's parser (files
 * over 16 KiB in the worker process, all within limits.parseSeconds), never one of their own
 * without a budget.
 */

const env = { LETTERPRESS_SECRET: 'routing-test-secret-0123456789abcdef' };
let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

async function runWithParser(args: string[], parser: ReturnType<typeof createScriptedParser>) {
  let stdout = '';
  let stderr = '';
  const code = await main(
    ['node', 'letterpress', '--root', root!, ...args],
    { stdout: { write: (text) => void (stdout += text) }, stderr: { write: (text) => void (stderr += text) }, env, cwd: root! },
    { issueParser: parser },
  );
  return { code, stdout, stderr };
}

describe('commands parse through the app issue parser', () => {
  it('send <slug> parses the recorded file through it, and a file over the budget is not sent', async () => {
    root = await createTempProject();
    expect((await runCli(['build'], root, env)).code).toBe(0);
    await runCli(['subscribers', 'add', 'ann@example.org'], root, env);

    const slow = createScriptedParser(new Set(['issues/2024-18.md']));
    const refused = await runWithParser(['send', '2024-18'], slow);
    expect(slow.asked).toContain('parse issues/2024-18.md');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('issues/2024-18.md:7:1: parsing took longer than 10 s (limits.parseSeconds)');
    expect(refused.stderr).toContain('[E_ISSUE_FILE]');

    const fine = createScriptedParser();
    const sent = await runWithParser(['send', '2024-18'], fine);
    expect(sent.code).toBe(0);
    expect(sent.stdout).toContain('2024-18: 1 sent');
    // For `email: false` and for the email itself, at least.
    expect(fine.asked.filter((entry) => entry === 'parse issues/2024-18.md').length).toBeGreaterThanOrEqual(2);
  });

  it('publish <file> and archive <file> parse through it', async () => {
    root = await createTempProject();
    expect((await runCli(['build'], root, env)).code).toBe(0);
    const file = path.join(root, 'issues', 'extra.md');
    await writeFile(file, '# Extra issue No. 99\n\nBody.\n');
    const slow = createScriptedParser(new Set(['issues/extra.md']));

    const published = await runWithParser(['publish', 'issues/extra.md'], slow);
    expect(published.code).toBe(1);
    expect(published.stderr).toContain('issues/extra.md:7:1: error E_TOO_SLOW parsing took longer than 10 s');

    const archived = await runWithParser(['archive', 'issues/extra.md'], slow);
    expect(archived.code).toBe(1);
    expect(archived.stderr).toContain('issues/extra.md:7:1: error E_TOO_SLOW parsing took longer than 10 s');
    expect(slow.asked.filter((entry) => entry === 'parse issues/extra.md')).toHaveLength(2);
  });
});
