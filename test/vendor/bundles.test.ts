import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/temp-project.ts';

const VENDOR = path.join(REPO_ROOT, 'src/vendor');
const names = (await readdir(VENDOR)).filter((file) => file.endsWith('.ts')).map((file) => file.slice(0, -3));

/** The source re-export and the bundle the build ships for `name`, both imported. */
async function bothOf(name: string): Promise<{ source: Record<string, unknown>; shipped: Record<string, unknown>; text: string }> {
  const shippedFile = path.join(REPO_ROOT, 'dist/vendor', `${name}.js`);
  return {
    source: (await import(pathToFileURL(path.join(VENDOR, `${name}.ts`)).href)) as Record<string, unknown>,
    shipped: (await import(pathToFileURL(shippedFile).href)) as Record<string, unknown>,
    text: await readFile(shippedFile, 'utf8'),
  };
}

describe('the dependencies the build ships bundled (dist/vendor/)', () => {
  it('covers every re-export in src/vendor', () => {
    expect(names.sort()).toEqual(['dayjs', 'handlebars', 'markdown-it', 'yaml', 'zod']);
  });

  it.each(names)('%s: one module that loads nothing but Node built-ins, with the licences of what it holds', async (name) => {
    const { source, shipped, text } = await bothOf(name);
    expect(Object.keys(shipped).sort()).toEqual(Object.keys(source).sort());
    const specifiers = [...text.matchAll(/^\s*import\b[^'"]*['"]([^'"]+)['"]|\b(?:import|require)\(\s*['"]([^'"]+)['"]/gm)].map((m) => m[1] ?? m[2]);
    expect(specifiers.filter((specifier) => !specifier!.startsWith('node:') && !/^[a-z_]+$/.test(specifier!))).toEqual([]);
    expect(text.slice(0, 200)).toContain(`Bundled by scripts/build-dist.mjs from src/vendor/${name}.ts`);
    expect(text).toMatch(/Permission (is hereby granted|to use, copy, modify)|Licensed under/);
  });

  it('markdown-it renders as from source', async () => {
    const { source, shipped } = await bothOf('markdown-it');
    const markdown = '# Title\n\n1. **[A link](https://example.org/a?b=1&c=2)** — text with `code` and https://example.com\n\n> quote';
    type Factory = (options?: object) => { render(text: string): string };
    const render = (module: Record<string, unknown>) => (module.default as Factory)({ linkify: true }).render(markdown);
    expect(render(shipped)).toBe(render(source));
    expect(render(shipped)).toContain('<a href="https://example.com">');
  });

  it('Handlebars compiles and renders as from source', async () => {
    const { source, shipped } = await bothOf('handlebars');
    type Hbs = { create(): { compile(text: string): (context: object) => string; registerHelper(name: string, fn: (v: string) => string): void } };
    const render = (module: Record<string, unknown>) => {
      const handlebars = (module.default as Hbs).create();
      handlebars.registerHelper('upper', (value) => value.toUpperCase());
      return handlebars.compile('{{#each items}}<li>{{upper name}} {{{raw}}} {{escaped}}</li>{{/each}}')({
        items: [{ name: 'a', raw: '<b>', escaped: '<i>' }],
      });
    };
    expect(render(shipped)).toBe(render(source));
    expect(render(shipped)).toBe('<li>A <b> &lt;i&gt;</li>');
  });

  it('yaml parses as from source, with positions', async () => {
    const { source, shipped } = await bothOf('yaml');
    type Yaml = { parseDocument(text: string, options: object): { toJS(): unknown; errors: Array<{ message: string }> }; LineCounter: new () => object };
    const parse = (module: Record<string, unknown>, text: string) => {
      const yaml = module as unknown as Yaml;
      const document = yaml.parseDocument(text, { lineCounter: new yaml.LineCounter(), prettyErrors: true });
      return { value: document.toJS(), errors: document.errors.map((error) => error.message) };
    };
    for (const text of ['title: "A"\nnumber: 18\ntags: [a, b]\n', 'title: [unclosed\n']) {
      expect(parse(shipped, text)).toEqual(parse(source, text));
    }
  });

  it('dayjs formats in UTC and in the Chinese locale as from source', async () => {
    const { source, shipped } = await bothOf('dayjs');
    type Dayjs = ((date: string) => { locale(name: string): { format(pattern: string): string } }) & { extend(plugin: unknown): void; utc?: unknown };
    const format = (module: Record<string, unknown>) => {
      const dayjs = module.dayjs as Dayjs;
      dayjs.extend(module.utcPlugin);
      return dayjs('2024-05-06T08:00:00Z').locale('zh-cn').format('YYYY年M月D日 dddd');
    };
    expect(format(shipped)).toBe(format(source));
    expect(format(shipped)).toContain('星期');
  });
});
