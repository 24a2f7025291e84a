import Database from 'better-sqlite3';
import pg from 'pg';

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

/**
 * The same N subscribers in a PostgreSQL store's database (its tables made already), in one
 * set-based statement, then VACUUM ANALYZE so the planner knows the table as a live one would.
 */
export async function seedPostgresSubscribers(url: string, total: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO subscribers (email, email_key, name, status, source, created_at, updated_at, confirmed_at)
       SELECT 'reader' || i || '@example.org', 'reader' || i || '@example.org', CASE WHEN i % 2 = 0 THEN '读者 ' || i END,
              'active', 'import', $1, $1, $1
       FROM generate_series(1, $2::int) AS i`,
      [new Date().toISOString(), total],
    );
    await client.query('VACUUM ANALYZE subscribers');
  } finally {
    await client.end();
  }
}
