import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { DoctorCheck } from '../../src/cli/doctor-command.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres-database.ts';
import { activeRows, createSendProject, issueStatus, SLUG, TEST_SECRET } from '../helpers/send-project.ts';
import { runCli } from '../helpers/temp-project.ts';

/** The commands on a PostgreSQL store: chosen by LETTERPRESS_DB or DATABASE_URL, named masked, and a whole send through it. */

const roots: string[] = [];
const databases: TestDatabase[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
  for (const database of databases.splice(0)) await database.drop();
});

/** The test server trusts loopback, so the password is never checked: it is there to be masked. */
function withPassword(database: TestDatabase): string {
  return database.url.replace('postgres://postgres@', 'postgres://postgres:hunter2@');
}

describe('commands on a PostgreSQL store', () => {
  it('builds, imports, sends to the outbox and reports through LETTERPRESS_DB, never showing the password', async () => {
    const database = await createTestDatabase('letterpress_cli');
    databases.push(database);
    const env = { LETTERPRESS_SECRET: TEST_SECRET, LETTERPRESS_DB: withPassword(database) };
    const root = await createSendProject(activeRows(5), env);
    roots.push(root);

    const sent = await runCli(['send', SLUG], root, env);
    expect(sent.code, sent.stderr).toBe(0);
    expect((await issueStatus(root, SLUG, env)).counts).toMatchObject({ sent: 5, queued: 0, sending: 0 });

    const status = await runCli(['status'], root, env);
    expect(status.stdout).toContain(`Store: postgres://postgres:***@127.0.0.1:5432/${database.name} (PostgreSQL)`);
    const doctor = await runCli(['doctor', '--json'], root, env);
    const store = (JSON.parse(doctor.stdout) as DoctorCheck[]).find((check) => check.check === 'store');
    expect(store).toMatchObject({ ok: true, message: expect.stringMatching(new RegExp(`^PostgreSQL store postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:5432/${database.name} answers: 5 active subscribers, \\d+ issues$`)) });
    const config = await runCli(['config'], root, env);
    for (const output of [sent, status, doctor, config]) expect(output.stdout + output.stderr).not.toContain('hunter2');
  }, 120_000);

  it('takes DATABASE_URL when LETTERPRESS_DB is not set, and says what to do when the database is missing', async () => {
    const database = await createTestDatabase('letterpress_cli');
    databases.push(database);
    const root = await createSendProject([], { DATABASE_URL: database.url });
    roots.push(root);
    expect((await runCli(['status'], root, { DATABASE_URL: database.url })).stdout).toContain(`Store: ${database.url} (PostgreSQL)`);

    const missing = await runCli(['status'], root, { DATABASE_URL: `${database.url}_gone` });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`PostgreSQL store 127.0.0.1:5432/${database.name}_gone: the database does not exist; create it first`);
  }, 60_000);
});
