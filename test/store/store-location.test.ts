import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describePostgresTarget, maskStoreUrl, resolveStoreLocation } from '../../src/store/store-location.ts';

const root = path.resolve('/srv/news');

describe('resolveStoreLocation', () => {
  it('takes a plain path or sqlite:PATH for a SQLite file, relative to the project root', () => {
    expect(resolveStoreLocation({ url: 'data/letterpress.db', root })).toEqual({ driver: 'sqlite', file: path.join(root, 'data/letterpress.db'), shown: path.join('data', 'letterpress.db') });
    expect(resolveStoreLocation({ url: 'sqlite:data/x.db', root })).toMatchObject({ driver: 'sqlite', file: path.join(root, 'data/x.db') });
    expect(resolveStoreLocation({ url: 'sqlite:///var/lib/news.db', root })).toMatchObject({ driver: 'sqlite', file: '/var/lib/news.db', shown: '/var/lib/news.db' });
    expect(resolveStoreLocation({ url: ' /abs/store.db ', root })).toMatchObject({ driver: 'sqlite', file: '/abs/store.db' });
  });

  it.each(['postgres://letterpress:hunter2@db.example:5433/news', 'postgresql://letterpress:hunter2@db.example/news', 'POSTGRES://db.example/news'])(
    'takes %s for PostgreSQL and shows it with the password masked',
    (url) => {
      const location = resolveStoreLocation({ url, root });
      expect(location).toMatchObject({ driver: 'postgres', url });
      expect(location.shown).not.toContain('hunter2');
    },
  );

  it('refuses other schemes and empty URLs instead of making files of them', () => {
    expect(() => resolveStoreLocation({ url: 'mysql://db.example/news', root })).toThrow(expect.objectContaining({ code: 'E_STORE' }));
    expect(() => resolveStoreLocation({ url: '  ', root })).toThrow(expect.objectContaining({ code: 'E_STORE' }));
    expect(() => resolveStoreLocation({ url: 'sqlite:', root })).toThrow(expect.objectContaining({ code: 'E_STORE' }));
  });
});

describe('maskStoreUrl and describePostgresTarget', () => {
  it('hides the password and password-like query parameters, and names host:port/database', () => {
    expect(maskStoreUrl('postgres://ann:s3cret@db.example:5432/news?sslpassword=x&sslmode=require')).toBe('postgres://ann:***@db.example:5432/news?sslpassword=***&sslmode=require');
    expect(maskStoreUrl('postgres://db.example/news')).toBe('postgres://db.example/news');
    expect(describePostgresTarget('postgres://ann:s3cret@db.example/news')).toBe('db.example:5432/news');
    expect(describePostgresTarget('postgres://ann@10.0.0.5:6432/mail%20list')).toBe('10.0.0.5:6432/mail list');
  });
});
