import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFERRED_MJML_MODULES, resolveDeferredModule } from '../../src/render/defer-unused-mjml-modules.ts';
import { renderEmailMjml } from '../../src/render/render-email.ts';
import type { Templates } from '../../src/render/compile-templates.ts';
import { sampleIssue, sampleMeta, sampleSite, shippedTemplates } from './fixtures.ts';

const run = promisify(execFile);
const RENDER_EMAIL = new URL('../../dist/render/render-email.js', import.meta.url).href;

/** Runs `script` as an ES module in a fresh Node process (nothing loaded yet) and parses its JSON output. */
async function inFreshProcess<T>(script: string, ...args: string[]): Promise<T> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, ...args], { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as T;
}

/** Uses mj-html-attributes, the one feature that needs mjml-core's cheerio: the stand-in must load it. */
const HTML_ATTRIBUTES_MJML = `<mjml><mj-head><mj-html-attributes><mj-selector path=".lp-x td"><mj-html-attribute name="data-x">1</mj-html-attribute></mj-selector></mj-html-attributes></mj-head>
<mj-body><mj-section css-class="lp-x"><mj-column><mj-text>Hello</mj-text></mj-column></mj-section></mj-body></mjml>`;

let templates: Templates;
let sampleMjml: string;
beforeAll(async () => {
  templates = await shippedTemplates();
  sampleMjml = renderEmailMjml(sampleIssue(), sampleMeta(), templates, sampleSite());
});

describe('modules MJML loads but our renders never call', () => {
  it('all still resolve, so none of the entries is stale', () => {
    for (const entry of DEFERRED_MJML_MODULES) expect(resolveDeferredModule(entry), entry.path.join(' → ')).toMatch(/\.c?js$/);
  });

  it('are declared with the shape the real modules have', async () => {
    const files = DEFERRED_MJML_MODULES.map((entry) => resolveDeferredModule(entry)!);
    const script = `
      import { createRequire } from 'node:module';
      const shapes = JSON.parse(process.argv[1]).map((file) => {
        const real = createRequire(file)(file);
        return { callable: typeof real === 'function', esModule: real.__esModule === true };
      });
      process.stdout.write(JSON.stringify(shapes));
    `;
    const shapes = await inFreshProcess<{ callable: boolean; esModule: boolean }[]>(script, JSON.stringify(files));
    DEFERRED_MJML_MODULES.forEach((entry, index) => {
      const name = entry.path.join(' → ');
      expect(shapes[index]!.callable, name).toBe(entry.callable);
      // A namespace-only stand-in says __esModule although the real module does not (see its doc).
      expect(shapes[index]!.esModule, name).toBe(entry.namespaceOnly ? false : entry.esModule === true);
    });
  });

  it('stay unloaded while an issue email compiles, and the HTML is byte-identical to plain MJML', async () => {
    const deferred = `
      import { createRequire } from 'node:module';
      import { types } from 'node:util';
      const { compileEmailMjml } = await import(${JSON.stringify(RENDER_EMAIL)});
      const { DEFERRED_MJML_MODULES, resolveDeferredModule } = await import(${JSON.stringify(new URL('../../dist/render/defer-unused-mjml-modules.js', import.meta.url).href)});
      const cache = createRequire(import.meta.url).cache;
      const isStandIn = () => DEFERRED_MJML_MODULES.map((entry) => types.isProxy(cache[resolveDeferredModule(entry)]?.exports));
      const sample = await compileEmailMjml(process.argv[1], 'email/issue.mjml.hbs', 'the sample');
      const afterSample = isStandIn();
      const attributes = await compileEmailMjml(process.argv[2], 'email/issue.mjml.hbs', 'mj-html-attributes');
      process.stdout.write(JSON.stringify({ sample, attributes, afterSample, afterAttributes: isStandIn() }));
    `;
    const plain = `
      import { createRequire } from 'node:module';
      const { MJML_OPTIONS } = await import(${JSON.stringify(RENDER_EMAIL)});
      const mjml2html = createRequire(${JSON.stringify(RENDER_EMAIL)})('mjml');
      const sample = (await mjml2html(process.argv[1], MJML_OPTIONS)).html;
      const attributes = (await mjml2html(process.argv[2], MJML_OPTIONS)).html;
      process.stdout.write(JSON.stringify({ sample, attributes }));
    `;
    type Deferred = { sample: string; attributes: string; afterSample: boolean[]; afterAttributes: boolean[] };
    const [withStandIns, reference] = await Promise.all([
      inFreshProcess<Deferred>(deferred, sampleMjml, HTML_ATTRIBUTES_MJML),
      inFreshProcess<{ sample: string; attributes: string }>(plain, sampleMjml, HTML_ATTRIBUTES_MJML),
    ]);
    expect(withStandIns.sample.length).toBeGreaterThan(10_000);
    expect(withStandIns.sample).toBe(reference.sample);
    expect(withStandIns.afterSample).toEqual(DEFERRED_MJML_MODULES.map(() => true));

    // mj-html-attributes is applied with cheerio, loaded through its stand-in on first use.
    expect(withStandIns.attributes).toContain('data-x="1"');
    expect(withStandIns.attributes).toBe(reference.attributes);
    const cheerio = DEFERRED_MJML_MODULES.findIndex((entry) => entry.path.at(-1) === 'cheerio');
    expect(withStandIns.afterAttributes[cheerio]).toBe(false);
  });
});
