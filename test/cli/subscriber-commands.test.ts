import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTempProject, hashTree, runCli } from '../helpers/temp-project.ts';

describe('letterpress subscribers', () => {
  it('every command and subcommand answers --help', async () => {
    const root = await createTempProject({ samples: false });
    for (const args of [
      ['send'],
      ['publish'],
      ['status'],
      ['subscribers'],
      ['subscribers', 'add'],
      ['subscribers', 'import'],
      ['subscribers', 'list'],
      ['subscribers', 'export'],
      ['subscribers', 'remove'],
    ]) {
      const { code, stdout } = await runCli([...args, '--help'], root);
      expect(code, args.join(' ')).toBe(0);
      expect(stdout, args.join(' ')).toContain('Usage:');
    }
  });

  it('adds, imports, lists, exports and erases with the consent rules', async () => {
    const root = await createTempProject({ samples: false });
    const added = await runCli(['subscribers', 'add', ' Ann@Example.ORG ', '--name', 'Ann'], root);
    expect(added.stdout).toContain('Ann@example.org: added (active)');
    expect((await runCli(['subscribers', 'add', 'ann@example.org'], root)).stdout).toContain('unchanged');
    expect((await runCli(['subscribers', 'add', 'bad\r\nBcc: x@y.z'], root)).code).toBe(1);

    await writeFile(
      path.join(root, 'people.csv'),
      '\uFEFFemail,name,status\r\nben@example.org,"Ben, Jr.",\r\ncat@example.org,,unsubscribed\r\nnot-an-address,,\r\n',
    );
    const imported = await runCli(['subscribers', 'import', 'people.csv'], root);
    expect(imported.code).toBe(1);
    expect(imported.stdout).toBe('people.csv: 3 rows read: 2 added, 0 updated, 0 unchanged, 0 refused, 1 invalid.\n');
    expect(imported.stderr).toBe('people.csv:4: not-an-address: not a valid address: has no @\n');

    // An unsubscribed address is not silently reactivated.
    const again = await runCli(['subscribers', 'add', 'cat@example.org'], root);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('--resubscribe');

    const list = JSON.parse((await runCli(['subscribers', 'list', '--json'], root)).stdout) as { email: string; status: string }[];
    expect(list.map((s) => [s.email, s.status])).toEqual([
      ['Ann@example.org', 'active'],
      ['ben@example.org', 'active'],
      ['cat@example.org', 'unsubscribed'],
    ]);
    const active = JSON.parse((await runCli(['subscribers', 'list', '--status', 'active', '--json'], root)).stdout) as unknown[];
    expect(active).toHaveLength(2);

    expect((await runCli(['subscribers', 'export', 'out.csv'], root)).code).toBe(0);
    const csv = await readFile(path.join(root, 'out.csv'), 'utf8');
    expect(csv.split('\r\n')[0]).toBe('email,name,status,created_at,source');
    expect(csv).toContain('ben@example.org,"Ben, Jr.",active');

    expect((await runCli(['subscribers', 'remove', 'ben@example.org'], root)).code).toBe(0);
    const readd = await runCli(['subscribers', 'add', 'ben@example.org'], root);
    expect(readd.code).toBe(1);
    expect((await runCli(['subscribers', 'add', 'ben@example.org', '--resubscribe'], root)).code).toBe(0);
  });

  it('exports with the formula guard and imports its own export into another store unchanged', async () => {
    const source = await createTempProject({ samples: false });
    const people = [
      ['=HYPERLINK("http://evil.example","x")', 'ann@example.org'],
      ['Lee, "Bo"\nSecond line', 'bo@example.org'],
      ['@home', '-dash@example.org'],
    ] as const;
    for (const [name, email] of people) {
      const added = await runCli(['subscribers', 'add', '--name', name, '--', email], source);
      expect(added.code, added.stderr).toBe(0);
    }
    expect((await runCli(['subscribers', 'export', 'out.csv'], source)).code).toBe(0);
    const csv = await readFile(path.join(source, 'out.csv'), 'utf8');
    expect(csv).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    expect(csv).toContain("'-dash@example.org,'@home,");

    const target = await createTempProject({ samples: false });
    await writeFile(path.join(target, 'in.csv'), csv);
    const imported = await runCli(['subscribers', 'import', 'in.csv'], target);
    expect(imported.stdout).toBe('in.csv: 3 rows read: 3 added, 0 updated, 0 unchanged, 0 refused, 0 invalid.\n');
    const list = async (root: string) =>
      (JSON.parse((await runCli(['subscribers', 'list', '--json'], root)).stdout) as { email: string; name: string }[]).map((s) => [s.email, s.name]);
    // Names are sanitized on the way in (no line breaks in a To header), the same way in both stores.
    expect(await list(target)).toEqual(await list(source));
  });

  describe('import of a file with a problem on every other row', () => {
    // The file from issue 10, saved by a spreadsheet: BOM, CRLF, a name with a quoted line break.
    const BAD_CSV = [
      '\uFEFFemail,name,status', // 1
      'ann@example.org,"Ann', // 2
      'Lee",active', // 3
      'not-an-address,Nobody,active', // 4: a bad address
      'bob@example.org,Bob,actve', // 5: a status typo
      'cat@example.org,Cat,', // 6: unsubscribed earlier
      'dan@example.org,Dan,active,extra', // 7: an extra field
      'eve@example.org', // 8: email only, no trailing commas
      'fay@example.org,Fay,active', // 9: already on file without a name
      '',
    ].join('\r\n');

    async function prepare() {
      const root = await createTempProject({ samples: false });
      expect((await runCli(['subscribers', 'add', 'cat@example.org', '--status', 'unsubscribed'], root)).code).toBe(0);
      expect((await runCli(['subscribers', 'add', 'fay@example.org'], root)).code).toBe(0);
      await writeFile(path.join(root, 'bad.csv'), BAD_CSV);
      return root;
    }

    const SUMMARY = 'bad.csv: 7 rows read: 2 added, 1 updated, 0 unchanged, 1 refused, 3 invalid.';
    const PROBLEMS = [
      'bad.csv:4: not-an-address: not a valid address: has no @',
      'bad.csv:5: bob@example.org: unknown status "actve"; use one of pending, active, unsubscribed, bounced, complained (or leave it empty)',
      expect.stringMatching(/^bad\.csv:6: cat@example\.org: refused: unsubscribed on \d{4}-\d\d-\d\d; use --resubscribe to add it again$/),
      'bad.csv:7: dan@example.org: has 4 fields, but the header has 3 columns (email, name, status); remove the extra field, or put a value that holds a comma in double quotes',
    ];

    const listed = async (root: string) =>
      (JSON.parse((await runCli(['subscribers', 'list', '--json'], root)).stdout) as { email: string; name: string | null; status: string }[]).map(
        (s) => [s.email, s.name, s.status],
      );

    it('counts each of the 7 rows once, names each problem row once as bad.csv:N, and imports the email-only row', async () => {
      const root = await prepare();
      const run = await runCli(['subscribers', 'import', 'bad.csv'], root);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe(`${SUMMARY}\n`);
      expect(run.stderr.trimEnd().split('\n')).toEqual(PROBLEMS);
      expect(await listed(root)).toEqual([
        ['cat@example.org', null, 'unsubscribed'],
        ['fay@example.org', 'Fay', 'active'],
        ['ann@example.org', 'Ann Lee', 'active'],
        ['eve@example.org', null, 'active'],
      ]);

      const json = JSON.parse((await runCli(['subscribers', 'import', 'bad.csv', '--json'], root)).stdout) as {
        rows: number;
        added: number;
        updated: number;
        unchanged: number;
        refused: { line: number }[];
        invalid: { line: number }[];
      };
      // Run again: the good rows are now unchanged, and the counts still add up to 7.
      expect(json).toMatchObject({ file: 'bad.csv', dryRun: false, rows: 7, added: 0, updated: 0, unchanged: 3 });
      expect(json.refused.map((entry) => entry.line)).toEqual([6]);
      expect(json.invalid.map((entry) => entry.line)).toEqual([4, 5, 7]);
    });

    it('--dry-run shows the same report, says nothing changed and leaves the store byte for byte as it was', async () => {
      const root = await prepare();
      const before = await listed(root);
      const storeBefore = await hashTree(path.join(root, 'data'));

      const run = await runCli(['subscribers', 'import', 'bad.csv', '--dry-run'], root);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe(`${SUMMARY}\ndry run: nothing changed.\n`);
      expect(run.stderr.trimEnd().split('\n')).toEqual(PROBLEMS);

      expect(await hashTree(path.join(root, 'data'))).toEqual(storeBefore);
      expect(await readdir(path.join(root, 'data'))).toEqual(['letterpress.db']);
      expect(await listed(root)).toEqual(before);
    });

    it('names the line of a file-level problem and imports nothing', async () => {
      const root = await createTempProject({ samples: false });
      await writeFile(path.join(root, 'list.csv'), 'mail,name\nann@example.org,Ann\n');
      const run = await runCli(['subscribers', 'import', 'list.csv'], root);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe('list.csv:1: the header has no "email" column (found: "mail", "name")\nnothing imported.\n');
      expect(run.stdout).toBe('');
    });
  });
});
