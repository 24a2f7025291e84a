import { describe, expect, it } from 'vitest';
import { loadQueries, loadSqlFile, parseNamedQueries } from '../../src/store/load-sql.ts';

describe('loadSql', () => {
  it('splits a file into named queries, ignoring the preamble', () => {
    const queries = parseNamedQueries('-- about this file\n\n-- name: first\nSELECT 1;\n\n-- name: second\n-- why\nSELECT 2;\n', 'x.sql');
    expect([...queries.entries()]).toEqual([
      ['first', 'SELECT 1;'],
      ['second', '-- why\nSELECT 2;'],
    ]);
  });

  it('rejects duplicate and empty sections', () => {
    expect(() => parseNamedQueries('-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;', 'x.sql')).toThrow(/x\.sql: query "a" is defined twice/);
    expect(() => parseNamedQueries('-- name: a\n\n-- name: b\nSELECT 2;', 'x.sql')).toThrow(/x\.sql: query "a" is empty/);
  });

  it('names a missing file and a missing query', async () => {
    await expect(loadSqlFile('sqlite', 'no-such-file.sql')).rejects.toMatchObject({
      code: 'E_STORE',
      message: expect.stringMatching(/sql[\\/]sqlite[\\/]no-such-file\.sql$/),
    });
    await expect(loadQueries('sqlite', 'leases.sql', ['acquire', 'steal'])).rejects.toMatchObject({
      code: 'E_STORE',
      message: 'SQL file sqlite/leases.sql has no query named "steal"',
    });
  });
});
