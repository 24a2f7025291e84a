import { describe, expect, it } from 'vitest';
import {
  escapeHtml,
  isSafeHref,
  markdownInlineToHtml,
  markdownToHtml,
  markdownToHtmlAndText,
  markdownToText,
} from '../../src/render/markdown.ts';

describe('isSafeHref', () => {
  it('allows http(s), mailto and relative links only', () => {
    for (const ok of ['https://a.example/x', 'HTTP://a.example', 'mailto:a@b.example', '/issues/1/', '../x', '#s1', '?q=1']) {
      expect(isSafeHref(ok), ok).toBe(true);
    }
    for (const bad of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', ' java\tscript:alert(1)', 'data:text/html,x', 'vbscript:x', 'file:///etc/passwd']) {
      expect(isSafeHref(bad), bad).toBe(false);
    }
  });
});

describe('markdownToHtml', () => {
  it('shows raw HTML as text', () => {
    const html = markdownToHtml('Hi <script>alert(1)</script> <img src=x onerror=alert(1)>\n\n<div onclick="x()">block</div>');
    expect(html).not.toMatch(/<script|<img|<div/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toMatch(/<[a-z][^>]*\son\w+\s*=/i);
  });

  it('keeps the text of unsafe links and drops the URL, whatever its spelling', () => {
    const source = '[a](javascript:alert(1)) [b](JAVASCRIPT:alert(1)) [c](&#106;avascript:alert(1)) [d](data:text/html,x) <javascript:alert(1)> [e][r]\n\n[r]: vbscript:x';
    const html = markdownToHtml(source);
    expect(html).not.toMatch(/javascript:|data:|vbscript:|href/i);
    for (const text of ['a', 'b', 'c', 'd', 'e']) expect(html).toContain(text);
  });

  it('adds rel="noopener" and resolves relative links against the base', () => {
    const html = markdownToHtml('[next](../2024-19/) [top](#s1) [mail](mailto:ed@example.org) https://bare.example/x', {
      baseUrl: 'https://news.example.org/issues/2024-18/',
    });
    expect(html).toContain('<a href="https://news.example.org/issues/2024-19/" rel="noopener">next</a>');
    expect(html).toContain('href="https://news.example.org/issues/2024-18/#s1"');
    expect(html).toContain('href="mailto:ed@example.org"');
    expect(html).toContain('<a href="https://bare.example/x" rel="noopener">https://bare.example/x</a>');
  });

  it('keeps relative links as written without a base', () => {
    expect(markdownInlineToHtml('[next](../2024-19/)')).toBe('<a href="../2024-19/" rel="noopener">next</a>');
  });

  it('never loads images: they become links (or their alt text when unsafe)', () => {
    const html = markdownToHtml('![chart](https://cdn.example/c.png) ![x](javascript:alert(1))');
    expect(html).not.toContain('<img');
    expect(html).toContain('<a href="https://cdn.example/c.png" rel="noopener">chart</a>');
    expect(html).not.toContain('javascript:');
  });

  it('shifts editor headings below the page structure', () => {
    expect(markdownToHtml('# Big', { headingOffset: 3 })).toBe('<h4>Big</h4>');
  });

  it('escapes text like Handlebars does', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>=\``)).toBe('&lt;a href&#x3D;&quot;x&quot; onclick&#x3D;&#x27;y&#x27;&gt;&#x3D;&#x60;');
  });
});

describe('markdownToText', () => {
  it('renders links as text (url), drops unsafe URLs and joins CJK soft breaks without a space', () => {
    const text = markdownToText('第一行\n第二行 and **bold** [site](https://a.example/) [x](javascript:alert(1))\nnext line', {
      baseUrl: 'https://news.example.org/issues/1/',
    });
    expect(text).toBe('第一行第二行 and bold site (https://a.example/) x next line');
  });

  it('keeps list structure and paragraph breaks', () => {
    expect(markdownToText('Intro\n\n- one\n- two\n\n1. first\n2. second')).toBe('Intro\n\n- one\n- two\n\n1. first\n2. second');
  });

  it('prints a bare link once', () => {
    expect(markdownToText('see https://a.example/x')).toBe('see https://a.example/x');
  });
});

describe('markdownToHtmlAndText', () => {
  it('gives what markdownToHtml and markdownToText give, from one parse', () => {
    const source = [
      '# Head',
      'Some **bold** [rel](../x) [abs](https://a.example/y) [bad](javascript:alert(1)) ![img](/i.png) <https://a.example>',
      '- one\n- two\n  1. nested',
      '> quoted `code` 中文\n> 换行',
      '```\n<b>fenced</b>\n```',
      `${'*a_'.repeat(400)}`,
      '| a | b |\n| - | - |\n| 1 | 2 |',
    ].join('\n\n');
    for (const options of [{}, { baseUrl: 'https://news.example/issues/1/', headingOffset: 3 }]) {
      expect(markdownToHtmlAndText(source, options)).toEqual({
        html: markdownToHtml(source, options),
        text: markdownToText(source, options),
      });
    }
  });
});
