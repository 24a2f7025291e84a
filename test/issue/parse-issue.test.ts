import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Issue } from '../../src/issue/model.ts';
import { parseIssue, parseIssueFile } from '../../src/issue/parse-issue.ts';

const root = new URL('../../', import.meta.url);
const readSample = (name: string) => readFileSync(new URL(`issues/${name}`, root));
const readFixture = (name: string) => readFileSync(new URL(`test/fixtures/issues/${name}`, root));
const OPTIONS = { timezone: 'Asia/Shanghai', maxBytes: 1024 * 1024 };
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

/** Parses a fixture and returns the issue, failing the test when there is none. */
function parseFixture(name: string) {
  const result = parseIssueFile(readFixture(name), name, OPTIONS);
  return { ...result, issue: result.issue as Issue };
}

const summary = (d: { code: string; line: number; column: number }) => [d.code, d.line, d.column];

const SECTION_TITLES = ['分布式系统', '云计算技术', '大模型技术', '技术之外'];

describe('parseIssueFile on the sample issues', () => {
  it.each([
    {
      file: '2024-18.md',
      title: '云计算技术动态 2024 年第十八期',
      number: 18,
      items: [
        'Google Fellow解读：分布式计算的第五个时代',
        'AI存储之VAST Data分析 架构篇',
        'I/O Passthru：Linux内核中全新的I/O路径！',
        '深入理解 RDMA 的软硬件交互机制',
        '再来谈谈大模型的分离式推理架构',
        'AI/ML中使用的集体操作（collectives），以太网卸载以及硬件实现',
        'AI与内存墙',
        '大模型算力需求推演',
      ],
    },
    {
      file: '2024-32.md',
      title: '云计算技术动态 2024 年第三十二期',
      number: 32,
      items: [
        'Azure Files：世界最大文件服务器的架构、优化与应用',
        '解耦数据预处理层：Meta如何优化AI训练的数据摄取管道',
        'AWS构建大规模AI基础设施：Scale-up和Scale-out的创新',
        'AI时代的以太网：应对大规模GPU集群网络挑战',
        'Mooncake 分离式推理架构创新与实践',
        '探索vLLM分布式预填充与KV缓存：提升推理效率的前沿技术',
        '蓄力和发力 - re:Invent24 Peter 和 Matt 主题演讲令人振奋的发布个人总结',
        '不断演进的基础技术组件降低用户复杂系统构建之路——亚马逊 CTO Werner 的20年经验总结',
      ],
    },
  ])('$file', ({ file, title, number, items }) => {
    const bytes = readSample(file);
    const { issue, diagnostics } = parseIssueFile(bytes, `issues/${file}`, OPTIONS);
    expect(diagnostics).toEqual([]);
    expect(issue).toBeDefined();
    if (!issue) return;

    expect(issue.title).toBe(title);
    expect(issue.number).toBe(number);
    expect(issue.seriesName).toBe('云计算技术动态');
    expect(issue.slug).toBe(file.replace('.md', ''));
    expect(issue.sourcePath).toBe(`issues/${file}`);
    expect(issue.isDigest).toBe(true);
    expect(issue.draft).toBe(false);
    expect(issue.date).toBeUndefined();
    expect(issue.publishAt).toBeUndefined();
    expect(issue.intro).toBeUndefined();
    expect(issue.contentHash).toBe(sha256(bytes));

    expect(issue.sections.map((s) => s.title)).toEqual(SECTION_TITLES);
    expect(issue.sections.map((s) => s.anchor)).toEqual(['s1', 's2', 's3', 's4']);
    expect(issue.sections.map((s) => s.position)).toEqual([3, 17, 31, 45].map((line) => ({ line, column: 1 })));
    const allItems = issue.sections.flatMap((s) => s.items);
    expect(allItems.map((item) => item.title)).toEqual(items);
    expect(allItems.map((item) => item.number)).toEqual([1, 2, 1, 2, 1, 2, 1, 2]);
    expect(allItems.map((item) => item.anchor)).toEqual(['s1-i1', 's1-i2', 's2-i1', 's2-i2', 's3-i1', 's3-i2', 's4-i1', 's4-i2']);
    expect(allItems.map((item) => item.position.line)).toEqual([5, 11, 19, 25, 33, 39, 47, 53]);
    for (const item of allItems) {
      expect(item.url).toMatch(/^https:\/\/mp\.weixin\.qq\.com\/s\/[\w-]+$/);
      expect(item.summary?.length).toBeGreaterThan(20);
      expect(item.summary).not.toMatch(/摘要/);
      expect(item.notes).toBeUndefined();
    }
    // The derived preheader starts with the first item titles and stays within 160 characters.
    expect(issue.summary.startsWith(`${items[0]} · ${items[1]} · `)).toBe(true);
    expect([...issue.summary].length).toBeLessThanOrEqual(160);
    expect(issue.summary.endsWith('…')).toBe(true);
  });

  it('reads the first item of 2024-18 exactly', () => {
    const { issue } = parseIssueFile(readSample('2024-18.md'), '2024-18.md', OPTIONS);
    expect(issue?.sections[0]?.items[0]).toEqual({
      number: 1,
      title: 'Google Fellow解读：分布式计算的第五个时代',
      url: 'https://mp.weixin.qq.com/s/iur1mcN1o0pKcUlxtw-0IA',
      summary: expect.stringMatching(/^本文探讨了分布式计算五个时代的演变.*开放合作的模式来促进技术创新和行业发展。$/),
      anchor: 's1-i1',
      position: { line: 5, column: 1 },
    });
  });

  it('gives a CRLF + BOM + trailing-spaces copy the same model, except its hash', () => {
    const lf = parseIssueFile(readSample('2024-18.md'), '2024-18.md', OPTIONS);
    const crlfBytes = readFixture('crlf-bom/2024-18.md');
    expect(crlfBytes.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(crlfBytes.includes(Buffer.from(' \t\r\n'))).toBe(true);
    const crlf = parseIssueFile(crlfBytes, 'crlf-bom/2024-18.md', OPTIONS);
    expect(crlf.diagnostics).toEqual([]);
    expect(crlf.issue?.contentHash).toBe(sha256(crlfBytes));
    expect(crlf.issue?.contentHash).not.toBe(lf.issue?.contentHash);
    expect({ ...crlf.issue, contentHash: '', sourcePath: '' }).toEqual({ ...lf.issue, contentHash: '', sourcePath: '' });
  });

  it('parseIssue tolerates BOM and CRLF in text it is given directly', () => {
    const text = readSample('2024-32.md').toString('utf8');
    const direct = parseIssue(`\uFEFF${text.replace(/\n/g, '  \r\n')}`, '2024-32.md', OPTIONS);
    const plain = parseIssue(text, '2024-32.md', OPTIONS);
    expect(direct.diagnostics).toEqual([]);
    expect({ ...direct.issue, contentHash: '' }).toEqual({ ...plain.issue, contentHash: '' });
    expect(plain.issue?.contentHash).toBe(sha256(text));
  });
});

describe('parseIssueFile on fixtures', () => {
  it('stops at the decoder for GBK, binary, empty and oversized files', () => {
    expect(parseIssueFile(readFixture('gbk.md'), 'gbk.md', OPTIONS).diagnostics.map(summary)).toEqual([['E_ENCODING', 3, 3]]);
    expect(parseIssueFile(readFixture('binary.md'), 'binary.md', OPTIONS).diagnostics.map(summary)).toEqual([['E_ENCODING', 3, 1]]);
    expect(parseIssueFile(readFixture('empty.md'), 'empty.md', OPTIONS).diagnostics.map(summary)).toEqual([['E_EMPTY', 1, 1]]);
    const tooLarge = parseIssueFile(readSample('2024-18.md'), '2024-18.md', { ...OPTIONS, maxBytes: 1024 });
    expect(tooLarge.issue).toBeUndefined();
    expect(tooLarge.diagnostics.map(summary)).toEqual([['E_TOO_LARGE', 1, 1]]);
  });

  it('keeps an issue with broken front matter out, pointing into the file', () => {
    const { issue, diagnostics } = parseIssueFile(readFixture('broken-front-matter.md'), 'b.md', OPTIONS);
    expect(issue).toBeUndefined();
    expect(diagnostics.map(summary)).toEqual([['E_FRONT_MATTER', 3, 8]]);
  });

  it('keeps an issue with bad fields out, one error per field', () => {
    const { issue, diagnostics } = parseIssueFile(readFixture('bad-fields.md'), 'bad-fields.md', OPTIONS);
    expect(issue).toBeUndefined();
    expect(diagnostics.map((d) => d.code)).toEqual(Array(7).fill('E_FIELD'));
    expect(diagnostics.map((d) => d.line)).toEqual([2, 3, 4, 5, 6, 7, 8]);
  });

  it('reads date, publish_at, draft, slug and summary from front matter', () => {
    const { issue, diagnostics } = parseFixture('timezone.md');
    expect(diagnostics).toEqual([]);
    expect(issue).toEqual({
      sourcePath: 'timezone.md',
      slug: 'scheduled-issue',
      slugPosition: { line: 7, column: 7 },
      title: 'Scheduled issue',
      number: 18,
      date: '2024-05-06T00:00:00+08:00',
      datePosition: { line: 4, column: 7 },
      publishAt: '2024-05-06T09:30:00+08:00',
      draft: true,
      email: true,
      summary: 'A preheader the editor wrote.',
      isDigest: false,
      intro: 'Nothing else to see.',
      sections: [],
      contentHash: sha256(readFixture('timezone.md')),
    });
  });

  it('reads the same date-only value in another configured timezone', () => {
    const { issue } = parseIssueFile(readFixture('timezone.md'), 'timezone.md', { ...OPTIONS, timezone: 'Europe/London' });
    expect(issue?.date).toBe('2024-05-06T00:00:00+01:00');
    expect(issue?.publishAt).toBe('2024-05-06T09:30:00+01:00');
  });

  it('warns about unknown keys but keeps the issue', () => {
    const { issue, diagnostics } = parseFixture('unknown-keys.md');
    expect(diagnostics.map(summary)).toEqual([
      ['W_UNKNOWN_FIELD', 3, 1],
      ['W_UNKNOWN_FIELD', 4, 1],
    ]);
    expect(issue.title).toBe('Unknown keys');
    expect(issue.number).toBe(5);
    expect(issue.publishAt).toBeUndefined();
  });

  it('neutralises script tags and javascript: links, keeping the text', () => {
    const { issue, diagnostics } = parseFixture('unsafe-content.md');
    expect(diagnostics.map(summary)).toEqual([
      ['W_RAW_HTML', 9, 31],
      ['W_UNSAFE_LINK', 13, 5],
      ['W_RAW_HTML', 21, 16],
      ['W_UNSAFE_LINK', 21, 57],
    ]);
    expect(diagnostics[0]?.message).toContain('<script>');
    expect(diagnostics[1]?.message).toContain('javascript:alert(1)');
    const [first, second, third] = issue.sections[0]?.items ?? [];
    expect(first?.summary).toBe('This summary has <script>alert(1)</script> in it.');
    expect(second?.title).toBe('A javascript link');
    expect(second?.url).toBeUndefined();
    expect(second?.notes).toBeUndefined();
    expect(JSON.stringify(issue)).not.toMatch(/"url":"javascript/i);
    expect(third?.url).toBe('https://example.org/img');
    expect(third?.summary).toBe('Look: <img src=x onerror=alert(1)> and [click](JavaScript:alert(2)).');
    expect(issue.number).toBe(3);
  });

  it('keeps a plain Markdown file whole as the intro', () => {
    const { issue, diagnostics } = parseFixture('plain.md');
    // The <b> and javascript: inside fenced code are code, not hazards.
    expect(diagnostics).toEqual([]);
    expect(issue.isDigest).toBe(false);
    expect(issue.sections).toEqual([]);
    expect(issue.title).toBe('A plain letter');
    expect(issue.number).toBeUndefined();
    expect(issue.seriesName).toBeUndefined();
    expect(issue.summary).toBe('Dear readers, this week there is no digest: just a note from the editors.');
    expect(issue.intro).toBe(
      [
        'Dear readers, this week there is **no digest**:\njust a note from the editors.',
        '## What happened',
        '1. We moved house.\n2. The cat approved.',
        '```js\n// code stays code, even with <b>tags</b> and [x](javascript:void 0)\n```',
        'Thanks for reading.',
      ].join('\n\n'),
    );
  });

  it('reads an English digest with Summary:, link lines and every item form', () => {
    const { issue, diagnostics } = parseFixture('english-digest.md');
    expect(diagnostics).toEqual([]);
    expect(issue.title).toBe('Letterpress Weekly No. 7');
    expect(issue.number).toBe(7);
    expect(issue.seriesName).toBeUndefined();
    expect(issue.isDigest).toBe(true);
    expect(issue.intro).toBe('Welcome to issue seven. Three links this week.');
    expect(issue.summary).toBe('Designing Data-Intensive Applications, revisited · Why Markdown won · The rg manual');
    expect(issue.sections).toEqual([
      {
        title: 'Reading',
        anchor: 's1',
        intro: 'A short intro for the reading section.',
        position: { line: 5, column: 1 },
        items: [
          {
            number: 1,
            title: 'Designing Data-Intensive Applications, revisited',
            url: 'https://example.org/ddia',
            summary: 'A fresh look at the classic book.',
            notes: 'A second paragraph the editor wrote, kept as notes.',
            anchor: 's1-i1',
            position: { line: 9, column: 1 },
          },
          {
            number: 2,
            title: 'Why Markdown won',
            url: 'https://example.org/markdown',
            summary: 'Plain text that stays readable.',
            anchor: 's1-i2',
            position: { line: 17, column: 1 },
          },
        ],
      },
      {
        title: 'Tools',
        anchor: 's2',
        position: { line: 23, column: 1 },
        items: [
          {
            number: 1,
            title: 'The rg manual',
            url: 'https://example.org/rg',
            summary: 'A plain paragraph after the link is the summary when no label is given.',
            anchor: 's2-i1',
            position: { line: 25, column: 1 },
          },
        ],
      },
    ]);
  });

  it('warns about missing links and summaries and about skipped or repeated numbers', () => {
    const { issue, diagnostics } = parseFixture('missing-parts.md');
    expect(diagnostics.map(summary)).toEqual([
      ['W_ITEM_NO_LINK', 5, 1],
      ['W_ITEM_NUMBER', 9, 1],
      ['W_ITEM_NO_SUMMARY', 9, 1],
      ['W_ITEM_NUMBER', 13, 1],
      ['W_ITEM_NO_LINK', 15, 1],
    ]);
    expect(diagnostics.every((d) => d.severity === 'warning')).toBe(true);
    expect(issue.number).toBe(10);
    expect(issue.seriesName).toBe('周报');
    const items = issue.sections[0]?.items ?? [];
    expect(items.map((item) => [item.number, item.anchor, item.url, item.summary])).toEqual([
      [1, 's1-i1', undefined, '这一条没有链接。'],
      [3, 's1-i2', 'https://example.org/no-summary', undefined],
      [3, 's1-i3', undefined, '链接不是 http。'],
    ]);
    // The ftp: line is not dropped: it stays in the notes as text.
    expect(items[2]?.notes).toBe('ftp://example.org/file');
  });

  it('derives the slug of an all-Chinese file name from the issue number', () => {
    const { issue, diagnostics } = parseFixture('云计算技术动态第一百零五期.md');
    expect(diagnostics).toEqual([]);
    expect(issue.slug).toBe('issue-105');
    expect(issue.number).toBe(105);
    expect(issue.title).toBe('云计算技术动态 2024 年第一百零五期');
    expect(issue.seriesName).toBe('云计算技术动态');
    expect(issue.summary).toBe('这是一期纯文字的特刊。');
  });

  it('reports a missing title as an error', () => {
    const { issue, diagnostics } = parseIssueFile(readFixture('no-title.md'), 'no-title.md', OPTIONS);
    expect(issue).toBeUndefined();
    expect(diagnostics.map(summary)).toEqual([['E_NO_TITLE', 1, 1]]);
  });

  it('warns when front matter number and title disagree, and the front matter wins', () => {
    const { issue, diagnostics } = parseFixture('number-mismatch.md');
    expect(diagnostics.map(summary)).toEqual([['W_NUMBER_MISMATCH', 2, 9]]);
    expect(issue.number).toBe(19);
  });

  it('warns about C1 and DEL control characters and removes them', () => {
    const { issue, diagnostics } = parseFixture('control-chars.md');
    expect(diagnostics.map(summary)).toEqual([
      ['W_CONTROL_CHAR', 1, 10],
      ['W_CONTROL_CHAR', 3, 23],
    ]);
    expect(issue.title).toBe('Control characters');
    expect(issue.intro).toBe('A paragraph with a DEL in it.');
  });
});

describe('parseIssue details', () => {
  const parse = (text: string, file = 'issue.md') => parseIssue(text, file, { timezone: 'UTC' });

  it('counts front matter lines in every position', () => {
    const text = '---\ntitle: 周报 2024 年第二期\n---\n\n## 一\n\n**1.** **条目**\n\nhttps://example.org\n';
    const { issue, diagnostics } = parse(text);
    expect(diagnostics.map(summary)).toEqual([['W_ITEM_NO_SUMMARY', 7, 1]]);
    expect(issue?.sections[0]?.position).toEqual({ line: 5, column: 1 });
    expect(issue?.number).toBe(2);
  });

  it('removes a # heading that repeats the front-matter title but keeps a different one', () => {
    expect(parse('---\ntitle: Same\n---\n# Same\n\nText\n').issue?.intro).toBe('Text');
    expect(parse('---\ntitle: Other\n---\n# Different\n\nText\n').issue?.intro).toBe('# Different\n\nText');
  });

  it('tolerates `**1. Title**`, full-width digits and colons, and a label on its own line', () => {
    const text = [
      '# T',
      '## S',
      '**１． 全角编号**',
      '<https://example.org/a>',
      '**摘要：**',
      '',
      '独立成段的摘要。',
      '',
      '**2** **[带链接的标题](https://example.org/b)**',
      '摘要： 第二条。',
    ].join('\n');
    const { issue, diagnostics } = parse(text);
    expect(diagnostics).toEqual([]);
    expect(issue?.sections[0]?.items.map((i) => [i.number, i.title, i.url, i.summary])).toEqual([
      [1, '全角编号', 'https://example.org/a', '独立成段的摘要。'],
      [2, '带链接的标题', 'https://example.org/b', '第二条。'],
    ]);
  });

  it('keeps the Markdown of multi-paragraph notes, code blocks included', () => {
    const text = [
      '# T',
      '## S',
      '**1.** **A**',
      'https://example.org/a',
      'Summary: one.',
      '',
      'More words.',
      '',
      '```',
      'code',
      '',
      'more code',
      '```',
    ].join('\n');
    const item = parse(text).issue?.sections[0]?.items[0];
    expect(item?.notes).toBe('More words.\n\n```\ncode\n\nmore code\n```');
  });

  it('finds unsafe links however they are disguised', () => {
    const text = '# T\n\n[a](JaVaScRiPt:alert(1)) [b](&#106;avascript:x) <vbscript:msgbox> ![c](data:text/html,x)\n';
    expect(parse(text).diagnostics.map(summary)).toEqual([
      ['W_UNSAFE_LINK', 3, 5],
      ['W_UNSAFE_LINK', 3, 30],
      ['W_UNSAFE_LINK', 3, 50],
      ['W_UNSAFE_LINK', 3, 72],
    ]);
  });

  it('ignores raw HTML inside inline code', () => {
    expect(parse('# T\n\nUse `<script>` tags with care.\n').diagnostics).toEqual([]);
  });

  it('warns about a C0 control character handed over as text, and leaves it out', () => {
    const { issue, diagnostics } = parse('# T\n\nbell\u0007 here\n');
    expect(diagnostics.map(summary)).toEqual([['W_CONTROL_CHAR', 3, 5]]);
    expect(issue?.intro).toBe('bell here');
  });

  it('falls back to a content-hash slug when neither file name nor number gives one', () => {
    const text = '# 没有编号\n\n正文。\n';
    expect(parse(text, '特刊.md').issue?.slug).toBe(`issue-${sha256(text).slice(0, 12)}`);
  });

  it('derives the slug from the file name: NFKC, lowercase, dashes', () => {
    expect(parse('# T\n', 'issues/2024/Ｗｅｅｋｌｙ Café #7.md').issue?.slug).toBe('weekly-cafe-7');
  });

  it('truncates a long derived summary at a character boundary', () => {
    const titles = Array.from({ length: 40 }, (_, i) => `**${i + 1}.** **标题😀${i + 1}**\nhttps://example.org/${i}\nSummary: s`);
    const { issue } = parse(`# T\n## S\n${titles.join('\n\n')}\n`);
    const full = Array.from({ length: 40 }, (_, i) => `标题😀${i + 1}`).join(' · ');
    const summaryText = issue?.summary ?? '';
    const chars = [...summaryText];
    expect(chars.length).toBeLessThanOrEqual(160);
    expect(chars.length).toBeGreaterThanOrEqual(155);
    expect(chars.at(-1)).toBe('…');
    expect(chars.at(-2)).not.toBe(' ');
    // Cut exactly at a character boundary: the text before `…` is a prefix of the full list.
    expect(full.startsWith(summaryText.slice(0, -1))).toBe(true);
    expect(summaryText).not.toMatch(/[\uD800-\uDBFF]…$/);
  });

  it('rejects text that is only whitespace', () => {
    expect(parse(' \n\n').diagnostics.map(summary)).toEqual([['E_EMPTY', 1, 1]]);
  });
});
