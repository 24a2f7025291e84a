import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { createTempProject, type CliRun } from '../helpers/temp-project.ts';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});
async function emptyDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-nowhere-'));
  dirs.push(dir);
  return dir;
}
async function project(): Promise<string> {
  const root = await createTempProject({ samples: false });
  dirs.push(root);
  return root;
}

/** Runs the CLI in-process from `cwd`, as a person would type it there (no --root added). */
async function runIn(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'letterpress', ...args], {
    stdout: { write: (text) => void (stdout += text) },
    stderr: { write: (text) => void (stderr += text) },
    env,
    cwd,
  });
  return { code, stdout, stderr };
}

/** The subcommand names a help text lists under "Commands:". */
function listedCommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((match) => match[1]!).filter((name) => name !== 'help');
}

describe('finding the project', () => {
  it('from a subdirectory of a project, commands work on that project', async () => {
    const root = await project();
    const sub = path.join(root, 'issues/drafts');
    await mkdir(sub, { recursive: true });
    const added = await runIn(sub, ['subscribers', 'add', 'reader@example.org']);
    expect(added.code, added.stderr).toBe(0);
    const listed = await runIn(root, ['subscribers', 'list', '--json']);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ email: 'reader@example.org' })]);
    // The store is the project's, resolved against the found root: nothing appeared in the subdirectory.
    expect(await readdir(sub)).toEqual([]);
    const config = await runIn(sub, ['config']);
    expect(config.code, config.stderr).toBe(0);
    expect(JSON.parse(config.stdout).locale).toBe('zh-CN');
    const check = await runIn(sub, ['check']);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain('0 files checked');
  });

  it('outside a project every project command exits 1 with the reason and creates nothing', async () => {
    const dir = await emptyDir();
    const commands = [
      ['status'],
      ['subscribers', 'list'],
      ['subscribers', 'add', 'reader@example.org'],
      ['check'],
      ['build'],
      ['start', '--once'],
      ['send'],
      ['config'],
      ['secret', 'rotate'],
    ];
    for (const args of commands) {
      const result = await runIn(dir, args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr).toBe(
        `letterpress: not a Letterpress project (no config/letterpress.json here or in any parent directory of ${dir}): run \`letterpress init\` or pass --root [E_NO_PROJECT]\n`,
      );
      expect(await readdir(dir), args.join(' ')).toEqual([]);
    }
  });

  it('--root that holds no config is the same error, and nothing is created there', async () => {
    const dir = await emptyDir();
    const root = await project();
    const result = await runIn(root, ['--root', dir, 'subscribers', 'list']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`not a Letterpress project (no config/letterpress.json in --root ${dir})`);
    expect(await readdir(dir)).toEqual([]);
  });

  it('init, --version and config --env work outside a project', async () => {
    const dir = await emptyDir();
    const version = await runIn(dir, ['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+/);
    const env = await runIn(dir, ['config', '--env']);
    expect(env.code, env.stderr).toBe(0);
    expect(env.stdout).toContain('LETTERPRESS_SITE_URL');
    expect(await readdir(dir)).toEqual([]);
    const init = await runIn(dir, ['init', '--yes', '--timezone', 'UTC']);
    expect(init.code, init.stderr).toBe(0);
    expect(await readdir(dir)).toContain('config');
    // And now it is a project, found from below.
    const status = await runIn(path.join(dir, 'issues'), ['status']);
    expect(status.code, status.stderr).toBe(0);
  });

  it('--help of the program and of every subcommand works outside a project', async () => {
    const dir = await emptyDir();
    const queue: string[][] = [[]];
    const seen: string[] = [];
    while (queue.length) {
      const args = queue.shift()!;
      const result = await runIn(dir, [...args, '--help']);
      expect(result.code, `${args.join(' ')} --help: ${result.stderr}`).toBe(0);
      expect(result.stdout).toContain('Usage: letterpress');
      seen.push(args.join(' '));
      for (const name of listedCommands(result.stdout)) queue.push([...args, name]);
    }
    expect(seen).toEqual(expect.arrayContaining(['', 'init', 'status', 'subscribers', 'subscribers add', 'config']));
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('unknown LETTERPRESS_* variables', () => {
  it('get a warning naming the closest known one; the command still runs', async () => {
    const root = await project();
    const result = await runIn(root, ['status'], { LETTERPRESS_SITE_TITEL: 'Weekly', LETTERPRESS_SMTP_PASSWORD: 'x' });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      'letterpress: warning: LETTERPRESS_SITE_TITEL is not a Letterpress variable and is ignored; did you mean LETTERPRESS_SITE_TITLE?\n',
    );
    expect(result.stderr).toContain('LETTERPRESS_SMTP_PASSWORD is not a Letterpress variable and is ignored; did you mean LETTERPRESS_SMTP_PASS?');
  });

  it('config --env lists the known names, the shortcuts, and the unknown ones set here', async () => {
    const dir = await emptyDir();
    const result = await runIn(dir, ['config', '--env'], { LETTERPRESS_SITE_TITEL: 'Weekly', LETTERPRESS_FOO: '1' });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^LETTERPRESS_SMTP_URL +smtp:\/\//m);
    expect(result.stdout).toMatch(/^LETTERPRESS_SECRET +/m);
    const unknown = result.stdout.split('Set here but unknown (ignored):\n')[1];
    expect(unknown).toMatch(/^LETTERPRESS_FOO +no similar name\nLETTERPRESS_SITE_TITEL +did you mean LETTERPRESS_SITE_TITLE\?\n$/);
  });
});

describe('config errors on the command line', () => {
  it('invalid JSON: the code on the first line, then the offending line and a caret', async () => {
    const root = await project();
    await writeFile(path.join(root, 'config/letterpress.json'), '{\n  "locale": "en",\n}\n');
    const result = await runIn(root, ['build']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      [
        'letterpress: config/letterpress.json:2:17: invalid JSON: a trailing comma: JSON allows no comma after the last property; remove it [E_CONFIG]',
        '  2 |   "locale": "en",',
        '    |                 ^',
        '',
      ].join('\n'),
    );
  });
});
