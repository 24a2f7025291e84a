import { validate as isCronExpression } from 'node-cron';
import { z } from '../vendor/zod.ts';
import { POSTAL_ADDRESS_PLACEHOLDER } from './postal-address-placeholder.ts';

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

const cronExpression = z.string().refine((value) => isCronExpression(value), {
  message: 'not a cron expression (five or six fields, for example "0 9 * * 1" for Mondays at 9:00)',
});

export { POSTAL_ADDRESS_PLACEHOLDER };

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
        postalAddress: z.string().default(POSTAL_ADDRESS_PLACEHOLDER),
      })
      .default({
        url: 'http://127.0.0.1:8080',
        title: 'Letterpress newsletter',
        description: 'A newsletter published with Letterpress.',
        author: { name: 'Letterpress' },
        postalAddress: POSTAL_ADDRESS_PLACEHOLDER,
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
    smtp: z.strictObject({
        /**
         * SMTP relay host. Unset (and no LETTERPRESS_SMTP_URL) means the outbox transport: messages
         * are written as .eml files under data/outbox/ instead of being sent.
         */
        host: z.string().min(1).optional(),
        port: z.number().int().min(1).max(65535).default(587),
        /** TLS from the first byte (port 465); otherwise STARTTLS is used when offered. */
        secure: z.boolean().default(false),
        /** Refuse to send unless STARTTLS succeeds. */
        requireTLS: z.boolean().default(false),
        /** Verify the server's certificate (turn off only for a relay on loopback). */
        tlsRejectUnauthorized: z.boolean().default(true),
        /** SMTP user; the password comes only from LETTERPRESS_SMTP_PASS or LETTERPRESS_SMTP_URL. */
        user: z.string().min(1).optional(),
        /** Name sent with EHLO; defaults to the host name of site.url. */
        clientName: z.string().min(1).optional(),
        pool: z.strictObject({
            /** Parallel SMTP connections. */
            maxConnections: z.number().int().min(1).max(100).default(5),
            /** Messages one connection sends before it is replaced (0: no limit). */
            maxMessages: z.number().int().min(0).default(1000),
            /** Messages per second over all connections (0: no limit). */
            rateLimit: z.number().min(0).default(0),
          })
          .default({ maxConnections: 5, maxMessages: 1000, rateLimit: 0 }),
        timeouts: z.strictObject({
            connectionMs: z.number().int().min(1).default(30_000),
            greetingMs: z.number().int().min(1).default(30_000),
            /** Inactivity during a transaction, after which the message is deferred. */
            socketMs: z.number().int().min(1).default(60_000),
          })
          .default({ connectionMs: 30_000, greetingMs: 30_000, socketMs: 60_000 }),
      })
      .default({
        port: 587,
        secure: false,
        requireTLS: false,
        tlsRejectUnauthorized: true,
        pool: { maxConnections: 5, maxMessages: 1000, rateLimit: 0 },
        timeouts: { connectionMs: 30_000, greetingMs: 30_000, socketMs: 60_000 },
      }),
    sender: z.strictObject({
        /** From: the address readers see and reply to unless replyTo is set. */
        fromName: z.string().optional(),
        fromAddress: z.string().min(3).default('newsletter@localhost'),
        replyTo: z.string().min(3).optional(),
        /** Envelope sender (MAIL FROM, where bounces go); defaults to fromAddress. */
        envelopeFrom: z.string().min(3).optional(),
        /** List-Id value without angle brackets; defaults to a dotted name under the From domain. */
        listId: z.string().min(3).optional(),
        /** Adds a mailto: to List-Unsubscribe (for example unsubscribe@news.example.org). */
        unsubscribeMailto: z.string().min(3).optional(),
        dkim: z.strictObject({
            domainName: z.string().min(1),
            keySelector: z.string().min(1),
            /** Path of the PEM private key (relative to the project root). */
            privateKeyPath: z.string().min(1),
          })
          .optional(),
      })
      .default({ fromAddress: 'newsletter@localhost' }),
    store: z.strictObject({
        /** SQLite file (relative to the project root, or sqlite:PATH), or a postgres:// URL. LETTERPRESS_DB, DATABASE_URL too. */
        url: z.string().min(1).default('data/letterpress.db'),
        /**
         * How long a store call waits in all for another process's lock (retried off the event
         * loop); then E_STORE_BUSY: a command exits 75, the HTTP server answers 503.
         */
        lockWaitMs: z.number().int().min(0).max(600_000).default(5_000),
      })
      .default({ url: 'data/letterpress.db', lockWaitMs: 5_000 }),
    delivery: z.strictObject({
        /** Rows claimed from the ledger at a time. */
        batchSize: z.number().int().min(1).max(10_000).default(200),
        /**
         * How long a claimed row stays ours without renewal: the heartbeat renews it every third
         * of this; a sender that dies leaves its rows to the others once it lapses.
         */
        leaseSeconds: z.number().int().min(1).default(60),
        /**
         * Outcomes are written in batches: a batch is written at half of `rows` marks or `ms`
         * after its first, and the next fills meanwhile; together they never hold more than
         * `rows`. A crash loses at most those (the messages go out again, with the same
         * Message-ID), so keep it small.
         */
        markBatch: z.strictObject({
            rows: z.number().int().min(1).max(1000).default(50),
            ms: z.number().int().min(0).max(10_000).default(200),
          })
          .default({ rows: 50, ms: 200 }),
        retry: z.strictObject({
            /** First retry delay after a 4xx; doubles each attempt, with jitter. */
            baseSeconds: z.number().min(0).default(60),
            maxSeconds: z.number().min(0).default(3600),
            /** A message still deferred this long after planning is given up (failed). */
            giveUpHours: z.number().min(0).default(72),
            /** How long one `send` run waits for due retries before it exits and leaves them deferred. */
            waitSeconds: z.number().min(0).default(120),
          })
          .default({ baseSeconds: 60, maxSeconds: 3600, giveUpHours: 72, waitSeconds: 120 }),
        /**
         * Lets a real (SMTP) send go out with a loopback, localhost or example site URL or From
         * (a staging relay); the preflight refuses them otherwise. `--allow-local` does the same.
         */
        allowLocalAddresses: z.boolean().default(false),
        /**
         * Messages per second for all senders on the store together (workers, daemons, `send`),
         * kept through the store (0: no limit). `smtp.pool.rateLimit` is one process's own.
         */
        globalRateLimit: z.number().min(0).max(100_000).default(0),
        /** The longest an idle worker waits between looks at the ledger (it looks sooner after work). */
        pollSeconds: z.number().min(0.05).max(3600).default(5),
      })
      .default({
        batchSize: 200,
        leaseSeconds: 60,
        markBatch: { rows: 50, ms: 200 },
        retry: { baseSeconds: 60, maxSeconds: 3600, giveUpHours: 72, waitSeconds: 120 },
        allowLocalAddresses: false,
        globalRateLimit: 0,
        pollSeconds: 5,
      }),
    server: z.strictObject({
        /** `letterpress serve` listens here (loopback by default; put a proxy in front for the world). */
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        /** Trust X-Forwarded-For from this many proxies (0: none), for per-IP limits behind a proxy. */
        trustProxy: z.number().int().min(0).max(10).default(0),
        /** Largest request body accepted, in bytes. */
        bodyLimit: z.number().int().min(1024).max(1_048_576).default(16_384),
        limits: z.strictObject({
            /** Requests one IP may make to the subscription endpoints per minute; over it: 429. */
            perIpPerMinute: z.number().int().min(1).default(30),
            /** Confirmation emails one address may get per day; over it: silently dropped. */
            perAddressPerDay: z.number().int().min(1).default(3),
            /** Minimum time between two confirmation emails to one address. */
            resendCooldownMinutes: z.number().min(0).default(10),
            /**
             * Confirmation emails one mailbox may get per day, `+tag`s folded (`a+x@d` and
             * `a+y@d` are one mailbox here, two addresses everywhere else); over it: none sent.
             */
            perMailboxPerDay: z.number().int().min(1).default(5),
            /** Confirmation emails to anyone per hour, a cap on what the form can make the server send. */
            confirmationsPerHour: z.number().int().min(1).default(300),
            /** A form submitted faster than this after the page was served is treated as a bot. */
            minFillSeconds: z.number().min(0).default(2),
          })
          .default({ perIpPerMinute: 30, perAddressPerDay: 3, resendCooldownMinutes: 10, perMailboxPerDay: 5, confirmationsPerHour: 300, minFillSeconds: 2 }),
        /** After a subscriber confirms, send them the latest issue as a welcome. */
        welcomeLatestIssue: z.boolean().default(false),
        /**
         * The queue of confirmation and welcome emails, sent by the serving process (`serve`,
         * the daemon) after the page has been answered.
         */
        mailQueue: z.strictObject({
            /** First retry delay after a temporary failure; doubles each attempt, with jitter. */
            retryBaseSeconds: z.number().min(0).default(30),
            retryMaxSeconds: z.number().min(0).default(1800),
            /** Attempts before an email is given up (failed). */
            maxAttempts: z.number().int().min(1).max(100).default(8),
            /** How long a sender may hold a claimed email before another may take it over. */
            leaseSeconds: z.number().int().min(1).max(3600).default(120),
            /** How often the queue is looked at even when nothing woke the sender (another process queued). */
            pollSeconds: z.number().min(0.05).max(3600).default(15),
          })
          .default({ retryBaseSeconds: 30, retryMaxSeconds: 1800, maxAttempts: 8, leaseSeconds: 120, pollSeconds: 15 }),
        /**
         * A request's headers and body must arrive within this, and a connection on which
         * nothing moves for this long is closed: a slow client cannot hold one forever.
         */
        requestTimeoutMs: z.number().int().min(1000).max(600_000).default(30_000),
        /** How long an idle keep-alive connection stays open (above a proxy's own idle timeout when behind one). */
        keepAliveTimeoutMs: z.number().int().min(1).max(600_000).default(5_000),
        /** On SIGTERM/SIGINT, how long requests in flight may take; connections still open then are cut. */
        shutdownTimeoutSeconds: z.number().min(0).max(3600).default(10),
      })
      .default({
        host: '127.0.0.1',
        port: 8080,
        trustProxy: 0,
        bodyLimit: 16_384,
        limits: { perIpPerMinute: 30, perAddressPerDay: 3, resendCooldownMinutes: 10, perMailboxPerDay: 5, confirmationsPerHour: 300, minFillSeconds: 2 },
        welcomeLatestIssue: false,
        mailQueue: { retryBaseSeconds: 30, retryMaxSeconds: 1800, maxAttempts: 8, leaseSeconds: 120, pollSeconds: 15 },
        requestTimeoutMs: 30_000,
        keepAliveTimeoutMs: 5_000,
        shutdownTimeoutSeconds: 10,
      }),
    schedule: z.strictObject({
        /** How often the daemon looks at issues/ even if the file watcher missed a change. */
        tick: cronExpression.default('* * * * *'),
        /**
         * When set, new issues are emailed only at these moments (a cron expression in
         * `timezone`); the site and feeds still publish them at once. Unset: email at once.
         */
        sendWindow: cronExpression.optional(),
        /** Issues that became due while the daemon was down are archived instead of emailed. */
        skipMissed: z.boolean().default(false),
        /** A new or changed issue file is picked up once its size and mtime have been stable this long. */
        settleMs: z.number().int().min(0).max(60_000).default(1000),
        /** On SIGTERM/SIGINT, how long in-flight messages may take to finish. */
        shutdownTimeoutSeconds: z.number().min(0).default(30),
        /**
         * The `scheduler` lease: of several `start` instances on one store, the one holding it runs
         * the ticks, the watcher and the send window; it renews it every third of this, and when it
         * dies another takes over within this time.
         */
        leaseSeconds: z.number().min(1).max(3600).default(30),
      })
      .default({ tick: '* * * * *', skipMissed: false, settleMs: 1000, shutdownTimeoutSeconds: 30, leaseSeconds: 30 }),
    limits: z.strictObject({
        /** Issue files larger than this are rejected (E_TOO_LARGE). */
        maxIssueBytes: z.number().int().min(1024).default(1024 * 1024),
        /** Seconds one issue file may take to parse or render (the worker process's CPU time when it waits for a core, at most 4 × this in wall time); over it: E_TOO_SLOW, the rest go on. */
        parseSeconds: z.number().positive().max(3600).default(10),
      })
      .default({ maxIssueBytes: 1024 * 1024, parseSeconds: 10 }),
  });

/** The validated configuration, every default filled in. */
export type Config = z.output<typeof configSchema>;
/** What a config file may contain: every key optional. */
export type ConfigInput = z.input<typeof configSchema>;
