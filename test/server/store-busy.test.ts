import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { signToken } from '../../src/deliver/tokens.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { holdWriteLock, type StoreLock } from '../helpers/store-locker.ts';
import { startServer, type ServerFixture } from './server-fixture.ts';

let fixture: ServerFixture | undefined;
let lock: StoreLock | undefined;
afterEach(async () => {
  await lock?.release();
  lock = undefined;
  await fixture?.close();
  fixture = undefined;
});

describe('a store locked by another process', () => {
  it('never stops the archive: unsubscribe and subscribe answer 503 with Retry-After, the retry unsubscribes once', async () => {
    const logs: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString());
        done();
      },
    });
    // The store's lock wait runs on a fake clock: a request waits for the lock until the test
    // moves that time past store.lockWaitMs, however slowly the other requests go meanwhile.
    const lockTime = createFakeClock(Date.now());
    fixture = await startServer({
      env: { LETTERPRESS_STORE_LOCKWAITMS: '3000' },
      logger: { level: 'info', stream },
      storeLockWait: { now: lockTime.now, sleep: (ms) => lockTime.sleep(ms) },
    });
    /** Resolves once a store call is pausing between lock retries. */
    const waitingForLock = async () => {
      const deadline = Date.now() + 30_000;
      while (lockTime.pendingSleeps().length === 0) {
        if (Date.now() > deadline) throw new Error('no store call waits for the lock');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    const store = await fixture.app.store();
    const { subscriber } = await store.upsertSubscriber({ email: 'leaving@example.org', status: 'active', source: 'add' });
    const token = signToken(await fixture.app.keyring(), { purpose: 'unsub', subscriberId: subscriber!.id });
    await fixture.server.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(fixture.server.server.address() as AddressInfo).port}`;
    const oneClick = () =>
      fetch(`${base}/unsubscribe?token=${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'List-Unsubscribe=One-Click',
      });
    const unsubscribedEvents = () => logs.filter((line) => line.includes('unsubscribe: unsubscribed')).length;

    lock = await holdWriteLock(path.join(fixture.root, 'data', 'letterpress.db'));
    const order: string[] = [];
    const unsubscribe = oneClick().then((response) => {
      order.push('unsubscribe');
      return response;
    });
    // While that request waits for the lock, the archive, the feeds and liveness still answer.
    for (const page of ['/', '/feed.json', '/feed.atom', '/healthz']) {
      const response = await fetch(`${base}${page}`);
      expect(response.status, page).toBe(200);
      await response.arrayBuffer();
      order.push(page);
    }
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ok: false, store: 'busy' });
    order.push('/readyz');
    const page = await fetch(`${base}/unsubscribe?token=${token}`);
    expect(page.status).toBe(200);
    order.push('unsubscribe page');

    // Still waiting for the lock; its time runs out now.
    await waitingForLock();
    expect(order).not.toContain('unsubscribe');
    await lockTime.advance(3000);
    const refused = await unsubscribe;
    expect(order).toEqual(['/', '/feed.json', '/feed.atom', '/healthz', '/readyz', 'unsubscribe page', 'unsubscribe']);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('cache-control')).toBe('no-store');
    await refused.text();
    expect((await store.getSubscriber(subscriber!.id))?.status).toBe('active');
    expect(unsubscribedEvents()).toBe(0);

    const subscribing = fetch(`${base}/subscribe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ email: 'joining@example.org' }),
    });
    await waitingForLock();
    await lockTime.advance(3000);
    const subscribe = await subscribing;
    expect(subscribe.status).toBe(503);
    expect(subscribe.headers.get('retry-after')).not.toBeNull();
    expect(await subscribe.json()).toEqual({ ok: false, error: 'busy' });
    expect(await store.findSubscriberByEmail('joining@example.org')).toBeUndefined();

    await lock.release();
    lock = undefined;

    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const retried = await oneClick();
    expect(retried.status).toBe(200);
    await retried.text();
    expect((await store.getSubscriber(subscriber!.id))?.status).toBe('unsubscribed');
    const again = await oneClick();
    expect(again.status).toBe(200);
    await again.text();
    expect(unsubscribedEvents()).toBe(1);
    expect(logs.join('')).toContain('the store is locked by another process: answered 503');
  });
});
