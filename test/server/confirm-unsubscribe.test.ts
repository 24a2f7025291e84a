import { readdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { confirmTokenExpiry, signToken } from '../../src/deliver/tokens.ts';
import { decideConfirm } from '../../src/server/confirm-route.ts';
import { decideResubscribe, decideUnsubscribe } from '../../src/server/unsubscribe-route.ts';
import type { SubscriberStatus } from '../../src/store/types.ts';
import { runCli } from '../helpers/temp-project.ts';
import { FORM, form, SECRET, startServer, type ServerFixture } from './server-fixture.ts';

const DAY = 24 * 60 * 60 * 1000;

let fixture: ServerFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

async function addSubscriber(f: ServerFixture, email: string, status: SubscriberStatus) {
  const result = await (await f.app.store()).upsertSubscriber({ email, status, source: 'add' });
  return result.subscriber!;
}

async function statusOf(f: ServerFixture, email: string) {
  return (await (await f.app.store()).findSubscriberByEmail(email))?.status;
}

async function confirmToken(f: ServerFixture, subscriberId: number) {
  return signToken(await f.app.keyring(), { purpose: 'confirm', subscriberId, expiresAt: confirmTokenExpiry(f.clock.now()) });
}

async function unsubToken(f: ServerFixture, subscriberId: number) {
  return signToken(await f.app.keyring(), { purpose: 'unsub', subscriberId });
}

/** A token with one character of its MAC changed. */
function alter(token: string): string {
  const last = token.at(-1)!;
  return `${token.slice(0, -1)}${last === 'A' ? 'B' : 'A'}`;
}

describe('decisions', () => {
  it('confirm activates pending and unsubscribed, keeps active, refuses the rest', () => {
    expect(decideConfirm({ status: 'pending' })).toBe('activate');
    expect(decideConfirm({ status: 'unsubscribed' })).toBe('activate');
    expect(decideConfirm({ status: 'active' })).toBe('already-active');
    expect(decideConfirm({ status: 'bounced' })).toBe('refuse');
    expect(decideConfirm(undefined)).toBe('refuse');
  });

  it('unsubscribe and resubscribe', () => {
    expect(decideUnsubscribe('active')).toBe('unsubscribe');
    expect(decideUnsubscribe('bounced')).toBe('unchanged');
    expect(decideResubscribe('unsubscribed')).toBe('activate');
    expect(decideResubscribe('active')).toBe('unchanged');
    expect(decideResubscribe('bounced')).toBe('refuse');
  });
});

describe('/confirm', () => {
  it('GET shows a button that posts the token and changes nothing', async () => {
    fixture = await startServer();
    const subscriber = await addSubscriber(fixture, 'pending@example.org', 'pending');
    const token = await confirmToken(fixture, subscriber.id);
    for (let i = 0; i < 3; i += 1) {
      const page = await fixture.server.inject({ method: 'GET', url: `/confirm?token=${token}` });
      expect(page.statusCode).toBe(200);
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.body).toContain('<form method="post" action="/confirm"');
      expect(page.body.replaceAll('&#x3D;', '=')).toContain(`name="token" value="${token}"`);
      expect(page.body).not.toContain('<script');
    }
    expect((await fixture.server.inject({ method: 'HEAD', url: `/confirm?token=${token}` })).statusCode).toBe(200);
    expect(await statusOf(fixture, 'pending@example.org')).toBe('pending');
  });

  it('POST activates, twice is harmless, and the welcome goes out once when configured', async () => {
    fixture = await startServer({ env: { LETTERPRESS_SERVER_WELCOMELATESTISSUE: 'true' } });
    const subscriber = await addSubscriber(fixture, 'pending@example.org', 'pending');
    const token = await confirmToken(fixture, subscriber.id);
    const first = await fixture.server.inject({ method: 'POST', url: '/confirm', headers: FORM, payload: form({ token }) });
    expect(first.statusCode).toBe(200);
    expect(first.body).toContain('订阅成功');
    expect(await statusOf(fixture, 'pending@example.org')).toBe('active');
    const again = await fixture.server.inject({ method: 'POST', url: `/confirm?token=${token}` });
    expect(again.statusCode).toBe(200);
    expect(again.body).toBe(first.body);
    await fixture.settle();
    expect(fixture.calls.map((call) => [call.kind, call.subscriber.status])).toEqual([['welcome', 'active']]);
  });

  it('sends no welcome unless server.welcomeLatestIssue, and re-subscribes an unsubscribed address', async () => {
    fixture = await startServer();
    const subscriber = await addSubscriber(fixture, 'gone@example.org', 'unsubscribed');
    const response = await fixture.server.inject({ method: 'POST', url: '/confirm', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ token: await confirmToken(fixture, subscriber.id) }) });
    expect(response.json()).toEqual({ ok: true });
    expect(await statusOf(fixture, 'gone@example.org')).toBe('active');
    await fixture.settle();
    expect(fixture.calls).toEqual([]);
  });

  it('answers 400 with a way to subscribe again for expired, forged and wrong-purpose tokens', async () => {
    fixture = await startServer();
    const subscriber = await addSubscriber(fixture, 'pending@example.org', 'pending');
    const token = await confirmToken(fixture, subscriber.id);
    const forged = alter(token);
    const otherId = token.replace(`.confirm.${subscriber.id}.`, `.confirm.${subscriber.id + 1}.`);
    const wrongPurpose = await unsubToken(fixture, subscriber.id);
    for (const bad of [forged, otherId, wrongPurpose, '', 'v1.x', '<script>alert(1)</script>']) {
      for (const method of ['GET', 'POST'] as const) {
        const response = await fixture.server.inject({ method, url: `/confirm?token=${encodeURIComponent(bad)}` });
        expect(response.statusCode).toBe(400);
        expect(response.body).toContain('href="/subscribe"');
        expect(response.body).not.toContain('<script>');
      }
    }
    fixture.clock.advance(7 * DAY);
    const expired = await fixture.server.inject({ method: 'POST', url: '/confirm', headers: FORM, payload: form({ token }) });
    expect(expired.statusCode).toBe(400);
    expect(await statusOf(fixture, 'pending@example.org')).toBe('pending');
  });
});

/** The List-Unsubscribe URLs of the messages an issue sent, by recipient. */
async function sentUnsubscribeUrls(f: ServerFixture, slug: string): Promise<Map<string, { url: string; post: string }>> {
  const dir = path.join(f.app.outboxDir, slug);
  const urls = new Map<string, { url: string; post: string }>();
  for (const name of (await readdir(dir)).filter((file) => file.endsWith('.eml'))) {
    const eml = (await readFile(path.join(dir, name), 'utf8')).replace(/\r\n[ \t]+/g, ' ');
    const to = /^To: (?:.*<)?([^<>\s]+@[^<>\s]+?)>?$/m.exec(eml)![1]!;
    urls.set(to, {
      url: /^List-Unsubscribe: <(https?:[^>]+)>/m.exec(eml)![1]!,
      post: /^List-Unsubscribe-Post: (.*)$/m.exec(eml)![1]!.trim(),
    });
  }
  return urls;
}

describe('/unsubscribe (RFC 8058) on the List-Unsubscribe URL of real sent messages', () => {
  it('unsubscribes on a One-Click POST (urlencoded, multipart, empty), never on GET; forged tokens change nothing', async () => {
    let log = '';
    const stream = new Writable({ write: (chunk, _enc, done) => void ((log += String(chunk)), done()) });
    fixture = await startServer({ logger: { level: 'info', stream } });
    const readers = ['url@example.org', 'multi@example.org', 'empty@example.org', 'getter@example.org', 'other@example.org'];
    for (const email of readers) await addSubscriber(fixture, email, 'active');
    const sent = await runCli(['send', '2024-18'], fixture.root, { LETTERPRESS_SECRET: SECRET });
    expect(sent.code, sent.stderr).toBe(0);
    const urls = await sentUnsubscribeUrls(fixture, '2024-18');
    expect(urls.size).toBe(readers.length);
    for (const { post } of urls.values()) expect(post).toBe('List-Unsubscribe=One-Click');

    await fixture.server.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(fixture.server.server.address() as AddressInfo).port}`;
    const local = (url: string) => `${base}${new URL(url).pathname}${new URL(url).search}`;

    const expectOneClick = async (response: Response, email: string) => {
      expect(response.status).toBe(200);
      expect(response.redirected).toBe(false);
      expect(response.headers.get('location')).toBeNull();
      expect(response.headers.get('set-cookie')).toBeNull();
      expect(await statusOf(fixture!, email)).toBe('unsubscribed');
    };

    // A forged or altered token first: 400 and nobody changes.
    const target = urls.get('url@example.org')!.url;
    const token = new URL(target).searchParams.get('token')!;
    const otherSubscriber = token.replace(/\.unsub\.(\d+)\./, (_m, id: string) => `.unsub.${Number(id) + 1}.`);
    for (const bad of [alter(token), otherSubscriber, `${token}x`, token.replace('.unsub.', '.confirm.')]) {
      const response = await fetch(`${base}/unsubscribe?token=${encodeURIComponent(bad)}`, {
        method: 'POST',
        headers: FORM,
        body: 'List-Unsubscribe=One-Click',
      });
      expect(response.status).toBe(400);
    }
    for (const email of readers) expect(await statusOf(fixture, email)).toBe('active');

    await expectOneClick(
      await fetch(local(urls.get('url@example.org')!.url), { method: 'POST', headers: FORM, body: 'List-Unsubscribe=One-Click', redirect: 'manual' }),
      'url@example.org',
    );
    const multipart = new FormData();
    multipart.set('List-Unsubscribe', 'One-Click');
    const multipartResponse = await fetch(local(urls.get('multi@example.org')!.url), { method: 'POST', body: multipart, redirect: 'manual' });
    await expectOneClick(multipartResponse, 'multi@example.org');
    await expectOneClick(await fetch(local(urls.get('empty@example.org')!.url), { method: 'POST', redirect: 'manual' }), 'empty@example.org');

    // Idempotent: a second one-click answers the same and changes nothing.
    const twice = await fetch(local(urls.get('url@example.org')!.url), { method: 'POST', headers: FORM, body: 'List-Unsubscribe=One-Click' });
    expect(twice.status).toBe(200);

    // A GET (a link scanner) shows the button and changes nothing.
    const getUrl = local(urls.get('getter@example.org')!.url);
    const page = await fetch(getUrl);
    expect(page.status).toBe(200);
    const html = (await page.text()).replaceAll('&#x3D;', '=');
    expect(html).toMatch(/<form method="post" action="\/unsubscribe\?token=[^"]+"/);
    expect(await statusOf(fixture, 'getter@example.org')).toBe('active');
    expect(await statusOf(fixture, 'other@example.org')).toBe('active');

    // No token in any log line.
    expect(log).toContain('/unsubscribe?…');
    for (const { url } of urls.values()) expect(log).not.toContain(new URL(url).searchParams.get('token')!);
  });

  it('the unsubscribed page offers to resubscribe, which sets the subscriber active again', async () => {
    fixture = await startServer();
    const subscriber = await addSubscriber(fixture, 'undo@example.org', 'active');
    const token = await unsubToken(fixture, subscriber.id);
    const done = await fixture.server.inject({ method: 'POST', url: `/unsubscribe?token=${token}`, headers: FORM, payload: 'List-Unsubscribe=One-Click' });
    expect(done.statusCode).toBe(200);
    expect(done.body.replaceAll('&#x3D;', '=')).toContain(`action="/resubscribe?token=${token}"`);
    expect(await statusOf(fixture, 'undo@example.org')).toBe('unsubscribed');
    const back = await fixture.server.inject({ method: 'POST', url: `/resubscribe?token=${token}` });
    expect(back.statusCode).toBe(200);
    expect(await statusOf(fixture, 'undo@example.org')).toBe('active');
    const forged = await fixture.server.inject({ method: 'POST', url: `/resubscribe?token=${alter(token)}` });
    expect(forged.statusCode).toBe(400);
    // Unsubscribe tokens never expire.
    fixture.clock.advance(3650 * DAY);
    expect((await fixture.server.inject({ method: 'POST', url: `/unsubscribe?token=${token}` })).statusCode).toBe(200);
    expect(await statusOf(fixture, 'undo@example.org')).toBe('unsubscribed');
  });

  it('refuses files in a multipart body and other content types without changing anything', async () => {
    fixture = await startServer();
    const subscriber = await addSubscriber(fixture, 'keep@example.org', 'active');
    const token = await unsubToken(fixture, subscriber.id);
    const withFile = await fixture.server.inject({
      method: 'POST',
      url: `/unsubscribe?token=${token}`,
      headers: { 'content-type': 'multipart/form-data; boundary=b' },
      payload: '--b\r\nContent-Disposition: form-data; name="f"; filename="x.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n',
    });
    expect(withFile.statusCode).toBeGreaterThanOrEqual(400);
    expect(withFile.statusCode).toBeLessThan(500);
    const xml = await fixture.server.inject({ method: 'POST', url: `/unsubscribe?token=${token}`, headers: { 'content-type': 'application/xml' }, payload: '<x/>' });
    expect(xml.statusCode).toBe(415);
    expect(await statusOf(fixture, 'keep@example.org')).toBe('active');
  });
});

describe('secret rotate', () => {
  it('keeps links signed before the rotation working, in a running server and after a restart', async () => {
    fixture = await startServer({ env: { LETTERPRESS_SECRET: undefined } });
    const a = await addSubscriber(fixture, 'before@example.org', 'active');
    const b = await addSubscriber(fixture, 'after@example.org', 'active');
    const before = await unsubToken(fixture, a.id);
    const kidBefore = (await fixture.app.keyring()).current.kid;
    const rotated = await runCli(['secret', 'rotate'], fixture.root, {});
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/Added signing key k[0-9a-f]{8}/);

    // A token from the new key reaches the server that started before the rotation.
    const { loadKeyring } = await import('../../src/deliver/keyring.ts');
    const fresh = await loadKeyring({ store: await fixture.app.store(), now: fixture.clock.now() });
    expect(fresh.current.kid).not.toBe(kidBefore);
    // The app reads the keys afresh: the next send run signs with the new key.
    expect((await fixture.app.keyring()).current.kid).toBe(fresh.current.kid);
    const after = signToken(fresh, { purpose: 'unsub', subscriberId: b.id });
    expect((await fixture.server.inject({ method: 'POST', url: `/unsubscribe?token=${after}` })).statusCode).toBe(200);
    expect((await fixture.server.inject({ method: 'POST', url: `/unsubscribe?token=${before}` })).statusCode).toBe(200);
    expect(await statusOf(fixture, 'before@example.org')).toBe('unsubscribed');
    expect(await statusOf(fixture, 'after@example.org')).toBe('unsubscribed');
  });
});
