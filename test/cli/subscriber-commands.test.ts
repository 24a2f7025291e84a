import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTempProject, runCli } from '../helpers/temp-project.ts';

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
    expect(imported.stdout).toContain('2 added');
    expect(imported.stdout).toContain('line 4');

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
});
