import { writeFile } from 'node:fs/promises';
import { get, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECURITY_HEADERS } from '../../src/server/security-headers.ts';
import { checkSiteUrl } from '../../src/server/site-url-check.ts';
import { redactUrl, maskEmail } from '../../src/server/redact.ts';
import { startServer, type ServerFixture } from './server-fixture.ts';

/**
 * A plain GET over a socket, as a feed reader sends it (fetch would add `Cache-Control:
 * no-cache` to any conditional request, as the Fetch standard says, which forbids a 304).
 */
function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    }).on('error', reject);
  });
}

let fixture: ServerFixture;
let base: string;

beforeAll(async () => {
  fixture = await startServer();
  await writeFile(path.join(fixture.app.loaded.paths.out, '.secret'), 'hidden');
  await fixture.server.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(fixture.server.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await fixture.close();
});

describe('serving out/', () => {
  it('serves pages and feeds with their content types', async () => {
    const expected: Record<string, string> = {
      '/': 'text/html; charset=utf-8',
      '/issues/2024-18/': 'text/html; charset=utf-8',
      '/feed.atom': 'application/atom+xml; charset=utf-8',
      '/feed.rss': 'application/rss+xml; charset=utf-8',
      '/feed.json': 'application/feed+json; charset=utf-8',
      '/style.css': 'text/css; charset=utf-8',
    };
    for (const [url, type] of Object.entries(expected)) {
      const response = await fetch(`${base}${url}`);
      expect(response.status, url).toBe(200);
      expect(response.headers.get('content-type'), url).toBe(type);
      await response.arrayBuffer();
    }
  });

  it('answers a conditional GET for a feed with 304, by ETag and by date', async () => {
    const first = await httpGet(`${base}/feed.atom`);
    const etag = first.headers.etag;
    const lastModified = first.headers['last-modified'];
    expect(etag).toBeTruthy();
    expect(lastModified).toBeTruthy();
    const byEtag = await httpGet(`${base}/feed.atom`, { 'if-none-match': etag! });
    expect(byEtag.status).toBe(304);
    expect(byEtag.body).toBe('');
    expect(byEtag.headers.etag).toBe(etag);
    const byDate = await httpGet(`${base}/feed.atom`, { 'if-modified-since': lastModified! });
    expect(byDate.status).toBe(304);
    const stale = await httpGet(`${base}/feed.atom`, { 'if-none-match': 'W/"other"' });
    expect(stale.status).toBe(200);
    expect(stale.body).toContain('<feed');
  });

  it('compresses when asked to', async () => {
    const response = await fixture.server.inject({ method: 'GET', url: '/feed.atom', headers: { 'accept-encoding': 'gzip' } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(response.rawPayload).toString('utf8')).toContain('<feed');
    const plain = await fixture.server.inject({ method: 'GET', url: '/feed.atom', headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers['content-encoding']).toBeUndefined();
  });

  it('never serves data/, paths outside out/ or dotfiles', async () => {
    const attempts = [
      '/../data/letterpress.db',
      '/%2e%2e/data/letterpress.db',
      '/%2e%2e%2fdata%2fletterpress.db',
      '/..%2f..%2fetc%2fpasswd',
      '/issues/../../data/letterpress.db',
      '/data/letterpress.db',
      '/.secret',
      '/%2esecret',
      '/....//data/letterpress.db',
      '/%00',
    ];
    for (const url of attempts) {
      const response = await fixture.server.inject({ method: 'GET', url });
      expect([400, 403, 404], url).toContain(response.statusCode);
      expect(response.body, url).not.toContain('SQLite format');
      expect(response.body, url).not.toContain('hidden');
      expect(response.body, url).not.toContain('root:');
    }
  });

  it('sends the security headers on every response, and no stack trace on errors', async () => {
    const responses = await Promise.all([
      fixture.server.inject({ method: 'GET', url: '/' }),
      fixture.server.inject({ method: 'GET', url: '/feed.atom', headers: { 'if-none-match': '*' } }),
      fixture.server.inject({ method: 'GET', url: '/nothing-here' }),
      fixture.server.inject({ method: 'POST', url: '/subscribe', headers: { 'content-type': 'application/json' }, payload: '{bad json' }),
      fixture.server.inject({ method: 'GET', url: '/healthz' }),
      fixture.server.inject({ method: 'GET', url: '/confirm?token=x' }),
    ]);
    for (const response of responses) {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(response.headers[name]).toBe(value);
      expect(response.body).not.toMatch(/at [\w.]+ \(|node_modules|\.ts:\d+/);
    }
    expect(responses[2]!.statusCode).toBe(404);
    expect(responses[3]!.statusCode).toBe(400);
    expect(SECURITY_HEADERS['content-security-policy']).toContain("script-src 'self'");
    expect(SECURITY_HEADERS['content-security-policy']).not.toContain('unsafe-inline');
  });

  it('has no inline script or open redirect anywhere', async () => {
    for (const url of ['/', '/issues/2024-18/', '/subscribe', '/confirm?token=x', '/unsubscribe?token=x']) {
      const response = await fixture.server.inject({ method: 'GET', url });
      expect(response.body).not.toContain('<script');
      expect(response.headers.location).toBeUndefined();
    }
    for (const url of ['//evil.example', '/%2F%2Fevil.example', '/issues', '/issues/2024-18', '/\\evil.example']) {
      const response = await fixture.server.inject({ method: 'GET', url });
      expect(response.headers.location, url).toBeUndefined();
      expect(response.statusCode, url).toBeLessThan(500);
    }
  });

  it('answers /healthz with {ok:true}', async () => {
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });
});

describe('helpers', () => {
  it('wants https for site.url except on loopback', () => {
    expect(checkSiteUrl('https://news.example.org')).toBeUndefined();
    expect(checkSiteUrl('http://127.0.0.1:8080')).toBeUndefined();
    expect(checkSiteUrl('http://localhost:8080')).toBeUndefined();
    expect(checkSiteUrl('http://[::1]:8080')).toBeUndefined();
    expect(checkSiteUrl('http://news.example.org')).toMatch(/must use https/);
  });

  it('redacts tokens and masks addresses for logs', () => {
    expect(redactUrl('/unsubscribe?token=v1.k.unsub.1.0.mac')).toBe('/unsubscribe?…');
    expect(redactUrl('/confirm?token=abc&x=1')).toBe('/confirm?…');
    expect(redactUrl('/other?email=a@b.example&page=2')).toBe('/other?email=…&page=2');
    expect(redactUrl('/feed.atom')).toBe('/feed.atom');
    expect(maskEmail('reader@example.org')).toMatch(/^r\*\*\*@example\.org#[0-9a-f]{10}$/);
  });
});
