import { deferUnusedMjmlModules } from './defer-unused-mjml-modules.ts';

type MjmlCompiler = typeof import('mjml');
let mjmlCompiler: Promise<MjmlCompiler> | undefined;

/**
 * MJML and its dependencies cost about 55 MB of memory once loaded. They are loaded on the
 * first render only, so a send or a build with nothing to re-render never pays for them;
 * the parts of them that our options never call are not loaded at all.
 */
function loadMjml(): Promise<MjmlCompiler> {
  if (!mjmlCompiler) deferUnusedMjmlModules();
  return (mjmlCompiler ??= import('mjml').then((module) => (module as unknown as { default: MjmlCompiler }).default));
}

/** The MJML compile options of every email (the benchmark compiles with exactly these). */
export const MJML_OPTIONS = {
  validationLevel: 'strict',
  // No font imports at all: MJML's defaults point at Google Fonts.
  fonts: {},
  keepComments: false,
  ignoreIncludes: true,
  minify: true,
  // CSS is already inlined and small; CSS minification would need cssnano (not a dependency).
  // The SVG, JSON and template-script minifiers have nothing to do in an email (raw HTML from
  // issues is shown as text) but load svgo and csso on the first render: about half a second
  // of every cold `check` or `build`. The HTML is byte-identical without them.
  // skipConfigLoading: htmlnano would otherwise look for .htmlnanorc files from the working
  // directory up, so a stray file there could change the email.
  minifyOptions: { minifyCss: false, minifySvg: false, minifyJson: false, minifyHtmlTemplate: false, skipConfigLoading: true },
} as const;

/** MJML compiled to HTML with MJML_OPTIONS on this thread; throws MJML's own error. */
export async function compileMjmlHere(mjml: string): Promise<string> {
  const mjml2html = await loadMjml();
  return (await mjml2html(mjml, MJML_OPTIONS)).html;
}

/** Loads MJML now (on this thread), so that the first compile does not wait for it. */
export function preloadMjml(): Promise<unknown> {
  return loadMjml();
}
