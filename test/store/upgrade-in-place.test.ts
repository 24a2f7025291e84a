import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadMigrations } from '../../src/store/load-sql.ts';
import { migrationBackupFile, openSqliteStore } from '../../src/store/sqlite-store.ts';
import { TEST_SECRET, withStore } from '../helpers/send-project.ts';
import { createTempProject, runCli } from '../helpers/temp-project.ts';

/**
 * Issue 14, acceptance 3: a store from today's release (schema 001–004, made here from those
 * migration files alone) with a half-sent issue opens with this release, is copied to its
 * `.bak-004` first, and the issue finishes with no duplicates. A sender without the project
 * tree leaves the rows queued and says E_NO_RENDITION.
 */

const env = { LETTERPRESS_SECRET: TEST_SECRET };
const SLUG = '2024-18';
const READERS = 10;
const ALREADY_SENT = 4;
const roots: string[] = [];

afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

/** A store as release 004 left it: both samples recorded, 2024-18 `sending` with 4 of 10 rows sent. */
async function makeReleaseFourStore(file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    for (const migration of await loadMigrations('sqlite', { maxVersion: 4 })) {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(migration.version, migration.name, '2024-08-01T00:00:00.000Z');
    }
    const at = '2024-08-05T00:00:00.000Z';
    const issue = db.prepare(
      `INSERT INTO issues (slug, title, content_hash, source_file, state, first_seen_at, published_at, updated_at, feed_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    issue.run('2024-32', '云计算技术动态 2024 年第三十二期', 'old-hash-32', 'issues/2024-32.md', 'archived', at, at, at, 'http://127.0.0.1:8080/issues/2024-32/');
    issue.run(SLUG, '云计算技术动态 2024 年第十八期', 'old-hash-18', 'issues/2024-18.md', 'sending', '2024-08-05T00:00:01.000Z', at, '2024-08-05T00:00:01.000Z', 'http://127.0.0.1:8080/issues/2024-18/');
    const subscriber = db.prepare(
      `INSERT INTO subscribers (email, email_key, name, status, source, created_at, updated_at, confirmed_at) VALUES (?, ?, ?, 'active', 'import', ?, ?, ?)`,
    );
    const delivery = db.prepare(
      `INSERT INTO deliveries (issue_slug, subscriber_id, state, attempts, last_reply, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    for (let i = 1; i <= READERS; i += 1) {
      const email = `reader-${String(i).padStart(4, '0')}@example.org`;
      const { lastInsertRowid } = subscriber.run(email, email, `Reader ${i}`, at, at, at);
      const sent = i <= ALREADY_SENT;
      delivery.run(SLUG, Number(lastInsertRowid), sent ? 'sent' : 'queued', sent ? 1 : 0, sent ? '250 ok' : null, at, at);
    }
  } finally {
    db.close();
  }
}

async function outboxRecipients(root: string): Promise<string[]> {
  const folder = path.join(root, 'data', 'outbox', SLUG);
  if (!existsSync(folder)) return [];
  return (await readdir(folder)).filter((name) => name.endsWith('.eml')).sort();
}

describe('upgrade in place', () => {
  it('copies what is still in the WAL into the backup, and only when a migration is pending', async () => {
    const root = await createTempProject({ samples: false });
    roots.push(root);
    const file = path.join(root, 'data', 'letterpress.db');
    await makeReleaseFourStore(file);
    // Another process of the old release is running: its last write sits in the WAL, not yet in the file.
    const running = new Database(file);
    try {
      running.pragma('wal_autocheckpoint = 0');
      running.prepare("UPDATE subscribers SET name = 'Written last' WHERE id = 1").run();
      expect(existsSync(`${file}-wal`)).toBe(true);
      const store = await openSqliteStore({ file });
      await store.close();
    } finally {
      running.close();
    }
    const backup = new Database(migrationBackupFile(file, 4), { readonly: true });
    try {
      expect(backup.prepare('SELECT name FROM subscribers WHERE id = 1').get()).toEqual({ name: 'Written last' });
    } finally {
      backup.close();
    }
    await rm(migrationBackupFile(file, 4));
    // Up to date now: opening again copies nothing.
    await (await openSqliteStore({ file })).close();
    expect((await readdir(path.dirname(file))).filter((name) => name.includes('.bak-'))).toEqual([]);
  });

  it('migrates a release-004 store with its .bak beside it and finishes the half-sent issue with no duplicates', async () => {
    const root = await createTempProject({ allowLocalAddresses: true });
    roots.push(root);
    const file = path.join(root, 'data', 'letterpress.db');
    await makeReleaseFourStore(file);

    // A sender without the project tree: the store is upgraded, but it cannot make the rendition.
    await rename(path.join(root, 'issues'), path.join(root, 'issues.away'));
    await rename(path.join(root, 'templates'), path.join(root, 'templates.away'));
    const bare = await runCli(['send'], root, env);
    expect(bare.code, bare.stderr).toBe(1);
    expect(bare.stderr).toContain('[E_NO_RENDITION]');
    expect(bare.stderr).toContain('letterpress build');
    expect(await outboxRecipients(root)).toEqual([]);

    const backup = migrationBackupFile(file, 4);
    expect(backup).toBe(`${file}.bak-004`);
    expect(existsSync(backup)).toBe(true);
    const old = new Database(backup, { readonly: true });
    try {
      expect(old.prepare('SELECT max(version) AS version FROM schema_migrations').get()).toEqual({ version: 4 });
      expect(old.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'renditions'").get()).toEqual({ n: 0 });
      expect(old.prepare('SELECT state, count(*) AS n FROM deliveries GROUP BY state ORDER BY state').all()).toEqual([
        { state: 'queued', n: READERS - ALREADY_SENT },
        { state: 'sent', n: ALREADY_SENT },
      ]);
    } finally {
      old.close();
    }
    await withStore(root, async (store) => {
      expect(await store.countDeliveries(SLUG)).toMatchObject({ sent: ALREADY_SENT, queued: READERS - ALREADY_SENT, sending: 0 });
      expect(await store.getRendition(SLUG)).toBeUndefined();
    });

    // The first process with the project tree makes the rendition; the issue finishes.
    await rename(path.join(root, 'issues.away'), path.join(root, 'issues'));
    await rename(path.join(root, 'templates.away'), path.join(root, 'templates'));
    const full = await runCli(['send'], root, env);
    expect(full.code, full.stderr).toBe(0);
    const sentTo = await outboxRecipients(root);
    expect(sentTo).toHaveLength(READERS - ALREADY_SENT);
    for (let i = 1; i <= READERS; i += 1) {
      const hits = sentTo.filter((name) => name.includes(`.${i}.`)).length;
      expect(hits, `messages to subscriber ${i}`).toBe(i <= ALREADY_SENT ? 0 : 1);
    }
    await withStore(root, async (store) => {
      expect(await store.countDeliveries(SLUG)).toMatchObject({ sent: READERS, queued: 0, sending: 0 });
      expect((await store.getIssue(SLUG))?.state).toBe('sent');
      expect((await store.getIssue('2024-32'))?.state).toBe('archived');
      expect(await store.getRendition(SLUG)).toMatchObject({ subject: '云计算技术动态 2024 年第十八期' });
    });
    // Migrated once: a second open takes no second copy.
    expect((await readdir(path.dirname(file))).filter((name) => name.includes('.bak-'))).toEqual(['letterpress.db.bak-004']);
  });
});
