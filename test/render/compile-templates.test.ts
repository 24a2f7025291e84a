import { mkdtemp, rm, unlink, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadTemplateSources } from '../../src/project/load-templates.ts';
import {
  compileTemplates,
  REQUIRED_TEMPLATE_FILES,
  templatesFingerprint,
} from '../../src/render/compile-templates.ts';
import { renderPage } from '../../src/render/render-page.ts';
import type { TemplateSources } from '../../src/render/types.ts';
import { LetterpressError } from '../../src/util/errors.ts';
import { sampleIssue, sampleMeta, sampleSite, TEMPLATES_DIR } from './fixtures.ts';

let shipped: TemplateSources;
beforeAll(async () => {
  shipped = await loadTemplateSources(TEMPLATES_DIR);
});

function withFile(path: string, text: string): TemplateSources {
  return { origin: 'templates', files: { ...shipped.files, [path]: text } };
}

function thrown(fn: () => unknown): LetterpressError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(LetterpressError);
    return error as LetterpressError;
  }
  throw new Error('expected an error');
}

describe('loadTemplateSources (src/project/load-templates.ts)', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('reads every required file, the partials and the strings', () => {
    for (const file of REQUIRED_TEMPLATE_FILES) expect(shipped.files[file], file).toBeTypeOf('string');
    expect(Object.keys(shipped.files)).toEqual([...Object.keys(shipped.files)].sort());
  });

  it('names a missing required file in an E_TEMPLATE error', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lp-templates-'));
    await cp(TEMPLATES_DIR, dir, { recursive: true });
    await unlink(path.join(dir, 'email/issue.txt.hbs'));
    const error = await loadTemplateSources(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LetterpressError);
    expect((error as LetterpressError).code).toBe('E_TEMPLATE');
    expect((error as LetterpressError).message).toContain(path.join(dir, 'email/issue.txt.hbs'));
  });

  it('picks up extra partials', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lp-templates-'));
    await cp(TEMPLATES_DIR, dir, { recursive: true });
    await writeFile(path.join(dir, 'partials/extra.hbs'), 'extra');
    const sources = await loadTemplateSources(dir);
    expect(sources.files['partials/extra.hbs']).toBe('extra');
  });
});

describe('compileTemplates', () => {
  it('compiles the shipped set and exposes style.css as an asset', () => {
    const templates = compileTemplates(shipped);
    expect(templates.assets['style.css']).toBe(shipped.files['web/style.css']);
    expect(templates.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reports a missing file by name', () => {
    const files = { ...shipped.files };
    delete files['web/index.html.hbs'];
    const error = thrown(() => compileTemplates({ origin: 'templates', files }));
    expect(error.code).toBe('E_TEMPLATE');
    expect(error.message).toContain('templates/web/index.html.hbs');
  });

  it('reports a syntax error with the template file and line', () => {
    const error = thrown(() => compileTemplates(withFile('web/issue.html.hbs', '<p>\n{{#if x}}\n</p>')));
    expect(error.code).toBe('E_TEMPLATE');
    expect(error.file).toBe('templates/web/issue.html.hbs');
    expect(error.message).toContain('templates/web/issue.html.hbs');
  });

  it('fails loudly (strict mode) on a misspelt field, naming the template', () => {
    const templates = compileTemplates(withFile('web/issue.html.hbs', '{{issue.titel}}'));
    const error = thrown(() => renderPage(sampleIssue(), sampleMeta(), templates, sampleSite()));
    expect(error.code).toBe('E_TEMPLATE');
    expect(error.message).toContain('web/issue.html.hbs');
    expect(error.message).toContain('titel');
  });

  it('rejects a locale missing strings, or an unknown string key', () => {
    const zh = JSON.parse(shipped.files['i18n/zh-CN.json']!) as Record<string, string>;
    delete zh.unsubscribe;
    const missing = thrown(() => compileTemplates(withFile('i18n/zh-CN.json', JSON.stringify(zh))));
    expect(missing.message).toMatch(/zh-CN\.json: missing strings: unsubscribe/);

    const broken = thrown(() => compileTemplates(withFile('i18n/en.json', '{ nope')));
    expect(broken.message).toContain('i18n/en.json');

    const templates = compileTemplates(withFile('web/issue.html.hbs', '{{t "noSuchKey"}}'));
    expect(thrown(() => renderPage(sampleIssue(), sampleMeta(), templates, sampleSite())).message).toContain('noSuchKey');
  });

  it('fingerprints every source file but not where it was read from', () => {
    const base = templatesFingerprint(shipped);
    expect(templatesFingerprint({ ...shipped, origin: '/elsewhere' })).toBe(base);
    expect(templatesFingerprint(withFile('web/style.css', 'body{}'))).not.toBe(base);
    expect(templatesFingerprint(withFile('partials/new.hbs', ''))).not.toBe(base);
  });

  it('renders the Subject unescaped on one line, and names the config key on error', () => {
    const templates = compileTemplates(shipped);
    const subject = templates.renderSubject('[{{site.title}}] #{{number}}\n{{title}} & more', {
      title: 'A <b> title',
      number: 18,
      slug: '2024-18',
      site: { title: 'Site' },
    });
    expect(subject).toBe('[Site] #18 A <b> title & more');
    const error = thrown(() =>
      templates.renderSubject('{{titel}}', { title: 't', number: null, slug: 's', site: {} }),
    );
    expect(error.message).toContain('email.subject');
  });
});
