import { isIP } from 'node:net';
import type { Config } from '../config/schema.ts';
import { POSTAL_ADDRESS_PLACEHOLDER } from '../config/postal-address-placeholder.ts';
import { LetterpressError } from '../util/errors.ts';

/**
 * What must be right before mail goes to real readers (issue "A preflight"): links built from
 * a loopback or example address lead nowhere, a From on `localhost` is rejected or junked by
 * every receiver, and the law asks for a postal address in every commercial email. Pure: the
 * config in, the problems out; `doctor` shows them, every real send path refuses on them.
 */

/** The config keys the preflight looks at, as `doctor` names its checks. */
export type PreflightCheck = 'site-url' | 'from' | 'postal-address';

export interface PreflightProblem {
  check: PreflightCheck;
  /** What is wrong and what it would do to a send. */
  message: string;
  /** The same in a few words, for a log line. */
  summary: string;
  /** How to fix it: the key to set. */
  fix: string;
  /** A local or example address: waived by `delivery.allowLocalAddresses` / `--allow-local` (staging). */
  local: boolean;
}

/** Why a host name cannot be reached from the readers' machines, or undefined when it can. */
export function describeLocalHost(hostname: string): string | undefined {
  const host = hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (host === '') return 'empty';
  const ipVersion = isIP(host);
  if (ipVersion === 4) {
    const [a, b] = host.split('.').map(Number) as [number, number];
    if (a === 127) return 'a loopback address (this machine only)';
    if (a === 0) return 'an unspecified address';
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'a private network address';
    if (a === 169 && b === 254) return 'a link-local address';
    return undefined;
  }
  if (ipVersion === 6) {
    if (host === '::1') return 'a loopback address (this machine only)';
    if (host === '::') return 'an unspecified address';
    if (/^::ffff:127\./.test(host)) return 'a loopback address (this machine only)';
    if (/^f[cd][0-9a-f]{0,2}:/.test(host)) return 'a private network address';
    if (/^fe[89ab][0-9a-f]?:/.test(host)) return 'a link-local address';
    return undefined;
  }
  if (host === 'localhost' || host.endsWith('.localhost')) return 'localhost (this machine only)';
  // RFC 2606 / RFC 6761: names reserved for documentation and tests never belong to anyone.
  if (/(^|\.)example\.(com|org|net)$/.test(host) || /\.example$|^example$/.test(host)) {
    return 'an example domain (reserved for documentation, it belongs to no one)';
  }
  if (/(^|\.)(test|invalid)$/.test(host)) return 'a reserved test domain (it belongs to no one)';
  if (!host.includes('.')) return 'a name without a domain (it resolves only on a local network)';
  return undefined;
}

/** True when a postal address is missing or is the schema's placeholder. */
export function isPostalAddressMissing(postalAddress: string): boolean {
  const value = postalAddress.trim();
  return value === '' || value === POSTAL_ADDRESS_PLACEHOLDER;
}

/** The domain of an address such as `news@example.org` (an IP literal keeps its brackets off). */
function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at === -1 ? '' : address.slice(at + 1).trim();
}

/**
 * The site URL and From an issue's email was rendered with (its stored rendition): a sender
 * checks these, since they, not today's config, are what goes out.
 */
export interface RenderedSender {
  siteUrl: string;
  fromAddress: string;
  /**
   * The rendered message: its footer holds the postal address, so with them the address is
   * checked there rather than in the sender's own config (a worker that has only the
   * environment sends a footer the planning project rendered).
   */
  text?: string;
  html?: string;
}

/** True when a rendered message's footer shows the placeholder instead of a postal address. */
function renditionLacksPostalAddress(rendered: RenderedSender): boolean {
  return [rendered.text, rendered.html].some((part) => part?.includes(POSTAL_ADDRESS_PLACEHOLDER) === true);
}

/**
 * Every problem that would make a real send go wrong, waived or not (`doctor` shows the waived
 * ones as allowed). `checkSendPreflight` is what the send paths act on. With `rendered`, the
 * site URL and From are those of the stored rendition (the messages hold them), named as such.
 */
export function findSendProblems(config: Config, rendered?: RenderedSender): PreflightProblem[] {
  const problems: PreflightProblem[] = [];
  const siteUrl = rendered?.siteUrl ?? config.site.url;
  const siteKey = rendered ? 'the site URL this issue was rendered with' : 'site.url';
  const fromKey = rendered ? 'the From this issue was rendered with' : 'sender.fromAddress';
  const rerender = rendered ? ', then `letterpress build` to render the planned issue again' : '';
  let siteHost = '';
  try {
    siteHost = new URL(siteUrl).hostname;
  } catch {
    // The schema already asks for an absolute URL; an unparsable one is as bad as a local one.
  }
  const siteWhy = describeLocalHost(siteHost);
  if (siteWhy) {
    problems.push({
      check: 'site-url',
      message: `${siteKey} ${siteUrl} is ${siteWhy}: every link in the email, the unsubscribe link too, would lead readers nowhere`,
      summary: `${siteKey} ${siteUrl} is ${siteWhy}`,
      fix: `set site.url (or LETTERPRESS_SITE_URL) to the public https:// address of the archive${rerender}`,
      local: true,
    });
  }
  const from = rendered?.fromAddress ?? config.sender.fromAddress;
  const fromWhy = describeLocalHost(domainOf(from));
  if (fromWhy) {
    problems.push({
      check: 'from',
      message: `${fromKey} ${from}: its domain is ${fromWhy}; receivers reject or junk such mail and replies go nowhere`,
      summary: `${fromKey} ${from} is on ${fromWhy}`,
      fix: `set sender.fromAddress (or LETTERPRESS_SENDER_FROMADDRESS) to an address on your own domain${rerender}`,
      local: true,
    });
  }
  const renderedFooter = rendered !== undefined && (rendered.text !== undefined || rendered.html !== undefined);
  if (renderedFooter ? renditionLacksPostalAddress(rendered) : isPostalAddressMissing(config.site.postalAddress)) {
    const subject = renderedFooter ? 'this issue was rendered without site.postalAddress' : 'site.postalAddress is not set';
    problems.push({
      check: 'postal-address',
      message: `${subject}: anti-spam laws (CAN-SPAM, and others) ask for the sender's postal address in every email footer`,
      summary: subject,
      fix: `set site.postalAddress to your postal address (a PO box will do)${renderedFooter ? rerender : ''}`,
      local: false,
    });
  }
  return problems;
}

/**
 * The problems that refuse a real send under this config: all of them, except local addresses
 * when `delivery.allowLocalAddresses` (or `allowLocal`, from `--allow-local`) allows them. A
 * missing postal address is never waived: it is one line of config, staging included.
 */
export function checkSendPreflight(config: Config, options: { allowLocal?: boolean; rendered?: RenderedSender } = {}): PreflightProblem[] {
  const allowLocal = options.allowLocal === true || config.delivery.allowLocalAddresses;
  return findSendProblems(config, options.rendered).filter((problem) => !(problem.local && allowLocal));
}

/** No SMTP server configured: messages are written to the outbox, which is never refused. */
export function isOutboxMode(config: Config): boolean {
  return config.smtp.host === undefined;
}

/**
 * Throws E_PREFLIGHT (exit 1) when a real send would go out with the problems above; the one
 * guard every sending path (send, a test copy, the daemon, workers) calls before sending.
 */
export function assertSendPreflight(config: Config, options: { allowLocal?: boolean; rendered?: RenderedSender } = {}): void {
  if (isOutboxMode(config)) return;
  const problems = checkSendPreflight(config, options);
  if (problems.length === 0) return;
  throw new LetterpressError('E_PREFLIGHT', formatPreflightRefusal(problems));
}

/** The refusal as the operator reads it: each reason with its fix, then the way out for staging. */
export function formatPreflightRefusal(problems: readonly PreflightProblem[]): string {
  const lines = [`refusing to send to real readers via SMTP (${problems.length} problem${problems.length === 1 ? '' : 's'}):`];
  for (const problem of problems) lines.push(`  - ${problem.message}`, `    fix: ${problem.fix}`);
  if (problems.some((problem) => problem.local)) {
    lines.push('  for a staging relay, allow local addresses: --allow-local, or delivery.allowLocalAddresses: true');
  }
  lines.push('  `letterpress doctor` checks everything; without SMTP settings mail goes to the outbox instead');
  return lines.join('\n');
}

/** The refusal on one line, for the daemon's log (one event per line). */
export function formatPreflightLine(problems: readonly PreflightProblem[]): string {
  const staging = problems.some((problem) => problem.local) ? '; for a staging relay: --allow-local' : '';
  return `not sending, mail stays queued: ${problems.map((problem) => problem.summary).join('; ')}${staging}; \`letterpress doctor\` explains`;
}
