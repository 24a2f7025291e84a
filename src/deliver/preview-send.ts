import { normalizeEmail } from '../store/email-address.ts';
import type { EmailRendition } from '../render/types.ts';
import type { IssueRecord, Store, Subscriber } from '../store/types.ts';
import { LetterpressError } from '../util/errors.ts';
import { assertSendPreflight } from '../publish/preflight.ts';
import { createComposer, selectIssuesToSend, type RunSendDependencies } from './run-send.ts';
import type { OutgoingMessage, SendOutcome } from './types.ts';

type PreviewDependencies = Pick<RunSendDependencies, 'loaded' | 'store' | 'clock' | 'keyring' | 'dkimPrivateKey'> & {
  /** Renders the email of an issue from the project tree (prepare-issue-email.ts). */
  renderEmail: (record: IssueRecord) => Promise<EmailRendition>;
};

export interface DryRunReport {
  slug: string;
  /** Messages that would be sent now. */
  messages: number;
  bytes: number;
  invalid: { subscriberId: number; email: string; reason: string }[];
}

/** Why a raw message would be refused by a strict server, or undefined when it is fine. */
export function findMimeProblem(message: OutgoingMessage): string | undefined {
  const text = message.raw.toString('latin1');
  if (/\r(?!\n)|(?<!\r)\n/.test(text)) return 'bare CR or LF (lines must end in CRLF)';
  let start = 0;
  for (;;) {
    const end = text.indexOf('\r\n', start);
    const line = end === -1 ? text.slice(start) : text.slice(start, end);
    if (line.length > 998) return `a line is ${line.length} octets long (the limit is 998)`;
    if (end === -1) break;
    start = end + 2;
  }
  const headerEnd = text.indexOf('\r\n\r\n');
  if (headerEnd === -1) return 'no blank line after the header';
  const headers = text.slice(0, headerEnd);
  for (const name of ['From', 'To', 'Subject', 'Date', 'Message-ID', 'List-Unsubscribe', 'List-Unsubscribe-Post']) {
    const count = headers.match(new RegExp(`^${name}:`, 'gim'))?.length ?? 0;
    if (count !== 1) return `the ${name} header appears ${count} times`;
  }
  return undefined;
}

/** The rows a send would handle now: its queued and deferred rows, or, unplanned, the active list. */
async function* recipientsOf(store: Store, record: IssueRecord): AsyncGenerator<Subscriber> {
  const planned = !(record.state === 'published' || record.state === 'archived');
  let afterId = 0;
  for (;;) {
    if (planned) {
      const rows = await store.listDeliveries(record.slug, { afterId, limit: 1000 });
      for (const row of rows) {
        if (row.state !== 'queued' && row.state !== 'deferred') continue;
        const subscriber = await store.getSubscriber(row.subscriberId);
        if (subscriber?.status === 'active') yield subscriber;
      }
      if (rows.length < 1000) return;
      afterId = rows[rows.length - 1]!.id;
    } else {
      const page = await store.listSubscribers({ status: 'active', afterId, limit: 1000 });
      yield* page;
      if (page.length < 1000) return;
      afterId = page[page.length - 1]!.id;
    }
  }
}

/**
 * `send --dry-run`: renders and checks every message a send would hand to the transport, and
 * changes nothing (no planning, no ledger rows, no lease).
 */
export async function dryRunSend(deps: PreviewDependencies, slug?: string): Promise<DryRunReport[]> {
  const reports: DryRunReport[] = [];
  for (const record of await selectIssuesToSend(deps.store, slug)) {
    const compose = createComposer(record, await deps.renderEmail(record), deps);
    const report: DryRunReport = { slug: record.slug, messages: 0, bytes: 0, invalid: [] };
    for await (const subscriber of recipientsOf(deps.store, record)) {
      try {
        const message = compose(subscriber);
        const problem = findMimeProblem(message);
        if (problem) throw new LetterpressError('E_MIME', problem);
        report.messages += 1;
        report.bytes += message.raw.length;
      } catch (error) {
        report.invalid.push({ subscriberId: subscriber.id, email: subscriber.email, reason: (error as Error).message });
      }
    }
    reports.push(report);
  }
  return reports;
}

/**
 * `send --to ADDRESS`: one test copy of an issue (the named one, else the newest) to any
 * address, through the configured transport, without touching the ledger. Its unsubscribe
 * link carries a placeholder that no server accepts: the address is not a subscriber.
 */
export async function sendTestCopy(
  deps: PreviewDependencies & { transport: RunSendDependencies['transport'] },
  to: string,
  slug?: string,
): Promise<{ slug: string; outcome: SendOutcome; message: OutgoingMessage }> {
  const address = normalizeEmail(to);
  if (!address.ok) throw new LetterpressError('E_EMAIL', `--to ${JSON.stringify(to)}: ${address.reason}`);
  // A test copy through a real relay is a real send: the same links and From a reader would get.
  assertSendPreflight(deps.loaded.config);
  let record: IssueRecord | undefined;
  if (slug !== undefined) [record] = await selectIssuesToSend(deps.store, slug);
  else record = (await deps.store.listIssues()).at(-1);
  if (!record) throw new LetterpressError('E_UNKNOWN_ISSUE', 'no issue is published yet; run `letterpress build` first');
  const compose = createComposer(record, await deps.renderEmail(record), deps);
  const message = compose({ id: 0, email: address.email, name: null, unsubscribeToken: 'test-copy' });
  const outcome = await deps.transport.send(message);
  return { slug: record.slug, outcome, message };
}
