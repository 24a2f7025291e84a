import Database from 'better-sqlite3';

/**
 * N active subscribers `reader<i>@example.org`, straight into a store's SQLite file, 50,000 per
 * transaction: seeding a million through the store API would dominate a benchmark's runtime,
 * and it is never what is measured. Half get a non-ASCII display name, so the To header's
 * MIME-word path is exercised.
 */
export function seedSubscribers(file: string, total: number): void {
  const db = new Database(file);
  try {
    const insert = db.prepare(
      `INSERT INTO subscribers (email, email_key, name, status, source, created_at, updated_at, confirmed_at)
       VALUES (?, ?, ?, 'active', 'import', ?, ?, ?)`,
    );
    const at = new Date().toISOString();
    const batch = db.transaction((from: number, to: number) => {
      for (let i = from; i <= to; i += 1) {
        const email = `reader${i}@example.org`;
        insert.run(email, email, i % 2 === 0 ? `读者 ${i}` : null, at, at, at);
      }
    });
    for (let from = 1; from <= total; from += 50_000) batch(from, Math.min(total, from + 49_999));
  } finally {
    db.close();
  }
}
