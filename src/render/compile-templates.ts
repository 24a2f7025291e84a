import { createHash } from 'node:crypto';
import Handlebars from '../vendor/handlebars.ts';
import { SUPPORTED_LOCALES, type Locale } from '../config/schema.ts';
import { LetterpressError } from '../util/errors.ts';
import { formatDate, formatIsoDate } from './format-date.ts';
import type { TemplateSources } from './types.ts';
import { displayWidth, wrapText } from './wrap-text.ts';

/** The templates a renderer can ask for by name. */
export const TEMPLATE_NAMES = [
  'email/issue.mjml.hbs',
  'email/issue.txt.hbs',
  'email/confirm.mjml.hbs',
  'email/confirm.txt.hbs',
  'web/issue.html.hbs',
  'web/index.html.hbs',
  'feed/content.html.hbs',
  'web/subscription.html.hbs',
] as const;
/** A template the renderers call by name (its path in the template folder). */
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

/** Every file a template set must have; partials beyond these are optional extras. */
export const REQUIRED_TEMPLATE_FILES: readonly string[] = [
  ...TEMPLATE_NAMES,
  'partials/layout.hbs',
  'partials/issue-body.hbs',
  'web/style.css',
  ...SUPPORTED_LOCALES.map((locale) => `i18n/${locale}.json`),
];

/** The chrome strings of one locale (`templates/i18n/<locale>.json`). */
export type I18nStrings = Readonly<Record<string, string>>;

/** What every template sees at its root, besides its own view data. */
export interface TemplateContext {
  locale: Locale;
  timezone: string;
  [key: string]: unknown;
}

/** What a Subject template sees (`email.subject` in the config). */
export interface SubjectContext {
  title: string;
  number: number | null;
  slug: string;
  site: Readonly<Record<string, unknown>>;
}

/** A compiled template set: pure functions from view data to text. */
export interface Templates {
  /** SHA-256 of every source file; equal fingerprints render identically. */
  readonly fingerprint: string;
  /** `web/style.css`, which the build copies to `out/style.css`. */
  readonly styleCss: string;
  /** Static files the build copies into `out/` as they are, by output name (`style.css`). */
  readonly assets: Readonly<Record<string, string>>;
  readonly strings: Readonly<Record<Locale, I18nStrings>>;
  /** Renders a named template; errors become LetterpressError E_TEMPLATE naming the file. */
  render(name: TemplateName, context: TemplateContext): string;
  /** Renders the email Subject from its (unescaped) Handlebars source, on one line. */
  renderSubject(source: string, context: SubjectContext): string;
}

/**
 * SHA-256 over every template file (path and text, in path order), so the build can tell
 * that rendered output is stale when any template, partial or string changes.
 */
export function templatesFingerprint(sources: TemplateSources): string {
  const hash = createHash('sha256');
  for (const path of Object.keys(sources.files).sort()) {
    hash.update(path).update('\u0000').update(sources.files[path] ?? '').update('\u0000');
  }
  return hash.digest('hex');
}

function shownPath(sources: TemplateSources, path: string): string {
  return sources.origin ? `${sources.origin.replace(/\/+$/, '')}/${path}` : path;
}

function templateError(file: string, error: unknown): LetterpressError {
  if (error instanceof LetterpressError) {
    return new LetterpressError(error.code, `${file}: ${error.message}`, { cause: error, file });
  }
  const message = error instanceof Error ? error.message : String(error);
  const line = /line (\d+)/i.exec(message) ?? / - (\d+):\d+$/.exec(message);
  return new LetterpressError('E_TEMPLATE', `${file}: ${message}`, {
    cause: error,
    file,
    line: line ? Number(line[1]) : undefined,
  });
}

function requireFile(sources: TemplateSources, path: string): string {
  const text = sources.files[path];
  if (text === undefined) {
    throw new LetterpressError('E_TEMPLATE', `template file missing: ${shownPath(sources, path)}`, {
      file: shownPath(sources, path),
    });
  }
  return text;
}

function parseStrings(sources: TemplateSources): Record<Locale, I18nStrings> {
  const parsed = {} as Record<Locale, I18nStrings>;
  for (const locale of SUPPORTED_LOCALES) {
    const path = `i18n/${locale}.json`;
    const file = shownPath(sources, path);
    let value: unknown;
    try {
      value = JSON.parse(requireFile(sources, path));
    } catch (error) {
      if (error instanceof LetterpressError) throw error;
      throw templateError(file, error);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new LetterpressError('E_TEMPLATE', `${file}: expected an object of strings`, { file });
    }
    for (const [key, text] of Object.entries(value)) {
      if (typeof text !== 'string') {
        throw new LetterpressError('E_TEMPLATE', `${file}: "${key}" must be a string`, { file });
      }
    }
    parsed[locale] = value as I18nStrings;
  }
  // Every locale must carry every key of the reference locale, so no page shows a key name.
  const reference = parsed.en;
  for (const locale of SUPPORTED_LOCALES) {
    const missing = Object.keys(reference).filter((key) => !(key in parsed[locale]));
    if (missing.length > 0) {
      const file = shownPath(sources, `i18n/${locale}.json`);
      throw new LetterpressError('E_TEMPLATE', `${file}: missing strings: ${missing.join(', ')}`, { file });
    }
  }
  return parsed;
}

function rootOf(options: Handlebars.HelperOptions): TemplateContext {
  return (options.data as { root: TemplateContext }).root;
}

function registerHelpers(hb: typeof Handlebars, strings: Record<Locale, I18nStrings>): void {
  const lookup = (key: string, root: TemplateContext): string => {
    const text = strings[root.locale]?.[key];
    if (text === undefined) {
      throw new LetterpressError('E_TEMPLATE', `unknown i18n string "${key}" (locale ${root.locale})`);
    }
    return text;
  };

  /** `{{t "key" name=value}}`: a chrome string with `{name}` placeholders filled. */
  hb.registerHelper('t', (key: unknown, options: Handlebars.HelperOptions) => {
    const text = lookup(String(key), rootOf(options));
    const hash = options.hash as Record<string, unknown>;
    return text.replace(/\{(\w+)\}/g, (_m, name: string) => {
      if (!(name in hash)) {
        throw new LetterpressError('E_TEMPLATE', `i18n string "${String(key)}" needs ${name}=…`);
      }
      return String(hash[name] ?? '');
    });
  });

  /** `{{formatDate iso}}` or `{{formatDate iso format="dateFormatShort"}}`, in site zone. */
  hb.registerHelper('formatDate', (iso: unknown, options: Handlebars.HelperOptions) => {
    if (iso === null || iso === undefined || iso === '') return '';
    const root = rootOf(options);
    const formatKey = String((options.hash as { format?: string }).format ?? 'dateFormat');
    return formatDate(String(iso), lookup(formatKey, root), root);
  });

  /** `{{isoDate iso}}`: ISO 8601 with the site timezone's offset. */
  hb.registerHelper('isoDate', (iso: unknown, options: Handlebars.HelperOptions) => {
    if (iso === null || iso === undefined || iso === '') return '';
    return formatIsoDate(String(iso), rootOf(options));
  });

  /** `{{wrap text width=72 indent="   " first="1. "}}`: CJK-aware hard wrapping. */
  hb.registerHelper('wrap', (text: unknown, options: Handlebars.HelperOptions) => {
    if (text === null || text === undefined) return '';
    const hash = options.hash as { width?: number; indent?: string; first?: string };
    return wrapText(String(text), { width: hash.width ?? 72, indent: hash.indent ?? '', firstIndent: hash.first });
  });

  /** `{{underline text "="}}`: a rule as wide as the text is on screen. */
  hb.registerHelper('underline', (text: unknown, char: unknown) => {
    const width = Math.min(72, displayWidth(String(text ?? '')));
    return (typeof char === 'string' ? char : '=').repeat(Math.max(3, width));
  });

  /** `{{concat a b c}}`: joins its arguments into one string. */
  hb.registerHelper('concat', (...args: unknown[]) =>
    args
      .slice(0, -1)
      .map((arg) => String(arg ?? ''))
      .join(''),
  );
}

/**
 * Compiles a template set once per build: one private Handlebars environment (no global
 * registry), its partials and helpers, strict mode so a misspelt field fails loudly instead
 * of rendering blank. Syntax errors surface here as E_TEMPLATE naming the file.
 */
export function compileTemplates(sources: TemplateSources): Templates {
  for (const path of REQUIRED_TEMPLATE_FILES) requireFile(sources, path);
  const strings = parseStrings(sources);
  const hb = Handlebars.create();
  registerHelpers(hb, strings);

  const parse = (path: string): void => {
    try {
      hb.parse(requireFile(sources, path));
    } catch (error) {
      throw templateError(shownPath(sources, path), error);
    }
  };

  for (const path of Object.keys(sources.files).sort()) {
    const match = /^partials\/([\w-]+)\.hbs$/.exec(path);
    if (!match) continue;
    parse(path);
    hb.registerPartial(match[1]!, sources.files[path]!);
  }

  const compiled = new Map<TemplateName, Handlebars.TemplateDelegate>();
  for (const name of TEMPLATE_NAMES) {
    parse(name);
    compiled.set(
      name,
      hb.compile(requireFile(sources, name), {
        strict: true,
        noEscape: name.endsWith('.txt.hbs'),
        preventIndent: true,
      }),
    );
  }

  return {
    fingerprint: templatesFingerprint(sources),
    styleCss: requireFile(sources, 'web/style.css'),
    assets: { 'style.css': requireFile(sources, 'web/style.css') },
    strings,
    render(name, context) {
      const template = compiled.get(name);
      if (!template) throw new LetterpressError('E_TEMPLATE', `unknown template ${name}`);
      try {
        return template(context);
      } catch (error) {
        throw templateError(shownPath(sources, name), error);
      }
    },
    renderSubject(source, context) {
      try {
        const template = hb.compile(source, { strict: true, noEscape: true });
        return template(context).replace(/\s+/g, ' ').trim();
      } catch (error) {
        throw templateError('email.subject (config)', error);
      }
    },
  };
}
