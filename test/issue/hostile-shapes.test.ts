import { describe, expect, it } from 'vitest';
import { parseIssue } from '../../src/issue/parse-issue.ts';
import { markdownToText } from '../../src/render/markdown.ts';
import { HOSTILE_BYTES, hostileIssues } from '../fixtures/hostile/hostile-issues.ts';

// Each shape used to backtrack quadratically (minutes at this size); now each parses in a
// scan. Only the results are asserted: the default test timeout is what catches a relapse.
const corpus = new Map(hostileIssues(HOSTILE_BYTES).map((issue) => [issue.name, issue.text]));
const parse = (name: string) => parseIssue(corpus.get(name) ?? '', name, { timezone: 'UTC' });

describe('parseIssue on the hostile corpus', () => {
  // Booleans, not strings: a failing diff of two 900 KB strings would itself take minutes.
  it('reads `**摘要` + 900 KB of spaces (no colon, so no label) as the summary paragraph', () => {
    const summary = parse('summary-label-spaces.md').issue?.sections[0]?.items[0]?.summary ?? '';
    expect(summary.startsWith('**摘要  ') && summary.endsWith('  x')).toBe(true);
  });

  it('still strips a real label followed by a long run of spaces', () => {
    const text = `# T\n\n## S\n\n**1.** **Item**\nhttps://example.org/\n\n**摘要:**${' '.repeat(300_000)}x\n`;
    expect(parseIssue(text, 'a.md', { timezone: 'UTC' }).issue?.sections[0]?.items[0]?.summary).toBe('x');
  });

  it('reads `# a` + 900 KB of spaces + `b` as a heading', () => {
    expect(parse('heading-spaces.md').issue?.title).toBe('a b');
  });

  it('reads `*a_` × 300k as a paragraph', () => {
    const { issue } = parse('emphasis-star-a-underscore.md');
    expect(issue?.title).toBe('Emphasis');
    expect(issue?.summary.length).toBeLessThanOrEqual(161);
  });

  it('reads brackets and an item title of `](` × 450k', () => {
    expect(parse('brackets.md').issue?.title).toBe('Brackets');
    expect(parse('item-title-brackets.md').issue?.sections[0]?.items[0]?.title).toMatch(/^T\]\(/);
  });

  it('turns 30,000 links into text once each', () => {
    const intro = parse('many-links.md').issue?.intro ?? '';
    const text = markdownToText(intro);
    expect(text.startsWith('link 0 (https://e.org/0) link 1 (https://e.org/1)')).toBe(true);
  });

  it('derives the summary of a huge first paragraph from its opening, as from the whole', () => {
    const words = Array.from({ length: 40_000 }, (_, i) => `word${i}`).join(' ');
    const { issue } = parseIssue(`# T\n\n${words}\n`, 'a.md', { timezone: 'UTC' });
    expect(issue?.summary.startsWith('word0 word1 word2')).toBe(true);
    expect(issue?.summary.endsWith('…')).toBe(true);
    expect([...(issue?.summary ?? '')].length).toBe(160);
  });

  it('reads further into a huge paragraph of links whose text is short', () => {
    // 16 KB of source yields under 100 characters of text here: the opening has to grow.
    const links = Array.from({ length: 1_000 }, (_, i) => `[${i}](https://example.org/${'p'.repeat(600)}/${i})`).join(' ');
    const summary = parseIssue(`# T\n\n${links}\n`, 'a.md', { timezone: 'UTC' }).issue?.summary ?? '';
    expect(summary.startsWith('0 1 2 3')).toBe(true);
    expect(summary.endsWith('…')).toBe(true);
    expect([...summary].length).toBe(160);
  });

  it('never throws on the rest', () => {
    for (const name of ['backticks.md', 'blockquote-deep.md', 'list-deep.md', 'list-indent-deep.md']) {
      expect(parse(name).issue?.sourcePath).toBe(name);
    }
    for (const name of ['alias-bomb.md', 'alias-bomb-summary.md', 'yaml-deep.md']) {
      expect(parse(name).diagnostics.map((d) => d.code)).toContain('E_FRONT_MATTER');
    }
  });
});

describe('headings and labels after the rewrite', () => {
  it.each([
    ['# Title #', 'Title'],
    ['#   Title   ##  ', 'Title'],
    ['# C# and F#', 'C# and F#'],
    ['   # Indented', 'Indented'],
  ])('%j is titled %j', (line, title) => {
    expect(parseIssue(`${line}\n\nBody\n`, 'a.md', { timezone: 'UTC' }).issue?.title).toBe(title);
  });

  it('keeps the series name before a long run of spaces in a front-matter title', () => {
    const title = `Weekly${' '.repeat(200_000)}2024 年第 3 期`;
    const { issue } = parseIssue(`---\ntitle: "${title}"\n---\nBody\n`, 'a.md', { timezone: 'UTC' });
    expect(issue?.seriesName).toBe('Weekly');
    expect(issue?.number).toBe(3);
  });
});

describe('diagnostics about hostile files', () => {
  it('quote a huge title or value shortened, never whole', () => {
    for (const [name] of corpus) {
      for (const diagnostic of parse(name).diagnostics) {
        expect(diagnostic.message.length, `${name}: ${diagnostic.code}`).toBeLessThan(400);
      }
    }
    const hugeDate = `---\ndate: "${'9'.repeat(500_000)}"\n---\n# T\n`;
    const [field] = parseIssue(hugeDate, 'd.md', { timezone: 'UTC' }).diagnostics.filter((d) => d.code === 'E_FIELD');
    expect(field?.message).toMatch(/^front-matter field "date" "9{59}…" /);
    expect(field!.message.length).toBeLessThan(400);
  });
});
