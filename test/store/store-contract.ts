import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryMark, IssueRecord, Store, SubscriberStatus } from '../../src/store/types.ts';

/** A store under test and how to throw it away. */
export interface OpenedStore {
  store: Store;
  cleanup(): Promise<void>;
}

const T0 = Date.parse('2026-03-01T10:00:00.000Z');

/** An ISO instant `minutes` after the suite's fixed "now". */
function at(minutes: number): string {
  return new Date(T0 + minutes * 60_000).toISOString();
}

function issueRecord(slug: string, overrides: Partial<IssueRecord> = {}): IssueRecord {
  return {
    slug,
    title: `Issue ${slug}`,
    contentHash: `hash-${slug}`,
    sourceFile: `issues/${slug}.md`,
    state: 'published',
    firstSeenAt: at(0),
    publishedAt: at(0),
    updatedAt: at(0),
    feedId: `urn:letterpress:${slug}`,
    ...overrides,
  };
}

/**
 * The behaviour every `Store` implementation owes its callers (the CLI, the HTTP server and the
 * send loop). SQLite and PostgreSQL run the same suite.
 */
export function describeStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`store contract: ${name}`, () => {
    let opened: OpenedStore;
    let store: Store;

    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    });

    afterEach(async () => {
      await opened.cleanup();
    });

    async function addSubscriber(email: string, status: SubscriberStatus = 'active', name?: string) {
      const result = await store.upsertSubscriber({ email, name, status, source: 'add', at: at(0) });
      if (result.subscriber === undefined) throw new Error(`could not add ${email}: ${result.outcome} ${result.reason}`);
      return result.subscriber;
    }

    /**
     * Adds `count` subscribers cycling through `statuses`, in order (`readerN` gets the Nth id),
     * and returns the active ones' ids. `atOnce` > 1 adds that many at a time, as several
     * importers would (a store with a pool answers them in parallel; ids then follow no index).
     */
    async function addSubscribers(count: number, statuses: SubscriberStatus[] = ['active'], atOnce = 1): Promise<number[]> {
      const active: number[] = [];
      for (let start = 0; start < count; start += atOnce) {
        const wave = Array.from({ length: Math.min(atOnce, count - start) }, async (_, offset) => {
          const index = start + offset;
          const status = statuses[index % statuses.length] ?? 'active';
          const subscriber = await addSubscriber(`reader${index}@example.org`, status);
          if (status === 'active') active.push(subscriber.id);
        });
        await Promise.all(wave);
      }
      return active.sort((a, b) => a - b);
    }

    async function planIssue(slug: string, subscriberCount: number) {
      await store.saveIssue(issueRecord(slug));
      await addSubscribers(subscriberCount);
      expect(await store.planDeliveries(slug, at(0))).toBe(subscriberCount);
      return store.listDeliveries(slug, { limit: subscriberCount });
    }

    describe('subscribers', () => {
      it('adds a subscriber with its status timestamps', async () => {
        const active = await store.upsertSubscriber({ email: 'ann@example.org', name: 'Ann', status: 'active', source: 'import', at: at(0) });
        expect(active.outcome).toBe('added');
        expect(active.subscriber).toMatchObject({
          email: 'ann@example.org',
          name: 'Ann',
          status: 'active',
          source: 'import',
          createdAt: at(0),
          updatedAt: at(0),
          confirmedAt: at(0),
          unsubscribedAt: null,
        });
        const pending = await store.upsertSubscriber({ email: 'bob@example.org', status: 'pending', source: 'form', at: at(1) });
        expect(pending.subscriber).toMatchObject({ name: null, status: 'pending', confirmedAt: null, unsubscribedAt: null });
        expect(pending.subscriber?.id).not.toBe(active.subscriber?.id);
        expect(await store.getSubscriber(active.subscriber?.id ?? 0)).toEqual(active.subscriber);
        expect(await store.getSubscriber(999_999)).toBeUndefined();
        const many = await store.getSubscribers([pending.subscriber!.id, 999_999, active.subscriber!.id]);
        expect(many.map((subscriber) => subscriber.id).sort((a, b) => a - b)).toEqual([active.subscriber!.id, pending.subscriber!.id].sort((a, b) => a - b));
        expect(many.find((subscriber) => subscriber.id === active.subscriber!.id)).toEqual(active.subscriber);
        expect(await store.getSubscribers([])).toEqual([]);
      });

      it('treats addresses that differ only in case as one subscriber, keeping the first spelling', async () => {
        const first = await addSubscriber('Ann.Lee@Example.org', 'active', 'Ann');
        const again = await store.upsertSubscriber({ email: 'ann.lee@example.org', status: 'active', source: 'import', at: at(5) });
        expect(again.outcome).toBe('unchanged');
        expect(again.subscriber).toEqual(first);
        expect(await store.findSubscriberByEmail('ANN.LEE@EXAMPLE.ORG')).toEqual(first);
        expect(await store.findSubscriberByEmail('nobody@example.org')).toBeUndefined();
        expect(await store.countSubscribers()).toBe(1);
      });

      it('updates a changed name or status and keeps the name when none is given', async () => {
        const first = await addSubscriber('cat@example.org', 'pending', 'Cat');
        const renamed = await store.upsertSubscriber({ email: 'cat@example.org', name: 'Catherine', status: 'pending', source: 'import', at: at(1) });
        expect(renamed.outcome).toBe('updated');
        expect(renamed.subscriber).toMatchObject({ id: first.id, name: 'Catherine', updatedAt: at(1), createdAt: at(0), source: 'add' });

        const confirmed = await store.upsertSubscriber({ email: 'cat@example.org', name: null, status: 'active', source: 'import', at: at(2) });
        expect(confirmed.outcome).toBe('updated');
        expect(confirmed.subscriber).toMatchObject({ name: 'Catherine', status: 'active', confirmedAt: at(2), updatedAt: at(2) });

        const same = await store.upsertSubscriber({ email: 'cat@example.org', status: 'active', source: 'import', at: at(3) });
        expect(same.outcome).toBe('unchanged');
        expect(same.subscriber?.updatedAt).toBe(at(2));
      });

      it.each(['unsubscribed', 'bounced', 'complained'] as const)(
        'never reactivates a %s address without resubscribe',
        async (status) => {
          const original = await addSubscriber('dan@example.org', 'active', 'Dan');
          await store.setSubscriberStatus(original.id, status, at(60 * 24));
          const refused = await store.upsertSubscriber({ email: 'DAN@example.org', name: 'Daniel', status: 'active', source: 'import', at: at(60 * 48) });
          expect(refused.outcome).toBe('refused');
          expect(refused.reason).toMatch(new RegExp(`^${status} on 2026-03-02; use --resubscribe to add it again$`));
          expect(await store.getSubscriber(original.id)).toMatchObject({ status, name: 'Dan' });

          const back = await store.upsertSubscriber({ email: 'dan@example.org', status: 'active', source: 'import', resubscribe: true, at: at(60 * 48) });
          expect(back.outcome).toBe('updated');
          expect(back.subscriber).toMatchObject({ id: original.id, status: 'active', name: 'Dan', confirmedAt: at(60 * 48) });
        },
      );

      it('lets a sticky status be re-imported as itself, updating only the name', async () => {
        const original = await addSubscriber('eve@example.org', 'unsubscribed');
        expect(original.unsubscribedAt).toBe(at(0));
        const renamed = await store.upsertSubscriber({ email: 'eve@example.org', name: 'Eve', status: 'unsubscribed', source: 'import', at: at(1) });
        expect(renamed.outcome).toBe('updated');
        expect(renamed.subscriber).toMatchObject({ status: 'unsubscribed', name: 'Eve', unsubscribedAt: at(0) });
      });

      it('sets a status with its timestamps, and a repeated status changes nothing', async () => {
        const subscriber = await addSubscriber('fay@example.org', 'pending');
        await store.setSubscriberStatus(subscriber.id, 'active', at(1));
        expect(await store.getSubscriber(subscriber.id)).toMatchObject({ status: 'active', confirmedAt: at(1), updatedAt: at(1) });
        await store.setSubscriberStatus(subscriber.id, 'unsubscribed', at(2));
        expect(await store.getSubscriber(subscriber.id)).toMatchObject({
          status: 'unsubscribed',
          confirmedAt: at(1),
          unsubscribedAt: at(2),
          updatedAt: at(2),
        });
        await store.setSubscriberStatus(subscriber.id, 'unsubscribed', at(3));
        expect(await store.getSubscriber(subscriber.id)).toMatchObject({ unsubscribedAt: at(2), updatedAt: at(2) });
        await expect(store.setSubscriberStatus(999_999, 'active', at(4))).resolves.toBeUndefined();
      });

      it('erases a subscriber with their deliveries and refuses the address later unless resubscribed', async () => {
        await store.saveIssue(issueRecord('one'));
        const gus = await addSubscriber('Gus@example.org', 'active', 'Gus');
        const other = await addSubscriber('hal@example.org');
        await store.planDeliveries('one', at(0));

        expect(await store.eraseSubscriber('gus@EXAMPLE.org', at(60 * 24))).toBe(true);
        expect(await store.getSubscriber(gus.id)).toBeUndefined();
        expect(await store.findSubscriberByEmail('gus@example.org')).toBeUndefined();
        const rows = await store.listDeliveries('one', { limit: 10 });
        expect(rows.map((row) => row.subscriberId)).toEqual([other.id]);
        expect(await store.eraseSubscriber('gus@example.org')).toBe(false);

        const refused = await store.upsertSubscriber({ email: 'GUS@example.org', status: 'active', source: 'import', at: at(60 * 48) });
        expect(refused).toMatchObject({ outcome: 'refused' });
        expect(refused.subscriber).toBeUndefined();
        expect(refused.reason).toMatch(/^erased on 2026-03-02; use --resubscribe to add it again$/);
        expect(await store.countSubscribers()).toBe(1);

        const back = await store.upsertSubscriber({ email: 'gus@example.org', status: 'active', source: 'import', resubscribe: true, at: at(60 * 48) });
        expect(back.outcome).toBe('added');
        expect(back.subscriber?.name).toBeNull();
        // Ids are never reused: old tokens and Message-IDs must not point at the new row.
        expect(back.subscriber?.id).toBeGreaterThan(other.id);
        const again = await store.upsertSubscriber({ email: 'gus@example.org', status: 'active', source: 'import', at: at(60 * 49) });
        expect(again.outcome).toBe('unchanged');
      });

      it('decides a dry run by the same rules and writes nothing', async () => {
        const ann = await addSubscriber('ann@example.org', 'active', 'Ann');
        const bob = await addSubscriber('bob@example.org', 'unsubscribed');
        await addSubscriber('cat@example.org');
        await store.eraseSubscriber('cat@example.org', at(1));
        const before = await store.listSubscribers({ limit: 10 });
        const dry = (email: string, extra: { name?: string; resubscribe?: boolean } = {}) =>
          store.upsertSubscriber({ email, status: 'active', source: 'import', at: at(5), dryRun: true, ...extra });

        expect((await dry('new@example.org')).outcome).toBe('added');
        expect(await dry('ann@example.org', { name: 'Ann Lee' })).toMatchObject({
          outcome: 'updated',
          subscriber: { id: ann.id, name: 'Ann Lee' },
        });
        expect((await dry('ann@example.org')).outcome).toBe('unchanged');
        expect(await dry('bob@example.org')).toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/--resubscribe/) });
        expect(await dry('bob@example.org', { resubscribe: true })).toMatchObject({ outcome: 'updated', subscriber: { id: bob.id } });
        expect(await dry('cat@example.org')).toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/^erased on/) });
        expect((await dry('cat@example.org', { resubscribe: true })).outcome).toBe('added');

        expect(await store.listSubscribers({ limit: 10 })).toEqual(before);
        // The erased address is still suppressed: the dry run did not lift it.
        expect((await store.upsertSubscriber({ email: 'cat@example.org', status: 'active', source: 'import' })).outcome).toBe('refused');
      });

      it('lists subscribers in id order by pages, filtered by status, and counts them', async () => {
        await addSubscribers(7, ['active', 'pending', 'active', 'unsubscribed']);
        const all = await store.listSubscribers({ limit: 100 });
        expect(all.map((subscriber) => subscriber.email)).toEqual([0, 1, 2, 3, 4, 5, 6].map((n) => `reader${n}@example.org`));
        const ids = all.map((subscriber) => subscriber.id);
        expect([...ids].sort((a, b) => a - b)).toEqual(ids);

        const pages: number[][] = [];
        let afterId: number | undefined;
        for (;;) {
          const page = await store.listSubscribers({ limit: 3, afterId });
          if (page.length === 0) break;
          pages.push(page.map((subscriber) => subscriber.id));
          afterId = page.at(-1)?.id;
        }
        expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
        expect(pages.flat()).toEqual(ids);

        const active = await store.listSubscribers({ status: 'active', limit: 100 });
        expect(active.map((subscriber) => subscriber.email)).toEqual(['reader0@example.org', 'reader2@example.org', 'reader4@example.org', 'reader6@example.org']);
        const activeAfter = await store.listSubscribers({ status: 'active', afterId: active[1]?.id, limit: 1 });
        expect(activeAfter.map((subscriber) => subscriber.email)).toEqual(['reader4@example.org']);

        expect(await store.countSubscribers()).toBe(7);
        expect(await store.countSubscribers({ status: 'active' })).toBe(4);
        expect(await store.countSubscribers({ status: 'pending' })).toBe(2);
        expect(await store.countSubscribers({ status: 'bounced' })).toBe(0);
      });
    });

    describe('confirmation log', () => {
      const limits = (minutes: number) => ({ at: at(minutes), cooldownSince: at(minutes - 10), windowSince: at(minutes - 24 * 60), maxCount: 3 });

      it('starts empty, records sends case-insensitively and reports count and latest', async () => {
        expect(await store.confirmationHistory('ann@example.org', at(-1))).toEqual({ count: 0, lastSentAt: null });
        expect(await store.reserveConfirmationEmail({ email: 'ann@example.org', ...limits(0) })).toBe(true);
        expect(await store.reserveConfirmationEmail({ email: 'ANN@Example.org', ...limits(11) })).toBe(true);
        expect(await store.confirmationHistory('Ann@example.org', at(-1))).toEqual({ count: 2, lastSentAt: at(11) });
        // `since` bounds the count, never the latest.
        expect(await store.confirmationHistory('ann@example.org', at(5))).toEqual({ count: 1, lastSentAt: at(11) });
        expect(await store.confirmationHistory('bob@example.org', at(-1))).toEqual({ count: 0, lastSentAt: null });
      });

      it('refuses inside the cool-down and over the count, recording nothing', async () => {
        expect(await store.reserveConfirmationEmail({ email: 'ann@example.org', ...limits(0) })).toBe(true);
        expect(await store.reserveConfirmationEmail({ email: 'ann@example.org', ...limits(5) })).toBe(false);
        expect(await store.reserveConfirmationEmail({ email: 'ann@example.org', ...limits(20) })).toBe(true);
        expect(await store.reserveConfirmationEmail({ email: 'ann@example.org', ...limits(40) })).toBe(true);
        expect(await store.reserveConfirmationEmail({ email: 'ann@example.org', ...limits(60) })).toBe(false);
        expect((await store.confirmationHistory('ann@example.org', at(-1))).count).toBe(3);
        // A day after the first, one slot is free again.
        expect(await store.reserveConfirmationEmail({ email: 'ann@example.org', ...limits(24 * 60 + 1) })).toBe(true);
      });

      it('lets exactly one of many racing reservations through', async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, () => store.reserveConfirmationEmail({ email: 'race@example.org', ...limits(0) })),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('prunes rows older than a date', async () => {
        await store.reserveConfirmationEmail({ email: 'ann@example.org', ...limits(0) });
        await store.reserveConfirmationEmail({ email: 'bob@example.org', ...limits(100) });
        expect(await store.pruneConfirmationLog(at(50))).toBe(1);
        expect(await store.confirmationHistory('ann@example.org', at(-1))).toEqual({ count: 0, lastSentAt: null });
        expect((await store.confirmationHistory('bob@example.org', at(-1))).count).toBe(1);
      });
    });

    describe('issues', () => {
      it('saves, updates and freezes the slug, feed id, first-seen date and state', async () => {
        expect(await store.hasIssues()).toBe(false);
        // When the store was made: its first migration, an instant no later than now.
        const createdAt = await store.createdAt();
        expect(createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        expect(Date.parse(createdAt!)).toBeLessThanOrEqual(Date.now());
        expect(Date.now() - Date.parse(createdAt!)).toBeLessThan(10 * 60_000);
        expect(await store.getIssue('one')).toBeUndefined();
        const first = issueRecord('one', { state: 'draft', publishedAt: null });
        await store.saveIssue(first);
        expect(await store.hasIssues()).toBe(true);
        expect(await store.getIssue('one')).toEqual(first);

        await store.saveIssue(
          issueRecord('one', {
            title: 'Renamed',
            contentHash: 'hash-2',
            sourceFile: 'issues/renamed.md',
            state: 'published',
            firstSeenAt: at(30),
            publishedAt: at(20),
            updatedAt: at(30),
            feedId: 'urn:other',
          }),
        );
        expect(await store.getIssue('one')).toEqual({
          slug: 'one',
          title: 'Renamed',
          contentHash: 'hash-2',
          sourceFile: 'issues/renamed.md',
          // A save never moves the state: only a guarded transition does.
          state: 'draft',
          firstSeenAt: at(0),
          publishedAt: at(20),
          updatedAt: at(30),
          feedId: 'urn:letterpress:one',
        });
      });

      it('finds an issue by content hash, lists by first-seen date then slug, and sets states', async () => {
        await store.saveIssue(issueRecord('zeta', { firstSeenAt: at(0) }));
        await store.saveIssue(issueRecord('beta', { firstSeenAt: at(10) }));
        await store.saveIssue(issueRecord('alpha', { firstSeenAt: at(10) }));
        expect((await store.listIssues()).map((issue) => issue.slug)).toEqual(['zeta', 'alpha', 'beta']);
        expect((await store.findIssueByContentHash('hash-beta'))?.slug).toBe('beta');
        expect(await store.findIssueByContentHash('hash-none')).toBeUndefined();

        expect(await store.transitionIssue('beta', ['published'], 'planned', at(1))).toBe(true);
        expect((await store.getIssue('beta'))?.state).toBe('planned');
        expect(await store.transitionIssue('missing', ['published'], 'planned', at(1))).toBe(false);
      });

      it('records an issue once: the first recording wins and a second changes nothing', async () => {
        expect(await store.recordIssue(issueRecord('one', { state: 'archived' }))).toBe(true);
        expect(await store.recordIssue(issueRecord('one', { state: 'published', title: 'Other' }))).toBe(false);
        expect(await store.getIssue('one')).toMatchObject({ state: 'archived', title: 'Issue one' });
      });

      it('moves an issue only from the states a transition names (compare-and-set)', async () => {
        await store.saveIssue(issueRecord('one'));
        expect(await store.transitionIssue('one', ['published'], 'planned', at(1))).toBe(true);
        // A second process acting on the same stale read loses, and nothing moves backwards.
        expect(await store.transitionIssue('one', ['published'], 'planned', at(2))).toBe(false);
        expect(await store.transitionIssue('one', ['planned', 'sending'], 'sending', at(3))).toBe(true);
        expect(await store.transitionIssue('one', ['published', 'planned'], 'archived', at(4))).toBe(false);
        expect(await store.transitionIssue('one', ['planned', 'sending'], 'sent', at(5))).toBe(true);
        expect(await store.transitionIssue('one', ['planned', 'sending'], 'sending', at(6))).toBe(false);
        expect((await store.getIssue('one'))?.state).toBe('sent');
      });
    });

    describe('renditions', () => {
      const rendition = (slug: string, renderKey: string) => ({
        issueSlug: slug,
        renderKey,
        subject: `Subject ${renderKey}`,
        preheader: 'pre',
        html: `<p>${renderKey} %%unsubscribe_url%%</p>`,
        text: `${renderKey} %%unsubscribe_url%%`,
        publishAt: null,
        siteUrl: 'https://news.example.net',
        fromName: 'News',
        fromAddress: 'news@example.net',
        replyTo: null,
        envelopeFrom: 'bounces@example.net',
        listId: 'news.example.net',
        unsubscribeMailto: null,
      });

      it('stores a rendition, replaces it under a new key while planned, and never once sending', async () => {
        await store.saveIssue(issueRecord('one'));
        expect(await store.getRendition('one')).toBeUndefined();
        expect(await store.saveRendition(rendition('one', 'k1'), at(1))).toBe(true);
        expect(await store.getRendition('one')).toMatchObject({ renderKey: 'k1', subject: 'Subject k1', createdAt: at(1), updatedAt: at(1) });
        expect(await store.saveRendition(rendition('one', 'k1'), at(2))).toBe(false);
        await store.transitionIssue('one', ['published'], 'planned', at(2));
        expect(await store.saveRendition(rendition('one', 'k2'), at(3))).toBe(true);
        expect(await store.getRendition('one')).toMatchObject({ renderKey: 'k2', createdAt: at(1), updatedAt: at(3) });
        await store.transitionIssue('one', ['planned'], 'sending', at(4));
        expect(await store.saveRendition(rendition('one', 'k3'), at(5))).toBe(false);
        expect((await store.getRendition('one'))?.renderKey).toBe('k2');
      });

      it('gives an issue being sent without a rendition its first one (an upgraded store)', async () => {
        await store.saveIssue(issueRecord('one', { state: 'sending' }));
        expect(await store.saveRendition(rendition('one', 'k1'), at(1))).toBe(true);
        expect(await store.saveRendition(rendition('one', 'k2'), at(2))).toBe(false);
        expect((await store.getRendition('one'))?.renderKey).toBe('k1');
      });
    });

    describe('delivery planning', () => {
      it('plans one queued row per active subscriber, once', async () => {
        await store.saveIssue(issueRecord('one'));
        const activeIds = await addSubscribers(10, ['active', 'pending', 'unsubscribed', 'bounced', 'complained']);
        expect(await store.planDeliveries('one', at(1))).toBe(2);
        const rows = await store.listDeliveries('one', { limit: 100 });
        expect(rows.map((row) => row.subscriberId)).toEqual(activeIds);
        expect(rows[0]).toMatchObject({
          issueSlug: 'one',
          state: 'queued',
          attempts: 0,
          leaseUntil: null,
          nextAttemptAt: null,
          lastReply: null,
          createdAt: at(1),
          updatedAt: at(1),
        });

        expect(await store.planDeliveries('one', at(2))).toBe(0);
        const late = await addSubscriber('late@example.org');
        expect(await store.planDeliveries('one', at(3))).toBe(1);
        expect((await store.listDeliveries('one', { limit: 100 })).at(-1)?.subscriberId).toBe(late.id);
        expect(await store.countDeliveries('one')).toMatchObject({ queued: 3 });
        expect(await store.countDeliveries('other')).toMatchObject({ queued: 0 });
      });

      it('unplans an issue nothing was sent for, and refuses once a row was claimed or the issue is sending', async () => {
        await planIssue('one', 3);
        await store.transitionIssue('one', ['published'], 'planned', at(1));
        expect(await store.unplanIssue('one')).toEqual({ outcome: 'archived', removed: 3 });
        expect((await store.getIssue('one'))?.state).toBe('archived');
        expect(await store.countDeliveries('one')).toMatchObject({ queued: 0 });
        expect(await store.unplanIssue('one')).toEqual({ outcome: 'refused', state: 'archived' });

        await store.saveIssue(issueRecord('two', { contentHash: 'hash-two' }));
        await store.planDeliveries('two', at(1));
        await store.transitionIssue('two', ['published'], 'planned', at(1));
        await store.claimDeliveries({ issueSlug: 'two', holder: 'runner-a', limit: 1, now: at(1), leaseUntil: at(5) });
        expect(await store.unplanIssue('two')).toEqual({ outcome: 'refused', state: 'planned' });
        expect(await store.countDeliveries('two')).toMatchObject({ queued: 2, sending: 1 });
        await store.transitionIssue('two', ['planned'], 'sending', at(2));
        expect(await store.unplanIssue('two')).toEqual({ outcome: 'refused', state: 'sending' });
        expect(await store.unplanIssue('missing')).toEqual({ outcome: 'refused', state: undefined });
      });

      it('refuses to plan an issue the store does not know', async () => {
        await addSubscribers(1);
        await expect(store.planDeliveries('missing', at(0))).rejects.toMatchObject({ code: 'E_STORE' });
      });

      it('plans many subscribers in chunks, yielding to the event loop between them', async () => {
        await store.saveIssue(issueRecord('big'));
        const activeIds = await addSubscribers(12_300, [...Array<SubscriberStatus>(40).fill('active'), 'unsubscribed'], 16);
        expect(activeIds.length).toBe(12_000);

        let yielded = false;
        setImmediate(() => {
          yielded = true;
        });
        expect(await store.planDeliveries('big', at(0))).toBe(12_000);
        expect(yielded).toBe(true);

        const seen: number[] = [];
        let afterId: number | undefined;
        for (;;) {
          const page = await store.listDeliveries('big', { limit: 5_000, afterId });
          if (page.length === 0) break;
          seen.push(...page.map((row) => row.subscriberId));
          afterId = page.at(-1)?.id;
        }
        expect(seen).toEqual(activeIds);
        expect(await store.planDeliveries('big', at(1))).toBe(0);
      });
    });

    /** The holders the ledger cases claim for: two senders. */
    const A = 'host-a:101:aaaa';
    const B = 'host-b:202:bbbb';
    type Outcome = Omit<DeliveryMark, 'id'>;
    /** One mark by `holder`, checked against its lease at the outcome's own time unless `now` says otherwise. */
    const mark = (id: number, outcome: Outcome, holder = A, now = outcome.at) =>
      store.markDeliveries({ holder, now, marks: [{ id, ...outcome }] });

    describe('claiming', () => {
      const lease = (now: number, holder = A) => ({ issueSlug: 'one', holder, now: at(now), leaseUntil: at(now + 5) });

      it('claims queued rows in id order with their subscribers, marking them sending under the holder', async () => {
        const planned = await planIssue('one', 3);
        const claimed = await store.claimDeliveries({ ...lease(0), limit: 2 });
        expect(claimed.map((entry) => entry.delivery.id)).toEqual(planned.slice(0, 2).map((row) => row.id));
        expect(claimed[0]?.delivery).toMatchObject({ state: 'sending', holder: A, attempts: 1, leaseUntil: at(5), updatedAt: at(0) });
        for (const entry of claimed) {
          expect(entry.subscriber).toEqual(await store.getSubscriber(entry.delivery.subscriberId));
        }
        const rest = await store.claimDeliveries({ ...lease(0, B), limit: 10 });
        expect(rest.map((entry) => [entry.delivery.id, entry.delivery.holder])).toEqual([[planned[2]?.id, B]]);
        expect(await store.claimDeliveries({ ...lease(0), limit: 10 })).toEqual([]);
        expect(await store.countDeliveries('one')).toMatchObject({ queued: 0, sending: 3 });
        expect(await store.countInFlight('one', at(1))).toEqual({ count: 3, until: at(5) });
      });

      it('claims due deferred rows, never rows sending under any lease until they are requeued as orphans', async () => {
        const planned = await planIssue('one', 6);
        const [d1, d2, d3, d4, d5, d6] = planned.map((row) => row.id) as [number, number, number, number, number, number];
        await store.claimDeliveries({ ...lease(0), limit: 10 });
        const result = await store.markDeliveries({
          holder: A,
          now: at(0),
          marks: [
            { id: d1, state: 'deferred', reply: '451 4.7.1 try later', nextAttemptAt: at(10), at: at(0) },
            { id: d2, state: 'deferred', reply: '421 busy', nextAttemptAt: at(2), at: at(0) },
            { id: d3, state: 'sent', reply: '250 ok', at: at(0) },
            { id: d5, state: 'failed', reply: '550 5.1.1 no such user', at: at(0) },
          ],
        });
        expect(result).toEqual({ marked: 4, lost: [] });
        // d4 and d6 stay `sending` with their lease until minute 5.

        const atTwo = await store.claimDeliveries({ ...lease(2, B), limit: 10 });
        expect(atTwo.map((entry) => entry.delivery.id)).toEqual([d2]);
        expect(atTwo[0]?.delivery).toMatchObject({ attempts: 2, state: 'sending', holder: B, leaseUntil: at(7) });

        // A live lease is nobody's to requeue; one that ends exactly now has lapsed.
        expect(await store.requeueOrphans('one', at(4))).toBe(0);
        expect(await store.claimDeliveries({ ...lease(5, B), limit: 10 })).toEqual([]);
        expect(await store.requeueOrphans('one', at(5))).toBe(2);
        const requeued = await store.listDeliveries('one', { state: 'queued', limit: 10 });
        expect(requeued.map((row) => [row.id, row.holder, row.leaseUntil])).toEqual([
          [d4, null, null],
          [d6, null, null],
        ]);
        const atSix = await store.claimDeliveries({ ...lease(6, B), limit: 10 });
        expect(atSix.map((entry) => entry.delivery.id)).toEqual([d4, d6]);
        expect(atSix[0]?.delivery.attempts).toBe(2);

        const atEleven = await store.claimDeliveries({ ...lease(11, B), limit: 10 });
        expect(atEleven.map((entry) => entry.delivery.id)).toEqual([d1]);
        const counts = await store.countDeliveries('one');
        expect(counts).toEqual({ queued: 0, sending: 4, sent: 1, deferred: 0, failed: 1, bounced: 0, skipped: 0 });
      });

      it('claims a deferred row at exactly its due time and honours the limit across kinds', async () => {
        const planned = await planIssue('one', 3);
        const ids = planned.map((row) => row.id);
        await store.claimDeliveries({ ...lease(0), limit: 1 });
        await mark(ids[0] ?? 0, { state: 'deferred', nextAttemptAt: at(1), at: at(0) });
        const claimed = await store.claimDeliveries({ ...lease(1), limit: 2 });
        expect(claimed.map((entry) => entry.delivery.id)).toEqual([ids[0], ids[1]]);
      });

      it('only claims rows of the issue asked for', async () => {
        await planIssue('one', 2);
        await store.saveIssue(issueRecord('two'));
        expect(await store.planDeliveries('two', at(0))).toBe(2);
        const claimed = await store.claimDeliveries({ ...lease(0), issueSlug: 'two', limit: 10 });
        expect(claimed.map((entry) => entry.delivery.issueSlug)).toEqual(['two', 'two']);
        expect(await store.countDeliveries('one')).toMatchObject({ queued: 2, sending: 0 });
      });

      it('never hands one row to two concurrent claimers', async () => {
        await planIssue('one', 500);
        const claimers = Array.from({ length: 5 }, async (_, index) => {
          const mine: number[] = [];
          for (;;) {
            const batch = await store.claimDeliveries({ ...lease(0, `claimer-${index}`), limit: 7 });
            if (batch.length === 0) return mine;
            mine.push(...batch.map((entry) => entry.delivery.id));
          }
        });
        const results = await Promise.all(claimers);
        const all = results.flat();
        expect(all.length).toBe(500);
        expect(new Set(all).size).toBe(500);
      });

      it('refuses a claim without a holder', async () => {
        await planIssue('one', 1);
        await expect(store.claimDeliveries({ ...lease(0, ''), limit: 1 })).rejects.toMatchObject({ code: 'E_STORE' });
        expect(await store.countDeliveries('one')).toMatchObject({ queued: 1 });
      });
    });

    describe('marking and releasing', () => {
      it('marks outcomes: clears holder and lease, keeps the due date only for deferred rows, keeps the last reply', async () => {
        const planned = await planIssue('one', 2);
        const [first, second] = planned.map((row) => row.id) as [number, number];
        await store.claimDeliveries({ issueSlug: 'one', holder: A, now: at(0), leaseUntil: at(5), limit: 10 });

        expect(await mark(first, { state: 'deferred', reply: '451 greylisted', nextAttemptAt: at(15), at: at(1) })).toEqual({ marked: 1, lost: [] });
        let [row] = await store.listDeliveries('one', { limit: 1 });
        expect(row).toMatchObject({ state: 'deferred', lastReply: '451 greylisted', nextAttemptAt: at(15), holder: null, leaseUntil: null, updatedAt: at(1) });

        await store.claimDeliveries({ issueSlug: 'one', holder: A, now: at(15), leaseUntil: at(20), limit: 1 });
        await mark(first, { state: 'failed', at: at(16) });
        [row] = await store.listDeliveries('one', { limit: 1 });
        expect(row).toMatchObject({ state: 'failed', lastReply: '451 greylisted', nextAttemptAt: null, leaseUntil: null, attempts: 2, updatedAt: at(16) });

        await mark(second, { state: 'deferred', at: at(3) });
        expect(await store.nextDeferredAt('one')).toBe(at(3));
        // A row that is gone (its subscriber erased mid-send) is reported, not an error.
        expect(await mark(987_654, { state: 'sent', at: at(4) })).toEqual({ marked: 0, lost: [987_654] });
        expect(await store.markDeliveries({ holder: A, now: at(4), marks: [] })).toEqual({ marked: 0, lost: [] });
      });

      it('reports the earliest retry among deferred rows', async () => {
        const planned = await planIssue('one', 3);
        expect(await store.nextDeferredAt('one')).toBeUndefined();
        await store.claimDeliveries({ issueSlug: 'one', holder: A, now: at(0), leaseUntil: at(5), limit: 10 });
        const [a, b, c] = planned.map((row) => row.id) as [number, number, number];
        await mark(a, { state: 'deferred', nextAttemptAt: at(30), at: at(0) });
        await mark(b, { state: 'deferred', nextAttemptAt: at(12), at: at(0) });
        await mark(c, { state: 'sent', at: at(0) });
        expect(await store.nextDeferredAt('one')).toBe(at(12));
        expect(await store.nextDeferredAt('two')).toBeUndefined();
      });

      it('marks only for the holder whose lease is live, and says which rows it did not mark', async () => {
        const planned = await planIssue('one', 3);
        const [a, b, c] = planned.map((row) => row.id) as [number, number, number];
        await store.claimDeliveries({ issueSlug: 'one', holder: A, now: at(0), leaseUntil: at(5), limit: 3 });
        // Another holder cannot mark A's rows; A's lease ends at minute 5 (exactly then it has lapsed).
        expect(await mark(a, { state: 'sent', at: at(1) }, B)).toEqual({ marked: 0, lost: [a] });
        expect(await mark(a, { state: 'sent', at: at(5) }, A)).toEqual({ marked: 0, lost: [a] });
        const result = await store.markDeliveries({
          holder: A,
          now: at(4),
          marks: [
            { id: b, state: 'sent', reply: '250 b', at: at(4) },
            { id: c, state: 'bounced', reply: '550 5.1.1 c', at: at(4) },
          ],
        });
        expect(result).toEqual({ marked: 2, lost: [] });
        const rows = await store.listDeliveries('one', { limit: 10 });
        expect(rows.map((row) => row.state)).toEqual(['sending', 'sent', 'bounced']);
      });

      it('renews the live leases of one holder in one call, never a lapsed one or another holder\'s', async () => {
        const planned = await planIssue('one', 4);
        const [a, b, c, d] = planned.map((row) => row.id) as [number, number, number, number];
        await store.claimDeliveries({ issueSlug: 'one', holder: A, now: at(0), leaseUntil: at(5), limit: 2 });
        await store.claimDeliveries({ issueSlug: 'one', holder: B, now: at(0), leaseUntil: at(3), limit: 2 });
        expect(await store.renewDeliveryLeases({ holder: A, now: at(4), leaseUntil: at(9) })).toBe(2);
        // B's leases lapsed at minute 3: renewing them now would take back rows any sender may requeue.
        expect(await store.renewDeliveryLeases({ holder: B, now: at(4), leaseUntil: at(9) })).toBe(0);
        const rows = await store.listDeliveries('one', { limit: 10 });
        expect(rows.map((row) => [row.id, row.holder, row.leaseUntil])).toEqual([
          [a, A, at(9)],
          [b, A, at(9)],
          [c, B, at(3)],
          [d, B, at(3)],
        ]);
        // Renewed past minute 5, A's rows are no orphans at minute 6; B's are.
        expect(await store.requeueOrphans('one', at(6))).toBe(2);
        expect(await mark(a, { state: 'sent', at: at(6) })).toEqual({ marked: 1, lost: [] });
      });

      it('releases only the rows its holder still has under a live lease', async () => {
        const planned = await planIssue('one', 4);
        const [a, b, c, d] = planned.map((row) => row.id) as [number, number, number, number];
        await store.claimDeliveries({ issueSlug: 'one', holder: A, now: at(0), leaseUntil: at(5), limit: 3 });
        await store.claimDeliveries({ issueSlug: 'one', holder: B, now: at(0), leaseUntil: at(5), limit: 1 });
        await mark(a, { state: 'sent', reply: '250 ok', at: at(1) });
        expect(await store.releaseDeliveries({ issueSlug: 'one', holder: A, now: at(2) })).toBe(2);
        const rows = await store.listDeliveries('one', { limit: 10 });
        expect(rows.map((row) => [row.id, row.state, row.holder])).toEqual([
          [a, 'sent', null],
          [b, 'queued', null],
          [c, 'queued', null],
          [d, 'sending', B],
        ]);
        expect(rows[1]).toMatchObject({ leaseUntil: null, updatedAt: at(2) });
        // B's lease lapsed: its release changes nothing, the row is an orphan for anyone.
        expect(await store.releaseDeliveries({ issueSlug: 'one', holder: B, now: at(6) })).toBe(0);
        expect(await store.requeueOrphans('one', at(6))).toBe(1);
        expect(await store.requeueOrphans('one', at(7))).toBe(0);
      });

      it('never lets a holder whose lease lapsed mark a row another holder took', async () => {
        const planned = await planIssue('one', 1);
        const [only] = planned.map((row) => row.id) as [number];
        await store.claimDeliveries({ issueSlug: 'one', holder: A, now: at(0), leaseUntil: at(2), limit: 1 });
        // A stalls; at minute 3 B finds the orphan, requeues and claims it.
        expect(await store.requeueOrphans('one', at(3))).toBe(1);
        const taken = await store.claimDeliveries({ issueSlug: 'one', holder: B, now: at(3), leaseUntil: at(8), limit: 1 });
        expect(taken.map((entry) => entry.delivery.id)).toEqual([only]);
        // A wakes up: its heartbeat, mark and release all find nothing of theirs.
        expect(await store.renewDeliveryLeases({ holder: A, now: at(4), leaseUntil: at(9) })).toBe(0);
        expect(await mark(only, { state: 'failed', reply: '550 from A', at: at(4) }, A)).toEqual({ marked: 0, lost: [only] });
        expect(await store.releaseDeliveries({ issueSlug: 'one', holder: A, now: at(4) })).toBe(0);
        expect((await store.listDeliveries('one', { limit: 1 }))[0]).toMatchObject({ state: 'sending', holder: B, leaseUntil: at(8) });
        expect(await mark(only, { state: 'sent', reply: '250 from B', at: at(5) }, B)).toEqual({ marked: 1, lost: [] });
        expect((await store.listDeliveries('one', { limit: 1 }))[0]).toMatchObject({ state: 'sent', lastReply: '250 from B', attempts: 2 });
      });

      it('counts every state, zeros included, and lists rows by state in pages', async () => {
        const planned = await planIssue('one', 5);
        expect(await store.countDeliveries('one')).toEqual({ queued: 5, sending: 0, sent: 0, deferred: 0, failed: 0, bounced: 0, skipped: 0 });
        await store.claimDeliveries({ issueSlug: 'one', holder: A, now: at(0), leaseUntil: at(5), limit: 4 });
        const outcomes = ['sent', 'bounced', 'skipped'] as const;
        for (const [index, state] of outcomes.entries()) {
          await mark(planned[index]?.id ?? 0, { state, at: at(1) });
        }
        expect(await store.countDeliveries('one')).toEqual({ queued: 1, sending: 1, sent: 1, deferred: 0, failed: 0, bounced: 1, skipped: 1 });

        const firstPage = await store.listDeliveries('one', { limit: 2 });
        const secondPage = await store.listDeliveries('one', { limit: 2, afterId: firstPage.at(-1)?.id });
        expect([...firstPage, ...secondPage].map((row) => row.id)).toEqual(planned.slice(0, 4).map((row) => row.id));
        expect((await store.listDeliveries('one', { state: 'bounced', limit: 10 })).map((row) => row.id)).toEqual([planned[1]?.id]);
        expect(await store.listDeliveries('one', { state: 'queued', afterId: planned[4]?.id, limit: 10 })).toEqual([]);
      });
    });

    describe('leases', () => {
      it('grants a free lease, refuses a live one held by another, renews for its holder', async () => {
        expect(await store.getLease('send')).toBeUndefined();
        expect(await store.acquireLease('send', 'runner-a', at(5), at(0))).toBe(true);
        expect(await store.getLease('send')).toEqual({ holder: 'runner-a', until: at(5) });
        expect(await store.acquireLease('send', 'runner-b', at(6), at(1))).toBe(false);
        expect(await store.acquireLease('send', 'runner-a', at(10), at(4))).toBe(true);
        expect(await store.getLease('send')).toEqual({ holder: 'runner-a', until: at(10) });
        // Until the instant it ends the lease holds; after that anybody may take it over.
        expect(await store.acquireLease('send', 'runner-b', at(15), at(10))).toBe(false);
        expect(await store.acquireLease('send', 'runner-b', at(15), at(11))).toBe(true);
        expect(await store.getLease('send')).toEqual({ holder: 'runner-b', until: at(15) });
        expect(await store.acquireLease('scheduler', 'runner-a', at(15), at(11))).toBe(true);
      });

      it('releases only for the holder', async () => {
        await store.acquireLease('send', 'runner-a', at(5), at(0));
        await store.releaseLease('send', 'runner-b');
        expect(await store.getLease('send')).toEqual({ holder: 'runner-a', until: at(5) });
        expect(await store.acquireLease('send', 'runner-b', at(5), at(1))).toBe(false);
        await store.releaseLease('send', 'runner-a');
        expect(await store.getLease('send')).toBeUndefined();
        expect(await store.acquireLease('send', 'runner-b', at(5), at(1))).toBe(true);
      });
    });

    describe('stalled sends', () => {
      it('keeps the first since across repeats, and forgets the stall when cleared', async () => {
        await store.saveIssue(issueRecord('2024-18'));
        expect(await store.getSendStall('2024-18')).toBeUndefined();
        await store.recordSendStall({ issueSlug: '2024-18', code: 'E_SMTP_CONNECT', message: 'cannot connect', at: at(1), nextRetryAt: at(2) });
        await store.recordSendStall({ issueSlug: '2024-18', code: 'E_SMTP_AUTH', message: 'login refused', at: at(2) });
        expect(await store.getSendStall('2024-18')).toEqual({
          issueSlug: '2024-18',
          code: 'E_SMTP_AUTH',
          message: 'login refused',
          since: at(1),
          lastAt: at(2),
          nextRetryAt: null,
        });
        await store.clearSendStall('2024-18');
        expect(await store.getSendStall('2024-18')).toBeUndefined();
        await store.recordSendStall({ issueSlug: '2024-18', code: 'E_SMTP_CONNECT', message: 'cannot connect', at: at(5) });
        expect((await store.getSendStall('2024-18'))?.since).toBe(at(5));
      });
    });

    describe('secrets', () => {
      it('keeps keys in creation order and refuses a duplicate kid', async () => {
        expect(await store.listSecrets()).toEqual([]);
        await store.addSecret('k2', 'second', at(5));
        await store.addSecret('k1', 'first', at(1));
        expect(await store.listSecrets()).toEqual([
          { kid: 'k1', secret: 'first', createdAt: at(1) },
          { kid: 'k2', secret: 'second', createdAt: at(5) },
        ]);
        await expect(store.addSecret('k1', 'other', at(9))).rejects.toMatchObject({ code: 'E_STORE' });
        expect((await store.listSecrets()).find((entry) => entry.kid === 'k1')?.secret).toBe('first');
      });
    });

    describe('workers (senders with a heartbeat)', () => {
      const worker = (holder: string, overrides: Partial<Parameters<Store['beatWorker']>[0]> = {}) => ({
        holder,
        host: 'mail-1',
        pid: 4242,
        role: 'worker' as const,
        startedAt: at(0),
        inFlight: 0,
        sentTotal: 0,
        rate: 0,
        ...overrides,
      });

      it('registers a sender, records its heartbeats, and lists only the live ones', async () => {
        await store.beatWorker(worker('mail-1:4242:a'), at(0));
        await store.beatWorker(worker('mail-2:7:b', { host: 'mail-2', pid: 7, role: 'all', startedAt: at(1) }), at(1));
        await store.beatWorker(worker('mail-1:4242:a', { inFlight: 3, sentTotal: 120, rate: 19.5 }), at(2));
        expect(await store.listWorkers(at(0))).toEqual([
          { holder: 'mail-1:4242:a', host: 'mail-1', pid: 4242, role: 'worker', startedAt: at(0), heartbeatAt: at(2), inFlight: 3, sentTotal: 120, rate: 19.5 },
          { holder: 'mail-2:7:b', host: 'mail-2', pid: 7, role: 'all', startedAt: at(1), heartbeatAt: at(1), inFlight: 0, sentTotal: 0, rate: 0 },
        ]);
        // A heartbeat older than `since` is a sender that died: not listed.
        expect((await store.listWorkers(at(2))).map((entry) => entry.holder)).toEqual(['mail-1:4242:a']);
      });

      it('prunes senders whose heartbeat stopped, and removes one that says it stopped', async () => {
        await store.beatWorker(worker('old:1:a'), at(0));
        await store.beatWorker(worker('new:2:b'), at(10));
        await store.beatWorker(worker('gone:3:c'), at(10));
        expect(await store.pruneWorkers(at(5))).toBe(1);
        await store.removeWorker('gone:3:c');
        await store.removeWorker('nobody:4:d');
        expect((await store.listWorkers(at(-100))).map((entry) => entry.holder)).toEqual(['new:2:b']);
      });
    });

    describe('rate slots', () => {
      it('hands out consecutive slots, never two reservations at once, starting no earlier than now', async () => {
        const nowMs = Date.parse(at(0));
        expect(await store.reserveRateSlots({ name: 'relay', count: 5, intervalMs: 50, now: at(0) })).toBe(nowMs);
        expect(await store.reserveRateSlots({ name: 'relay', count: 3, intervalMs: 50, now: at(0) })).toBe(nowMs + 250);
        // Another limit has its own slots.
        expect(await store.reserveRateSlots({ name: 'other', count: 1, intervalMs: 10, now: at(0) })).toBe(nowMs);
        // After an idle spell the slots start at now: nothing saved up for a burst.
        expect(await store.reserveRateSlots({ name: 'relay', count: 2, intervalMs: 50, now: at(1) })).toBe(nowMs + 60_000);
        expect(await store.reserveRateSlots({ name: 'relay', count: 1, intervalMs: 33.5, now: at(1) })).toBe(nowMs + 60_100);
        await expect(store.reserveRateSlots({ name: 'relay', count: 0, intervalMs: 50, now: at(1) })).rejects.toMatchObject({ code: 'E_STORE' });
      });
    });

    describe('send-window holds', () => {
      it('holds issues once each and lifts them all at once', async () => {
        await store.saveIssue(issueRecord('one'));
        await store.saveIssue(issueRecord('two'));
        expect(await store.listSendHolds()).toEqual([]);
        await store.holdForSendWindow('two', at(0));
        await store.holdForSendWindow('one', at(1));
        await store.holdForSendWindow('one', at(2));
        expect(await store.listSendHolds()).toEqual(['one', 'two']);
        expect((await store.releaseSendHolds()).sort()).toEqual(['one', 'two']);
        expect(await store.listSendHolds()).toEqual([]);
        expect(await store.releaseSendHolds()).toEqual([]);
      });
    });
  });
}

/** A store several processes can open by its URL (an absolute SQLite path, or a postgres:// URL). */
export interface SharedStore extends OpenedStore {
  url: string;
}

/** One sender process (test/helpers/ledger-child.ts) and its line protocol. */
interface SenderProcess {
  child: ChildProcess;
  /** Sends one command and resolves with its answer. */
  ask<T = Record<string, unknown>>(command: Record<string, unknown>): Promise<T>;
  /** Resolves once the process answered that it is ready. */
  ready: Promise<void>;
  exited: Promise<void>;
}

const LEDGER_CHILD = fileURLToPath(new URL('../helpers/ledger-child.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

function startSender(shared: SharedStore): SenderProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', LEDGER_CHILD, shared.url], {
    cwd: REPO,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => waiting.shift()?.(line));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const next = () =>
    new Promise<string>((resolve, reject) => {
      waiting.push(resolve);
      exited.then(() => reject(new Error(`sender ${child.pid} exited: ${stderr}`)), () => undefined);
    });
  const ready = next().then(() => undefined);
  return {
    child,
    ready,
    exited,
    async ask<T>(command: Record<string, unknown>) {
      const answer = next();
      child.stdin!.write(`${JSON.stringify(command)}\n`);
      const parsed = JSON.parse(await answer) as T & { error?: string };
      if (parsed.error) throw new Error(`sender ${child.pid}: ${parsed.error}`);
      return parsed;
    },
  };
}

/**
 * What only several processes can break (DESIGN.md §4, "Many senders, one ledger"): every
 * driver runs these with real child processes on one store. Claims from several processes
 * never overlap; a killed holder's rows come back once its lease lapsed, and not before; a
 * holder whose lease lapsed cannot mark a row another holder took.
 */
export function describeLedgerAcrossProcesses(name: string, open: () => Promise<SharedStore>): void {
  describe(`ledger across processes: ${name}`, () => {
    let shared: SharedStore;
    const senders: SenderProcess[] = [];

    beforeEach(async () => {
      shared = await open();
    });

    afterEach(async () => {
      for (const sender of senders.splice(0)) {
        if (sender.child.exitCode === null && sender.child.signalCode === null) sender.child.kill('SIGKILL');
        await sender.exited;
      }
      await shared.cleanup();
    });

    async function plan(slug: string, count: number): Promise<number[]> {
      const { store } = shared;
      await store.saveIssue(issueRecord(slug));
      for (let index = 0; index < count; index += 1) {
        await store.upsertSubscriber({ email: `reader${index}@example.org`, status: 'active', source: 'import', at: at(0) });
      }
      expect(await store.planDeliveries(slug, new Date().toISOString())).toBe(count);
      return (await store.listDeliveries(slug, { limit: count })).map((row) => row.id);
    }

    async function startSenders(count: number): Promise<SenderProcess[]> {
      const started = Array.from({ length: count }, () => startSender(shared));
      senders.push(...started);
      await Promise.all(started.map((sender) => sender.ready));
      return started;
    }

    it.each([2, 3])('%i processes claiming from one issue at once never get the same row', async (count) => {
      const ids = await plan('one', 1500);
      const processes = await startSenders(count);
      // Every process is up before any claims: they all start on the same command, at once.
      const results = await Promise.all(
        processes.map((sender, index) =>
          sender.ask<{ ids: number[]; lost?: number[] }>({ op: 'claimAll', slug: 'one', holder: `sender-${index}:${sender.child.pid}`, leaseMs: 30_000, limit: 7 }),
        ),
      );
      for (const result of results) expect(result.lost).toBeUndefined();
      const all = results.flatMap((result) => result.ids);
      expect(all.length).toBe(ids.length);
      expect(new Set(all)).toEqual(new Set(ids));
      // The claims really interleaved: more than one process got rows.
      expect(results.filter((result) => result.ids.length > 0).length).toBeGreaterThanOrEqual(2);
      expect(await shared.store.countDeliveries('one')).toMatchObject({ sent: ids.length, queued: 0, sending: 0 });
    }, 60_000);

    it("brings a killed holder's rows back once its lease lapsed, and not before", async () => {
      await plan('one', 60);
      const [victim] = await startSenders(1);
      const leaseMs = 3000;
      const holder = `victim:${victim!.child.pid}:x`;
      const claimed = await victim!.ask<{ ids: number[]; until: string }>({ op: 'claim', slug: 'one', holder, leaseMs, limit: 40 });
      expect(claimed.ids).toHaveLength(40);
      await victim!.ask({ op: 'heartbeat', holder, leaseMs });
      // Alive and beating, it keeps its rows past the end of its first lease.
      await new Promise((resolve) => setTimeout(resolve, leaseMs + 300));
      expect(Date.now()).toBeGreaterThan(Date.parse(claimed.until));
      expect(await shared.store.requeueOrphans('one', new Date().toISOString())).toBe(0);

      victim!.child.kill('SIGKILL');
      await victim!.exited;
      const rows = await shared.store.listDeliveries('one', { state: 'sending', limit: 100 });
      expect(rows.map((row) => row.id)).toEqual(claimed.ids);
      const until = Math.max(...rows.map((row) => Date.parse(row.leaseUntil!)));
      // Before its last renewed lease ends, the dead holder's rows are nobody else's.
      expect(Date.now()).toBeLessThan(until);
      expect(await shared.store.requeueOrphans('one', new Date().toISOString())).toBe(0);
      const other = await shared.store.claimDeliveries({ issueSlug: 'one', holder: 'other', limit: 100, now: new Date().toISOString(), leaseUntil: new Date(Date.now() + 60_000).toISOString() });
      expect(other).toHaveLength(20);
      expect(other.some((row) => claimed.ids.includes(row.delivery.id))).toBe(false);

      await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now()) + 50));
      expect(await shared.store.requeueOrphans('one', new Date().toISOString())).toBe(40);
      const back = await shared.store.claimDeliveries({ issueSlug: 'one', holder: 'other', limit: 100, now: new Date().toISOString(), leaseUntil: new Date(Date.now() + 60_000).toISOString() });
      expect(back.map((row) => row.delivery.id)).toEqual(claimed.ids);
    });

    it('never lets a holder whose lease lapsed mark a row another holder took', async () => {
      await plan('one', 10);
      const [stale, fresh] = await startSenders(2);
      const leaseMs = 600;
      const claimed = await stale!.ask<{ ids: number[]; until: string }>({ op: 'claim', slug: 'one', holder: 'stale:1:a', leaseMs, limit: 10 });
      expect(claimed.ids).toHaveLength(10);
      // The stale holder stops renewing (a stall); its lease lapses; the other process takes over.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(claimed.until) - Date.now()) + 50));
      expect(await shared.store.requeueOrphans('one', new Date().toISOString())).toBe(10);
      const taken = await fresh!.ask<{ ids: number[] }>({ op: 'claim', slug: 'one', holder: 'fresh:2:b', leaseMs: 60_000, limit: 10 });
      expect(taken.ids).toEqual(claimed.ids);

      const late = await stale!.ask<{ marked: number; lost: number[] }>({ op: 'mark', holder: 'stale:1:a', ids: claimed.ids, state: 'failed', reply: '550 stale' });
      expect(late).toEqual({ marked: 0, lost: claimed.ids });
      const rows = await shared.store.listDeliveries('one', { limit: 10 });
      expect(rows.every((row) => row.state === 'sending' && row.holder === 'fresh:2:b' && row.lastReply === null)).toBe(true);

      const done = await fresh!.ask<{ marked: number; lost: number[] }>({ op: 'mark', holder: 'fresh:2:b', ids: taken.ids, state: 'sent', reply: '250 fresh' });
      expect(done).toEqual({ marked: 10, lost: [] });
      expect(await shared.store.countDeliveries('one')).toMatchObject({ sent: 10, sending: 0, failed: 0 });
    });

    it('lets one of several processes racing the same state change win, and the others change nothing', async () => {
      await shared.store.saveIssue(issueRecord('one'));
      const processes = await startSenders(3);
      for (let round = 0; round < 5; round += 1) {
        const [from, to] = round % 2 === 0 ? (['published', 'planned'] as const) : (['planned', 'published'] as const);
        const results = await Promise.all(processes.map((sender) => sender.ask<{ moved: boolean }>({ op: 'transition', slug: 'one', from: [from], to })));
        expect(results.filter((result) => result.moved)).toHaveLength(1);
        expect((await shared.store.getIssue('one'))?.state).toBe(to);
      }
    });
  });
}
