import { appendFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseVariant, createSiteCache } from '../../src/server/site-cache.ts';
import { registerStaticSite } from '../../src/server/static-site.ts';
import { SECURITY_HEADERS } from '../../src/server/security-headers.ts';
import { startServer, type ServerFixture } from './server-fixture.ts';

/** One raw request over a socket (fetch would add its own Accept-Encoding and cache headers). */
function send(
  url: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

let fixture: ServerFixture;
let base: string;
let outside: string;

beforeAll(async () => {
  fixture = await startServer();
  const out = fixture.app.loaded.paths.out;
  outside = await mkdtemp(path.join(tmpdir(), 'letterpress-outside-'));
  await writeFile(path.join(outside, 'secret.txt'), 'outside out/');
  await mkdir(path.join(outside, 'dir'));
  await writeFile(path.join(outside, 'dir', 'index.html'), 'outside out/');
  await symlink(path.join(outside, 'secret.txt'), path.join(out, 'linked.txt'));
  await symlink(path.join(outside, 'dir'), path.join(out, 'linked-dir'));
  await symlink(path.join(fixture.root, 'data'), path.join(out, 'data-link'));
  // The server loaded out/ before the links existed: a build stamp makes it look again.
  await fixture.server.close();
  fixture = { ...fixture, ...(await restart(fixture)) };
  await fixture.server.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(fixture.server.server.address() as AddressInfo).port}`;
});

/** A new server on the same project, so it loads out/ as it is now. */
async function restart(previous: ServerFixture): Promise<Pick<ServerFixture, 'server'>> {
  const { createServer } = await import('../../src/server/create-server.ts');
  const server = await createServer({
    loaded: previous.app.loaded,
    store: await previous.app.store(),
    keyring: await previous.app.keyring(),
    clock: previous.clock,
    mailer: { sendConfirmation: async () => ({ status: 'sent', reply: '250' }), sendWelcome: async () => ({ status: 'sent', reply: '250' }) },
  });
  return { server };
}

afterAll(async () => {
  await fixture.close();
  await rm(outside, { recursive: true, force: true });
});

describe('out/ from memory', () => {
  it('negotiates brotli and gzip, says Vary, and gives each variant its own strong ETag', async () => {
    const plain = await send(`${base}/feed.atom`);
    const br = await send(`${base}/feed.atom`, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
    const gz = await send(`${base}/feed.atom`, { headers: { 'accept-encoding': 'gzip;q=1, br;q=0.5' } });
    const refused = await send(`${base}/feed.atom`, { headers: { 'accept-encoding': 'br;q=0, gzip;q=0' } });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(br.headers['content-encoding']).toBe('br');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);
    expect(br.body.length).toBeLessThan(plain.body.length / 2);
    for (const response of [plain, br, gz]) {
      expect(response.headers.vary).toBe('Accept-Encoding');
      expect(response.headers.etag).toMatch(/^"[\w-]{27}(-br|-gz)?"$/);
      expect(Number(response.headers['content-length'])).toBe(response.body.length);
      expect(response.headers['cache-control']).toBe('public, max-age=0');
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(response.headers[name]).toBe(value);
    }
    expect(new Set([plain.headers.etag, br.headers.etag, gz.headers.etag]).size).toBe(3);
    // The ETag is a hash of the bytes: the same file gives the same tag after a restart.
    const onDisk = await readFile(path.join(fixture.app.loaded.paths.out, 'feed.atom'));
    expect(onDisk.equals(plain.body)).toBe(true);
  });

  it('answers a conditional GET of a compressed variant with 304 and that variant\'s ETag', async () => {
    const headers = { 'accept-encoding': 'br' };
    const first = await send(`${base}/feed.atom`, { headers });
    const again = await send(`${base}/feed.atom`, { headers: { ...headers, 'if-none-match': first.headers.etag! } });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers.etag).toBe(first.headers.etag);
    expect(again.headers.vary).toBe('Accept-Encoding');
    // If-None-Match wins over If-Modified-Since (RFC 9110): an old tag gets the full answer.
    const changed = await send(`${base}/feed.atom`, {
      headers: { ...headers, 'if-none-match': '"old"', 'if-modified-since': first.headers['last-modified']! },
    });
    expect(changed.status).toBe(200);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const get = await send(`${base}/issues/2024-18/`);
    const head = await send(`${base}/issues/2024-18/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe(String(get.body.length));
    expect(head.headers.etag).toBe(get.headers.etag);
    expect(head.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('refuses symlinks, to files and folders, inside out/ or out of it', async () => {
    for (const url of ['/linked.txt', '/linked-dir/', '/linked-dir/index.html', '/data-link/letterpress.db']) {
      const response = await send(`${base}${url}`);
      expect(response.status, url).toBe(404);
      expect(response.body.toString(), url).not.toContain('outside out/');
      expect(response.body.toString(), url).not.toContain('SQLite format');
    }
  });

  it('reloads when a build changes out/', async () => {
    const before = await send(`${base}/feed.atom`);
    const file = path.join(fixture.root, 'issues', '2024-32.md');
    await appendFile(file, '\n\n一个新的段落，为了测试重新加载。\n');
    fixture.clock.advance(60_000);
    await fixture.app.build();
    let after = before;
    for (let i = 0; i < 100 && after.headers.etag === before.headers.etag; i += 1) {
      await delay(50);
      after = await send(`${base}/feed.atom`);
    }
    expect(after.headers.etag).not.toBe(before.headers.etag);
    expect(after.body.equals(await readFile(path.join(fixture.app.loaded.paths.out, 'feed.atom')))).toBe(true);
    const page = await send(`${base}/issues/2024-32/`);
    expect(page.body.toString()).toContain('一个新的段落');
  });
});

describe('memory bounds', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'letterpress-site-'));
    await writeFile(path.join(dir, 'small.html'), '<p>small</p>'.repeat(50));
    await writeFile(path.join(dir, 'big.txt'), 'x'.repeat(200_000));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('holds files up to the limit and streams bigger ones from disk, with the same headers', async () => {
    const cache = createSiteCache({ outDir: dir, maxFileBytes: 100_000 });
    await cache.reload();
    const stats = cache.stats();
    expect(stats.files).toBe(2);
    expect(stats.streamed).toBe(1);
    expect(stats.heldBytes).toBeLessThan(2000);
    const big = cache.lookup('/big.txt')!;
    expect(big.variants).toHaveLength(1);
    expect(big.variants[0]!.body).toBeUndefined();

    const app = Fastify();
    registerStaticSite(app, cache);
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const response = await send(`${url}/big.txt`, { headers: { 'accept-encoding': 'gzip, br' } });
      expect(response.status).toBe(200);
      expect(response.body.length).toBe(200_000);
      expect(response.headers['content-length']).toBe('200000');
      expect(response.headers['content-encoding']).toBeUndefined();
      expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
      const again = await send(`${url}/big.txt`, { headers: { 'if-none-match': response.headers.etag! } });
      expect(again.status).toBe(304);
      const head = await send(`${url}/big.txt`, { method: 'HEAD' });
      expect(head.headers['content-length']).toBe('200000');
      expect(head.body.length).toBe(0);
    } finally {
      await app.close();
    }
  });

  it('stops holding files once the total budget is spent', async () => {
    const cache = createSiteCache({ outDir: dir, maxFileBytes: 1_000_000, maxTotalBytes: 10_000 });
    await cache.reload();
    expect(cache.stats().heldBytes).toBeLessThanOrEqual(10_000);
    expect(cache.lookup('/big.txt')!.variants[0]!.body).toBeUndefined();
    expect(cache.lookup('/small.html')!.variants[0]!.body).toBeDefined();
  });

  it('prefers the client\'s weights and ignores encodings it refuses', () => {
    const site = {
      file: '',
      contentType: 'text/html',
      lastModified: '',
      mtimeSeconds: 0,
      key: '',
      variants: [
        { encoding: 'identity' as const, etag: '"a"', size: 10, headers: {} },
        { encoding: 'br' as const, etag: '"a-br"', size: 3, headers: {} },
        { encoding: 'gzip' as const, etag: '"a-gz"', size: 4, headers: {} },
      ],
    };
    expect(chooseVariant(site, undefined).encoding).toBe('identity');
    expect(chooseVariant(site, 'gzip').encoding).toBe('gzip');
    expect(chooseVariant(site, 'br, gzip').encoding).toBe('br');
    expect(chooseVariant(site, '*').encoding).toBe('br');
    expect(chooseVariant(site, 'br;q=0, *;q=0.1').encoding).toBe('gzip');
    expect(chooseVariant(site, 'identity').encoding).toBe('identity');
  });
});
