import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { activeRows, createSendProject, withStore } from '../helpers/send-project.ts';
import { runCli } from '../helpers/temp-project.ts';

/**
 * Titles, names and file names come from outside: printed for a person, a CR, LF, escape
 * sequence or bidi override is shown escaped, so it can neither forge a status line nor
 * repaint the terminal. JSON output keeps the exact text.
 */

const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
});

// YAML double-quoted escapes put real CR, LF, ESC and U+202E into the title.
const EVIL_ISSUE = '---\ntitle: "Evil\\r\\n2024-99  sent  forged\\x1b[2J\\u202eabc"\nslug: 2024-50\n---\n# x\n\ntext\n';
const EVIL_TITLE = 'Evil\r\n2024-99  sent  forged';
const RAW_CONTROL = /[\r\u001b\u202e]/;

describe('escaped terminal output', () => {
  it('status and send print a title with CR/LF and escape sequences escaped, on one line', async () => {
    const root = await createSendProject(activeRows(3));
    roots.push(root);
    await writeFile(path.join(root, 'issues/2024-50.md'), EVIL_ISSUE);
    expect((await runCli(['build'], root)).code).toBe(0);

    const status = await runCli(['status'], root);
    expect(status.code).toBe(0);
    expect(status.stdout).not.toMatch(RAW_CONTROL);
    const lines = status.stdout.split('\n');
    expect(lines.filter((line) => line.startsWith('2024-50  planned  '))).toEqual([
      expect.stringContaining('Evil\\r\\n2024-99  sent  forged'),
    ]);
    expect(lines.some((line) => line.startsWith('2024-99'))).toBe(false);
    expect(status.stdout).toContain('\\u202eabc');

    const send = await runCli(['send', '2024-50'], root);
    expect(send.code).toBe(0);
    const output = send.stdout + send.stderr;
    expect(output).not.toMatch(RAW_CONTROL);
    expect(output).toMatch(/^2024-50: sending 3 messages via .*: Evil\\r\\n2024-99  sent  forged.*\\u202eabc$/m);
    expect(output.split('\n').some((line) => line.startsWith('2024-99'))).toBe(false);

    // JSON keeps the title exactly as written (JSON escapes by itself).
    const json = JSON.parse((await runCli(['status', '--json'], root)).stdout) as { slug: string; title: string }[];
    expect(json.find((row) => row.slug === '2024-50')?.title).toContain(EVIL_TITLE);
  });

  it('subscribers list shows a stored name with control characters escaped', async () => {
    const root = await createSendProject([]);
    roots.push(root);
    // Import cleans names; a row from an older version or another writer may not be clean.
    await withStore(root, (store) => store.upsertSubscriber({ email: 'eve@example.org', name: 'Eve\u202e gro.elpmaxe@boj\r\x1b[2J', status: 'active', source: 'api' }));
    const list = await runCli(['subscribers', 'list'], root);
    expect(list.stdout).not.toMatch(RAW_CONTROL);
    expect(list.stdout).toContain('(Eve\\u202e gro.elpmaxe@boj\\r\\x1b[2J)');
    const json = JSON.parse((await runCli(['subscribers', 'list', '--json'], root)).stdout) as { name: string }[];
    expect(json[0]?.name).toBe('Eve\u202e gro.elpmaxe@boj\r\x1b[2J');
  });

  it('check shows a file name with an escape sequence escaped; --json keeps it', async () => {
    const root = await createSendProject([]);
    roots.push(root);
    await writeFile(path.join(root, 'issues/evil\u001b[2J.md'), '---\nnumber: "many"\n---\n# Evil\n');
    const check = await runCli(['check'], root);
    expect(check.stdout).not.toMatch(RAW_CONTROL);
    expect(check.stdout).toMatch(/^issues\/evil\\x1b\[2J\.md:2:\d+: error E_FIELD/m);
    const json = JSON.parse((await runCli(['check', '--json'], root)).stdout) as { file: string }[];
    expect(json.map((d) => d.file)).toContain('issues/evil\u001b[2J.md');
  });
});
