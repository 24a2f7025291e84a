// A sender process for the ledger's multi-process contract cases (test/store/ledger-multiprocess.test.ts).
// It opens the store named on the command line and obeys one JSON command per stdin line,
// answering each with one JSON line on stdout, so a test can line several processes up, let
// them claim at the same moment, stall one, or SIGKILL one while its heartbeat runs. Times are
// the real clock: leases here run across processes.
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore } from '../../src/store/open-store.ts';
import type { IssueState } from '../../src/store/types.ts';

type Command =
  | { op: 'claimAll'; slug: string; holder: string; leaseMs: number; limit: number; markEvery?: number }
  | { op: 'claim'; slug: string; holder: string; leaseMs: number; limit: number }
  | { op: 'heartbeat'; holder: string; leaseMs: number }
  | { op: 'mark'; holder: string; ids: number[]; state: 'sent' | 'failed'; reply: string }
  | { op: 'transition'; slug: string; from: IssueState[]; to: IssueState };

const [url] = process.argv.slice(2);
if (url === undefined) throw new Error('usage: ledger-child <store-url>');
const store = await openStore({ url, root: process.cwd() });
const iso = (ms: number) => new Date(ms).toISOString();
const answer = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

async function run(command: Command): Promise<unknown> {
  switch (command.op) {
    case 'claimAll': {
      // Claims and marks until nothing is left, the way a sender does, and says what it got.
      const ids: number[] = [];
      for (;;) {
        const now = Date.now();
        const batch = await store.claimDeliveries({ issueSlug: command.slug, holder: command.holder, limit: command.limit, now: iso(now), leaseUntil: iso(now + command.leaseMs) });
        if (batch.length === 0) return { ids };
        ids.push(...batch.map((row) => row.delivery.id));
        const at = iso(Date.now());
        const result = await store.markDeliveries({
          holder: command.holder,
          now: at,
          marks: batch.map((row) => ({ id: row.delivery.id, state: 'sent' as const, reply: `250 ${command.holder}`, at })),
        });
        if (result.lost.length > 0) return { ids, lost: result.lost };
      }
    }
    case 'claim': {
      const now = Date.now();
      const until = iso(now + command.leaseMs);
      const batch = await store.claimDeliveries({ issueSlug: command.slug, holder: command.holder, limit: command.limit, now: iso(now), leaseUntil: until });
      return { ids: batch.map((row) => row.delivery.id), until };
    }
    case 'heartbeat': {
      // Renews every third of the lease until the process dies (the test kills it).
      void (async () => {
        for (;;) {
          await sleep(Math.max(20, Math.floor(command.leaseMs / 3)));
          const now = Date.now();
          await store.renewDeliveryLeases({ holder: command.holder, now: iso(now), leaseUntil: iso(now + command.leaseMs) });
        }
      })();
      return { beating: true };
    }
    case 'mark': {
      const at = iso(Date.now());
      return store.markDeliveries({ holder: command.holder, now: at, marks: command.ids.map((id) => ({ id, state: command.state, reply: command.reply, at })) });
    }
    case 'transition':
      return { moved: await store.transitionIssue(command.slug, command.from, command.to, new Date().toISOString()) };
  }
}

answer({ ready: process.pid });
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue;
  try {
    answer(await run(JSON.parse(line) as Command));
  } catch (error) {
    answer({ error: (error as Error).message });
  }
}
await store.close();
