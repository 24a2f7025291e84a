import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import markdownIt from 'markdown-it';
import { describe, expect, it } from 'vitest';
import {
  BACKTICK_RUN_LIMIT,
  budgetInline,
  exceedsBacktickBudget,
  exceedsBracketBudget,
  inlineBudgetOf,
  UNCLOSED_BRACKET_LIMIT,
} from '../../src/issue/inline-budget.ts';
import { parseIssue } from '../../src/issue/parse-issue.ts';
import { toPlainText } from '../../src/issue/to-plain-text.ts';
import { markdownToHtml, markdownToHtmlAndText, markdownToText } from '../../src/render/markdown.ts';
import { hostileIssues } from '../fixtures/hostile/hostile-issues.ts';
import { REPO_ROOT } from '../helpers/temp-project.ts';

const openBrackets = (count: number) => '['.repeat(count);

/** The renderer's dialect, with and without the budget. */
function dialect(budgeted: boolean) {
  const create = () => markdownIt('commonmark', { html: false, linkify: true }).enable(['table', 'strikethrough']);
  const md = create();
  if (budgeted) budgetInline(md, create);
  return md;
}

async function ordinaryIssues(): Promise<Array<{ name: string; text: string }>> {
  const found: Array<{ name: string; text: string }> = [];
  for (const dir of ['issues', 'test/fixtures/issues']) {
    for (const name of (await readdir(path.join(REPO_ROOT, dir))).filter((n) => n.endsWith('.md'))) {
      found.push({ name: `${dir}/${name}`, text: await readFile(path.join(REPO_ROOT, dir, name), 'utf8') });
    }
  }
  return found;
}

describe('the bracket budget', () => {
  it('counts only the `[` no later `]` closes, up to the limit', () => {
    expect(exceedsBracketBudget(openBrackets(UNCLOSED_BRACKET_LIMIT))).toBe(false);
    expect(exceedsBracketBudget(openBrackets(UNCLOSED_BRACKET_LIMIT + 1))).toBe(true);
    // Closed, nested or escaped brackets, and stray `]`, leave nothing open.
    expect(exceedsBracketBudget('[a](https://e.org/) '.repeat(5000))).toBe(false);
    expect(exceedsBracketBudget(`${openBrackets(5000)}${']'.repeat(5000)}`)).toBe(false);
    expect(exceedsBracketBudget('\\['.repeat(5000))).toBe(false);
    expect(exceedsBracketBudget(`${']'.repeat(5000)}${openBrackets(UNCLOSED_BRACKET_LIMIT)}`)).toBe(false);
    // The hostile shape: half its brackets are closed by the `](` that follow.
    expect(exceedsBracketBudget(`${openBrackets(4000)}${'](' .repeat(1000)}`)).toBe(true);
  });

  it('agrees with a character-by-character count on thousands of generated paragraphs', () => {
    // The reference: every character in turn, `\` making the next one literal.
    const reference = (text: string, limit: number) => {
      let open = 0;
      for (let i = text.indexOf('['); i >= 0 && i < text.length; i++) {
        const code = text.charCodeAt(i);
        if (code === 0x5c) i++;
        else if (code === 0x5b) open++;
        else if (code === 0x5d && open > 0) open--;
      }
      return open > limit;
    };
    let state = 7;
    const next = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
    const alphabet = ['[', '[', ']', '\\', 'a', ' ', '](', '\\['];
    for (let i = 0; i < 5000; i++) {
      const text = Array.from({ length: Math.floor(next() * 40) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
      for (const limit of [0, 1, 2, 5]) expect(exceedsBracketBudget(text, limit), `${JSON.stringify(text)} limit ${limit}`).toBe(reference(text, limit));
    }
  });

  it('parses a paragraph over the limit with no link, its brackets as written', () => {
    const text = `[a link](/a) ![an image](/b.png) ${openBrackets(UNCLOSED_BRACKET_LIMIT + 1)}`;
    expect(markdownToHtml(text)).toBe(`<p>${text}</p>`);
    // Bare URLs are still made links: linkify is one scan, whatever the brackets.
    expect(markdownToHtml(`https://e.org/ ${text}`).startsWith('<p><a href="https://e.org/" rel="noopener">')).toBe(true);
    expect(markdownToText(text)).toBe(text);
    expect(toPlainText(text)).toBe(text);
    const [, inline] = dialect(true).parse(text, {});
    expect(inlineBudgetOf(inline)).toEqual({ emphasisOff: false, linksOff: true, codeOff: false });
    expect(inline?.children?.map((token) => token.type)).toEqual(['text']);
  });

  it('leaves the other paragraphs of the same text their links and emphasis', () => {
    const html = markdownToHtml(`[a](https://e.org/) *b*\n\n${openBrackets(UNCLOSED_BRACKET_LIMIT + 1)}`);
    expect(html.startsWith('<p><a href="https://e.org/" rel="noopener">a</a> <em>b</em></p>')).toBe(true);
  });

  it('keeps the emphasis and code of a paragraph over the bracket budget', () => {
    const html = markdownToHtml(`*a* \`b\` ${openBrackets(UNCLOSED_BRACKET_LIMIT + 1)}`);
    expect(html.startsWith('<p><em>a</em> <code>b</code> [[[')).toBe(true);
  });
});

describe('the backtick budget', () => {
  it('counts runs of backticks, not backticks', () => {
    expect(exceedsBacktickBudget('``'.repeat(BACKTICK_RUN_LIMIT))).toBe(false); // one long run
    expect(exceedsBacktickBudget('`a '.repeat(BACKTICK_RUN_LIMIT))).toBe(false);
    expect(exceedsBacktickBudget('`a '.repeat(BACKTICK_RUN_LIMIT + 1))).toBe(true);
    expect(exceedsBacktickBudget('`'.repeat(100_000))).toBe(false);
  });

  it('parses a paragraph over the limit with no code span, its backticks as written', () => {
    const text = '`a` '.repeat(BACKTICK_RUN_LIMIT / 2 + 1).trim();
    expect(markdownToHtml(text)).toBe(`<p>${text.replace(/`/g, '&#x60;')}</p>`);
    expect(markdownToText(text)).toBe(text);
    expect(markdownToHtml('`a` b')).toBe('<p><code>a</code> b</p>');
  });
});

describe('budgeted rendering of ordinary issues', () => {
  it('is byte-identical to the dialect without budgets, and judges no paragraph over one', async () => {
    const issues = await ordinaryIssues();
    expect(issues.length).toBeGreaterThan(2);
    const [plain, budgeted] = [dialect(false), dialect(true)];
    for (const { name, text } of issues) {
      const tokens = budgeted.parse(text, {});
      expect(tokens.filter((t) => t.type === 'inline' && Object.keys(inlineBudgetOf(t)).length > 0), name).toEqual([]);
      expect(budgeted.renderer.render(tokens, budgeted.options, {}), name).toBe(plain.render(text));
      expect(parseIssue(text, name, { timezone: 'UTC' }).diagnostics.map((d) => d.code), name).not.toContain('W_UNCLOSED_BRACKETS');
    }
  });
});

describe('budget warnings', () => {
  const corpus = new Map(hostileIssues().map((issue) => [issue.name, issue.text]));
  const codesOf = (name: string) =>
    parseIssue(corpus.get(name) ?? '', `issues/${name}`, { timezone: 'UTC' }).diagnostics.map((d) => `${d.file}:${d.line} ${d.code}`);

  it('names the file and the first line of the paragraph over a budget', () => {
    expect(codesOf('brackets.md')).toEqual(['issues/brackets.md:3 W_UNCLOSED_BRACKETS']);
    expect(codesOf('backticks.md')).toEqual(['issues/backticks.md:3 W_BACKTICK_RUNS']);
    const text = `# T\n\nfine [a](https://e.org/)\n\n\`\`\`\n${openBrackets(5000)}\n\`\`\`\n\nline one\n${openBrackets(UNCLOSED_BRACKET_LIMIT + 1)}\n`;
    const { diagnostics } = parseIssue(text, 'issues/t.md', { timezone: 'UTC' });
    expect(diagnostics.map((d) => [d.line, d.code, d.severity])).toEqual([[9, 'W_UNCLOSED_BRACKETS', 'warning']]);
  });

  it('says nothing of 30,000 closed links or of a title of `](`', () => {
    expect(codesOf('many-links.md')).toEqual([]);
    expect(codesOf('item-title-brackets.md')).toEqual(['issues/item-title-brackets.md:5 W_ITEM_NO_LINK', 'issues/item-title-brackets.md:5 W_ITEM_NO_SUMMARY']);
  });

  it('renders the hostile brackets without a single link', () => {
    const { html } = markdownToHtmlAndText(corpus.get('brackets.md') ?? '');
    expect(html.includes('<a ')).toBe(false);
    expect(html.length).toBeGreaterThan(800_000);
  });
});
