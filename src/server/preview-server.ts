import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { LoadedConfig } from '../config/load-config.ts';
import { permalinkFor } from '../site/build-site.ts';
import { checkIssues } from '../project/check-issues.ts';
import { listIssueFiles } from '../project/list-issue-files.ts';
import { displayPath, loadIssues } from '../project/load-issues.ts';
import { loadTemplateSources } from '../project/load-templates.ts';
import type { IssueParser } from '../project/issue-parser.ts';
import { createWorkerIssueParser } from '../project/worker-issue-parser.ts';
import { siteInfoFromConfig } from '../project/site-info.ts';
import type { Diagnostic } from '../issue/diagnostic.ts';
import { compileTemplates, escapeHtml } from '../render/index.ts';
import type { Clock } from '../util/clock.ts';
import { systemClock } from '../util/clock.ts';
import { LetterpressError } from '../util/errors.ts';
import { DEFAULT_PREVIEW_PORT } from './preview-port.ts';

export { DEFAULT_PREVIEW_PORT };

/** Editors save in bursts (write, rename, touch): one render after the burst settles. */
const DEFAULT_DEBOUNCE_MS = 80;

export interface PreviewServerOptions {
  loaded: LoadedConfig;
  /** The issue file (absolute); drafts and issues not yet due render like any other. */
  file: string;
  /** 0 picks a free port (tests). */
  port?: number;
  clock?: Clock;
  debounceMs?: number;
  /**
   * Where the file is parsed and rendered: by default a worker with limits.parseSeconds, so a
   * file built to be slow never holds the preview's HTTP server (closed with the server).
   */
  parser?: IssueParser;
}

export interface PreviewServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  file: string;
  /** Changes exactly when what the preview shows changes; `/preview.js` reloads on it. */
  version(): string;
  /** Renders again now (the watcher calls this on every change). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

/** What one render of the file produced; the last good rendering stays when the file breaks. */
interface PreviewState {
  version: string;
  diagnostics: Diagnostic[];
  /** From the last rendering that worked (possibly an earlier version of the file). */
  rendered?: {
    title: string;
    subject: string;
    draft: boolean;
    publishAt?: string;
    emailHtml: string;
    emailText: string;
    pageHtml: string;
    styleCss: string;
  };
  /** True when `rendered` is older than the file: the current file did not render. */
  stale: boolean;
}

/**
 * The newest issue file in `dir` (by modification time, drafts and future issues included):
 * the one an editor is most likely working on.
 */
export async function newestIssueFile(dir: string): Promise<string | undefined> {
  let newest: { file: string; mtime: number } | undefined;
  for (const file of await listIssueFiles(dir)) {
    const { mtimeMs } = await stat(file);
    if (!newest || mtimeMs > newest.mtime || (mtimeMs === newest.mtime && file > newest.file)) newest = { file, mtime: mtimeMs };
  }
  return newest?.file;
}

/** A problem outside the issue (a template that does not compile) shown like a diagnostic. */
function diagnosticOf(error: unknown, fallbackFile: string): Diagnostic {
  const located = error instanceof LetterpressError ? error : undefined;
  return {
    file: located?.file ?? fallbackFile,
    line: located?.line ?? 1,
    column: located?.column ?? 1,
    severity: 'error',
    code: 'E_RENDER',
    message: error instanceof Error ? error.message : String(error),
  };
}

/**
 * Renders one issue file the way the build and a send would (web page, email HTML and text),
 * with `check`'s diagnostics. Never throws: every failure becomes a diagnostic.
 */
async function renderPreview(
  file: string,
  loaded: LoadedConfig,
  parser: IssueParser,
  now: Date,
  previous?: PreviewState['rendered'],
): Promise<PreviewState> {
  const shown = displayPath(loaded.root, file);
  let diagnostics: Diagnostic[];
  let rendered: PreviewState['rendered'];
  try {
    diagnostics = await checkIssues([file], loaded, parser);
    const sources = await loadTemplateSources(loaded.paths.templates);
    const templates = compileTemplates(sources);
    const site = siteInfoFromConfig(loaded.config);
    const { issues } = await loadIssues([file], {
      root: loaded.root,
      timezone: loaded.config.timezone,
      maxBytes: loaded.config.limits.maxIssueBytes,
      parser,
      issuesDir: loaded.paths.issues,
    });
    const entry = issues[0];
    if (entry) {
      const { issue } = entry;
      // Not published yet: the date it would get is its own, else today.
      const date = issue.date ?? now.toISOString();
      const meta = { date, updated: date, feedId: permalinkFor(site, issue.slug) };
      const { rendition } = await parser.render({ issue, meta, site, templates: { fingerprint: templates.fingerprint, sources } });
      if (rendition) {
        rendered = {
          title: issue.title,
          subject: rendition.email.subject,
          draft: issue.draft,
          publishAt: issue.publishAt,
          emailHtml: rendition.email.html,
          emailText: rendition.email.text,
          pageHtml: rendition.pageHtml,
          styleCss: templates.styleCss,
        };
      }
    }
  } catch (error) {
    diagnostics = [diagnosticOf(error, shown)];
  }
  const shownState = rendered ?? previous;
  const stale = rendered === undefined && previous !== undefined;
  const version = createHash('sha256')
    .update(JSON.stringify({ diagnostics, rendered: shownState, stale }))
    .digest('hex')
    .slice(0, 16);
  return { version, diagnostics, rendered: shownState, stale };
}

/** The preview page's own script: polls `/version` and reloads when it changes. */
const PREVIEW_SCRIPT = `// Reloads the preview when the issue file or the templates change.
(() => {
  const shown = document.body.dataset.version;
  const poll = async () => {
    try {
      const response = await fetch('/version', { cache: 'no-store' });
      const { version } = await response.json();
      if (version !== shown) {
        location.reload();
        return;
      }
      document.body.classList.remove('offline');
    } catch {
      document.body.classList.add('offline');
    }
    setTimeout(poll, 500);
  };
  setTimeout(poll, 500);
})();
`;

const PREVIEW_STYLE = `:root { color-scheme: light dark; --muted: #57606a; --border: #d0d7de; --error: #cf222e; --warning: #9a6700; }
@media (prefers-color-scheme: dark) { :root { --muted: #9198a1; --border: #30363d; --error: #ff7b72; --warning: #d29922; } }
body { margin: 0; padding: 1rem 1.5rem 3rem; font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", Helvetica, Arial, sans-serif; line-height: 1.5; }
h1 { font-size: 1.25rem; margin: 0 0 .25rem; }
h2 { font-size: 1rem; margin: 2rem 0 .5rem; }
.facts, .note { color: var(--muted); font-size: .875rem; margin: .25rem 0; }
.offline .note::after { content: " (the preview server is not answering)"; color: var(--error); }
.stale { color: var(--error); font-weight: 600; }
.diagnostics { list-style: none; padding: 0; margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .8125rem; }
.diagnostics li { padding: .25rem 0; border-bottom: 1px solid var(--border); overflow-wrap: anywhere; }
.diagnostics .error { color: var(--error); }
.diagnostics .warning { color: var(--warning); }
.ok { color: var(--muted); }
.emails { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
figure { margin: 0; }
figcaption { color: var(--muted); font-size: .8125rem; margin-bottom: .25rem; }
iframe { border: 1px solid var(--border); background: #ffffff; height: 80vh; }
.desktop { width: 600px; }
.mobile { width: 375px; }
.page { width: 100%; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; max-width: 80ch; padding: 1rem; border: 1px solid var(--border); font-size: .8125rem; }
`;

const SHELL_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** Rendered emails carry their CSS inline (as every email must) and load nothing. */
const EMAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";
/** The archive page with its stylesheet; its subscribe form is not live in a preview. */
const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

function shellHtml(state: PreviewState, file: string): string {
  const { rendered, diagnostics } = state;
  const title = rendered ? rendered.title : path.basename(file);
  const facts = rendered
    ? [
        `${escapeHtml(file)}`,
        `Subject: ${escapeHtml(rendered.subject)}`,
        rendered.draft ? 'draft' : '',
        rendered.publishAt ? `publish_at ${escapeHtml(rendered.publishAt)}` : '',
      ].filter(Boolean)
    : [escapeHtml(file)];
  const list = diagnostics.length
    ? `<ul class="diagnostics">\n${diagnostics
        .map(
          (d) =>
            `<li class="${d.severity}">${escapeHtml(`${d.file}:${d.line}:${d.column}`)} ${d.severity} ${escapeHtml(d.code)}: ${escapeHtml(d.message)}</li>`,
        )
        .join('\n')}\n</ul>`
    : '<p class="ok">No problems found.</p>';
  const body = rendered
    ? `<h2>Email</h2>
<div class="emails">
<figure><figcaption>Desktop, 600 px</figcaption><iframe class="desktop" src="/email.html" title="Email at 600 px" sandbox="allow-same-origin"></iframe></figure>
<figure><figcaption>Mobile, 375 px</figcaption><iframe class="mobile" src="/email.html" title="Email at 375 px" sandbox="allow-same-origin"></iframe></figure>
</div>
<h2>Text part</h2>
<pre id="text-part">${escapeText(rendered.emailText)}</pre>
<h2>Web page</h2>
<iframe class="page" src="/page.html" title="Web page" sandbox="allow-same-origin"></iframe>`
    : '<p class="stale">Nothing to show yet: the file does not render (see the diagnostics above).</p>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Preview: ${escapeHtml(title)}</title>
<link rel="stylesheet" href="/preview.css">
<script src="/preview.js" defer></script>
</head>
<body data-version="${state.version}">
<header>
<h1>Preview: ${escapeHtml(title)}</h1>
<p class="facts">${facts.join(' · ')}</p>
<p class="note">Reloads when the file or the templates change. The unsubscribe link shows its placeholder.</p>
${state.stale ? '<p class="stale">The file as saved does not render: showing its last good version.</p>' : ''}
</header>
<h2>Diagnostics</h2>
${list}
${body}
</body>
</html>
`;
}

/** Text content as HTML: the three characters that matter there, so the text part reads as itself in the source. */
function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Only this machine, by name or address: a page elsewhere cannot rebind a domain to read drafts. */
function isLoopbackHost(host: string | undefined, port: number): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}` || host === `[::1]:${port}`;
}

/**
 * Starts the editor's preview on 127.0.0.1: `/` shows the email at desktop and mobile width
 * side by side, its text part, the web page and `check`'s diagnostics for one issue file, and
 * reloads (through `/preview.js` polling `/version`; no inline script) whenever the file or a
 * template changes. A broken file shows its diagnostics and the last good rendering; the
 * server keeps running.
 */
export async function startPreviewServer(options: PreviewServerOptions): Promise<PreviewServer> {
  const { loaded, file } = options;
  const clock = options.clock ?? systemClock;
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const shownFile = displayPath(loaded.root, file);
  const parser = options.parser ?? createWorkerIssueParser({ budgetMs: loaded.config.limits.parseSeconds * 1000 });

  let state = await renderPreview(file, loaded, parser, clock.now());
  let running: Promise<void> | undefined;
  let again = false;
  const refresh = async (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        state = await renderPreview(file, loaded, parser, clock.now(), state.rendered);
      } while (again);
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void refresh(), debounceMs);
  };
  // The folder, not the file: editors that save by renaming replace the file a watch holds.
  const watchers: FSWatcher[] = [];
  const name = path.basename(file);
  const watchFolder = (dir: string, recursive: boolean, listener: (changed: string | null) => void) => {
    try {
      const watcher = watch(dir, { recursive }, (_event, changed) => listener(changed));
      // A watched folder that disappears ends its watch; the preview keeps what it has.
      watcher.on('error', () => undefined);
      watchers.push(watcher);
    } catch {
      // A folder that does not exist (yet) cannot be watched: its changes need a restart.
    }
  };
  watchFolder(path.dirname(file), false, (changed) => (changed === null || changed === name) && schedule());
  watchFolder(loaded.paths.templates, true, schedule);

  const app: FastifyInstance = Fastify({ logger: false });
  let port = options.port ?? DEFAULT_PREVIEW_PORT;
  app.addHook('onRequest', async (request, reply) => {
    reply.header('referrer-policy', 'no-referrer').header('x-content-type-options', 'nosniff').header('cache-control', 'no-store');
    if (!isLoopbackHost(request.headers.host, port)) {
      return reply.code(403).type('text/plain; charset=utf-8').send('The preview answers on loopback addresses only.\n');
    }
  });
  const send = (reply: FastifyReply, type: string, csp: string | undefined, body: string) => {
    if (csp) reply.header('content-security-policy', csp);
    return reply.type(type).send(body);
  };
  const missing = (reply: FastifyReply) =>
    reply.code(404).type('text/plain; charset=utf-8').send('The file does not render yet: see the diagnostics on /.\n');

  app.get('/', async (_request, reply) => send(reply, 'text/html; charset=utf-8', SHELL_CSP, shellHtml(state, shownFile)));
  app.get('/email.html', async (_request, reply) =>
    state.rendered ? send(reply, 'text/html; charset=utf-8', EMAIL_CSP, state.rendered.emailHtml) : missing(reply),
  );
  app.get('/email.txt', async (_request, reply) =>
    state.rendered ? send(reply, 'text/plain; charset=utf-8', undefined, state.rendered.emailText) : missing(reply),
  );
  app.get('/page.html', async (_request, reply) =>
    state.rendered ? send(reply, 'text/html; charset=utf-8', PAGE_CSP, state.rendered.pageHtml) : missing(reply),
  );
  // The page links `../../style.css` (it lives at issues/<slug>/ on the site): from /page.html that is /style.css.
  app.get('/style.css', async (_request, reply) =>
    state.rendered ? send(reply, 'text/css; charset=utf-8', undefined, state.rendered.styleCss) : missing(reply),
  );
  app.get('/preview.css', async (_request, reply) => send(reply, 'text/css; charset=utf-8', undefined, PREVIEW_STYLE));
  app.get('/preview.js', async (_request, reply) => send(reply, 'text/javascript; charset=utf-8', undefined, PREVIEW_SCRIPT));
  app.get('/version', async () => ({ version: state.version, stale: state.stale, errors: state.diagnostics.filter((d) => d.severity === 'error').length }));

  const close = async () => {
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
    await app.close();
    // A render still in progress is abandoned (it ends as a diagnostic), not waited for.
    if (!options.parser) await parser.close();
    await running;
  };
  try {
    await app.listen({ host: '127.0.0.1', port });
  } catch (error) {
    await close();
    const code = (error as NodeJS.ErrnoException).code;
    throw new LetterpressError(
      'E_PORT',
      code === 'EADDRINUSE'
        ? `port ${port} on 127.0.0.1 is in use: pick another with --port`
        : `cannot listen on 127.0.0.1:${port}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const address = app.server.address();
  if (address && typeof address === 'object') port = address.port;
  return {
    url: `http://127.0.0.1:${port}`,
    file,
    version: () => state.version,
    refresh,
    close,
  };
}
