import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL server the tests use (trust auth on loopback); each test makes its own database there. */
export const POSTGRES_SERVER = 'postgres://postgres@127.0.0.1:5432';

/** A database made for one test, and how to drop it (closing every connection still open to it). */
export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function onAdminDatabase<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: `${POSTGRES_SERVER}/postgres` });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(prefix = 'letterpress_test'): Promise<TestDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await onAdminDatabase((client) => client.query(`CREATE DATABASE "${name}"`));
  return {
    name,
    url: `${POSTGRES_SERVER}/${name}`,
    drop: () => onAdminDatabase((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}
