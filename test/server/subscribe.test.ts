import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { decideSubscribe, cleanFormName } from '../../src/server/subscribe-route.ts';
import { FORM, form, JSON_TYPE, startServer, type ServerFixture } from './server-fixture.ts';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

let fixture: ServerFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

async function subscribe(f: ServerFixture, fields: Record<string, string>, headers: Record<string, string> = FORM) {
  const payload = headers === JSON_TYPE ? JSON.stringify(fields) : form(fields);
  return f.server.inject({ method: 'POST', url: '/subscribe', headers, payload });
}

describe('decideSubscribe', () => {
  const limits = { perAddressPerDay: 3, resendCooldownMinutes: 10 };
  const now = new Date('2026-03-01T10:00:00.000Z');
  const none = { count: 0, lastSentAt: null };
  const recent = { count: 1, lastSentAt: '2026-03-01T09:55:00.000Z' };
  const cooled = { count: 1, lastSentAt: '2026-03-01T09:50:00.000Z' };
  const full = { count: 3, lastSentAt: '2026-03-01T08:00:00.000Z' };

  it('creates a new address and mails pending and unsubscribed ones again within the limits', () => {
    expect(decideSubscribe(undefined, none, now, limits)).toBe('create');
    expect(decideSubscribe({ status: 'pending' }, cooled, now, limits)).toBe('resend');
    expect(decideSubscribe({ status: 'unsubscribed' }, none, now, limits)).toBe('resend');
  });

  it('does nothing for active, bounced and complained addresses, inside the cool-down, or over the day', () => {
    for (const status of ['active', 'bounced', 'complained'] as const) expect(decideSubscribe({ status }, none, now, limits)).toBe('silent');
    expect(decideSubscribe({ status: 'pending' }, recent, now, limits)).toBe('silent');
    expect(decideSubscribe({ status: 'pending' }, full, now, limits)).toBe('silent');
    expect(decideSubscribe(undefined, recent, now, limits)).toBe('silent');
  });

  it('cleans form names: no line breaks, controls, bidi overrides or angle brackets', () => {
    expect(cleanFormName('Ann\r\nBcc: x@evil.example')).toBe('Ann Bcc: x@evil.example');
    expect(cleanFormName('<script>alert(1)</script>')).toBe('scriptalert(1)/script');
    expect(cleanFormName('\u202Eevil\u0000')).toBe('evil');
    expect(cleanFormName('   ')).toBeNull();
    expect(cleanFormName(undefined)).toBeNull();
  });
});

describe('POST /subscribe', () => {
  it('stores a new address as pending (source form) and mails one confirmation', async () => {
    fixture = await startServer();
    const response = await subscribe(fixture, { email: '  Reader@Example.ORG ', name: 'Ann Reader' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    // The sample config is zh-CN: "check your inbox".
    expect(response.body).toContain('请查收邮件');
    expect(response.body).not.toContain('<script');
    const stored = await (await fixture.app.store()).findSubscriberByEmail('reader@example.org');
    expect(stored).toMatchObject({ email: 'Reader@example.org', status: 'pending', source: 'form', name: 'Ann Reader' });
    await fixture.settle();
    expect(fixture.calls).toEqual([{ kind: 'confirmation', subscriber: stored }]);
  });

  it('answers JSON with {ok:true} and invalid addresses with 400 and a reason', async () => {
    fixture = await startServer();
    const ok = await subscribe(fixture, { email: 'json@example.org' }, JSON_TYPE);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ ok: true });
    const bad = await subscribe(fixture, { email: 'no-at-sign' }, JSON_TYPE);
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ ok: false, error: 'invalid-email', reason: 'no-at', message: 'email has no @' });
    const page = await subscribe(fixture, { email: 'a@b.example\r\nBcc: victim@example.org' });
    expect(page.statusCode).toBe(400);
    // The page says why in the site's language (zh-CN), not in the validator's English.
    expect(page.body).toContain('地址中含有换行符');
    expect(page.body).not.toContain('contains a line break');
    const missing = await fixture.server.inject({ method: 'POST', url: '/subscribe', headers: FORM, payload: 'name=x' });
    expect(missing.statusCode).toBe(400);
    await fixture.settle();
    expect(fixture.calls).toHaveLength(1);
  });

  it('gives byte-for-byte the same answer for new, pending, active, unsubscribed, suppressed and over-limit addresses', async () => {
    fixture = await startServer();
    const store = await fixture.app.store();
    await store.upsertSubscriber({ email: 'active@example.org', status: 'active', source: 'add' });
    await store.upsertSubscriber({ email: 'gone@example.org', status: 'unsubscribed', source: 'add' });
    await store.upsertSubscriber({ email: 'bounced@example.org', status: 'bounced', source: 'add' });
    await store.upsertSubscriber({ email: 'complained@example.org', status: 'complained', source: 'add' });
    await store.upsertSubscriber({ email: 'erased@example.org', status: 'active', source: 'add' });
    await store.eraseSubscriber('erased@example.org');

    for (const headers of [FORM, JSON_TYPE]) {
      const answers = [];
      for (const email of [
        `new-${headers === FORM ? 'f' : 'j'}@example.org`, // new
        `new-${headers === FORM ? 'f' : 'j'}@example.org`, // pending, inside the cool-down
        'active@example.org',
        'gone@example.org',
        'bounced@example.org',
        'complained@example.org',
        'erased@example.org',
      ]) {
        const response = await subscribe(fixture, { email }, headers);
        // The page repeats the address the visitor typed; everything else must be identical.
        answers.push({ status: response.statusCode, type: response.headers['content-type'], body: response.body.replaceAll(email, '(address)') });
      }
      const honeypot = await subscribe(fixture, { email: 'bot@example.org', website: 'http://spam.example' }, headers);
      answers.push({ status: honeypot.statusCode, type: honeypot.headers['content-type'], body: honeypot.body.replaceAll('bot@example.org', '(address)') });
      for (const answer of answers) expect(answer).toEqual(answers[0]);
    }
    // Mailed: the two new addresses and the unsubscribed one (once; the second form is in its cool-down).
    await fixture.settle();
    expect(fixture.calls.map((call) => call.subscriber.email).sort()).toEqual(['gone@example.org', 'new-f@example.org', 'new-j@example.org']);
    // Never reactivated by the POST; never re-added once erased; the bot left nothing.
    expect((await store.findSubscriberByEmail('gone@example.org'))?.status).toBe('unsubscribed');
    expect(await store.findSubscriberByEmail('erased@example.org')).toBeUndefined();
    expect(await store.findSubscriberByEmail('bot@example.org')).toBeUndefined();
    expect((await store.findSubscriberByEmail('bounced@example.org'))?.status).toBe('bounced');
  });

  it('resends to a pending address only after the cool-down and at most perAddressPerDay times a day', async () => {
    fixture = await startServer({ env: { LETTERPRESS_SERVER_LIMITS_PERADDRESSPERDAY: '3', LETTERPRESS_SERVER_LIMITS_RESENDCOOLDOWNMINUTES: '10' } });
    const first = await subscribe(fixture, { email: 'slow@example.org' });
    const count = async () => (await fixture!.settle(), fixture!.calls.length);
    expect(await count()).toBe(1);
    fixture.clock.advance(9 * MINUTE);
    const early = await subscribe(fixture, { email: 'slow@example.org' });
    expect(await count()).toBe(1);
    fixture.clock.advance(1 * MINUTE);
    await subscribe(fixture, { email: 'SLOW@example.org' });
    expect(await count()).toBe(2);
    fixture.clock.advance(10 * MINUTE);
    await subscribe(fixture, { email: 'slow@example.org' });
    expect(await count()).toBe(3);
    fixture.clock.advance(10 * MINUTE);
    const over = await subscribe(fixture, { email: 'slow@example.org' });
    expect(await count()).toBe(3);
    // A day after the first email, one slot frees up.
    fixture.clock.advance(DAY - 30 * MINUTE + 1);
    await subscribe(fixture, { email: 'slow@example.org' });
    expect(await count()).toBe(4);
    for (const response of [early, over]) {
      expect(response.statusCode).toBe(first.statusCode);
      expect(response.body).toBe(first.body);
    }
  });

  it('mails an unsubscribed address a confirmation but leaves it unsubscribed', async () => {
    fixture = await startServer();
    const store = await fixture.app.store();
    await store.upsertSubscriber({ email: 'back@example.org', status: 'unsubscribed', source: 'add', name: 'Kept' });
    await subscribe(fixture, { email: 'back@example.org', name: 'Changed' });
    await fixture.settle();
    expect(fixture.calls).toHaveLength(1);
    expect(await store.findSubscriberByEmail('back@example.org')).toMatchObject({ status: 'unsubscribed', name: 'Kept' });
  });

  it('asks again for a form posted faster than minFillSeconds after GET /subscribe, and for a forged stamp', async () => {
    fixture = await startServer();
    const page = await fixture.server.inject({ method: 'GET', url: '/subscribe' });
    expect(page.statusCode).toBe(200);
    const stamp = /name="started" value="([^"]+)"/.exec(page.body)?.[1];
    expect(stamp).toBeDefined();
    expect(page.body).toMatch(/name="website"/);
    const tooFast = await subscribe(fixture, { email: 'fast@example.org', started: stamp! });
    await fixture.settle();
    expect(fixture.calls).toHaveLength(0);
    fixture.clock.advance(3000);
    const forged = await subscribe(fixture, { email: 'fast@example.org', started: stamp!.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) });
    await fixture.settle();
    expect(fixture.calls).toHaveLength(0);
    const human = await subscribe(fixture, { email: 'fast@example.org', started: stamp! });
    await fixture.settle();
    expect(fixture.calls).toHaveLength(1);
    for (const refused of [tooFast, forged]) {
      expect(refused.statusCode).toBe(400);
      expect(refused.body).toContain('请再点击一次');
    }
    expect(human.body).toContain('请查收邮件');
  });

  it('never stores a name unsanitised', async () => {
    fixture = await startServer();
    await subscribe(fixture, { email: 'named@example.org', name: ' <b>Ann</b>\r\nBcc: evil@example.org\u202E\u0007 ' });
    const stored = await (await fixture.app.store()).findSubscriberByEmail('named@example.org');
    expect(stored?.name).toBe('bAnn/b Bcc: evil@example.org');
  });

  it('refuses other content types with 415 and a body over server.bodyLimit with 413', async () => {
    fixture = await startServer();
    const plain = await fixture.server.inject({ method: 'POST', url: '/subscribe', headers: { 'content-type': 'text/plain' }, payload: 'email=a@example.org' });
    expect(plain.statusCode).toBe(415);
    const multipart = await fixture.server.inject({
      method: 'POST',
      url: '/subscribe',
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      payload: '--x\r\nContent-Disposition: form-data; name="email"\r\n\r\na@example.org\r\n--x--\r\n',
    });
    expect(multipart.statusCode).toBe(415);
    const huge = await subscribe(fixture, { email: 'big@example.org', name: 'x'.repeat(20_000) });
    expect(huge.statusCode).toBe(413);
    await fixture.settle();
    expect(fixture.calls).toHaveLength(0);
  });

  it('answers 200 when the mail transport fails, and logs the failure once without the address', async () => {
    let log = '';
    const stream = new Writable({ write: (chunk, _enc, done) => void ((log += String(chunk)), done()) });
    fixture = await startServer({ failingMailer: true, logger: { level: 'info', stream } });
    const response = await subscribe(fixture, { email: 'reader@example.org' });
    expect(response.statusCode).toBe(200);
    await fixture.settle();
    await fixture.server.close();
    const failures = log.split('\n').filter((line) => line.includes('confirmation email failed'));
    expect(failures).toHaveLength(1);
    expect(log).not.toContain('reader@example.org');
    expect(log).toContain('r***@example.org');
  });

  it('answers 429 once one IP passes perIpPerMinute, per client IP behind a trusted proxy', async () => {
    fixture = await startServer({ env: { LETTERPRESS_SERVER_LIMITS_PERIPPERMINUTE: '5', LETTERPRESS_SERVER_TRUSTPROXY: '1' } });
    const from = (ip: string, n: number) =>
      fixture!.server.inject({
        method: 'POST',
        url: '/subscribe',
        headers: { ...FORM, 'x-forwarded-for': ip },
        remoteAddress: '127.0.0.1',
        payload: form({ email: `ip${n}@example.org` }),
      });
    const statuses = [];
    for (let n = 0; n < 7; n += 1) statuses.push((await from('203.0.113.7', n)).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const limited = await from('203.0.113.7', 99);
    expect(limited.headers['retry-after']).toBe('60');
    expect(limited.body).toContain('请求过于频繁');
    expect((await from('198.51.100.2', 100)).statusCode).toBe(200);
    // Static files are never limited.
    expect((await fixture.server.inject({ method: 'GET', url: '/feed.atom', headers: { 'x-forwarded-for': '203.0.113.7' } })).statusCode).toBe(200);
  });
});
