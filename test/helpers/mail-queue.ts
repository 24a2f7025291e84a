import { setTimeout as delay } from 'node:timers/promises';
import type { OutgoingMail, OutgoingMailStore } from '../../src/store/types.ts';

/**
 * Waits until the serving process's sender has dealt with every queued subscription email
 * (none left `queued` or `sending`): the routes answer before the email goes out.
 */
export async function waitForMailQueue(store: Pick<OutgoingMailStore, 'listOutgoingMail'>, timeoutMs = 10_000): Promise<OutgoingMail[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await store.listOutgoingMail();
    if (rows.every((row) => row.state !== 'queued' && row.state !== 'sending')) return rows;
    if (Date.now() > deadline) throw new Error(`the mail queue did not drain: ${JSON.stringify(rows.map((row) => row.state))}`);
    await delay(20);
  }
}
