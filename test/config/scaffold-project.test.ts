import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load-config.ts';
import {
  buildProjectConfig,
  checkAnswer,
  defaultAnswers,
  INIT_QUESTIONS,
  occupyingEntries,
  scaffoldProject,
  splitFrom,
  type InitAnswers,
} from '../../src/config/scaffold-project.ts';
import { parseIssue } from '../../src/issue/parse-issue.ts';

const answers: InitAnswers = {
  title: 'Weekly Notes',
  url: 'https://news.example.org',
  from: 'Weekly Notes <news@example.org>',
  postalAddress: 'Weekly Notes, 1 Example Street, 10115 Berlin',
  locale: 'en',
  timezone: 'Europe/Berlin',
};
const templates = [
  { path: 'web/style.css', content: 'body {}\n' },
  { path: 'email/issue.mjml.hbs', content: new Uint8Array([60, 109, 106, 109, 108, 62]) },
];

describe('scaffoldProject', () => {
  it('returns exactly the project files, templates under templates/ in a stable order', () => {
    const files = scaffoldProject({ answers, templates });
    expect(files.map((file) => file.path)).toEqual([
      'config/letterpress.json',
      'templates/email/issue.mjml.hbs',
      'templates/web/style.css',
      'issues/.gitkeep',
      'issues/example.md',
      '.gitignore',
    ]);
    expect(files.find((file) => file.path === 'templates/email/issue.mjml.hbs')?.content).toBe(templates[1]!.content);
    expect(files.find((file) => file.path === 'issues/.gitkeep')?.content).toBe('');
  });

  it('writes only the answered keys as plain 2-space JSON, and the one schema accepts them', () => {
    const config = scaffoldProject({ answers, templates }).find((file) => file.path === 'config/letterpress.json')!;
    const text = config.content as string;
    expect(text).toBe(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
    expect(JSON.parse(text)).toEqual({
      site: { title: 'Weekly Notes', url: 'https://news.example.org', postalAddress: 'Weekly Notes, 1 Example Street, 10115 Berlin' },
      sender: { fromName: 'Weekly Notes', fromAddress: 'news@example.org' },
      locale: 'en',
      timezone: 'Europe/Berlin',
    });
    const loaded = validateConfig(JSON.parse(text), 'test');
    expect(loaded.site.url).toBe('https://news.example.org');
    expect(loaded.sender.fromName).toBe('Weekly Notes');
    expect(loaded.timezone).toBe('Europe/Berlin');
  });

  it('leaves fromName out when the From answer is a bare address', () => {
    expect(buildProjectConfig({ ...answers, from: 'news@example.org' }).sender).toEqual({ fromAddress: 'news@example.org' });
  });

  it('ignores out/, data/, test-results/ and node_modules/', () => {
    const gitignore = scaffoldProject({ answers, templates }).find((file) => file.path === '.gitignore')!.content as string;
    const lines = gitignore.split('\n').filter((line) => line && !line.startsWith('#'));
    expect(lines).toEqual(['out/', 'data/', 'test-results/', 'node_modules/']);
  });

  it('ships an example issue that is a draft in the digest dialect and parses without diagnostics', () => {
    const example = scaffoldProject({ answers, templates }).find((file) => file.path === 'issues/example.md')!;
    const { issue, diagnostics } = parseIssue(example.content as string, 'issues/example.md', { timezone: 'UTC' });
    expect(diagnostics).toEqual([]);
    expect(issue?.draft).toBe(true);
    expect(issue?.title).toBe('Weekly Notes No. 1');
    expect(issue?.number).toBe(1);
    expect(issue?.slug).toBe('example');
    expect(issue?.isDigest).toBe(true);
    const sections = issue?.sections ?? [];
    expect(sections.map((section) => section.title)).toEqual(['Reading', 'Tools']);
    expect(sections.flatMap((section) => section.items.map((item) => item.url))).toEqual([
      'https://example.org/articles/worth-reading',
      'https://example.org/articles/second',
      'https://example.org/tools/one',
    ]);
  });
});

describe('checkAnswer', () => {
  it('accepts good answers and returns what the schema makes of them', () => {
    expect(checkAnswer('url', ' https://news.example.org/ ')).toEqual({ ok: true, value: 'https://news.example.org' });
    expect(checkAnswer('url', 'http://127.0.0.1:8080')).toEqual({ ok: true, value: 'http://127.0.0.1:8080' });
    expect(checkAnswer('url', 'http://localhost:3000/news')).toEqual({ ok: true, value: 'http://localhost:3000/news' });
    expect(checkAnswer('locale', 'zh-CN')).toEqual({ ok: true, value: 'zh-CN' });
    expect(checkAnswer('timezone', 'Asia/Shanghai')).toEqual({ ok: true, value: 'Asia/Shanghai' });
    expect(checkAnswer('from', '"News" <news@example.org>')).toEqual({ ok: true, value: 'News <news@example.org>' });
  });

  it('refuses bad answers with the schema message', () => {
    const url = checkAnswer('url', 'news.example.org');
    expect(url).toEqual({ ok: false, reason: expect.stringContaining('absolute http(s) URL') });
    expect(checkAnswer('locale', 'fr')).toEqual({ ok: false, reason: expect.stringMatching(/en.*zh-CN/) });
    expect(checkAnswer('timezone', 'Mars/Olympus')).toEqual({ ok: false, reason: expect.stringContaining('IANA') });
    expect(checkAnswer('title', '   ')).toMatchObject({ ok: false });
  });

  it('holds a new project to https unless the site is on loopback', () => {
    expect(checkAnswer('url', 'http://news.example.org')).toEqual({ ok: false, reason: expect.stringContaining('https://') });
    expect(checkAnswer('url', 'http://[::1]:8080')).toMatchObject({ ok: true });
    expect(checkAnswer('url', 'https://exa mple.org')).toEqual({ ok: false, reason: expect.stringContaining('not a valid URL') });
  });

  it('every default passes its own check', () => {
    const defaults = defaultAnswers('Not/AZone');
    expect(defaults.timezone).toBe('UTC');
    for (const question of INIT_QUESTIONS) {
      expect(checkAnswer(question.key, defaults[question.key])).toEqual({ ok: true, value: defaults[question.key] });
    }
    expect(defaultAnswers('Asia/Tokyo').timezone).toBe('Asia/Tokyo');
  });
});

describe('helpers', () => {
  it('splitFrom separates a display name from the address', () => {
    expect(splitFrom('"Weekly Notes" <news@example.org>')).toEqual({ name: 'Weekly Notes', address: 'news@example.org' });
    expect(splitFrom('<news@example.org>')).toEqual({ address: 'news@example.org' });
    expect(splitFrom(' news@example.org ')).toEqual({ address: 'news@example.org' });
  });

  it('occupyingEntries ignores dotfiles', () => {
    expect(occupyingEntries(['.git', '.gitignore', 'notes.txt', 'issues'])).toEqual(['issues', 'notes.txt']);
    expect(occupyingEntries(['.git'])).toEqual([]);
  });
});
