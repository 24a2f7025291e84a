/**
 * `npm run bench:build [-- N]`: builds N synthetic issues shaped like the samples (default
 * 1000) and prints
 *   (a) full-build time per issue ÷ one bare mjml2html call on the same issue's MJML,
 *       measured in the same run (target ≤ 1.5), and
 *   (b) the time to rebuild after one issue changes ÷ the full build (target < 5%).
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mjml2html from 'mjml';
import { buildSite } from '../src/site/build-site.ts';
import { createWorkerIssueParser } from '../src/project/worker-issue-parser.ts';
import { loadTemplateSources } from '../src/project/load-templates.ts';
import { siteInfoFromConfig } from '../src/project/site-info.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { parseIssue } from '../src/issue/index.ts';
import { compileTemplates, MJML_OPTIONS, renderEmailMjml } from '../src/render/index.ts';
import { systemClock } from '../src/util/clock.ts';
import { synthesizeIssue } from './synthetic-issues.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const count = Number(process.argv[2] ?? process.env.BENCH_ISSUES ?? 1000);

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'letterpress-bench-'));
  try {
    await cp(path.join(REPO, 'config'), path.join(root, 'config'), { recursive: true });
    await cp(path.join(REPO, 'templates'), path.join(root, 'templates'), { recursive: true });
    await mkdir(path.join(root, 'issues'));
    const names: string[] = [];
    for (let i = 0; i < count; i += 1) {
      const { name, markdown } = synthesizeIssue(i);
      names.push(name);
      await writeFile(path.join(root, 'issues', name), markdown);
    }
    const loaded = await loadConfig({ root, env: {} });

    // Baseline: bare mjml2html on the MJML of a representative issue, same options, warmed up.
    const site = siteInfoFromConfig(loaded.config);
    const templates = compileTemplates(await loadTemplateSources(loaded.paths.templates));
    const sample = parseIssue(synthesizeIssue(0).markdown, 'bench.md', { timezone: loaded.config.timezone }).issue!;
    const meta = { date: sample.date!, updated: sample.date!, feedId: `${site.url}/issues/bench/` };
    const mjml = renderEmailMjml(sample, meta, templates, site);
    const runs = 50;
    for (let i = 0; i < 5; i += 1) await mjml2html(mjml, MJML_OPTIONS);
    let started = performance.now();
    for (let i = 0; i < runs; i += 1) await mjml2html(mjml, MJML_OPTIONS);
    const mjmlMs = (performance.now() - started) / runs;

    started = performance.now();
    // The parser the commands use: a worker thread with the default budget.
    const parser = createWorkerIssueParser({ budgetMs: loaded.config.limits.parseSeconds * 1000 });
    const full = await buildSite({ loaded, clock: systemClock, parser });
    const fullMs = performance.now() - started;
    if (full.published.length !== count) throw new Error(`built ${full.published.length} of ${count} issues`);

    const changed = path.join(root, 'issues', names[Math.floor(count / 2)]!);
    await writeFile(changed, `${await readFile(changed, 'utf8')}\n编者按：更正一处笔误。\n`);
    started = performance.now();
    const incremental = await buildSite({ loaded, clock: systemClock, parser });
    await parser.close();
    const incrementalMs = performance.now() - started;
    if (incremental.rendered.length !== 1) throw new Error(`rebuild rendered ${incremental.rendered.length} issues`);

    const perIssue = fullMs / count;
    console.log(`issues: ${count}`);
    console.log(`baseline  bare mjml2html, one issue:      ${mjmlMs.toFixed(2)} ms`);
    console.log(`full build:                              ${(fullMs / 1000).toFixed(2)} s = ${perIssue.toFixed(2)} ms/issue`);
    console.log(`(a) full build per issue / mjml2html:    ${(perIssue / mjmlMs).toFixed(2)}  (target ≤ 1.5)`);
    console.log(`rebuild after one issue changed:         ${incrementalMs.toFixed(0)} ms`);
    console.log(`(b) rebuild / full build:                ${((incrementalMs / fullMs) * 100).toFixed(2)}%  (target < 5%)`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
