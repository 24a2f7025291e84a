import { validateConfig } from './load-config.ts';
import { configSchema, SUPPORTED_LOCALES, type Config, type Locale } from './schema.ts';

/**
 * The pure half of `letterpress init`: which questions a new editor answers, how each answer
 * is checked (by the config schema itself), and which files a new project consists of. Nothing
 * here touches the disk, the clock or the terminal.
 */

/** The answers a new newsletter needs before its first build. */
export interface InitAnswers {
  title: string;
  /** Public base URL of the archive (https, or http on loopback for trying it out). */
  url: string;
  /** The From address, optionally with a display name: `Weekly Notes <news@example.org>`. */
  from: string;
  /** Postal address for the email footer. */
  postalAddress: string;
  locale: Locale;
  /** IANA timezone name. */
  timezone: string;
}

export type AnswerKey = keyof InitAnswers;

/** One question: its prompt, its command-line flag and the config key its answer sets. */
export interface InitQuestion {
  key: AnswerKey;
  prompt: string;
  flag: string;
  configKey: string;
}

/** The questions in the order they are asked. */
export const INIT_QUESTIONS: readonly InitQuestion[] = [
  { key: 'title', prompt: 'Newsletter title', flag: '--title', configKey: 'site.title' },
  { key: 'url', prompt: 'Site URL (https://…, or http://127.0.0.1:8080 to try it out)', flag: '--url', configKey: 'site.url' },
  { key: 'from', prompt: 'Sender address (From), e.g. "Weekly Notes <news@example.org>"', flag: '--from', configKey: 'sender.fromAddress' },
  { key: 'postalAddress', prompt: 'Postal address (shown in every email footer)', flag: '--postal-address', configKey: 'site.postalAddress' },
  { key: 'locale', prompt: `Locale (${SUPPORTED_LOCALES.join(' or ')})`, flag: '--locale', configKey: 'locale' },
  { key: 'timezone', prompt: 'Timezone (IANA name)', flag: '--timezone', configKey: 'timezone' },
];

/** A file of the new project: a `/`-separated path relative to the project root, and its bytes. */
export interface ScaffoldFile {
  path: string;
  content: string | Uint8Array;
}

/** The result of checking one answer: the value to write, or a reason a person can act on. */
export type AnswerCheck = { ok: true; value: string } | { ok: false; reason: string };

/**
 * The defaults shown in brackets and taken by `--yes`: the config schema's own defaults, with
 * the timezone of this machine when it is one the schema accepts.
 */
export function defaultAnswers(systemTimezone: string | undefined): InitAnswers {
  const defaults = configSchema.parse({});
  const timezone =
    systemTimezone !== undefined && checkAnswer('timezone', systemTimezone).ok ? systemTimezone : defaults.timezone;
  return {
    title: defaults.site.title,
    url: defaults.site.url,
    from: defaults.sender.fromAddress,
    postalAddress: defaults.site.postalAddress,
    locale: defaults.locale,
    timezone,
  };
}

/** Splits `Name <address>` into its parts; a bare address has no name. */
export function splitFrom(from: string): { name?: string; address: string } {
  const match = /^(.*?)\s*<([^<>]*)>$/s.exec(from.trim());
  if (!match) return { address: from.trim() };
  const name = match[1]!.trim().replace(/^"(.*)"$/s, '$1').trim();
  return name ? { name, address: match[2]!.trim() } : { address: match[2]!.trim() };
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}

/** The config fragment one answer sets (before schema defaults are filled in). */
function configFragment(key: AnswerKey, value: string): Record<string, unknown> {
  switch (key) {
    case 'title':
      return { site: { title: value } };
    case 'url':
      return { site: { url: value } };
    case 'postalAddress':
      return { site: { postalAddress: value } };
    case 'from': {
      const { name, address } = splitFrom(value);
      return { sender: { fromAddress: address, ...(name !== undefined && { fromName: name }) } };
    }
    case 'locale':
      return { locale: value };
    case 'timezone':
      return { timezone: value };
  }
}

/** Reads the value the schema produced for an answer back out of the parsed config. */
function parsedValue(key: AnswerKey, config: Config): string {
  switch (key) {
    case 'title':
      return config.site.title;
    case 'url':
      return config.site.url;
    case 'postalAddress':
      return config.site.postalAddress;
    case 'from':
      return config.sender.fromName === undefined
        ? config.sender.fromAddress
        : `${config.sender.fromName} <${config.sender.fromAddress}>`;
    case 'locale':
      return config.locale;
    case 'timezone':
      return config.timezone;
  }
}

/**
 * Checks one answer with the config schema's own rules (the same ones `loadConfig` applies);
 * a new project is held to one thing more: its site URL is https unless it is a loopback
 * address, where http is fine for trying Letterpress out.
 */
export function checkAnswer(key: AnswerKey, raw: string): AnswerCheck {
  const value = raw.trim();
  const result = configSchema.safeParse(configFragment(key, value));
  if (!result.success) {
    return { ok: false, reason: result.error.issues.map((issue) => issue.message).join('; ') };
  }
  const parsed = parsedValue(key, result.data);
  if (key === 'url') {
    let url: URL;
    try {
      url = new URL(parsed);
    } catch {
      return { ok: false, reason: `"${value}" is not a valid URL` };
    }
    if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname)) {
      return {
        ok: false,
        reason: 'a public site must use https:// (http:// only on a loopback address such as http://127.0.0.1:8080, for trying it out)',
      };
    }
  }
  return { ok: true, value: parsed };
}

/** The config file's contents: only the keys the answers set, validated by the one schema. */
export function buildProjectConfig(answers: InitAnswers): Record<string, unknown> {
  const { name, address } = splitFrom(answers.from);
  const config = {
    site: { title: answers.title, url: answers.url, postalAddress: answers.postalAddress },
    sender: { ...(name !== undefined && { fromName: name }), fromAddress: address },
    locale: answers.locale,
    timezone: answers.timezone,
  };
  validateConfig(config, 'config/letterpress.json (from the init answers)');
  return config;
}

/** A draft issue that shows the digest dialect; `draft: true` keeps it off the site and out of email. */
export function exampleIssue(answers: Pick<InitAnswers, 'title'>): string {
  return `---
# A draft is never published. Delete this line (or the whole file) when you write your own.
draft: true
summary: What an issue looks like — sections, numbered items, a link and a summary each.
---
# ${answers.title} No. 1

This is an example issue. Every issue is one Markdown file in \`issues/\`; the first \`# \`
heading is its title, and "No. 1" in it is the issue number.

## Reading

**1.** **An article worth your readers' time**

https://example.org/articles/worth-reading

**Summary:** One or two sentences on what the article says and why it matters. The summary
becomes the item's text in the email, on the web page and in the feeds.

**2.** **A second article, linked in Markdown**

[Read it on example.org](https://example.org/articles/second)

**Summary:** Items are numbered per section; a skipped number is reported by \`letterpress check\`.

## Tools

**1.** **A tool you tried this week**

https://example.org/tools/one

**Summary:** Sections become headings in the email and anchors on the web page.
`;
}

const GITIGNORE = `# Generated or private: out/ is rebuilt from issues/, data/ holds subscribers and the outbox.
out/
data/
test-results/
node_modules/
`;

/**
 * Every file of a new project: the config from the answers, the shipped templates (passed in,
 * paths relative to `templates/`), an `issues/` folder with one example draft, and a `.gitignore`.
 */
export function scaffoldProject(options: { answers: InitAnswers; templates: readonly ScaffoldFile[] }): ScaffoldFile[] {
  const config = buildProjectConfig(options.answers);
  return [
    { path: 'config/letterpress.json', content: `${JSON.stringify(config, null, 2)}\n` },
    ...[...options.templates]
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
      .map((file) => ({ path: `templates/${file.path}`, content: file.content })),
    { path: 'issues/.gitkeep', content: '' },
    { path: 'issues/example.md', content: exampleIssue(options.answers) },
    { path: '.gitignore', content: GITIGNORE },
  ];
}

/** Entries that make a directory count as occupied: anything but dotfiles. */
export function occupyingEntries(names: readonly string[]): string[] {
  return names.filter((name) => !name.startsWith('.')).sort();
}
