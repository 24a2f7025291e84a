import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openStore } from '../../src/store/open-store.ts';
import type { DeliveryCounts, DeliveryState, Store, Subscriber } from '../../src/store/types.ts';
import { createTempProject, runCli } from './temp-project.ts';

/** The issue every delivery test sends (archived after the first build, sent when named). */
export const SLUG = '2024-18';
/** A LETTERPRESS_SECRET, so tests can rebuild the key ring that signed the tokens. */
export const TEST_SECRET = 'letterpress-test-secret-0123456789abcdef';

export interface SubscriberRow {
  email: string;
  name?: string;
  status?: string;
}

/** One CSV field, quoted when it needs to be (RFC 4180). */
function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** A subscriber CSV with the `email,name,status` header. */
export function subscriberCsv(rows: readonly SubscriberRow[]): string {
  return ['email,name,status', ...rows.map((row) => [row.email, row.name ?? '', row.status ?? ''].map(csvField).join(','))]
    .join('\r\n')
    .concat('\r\n');
}

/** `count` active subscribers `prefix-0001@example.org`… */
export function activeRows(count: number, prefix = 'reader'): SubscriberRow[] {
  return Array.from({ length: count }, (_, i) => ({
    email: `${prefix}-${String(i + 1).padStart(4, '0')}@example.org`,
    name: `Reader ${i + 1}`,
    status: 'active',
  }));
}

/**
 * A temp project whose store knows the sample issues (archived by the first build) and the
 * given subscribers, with `delivery.allowLocalAddresses` on by default. Throws when the build
 * or the import does not succeed.
 */
export async function createSendProject(
  rows: readonly SubscriberRow[],
  env: Record<string, string> = {},
  options: { allowLocalAddresses?: boolean } = {},
): Promise<string> {
  // Delivery tests send to an SMTP sink on loopback: local addresses are allowed unless a test says otherwise.
  const root = await createTempProject({ allowLocalAddresses: options.allowLocalAddresses ?? true });
  const built = await runCli(['build'], root, env);
  if (built.code !== 0) throw new Error(`build failed: ${built.stderr}`);
  await importRows(root, rows, env);
  return root;
}

export async function importRows(root: string, rows: readonly SubscriberRow[], env: Record<string, string> = {}, file = 'subscribers.csv') {
  await writeFile(path.join(root, file), subscriberCsv(rows));
  const imported = await runCli(['subscribers', 'import', file], root, env);
  if (imported.code !== 0) throw new Error(`import failed (${imported.code}): ${imported.stdout}${imported.stderr}`);
  return imported;
}

export interface IssueStatus {
  slug: string;
  state: string;
  counts: DeliveryCounts;
  /** The session error that stopped the issue's last send, if it is still stalled. */
  stalled: { code: string; message: string; since: string; nextRetryAt?: string | null } | null;
}

/** `status --json` for one issue. */
export async function issueStatus(root: string, slug = SLUG, env: Record<string, string> = {}): Promise<IssueStatus> {
  const result = await runCli(['status', '--json'], root, env);
  if (result.code !== 0) throw new Error(`status failed: ${result.stderr}`);
  const rows = JSON.parse(result.stdout) as IssueStatus[];
  const row = rows.find((entry) => entry.slug === slug);
  if (!row) throw new Error(`status --json has no ${slug}: ${result.stdout}`);
  return row;
}

/** `subscribers list --json`. */
export async function listSubscribers(root: string, env: Record<string, string> = {}): Promise<Subscriber[]> {
  const result = await runCli(['subscribers', 'list', '--json'], root, env);
  if (result.code !== 0) throw new Error(`subscribers list failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Subscriber[];
}

/** Opens the project's store (the default data/letterpress.db) for a look the CLI does not give. */
export async function withStore<T>(root: string, use: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ url: 'data/letterpress.db', root });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/** Every delivery row of an issue with its subscriber's address. */
export async function deliveryRows(root: string, slug = SLUG): Promise<{ email: string; state: DeliveryState; reply: string | null; subscriberId: number }[]> {
  return withStore(root, async (store) => {
    const rows = [];
    let afterId = 0;
    for (;;) {
      const page = await store.listDeliveries(slug, { afterId, limit: 1000 });
      for (const delivery of page) {
        const subscriber = await store.getSubscriber(delivery.subscriberId);
        rows.push({ email: subscriber?.email ?? '?', state: delivery.state, reply: delivery.lastReply, subscriberId: delivery.subscriberId });
      }
      if (page.length < 1000) break;
      afterId = page[page.length - 1]!.id;
    }
    return rows;
  });
}

export const totalOf = (counts: DeliveryCounts) => Object.values(counts).reduce((sum, n) => sum + n, 0);
