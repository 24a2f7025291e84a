import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { validateConfig } from '../../src/config/load-config.ts';
import { REPO_ROOT, runCli } from '../helpers/temp-project.ts';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});
async function emptyDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'letterpress-init-'));
  dirs.push(dir);
  return dir;
}

const FLAGS = [
  '--title', 'Weekly Notes',
  '--url', 'https://news.example.org',
  '--from', 'Weekly Notes <news@example.org>',
  '--postal-address', '1 Example Street, 10115 Berlin',
  '--locale', 'en',
  '--timezone', 'Europe/Berlin',
];

/** Runs the CLI in `cwd` with `lines` typed on a terminal (or piped, when `tty` is false). */
async function runTyped(args: string[], cwd: string, lines: string[], tty = true) {
  const stdin = Object.assign(new PassThrough(), { isTTY: tty });
  stdin.end(lines.map((line) => `${line}\n`).join(''));
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'letterpress', ...args], {
    stdout: { write: (text) => void (stdout += text) },
    stderr: { write: (text) => void (stderr += text) },
    env: {},
    cwd,
    stdin,
  });
  return { code, stdout, stderr };
}

async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

describe('letterpress init', () => {
  it('scaffolds a project from flags; build and check then succeed in it', async () => {
    const root = await emptyDir();
    const result = await runCli(['init', ...FLAGS], root);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);

    const shipped = (await listTree(path.join(REPO_ROOT, 'templates'))).map((file) => `templates/${file}`);
    expect(await listTree(root)).toEqual(
      ['.gitignore', 'config/letterpress.json', 'issues/.gitkeep', 'issues/example.md', ...shipped].sort(),
    );
    for (const file of shipped) {
      expect(await readFile(path.join(root, file))).toEqual(await readFile(path.join(REPO_ROOT, file)));
    }
    const config = JSON.parse(await readFile(path.join(root, 'config/letterpress.json'), 'utf8'));
    expect(config).toEqual({
      site: { title: 'Weekly Notes', url: 'https://news.example.org', postalAddress: '1 Example Street, 10115 Berlin' },
      sender: { fromName: 'Weekly Notes', fromAddress: 'news@example.org' },
      locale: 'en',
      timezone: 'Europe/Berlin',
    });
    expect(validateConfig(config, 'test').site.title).toBe('Weekly Notes');
    expect(await readFile(path.join(root, '.gitignore'), 'utf8')).toMatch(/^out\/\ndata\/\ntest-results\/\nnode_modules\/\n$/m);

    expect(result.stdout).toContain('config/letterpress.json');
    expect(result.stdout).toContain('issues/example.md');
    expect(result.stdout).toMatch(/Next steps:\n(?:.*\n)*\s+npx letterpress check.*\n\s+npx letterpress subscribers add you@example\.org.*\n\s+npx letterpress start/);
    expect(result.stdout).not.toContain('  cd ');

    const check = await runCli(['check'], root);
    expect(check.stdout).toContain('1 file checked: 0 errors, 0 warnings.');
    expect(check.code).toBe(0);
    const build = await runCli(['build'], root);
    expect(build.stderr).toBe('');
    expect(build.stdout).toContain('1 draft left out');
    expect(build.code).toBe(0);
    const index = await readFile(path.join(root, 'out/index.html'), 'utf8');
    expect(index).toContain('Weekly Notes');
    expect(index).not.toContain('No. 1');
  });

  it('creates [dir] relative to the working directory and says to cd into it', async () => {
    const cwd = await emptyDir();
    const result = await runCli(['init', 'my-letter', ...FLAGS], cwd);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Created a Letterpress newsletter in my-letter:');
    expect(result.stdout).toContain('  cd my-letter\n');
    expect(await readFile(path.join(cwd, 'my-letter/config/letterpress.json'), 'utf8')).toContain('Weekly Notes');
  });

  it('--yes takes the defaults for what is not given, and the project builds', async () => {
    const root = await emptyDir();
    const result = await runCli(['init', '--yes', '--locale', 'zh-CN', '--timezone', 'Asia/Shanghai'], root);
    expect(result.code).toBe(0);
    const config = JSON.parse(await readFile(path.join(root, 'config/letterpress.json'), 'utf8'));
    expect(config).toEqual({
      site: { title: 'Letterpress newsletter', url: 'http://127.0.0.1:8080', postalAddress: 'Postal address not configured' },
      sender: { fromAddress: 'newsletter@localhost' },
      locale: 'zh-CN',
      timezone: 'Asia/Shanghai',
    });
    expect((await runCli(['build'], root)).code).toBe(0);
  });

  it('without a terminal and without --yes, missing answers are an error that lists their flags', async () => {
    const root = await emptyDir();
    const result = await runCli(['init', '--title', 'Weekly Notes'], root);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--url, --from, --postal-address, --locale, --timezone');
    expect(result.stderr).toContain('--yes');
    expect(await readdir(root)).toEqual([]);
    const piped = await runTyped(['init', '--root', root], root, ['Weekly Notes'], false);
    expect(piped.code).toBe(1);
    expect(piped.stdout).toBe('');
  });

  it.each([
    ['--url', 'news.example.org', 'absolute http(s) URL'],
    ['--url', 'http://news.example.org', 'https://'],
    ['--locale', 'fr', 'zh-CN'],
    ['--timezone', 'Mars/Olympus', 'IANA'],
  ])('an invalid %s flag is exit 1 naming the flag, with nothing written', async (flag, value, reason) => {
    const root = await emptyDir();
    const result = await runCli(['init', '--yes', flag, value], root);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${flag} "${value}"`);
    expect(result.stderr).toContain(reason);
    expect(await readdir(root)).toEqual([]);
  });

  it('refuses a directory that already has a config, even with --force', async () => {
    const root = await emptyDir();
    await mkdir(path.join(root, 'config'));
    await writeFile(path.join(root, 'config/letterpress.json'), '{"locale":"en"}\n');
    for (const args of [['init', '--yes'], ['init', '--yes', '--force']]) {
      const result = await runCli(args, root);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('config/letterpress.json exists');
    }
    expect(await listTree(root)).toEqual(['config/letterpress.json']);
    expect(await readFile(path.join(root, 'config/letterpress.json'), 'utf8')).toBe('{"locale":"en"}\n');
  });

  it('refuses a non-empty directory, but not one holding only dotfiles', async () => {
    const busy = await emptyDir();
    await writeFile(path.join(busy, 'notes.txt'), 'mine\n');
    const refused = await runCli(['init', '--yes'], busy);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is not empty (notes.txt)');
    expect(refused.stderr).toContain('--force');
    expect(await readdir(busy)).toEqual(['notes.txt']);

    const dotted = await emptyDir();
    await mkdir(path.join(dotted, '.git'));
    await writeFile(path.join(dotted, '.gitignore'), '*.log\n');
    const accepted = await runCli(['init', '--yes'], dotted);
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toMatch(/Skipped \(already there, left as they were\):\n {2}\.gitignore\n/);
    expect(await readFile(path.join(dotted, '.gitignore'), 'utf8')).toBe('*.log\n');
  });

  it('--force writes next to existing files, never over them, and lists what it skipped', async () => {
    const root = await emptyDir();
    await writeFile(path.join(root, 'notes.txt'), 'mine\n');
    await mkdir(path.join(root, 'templates/web'), { recursive: true });
    await writeFile(path.join(root, 'templates/web/style.css'), 'body { color: teal }\n');
    await mkdir(path.join(root, 'issues'));
    await writeFile(path.join(root, 'issues/example.md'), '# My own first issue\n');
    const result = await runCli(['init', '--yes', '--force'], root);
    expect(result.code).toBe(0);
    const skipped = result.stdout.split('Skipped (already there, left as they were):\n')[1]!.split('\n\n')[0]!;
    expect(skipped.split('\n').map((line) => line.trim())).toEqual(['templates/web/style.css', 'issues/example.md']);
    expect(await readFile(path.join(root, 'templates/web/style.css'), 'utf8')).toBe('body { color: teal }\n');
    expect(await readFile(path.join(root, 'issues/example.md'), 'utf8')).toBe('# My own first issue\n');
    expect(await readFile(path.join(root, 'notes.txt'), 'utf8')).toBe('mine\n');
    expect(await readFile(path.join(root, 'templates/web/issue.html.hbs'))).toEqual(
      await readFile(path.join(REPO_ROOT, 'templates/web/issue.html.hbs')),
    );
    expect((await runCli(['check'], root)).code).toBe(0);
  });

  it('asks on a terminal: defaults in brackets, an invalid answer asked again with the reason', async () => {
    const root = await emptyDir();
    const result = await runTyped(
      ['init', '--root', root, '--timezone', 'Asia/Shanghai'],
      root,
      [
        '云计算技术动态', //                       title
        'http://news.example.org', //            url: refused (http on a public host)
        'https://news.example.org/', //          url
        '', //                                    from: the default
        '上海市浦东新区示例路 1 号', //              postal address
        'fr', //                                  locale: refused
        'zh-CN', //                               locale
      ],
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Newsletter title [Letterpress newsletter]: ');
    expect(result.stdout).toContain('Site URL (https://…, or http://127.0.0.1:8080 to try it out) [http://127.0.0.1:8080]: ');
    expect(result.stdout).toContain('site.url: a public site must use https://');
    expect(result.stdout.match(/Site URL/g)).toHaveLength(2);
    expect(result.stdout).toContain('[newsletter@localhost]: ');
    expect(result.stdout).toMatch(/locale: Invalid option.*Please try again\./);
    expect(result.stdout.match(/Locale \(en or zh-CN\) \[en\]: /g)).toHaveLength(2);
    expect(result.stdout).not.toContain('Timezone');
    const config = JSON.parse(await readFile(path.join(root, 'config/letterpress.json'), 'utf8'));
    expect(config).toEqual({
      site: { title: '云计算技术动态', url: 'https://news.example.org', postalAddress: '上海市浦东新区示例路 1 号' },
      sender: { fromAddress: 'newsletter@localhost' },
      locale: 'zh-CN',
      timezone: 'Asia/Shanghai',
    });
    expect((await runCli(['check'], root)).code).toBe(0);
  });

  it('an answer stream that ends early is an error naming the flags still open', async () => {
    const root = await emptyDir();
    const result = await runTyped(['init', '--root', root], root, ['Weekly Notes', 'https://news.example.org']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--from, --postal-address, --locale, --timezone');
    expect(await readdir(root)).toEqual([]);
  });
});
