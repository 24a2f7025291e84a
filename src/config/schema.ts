import { z } from 'zod';

/** Locales whose template strings ship in `templates/i18n/`. */
export const SUPPORTED_LOCALES = ['en', 'zh-CN'] as const;
export type Locale = (typeof SUPPORTED_LOCALES)[number];

const timezone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not an IANA timezone name (for example "UTC" or "Asia/Shanghai")' },
);

const absoluteHttpUrl = z
  .string()
  .refine((value) => /^https?:\/\/[^/\s]+/i.test(value), {
    message: 'must be an absolute http(s) URL such as "https://news.example.org"',
  })
  .transform((value) => value.replace(/\/+$/, ''));

/**
 * The one config schema. Every key has a default that makes the sample project run with no
 * edits; `config/letterpress.json` and `LETTERPRESS_*` env vars override them (see README).
 * Secrets never live here: they come from the environment only.
 */
export const configSchema = z.strictObject({
    site: z.strictObject({
        /** Public base URL of the archive; links in emails and feeds are built from it. */
        url: absoluteHttpUrl.default('http://127.0.0.1:8080'),
        title: z.string().min(1).default('Letterpress newsletter'),
        description: z.string().default('A newsletter published with Letterpress.'),
        author: z.strictObject({
            name: z.string().default('Letterpress'),
            email: z.string().optional(),
          })
          .default({ name: 'Letterpress' }),
        /** The sender's postal address, shown in every email footer (anti-spam laws ask for it). */
        postalAddress: z.string().default('Postal address not configured'),
      })
      .default({
        url: 'http://127.0.0.1:8080',
        title: 'Letterpress newsletter',
        description: 'A newsletter published with Letterpress.',
        author: { name: 'Letterpress' },
        postalAddress: 'Postal address not configured',
      }),
    /** Language of the template chrome and of formatted dates. */
    locale: z.enum(SUPPORTED_LOCALES).default('en'),
    /** Timezone that front-matter dates without an offset are read in, and dates are shown in. */
    timezone: timezone.default('UTC'),
    paths: z.strictObject({
        issues: z.string().min(1).default('issues'),
        templates: z.string().min(1).default('templates'),
        out: z.string().min(1).default('out'),
        data: z.string().min(1).default('data'),
      })
      .default({ issues: 'issues', templates: 'templates', out: 'out', data: 'data' }),
    feed: z.strictObject({
        /** How many of the newest issues the feeds carry. */
        limit: z.number().int().min(1).max(1000).default(20),
      })
      .default({ limit: 20 }),
    email: z.strictObject({
        /** Handlebars template for the Subject; sees `title`, `number`, `slug`, `site`. */
        subject: z.string().min(1).default('{{title}}'),
      })
      .default({ subject: '{{title}}' }),
    limits: z.strictObject({
        /** Issue files larger than this are rejected (E_TOO_LARGE). */
        maxIssueBytes: z.number().int().min(1024).default(1024 * 1024),
      })
      .default({ maxIssueBytes: 1024 * 1024 }),
  });

/** The validated configuration, every default filled in. */
export type Config = z.output<typeof configSchema>;
/** What a config file may contain: every key optional. */
export type ConfigInput = z.input<typeof configSchema>;
