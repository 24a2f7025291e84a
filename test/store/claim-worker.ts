// A separate process that claims and sends every row it can get, for the SQLite test that two
// processes on one file never claim the same row. Prints the ids it claimed as JSON.
// It says it is ready (a file `<db>.ready-<pid>`) and waits for `<db>.go`, so all workers
// start claiming together instead of one finishing before the next has booted.
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';

const [file, issueSlug] = process.argv.slice(2);
if (file === undefined || issueSlug === undefined) throw new Error('usage: claim-worker <file> <issue-slug>');

const store = await openSqliteStore({ file });
writeFileSync(`${file}.ready-${process.pid}`, '');
while (!existsSync(`${file}.go`)) await sleep(5);
const claimed: number[] = [];
const now = '2026-03-01T10:00:00.000Z';
for (;;) {
  const holder = `claim-worker:${process.pid}`;
  const batch = await store.claimDeliveries({ issueSlug, holder, limit: 20, now, leaseUntil: '2026-03-01T10:05:00.000Z' });
  if (batch.length === 0) break;
  for (const { delivery } of batch) claimed.push(delivery.id);
  await store.markDeliveries({ holder, now, marks: batch.map(({ delivery }) => ({ id: delivery.id, state: 'sent' as const, reply: `250 ${process.pid}`, at: now })) });
}
await store.close();
process.stdout.write(JSON.stringify(claimed));
