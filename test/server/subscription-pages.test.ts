import path from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { confirmTokenExpiry, signToken } from '../../src/deliver/tokens.ts';
import { maskEmail } from '../../src/server/redact.ts';
import { FORM, form, JSON_TYPE, startServer, type ServerFixture } from './server-fixture.ts';

let fixture: ServerFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

async function subscribe(f: ServerFixture, fields: Record<string, string>, headers: Record<string, string> = FORM) {
  const payload = headers === JSON_TYPE ? JSON.stringify(fields) : form(fields);
  return f.server.inject({ method: 'POST', url: '/subscribe', headers, payload });
}

/** The value attribute of the form field named `name` on a page. */
function fieldValue(html: string, name: string): string | undefined {
  const tag = new RegExp(`<input[^>]*name="${name}"[^>]*>`).exec(html)?.[0];
  return tag === undefined ? undefined : /value="([^"]*)"/.exec(tag)?.[1];
}

function stampOf(html: string): string | undefined {
  return /name="started" value="([^"]+)"/.exec(html)?.[1];
}

/** A server whose log lines are collected as parsed JSON objects. */
async function startLogged(env: Record<string, string> = {}) {
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  const stream = new Writable({
    write: (chunk, _enc, done) => {
      raw += String(chunk);
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const f = await startServer({ env, logger: { level: 'info', stream } });
  return { f, lines, raw: () => raw };
}

const VALIDATOR_TEXT = [/domain must contain a dot/, /SMTPUTF8/, /non-ASCII/, /local part/, /has no @/];

describe('subscription pages in the site locale', () => {
  it('zh-CN: tells in Chinese why foo@bar and a non-ASCII local part are refused, and keeps what was typed', async () => {
    fixture = await startServer();
    const noDot = await subscribe(fixture, { email: 'foo@bar', name: '张三' });
    expect(noDot.statusCode).toBe(400);
    expect(noDot.body).toContain('邮箱地址格式不正确');
    expect(noDot.body).toContain('@ 后面的域名缺少点号');
    for (const text of VALIDATOR_TEXT) expect(noDot.body).not.toMatch(text);
    expect(fieldValue(noDot.body, 'email')).toBe('foo@bar');
    expect(fieldValue(noDot.body, 'name')).toBe('张三');

    const nonAscii = await subscribe(fixture, { email: '用户@例子.测试', name: 'Ann' });
    expect(nonAscii.statusCode).toBe(400);
    expect(nonAscii.body).toContain('@ 前面的部分只能使用英文字母、数字和常见符号');
    for (const text of VALIDATOR_TEXT) expect(nonAscii.body).not.toMatch(text);
    expect(fieldValue(nonAscii.body, 'email')).toBe('用户@例子.测试');
    expect(fieldValue(nonAscii.body, 'name')).toBe('Ann');
    await fixture.settle();
    expect(fixture.calls).toHaveLength(0);
  });

  it('en: tells in English, in plain words, and keeps what was typed', async () => {
    fixture = await startServer({ env: { LETTERPRESS_LOCALE: 'en' } });
    const noDot = await subscribe(fixture, { email: 'foo@bar', name: 'Ann Lee' });
    expect(noDot.statusCode).toBe(400);
    expect(noDot.body).toContain('That address does not look right');
    expect(noDot.body).toContain('The part after the @ needs a dot');
    for (const text of VALIDATOR_TEXT) expect(noDot.body).not.toMatch(text);
    expect(fieldValue(noDot.body, 'email')).toBe('foo@bar');
    expect(fieldValue(noDot.body, 'name')).toBe('Ann Lee');

    const nonAscii = await subscribe(fixture, { email: 'jürgen@example.de' });
    expect(nonAscii.body).toContain('The part before the @ may only use English letters, digits and common symbols');
    for (const text of VALIDATOR_TEXT) expect(nonAscii.body).not.toMatch(text);

    const noAt = await subscribe(fixture, { email: 'ann.example.org' });
    expect(noAt.body).toContain('The address needs an @');
    const long = await subscribe(fixture, { email: `${'a'.repeat(65)}@example.org` });
    expect(long.body).toContain('The part before the @ is too long');
  });

  it('escapes what it shows back: typed values cannot add markup or attributes', async () => {
    fixture = await startServer();
    const response = await subscribe(fixture, { email: '"><script>alert(1)</script>@x.org', name: '"><img src=x onerror=alert(1)>' });
    expect(response.statusCode).toBe(400);
    expect(response.body).not.toContain('<script>alert');
    expect(response.body).not.toContain('<img src');
    expect(fieldValue(response.body, 'email')).toBe('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@x.org');
  });

  it('redisplays the form with a fresh fill-time stamp', async () => {
    fixture = await startServer();
    const response = await subscribe(fixture, { email: 'foo@bar' });
    const stamp = stampOf(response.body);
    expect(stamp).toBeDefined();
    fixture.clock.advance(3000);
    const fixed = await subscribe(fixture, { email: 'foo@bar.example', started: stamp! });
    expect(fixed.statusCode).toBe(200);
    await fixture.settle();
    expect(fixture.calls).toHaveLength(1);
  });

  it('repeats the address on success and mentions the spam folder', async () => {
    fixture = await startServer();
    const zh = await subscribe(fixture, { email: ' Reader@Example.ORG ' });
    expect(zh.statusCode).toBe(200);
    expect(zh.body).toContain('Reader@example.org');
    expect(zh.body).toContain('垃圾邮件');
    await fixture.close();
    fixture = await startServer({ env: { LETTERPRESS_LOCALE: 'en' } });
    const en = await subscribe(fixture, { email: 'reader@example.org' });
    expect(en.body).toContain('reader@example.org');
    expect(en.body).toContain('check your spam folder');
  });

  it('says "too many requests" in the site locale, not the limiter text', async () => {
    fixture = await startServer({ env: { LETTERPRESS_LOCALE: 'en', LETTERPRESS_SERVER_LIMITS_PERIPPERMINUTE: '1' } });
    await subscribe(fixture, { email: 'one@example.org' });
    const limited = await subscribe(fixture, { email: 'two@example.org' });
    expect(limited.statusCode).toBe(429);
    expect(limited.body).toContain('Too many requests');
    expect(limited.body).not.toContain('at most 1 a minute');
  });
});

describe('a busy store', () => {
  it('answers 503 with a "busy, try again" page in the site locale and Retry-After', async () => {
    fixture = await startServer();
    await subscribe(fixture, { email: 'warm@example.org' });
    // Another process holds the write lock past the store's busy timeout.
    const other = new Database(path.join(fixture.app.loaded.paths.data, 'letterpress.db'));
    other.exec('BEGIN IMMEDIATE');
    try {
      const response = await subscribe(fixture, { email: 'locked@example.org' });
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
      expect(response.body).toContain('服务器繁忙');
      expect(response.body).not.toMatch(/SQLITE|locked/);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
  });
});

describe('a form sent too fast', () => {
  it('asks to press the button once more, with a fresh stamp and the typed values, and sends nothing', async () => {
    fixture = await startServer();
    const page = await fixture.server.inject({ method: 'GET', url: '/subscribe' });
    const stamp = stampOf(page.body)!;
    const tooFast = await subscribe(fixture, { email: 'fast@example.org', name: '小李', started: stamp });
    expect(tooFast.statusCode).toBe(400);
    expect(tooFast.body).toContain('请再点击一次');
    expect(tooFast.body).not.toContain('请查收邮件');
    expect(fieldValue(tooFast.body, 'email')).toBe('fast@example.org');
    expect(fieldValue(tooFast.body, 'name')).toBe('小李');
    const fresh = stampOf(tooFast.body);
    expect(fresh).toBeDefined();
    await fixture.settle();
    expect(fixture.calls).toHaveLength(0);

    // A bot that resubmits at once keeps getting that page.
    const again = await subscribe(fixture, { email: 'fast@example.org', started: fresh! });
    expect(again.body).toContain('请再点击一次');
    await fixture.settle();
    expect(fixture.calls).toHaveLength(0);

    // A person pressing the button again a moment later is subscribed.
    fixture.clock.advance(2500);
    const human = await subscribe(fixture, { email: 'fast@example.org', started: stampOf(again.body)! });
    expect(human.statusCode).toBe(200);
    expect(human.body).toContain('请查收邮件');
    await fixture.settle();
    expect(fixture.calls).toHaveLength(1);
  });

  it('treats a stale or forged stamp the same way (a page left open for a day, keys changed)', async () => {
    fixture = await startServer({ env: { LETTERPRESS_LOCALE: 'en' } });
    const page = await fixture.server.inject({ method: 'GET', url: '/subscribe' });
    const stamp = stampOf(page.body)!;
    fixture.clock.advance(25 * 60 * 60 * 1000);
    const stale = await subscribe(fixture, { email: 'late@example.org', started: stamp });
    expect(stale.body).toContain('Please press the button once more');
    const forged = await subscribe(fixture, { email: 'late@example.org', started: 'x.y.z' });
    expect(forged.body).toContain('Please press the button once more');
    await fixture.settle();
    expect(fixture.calls).toHaveLength(0);
  });

  it('answers JSON clients with error too-fast and a fresh stamp', async () => {
    fixture = await startServer();
    const page = await fixture.server.inject({ method: 'GET', url: '/subscribe' });
    const response = await subscribe(fixture, { email: 'fast@example.org', started: stampOf(page.body)! }, JSON_TYPE);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ ok: false, error: 'too-fast', started: expect.any(String) });
  });
});

describe('subscription logs', () => {
  it('logs one subscribe line per request with the keyed hash, never the address, and why nothing was sent', async () => {
    const { f, lines, raw } = await startLogged();
    fixture = f;
    const store = await f.app.store();
    await store.upsertSubscriber({ email: 'active@example.org', status: 'active', source: 'add' });
    await subscribe(f, { email: 'new@example.org' });
    await subscribe(f, { email: 'new@example.org' });
    await subscribe(f, { email: 'active@example.org' });
    await subscribe(f, { email: 'foo@bar' });
    const page = await f.server.inject({ method: 'GET', url: '/subscribe' });
    await subscribe(f, { email: 'fast@example.org', started: stampOf(page.body)! });
    await subscribe(f, { email: 'bot@example.org', website: 'http://spam.example' });
    await f.server.close();

    const subscribes = lines.filter((line) => line.event === 'subscribe');
    expect(subscribes.map((line) => [line.subscriber, line.sent, line.reason])).toEqual([
      [maskEmail('new@example.org'), true, undefined],
      [maskEmail('new@example.org'), false, 'cooldown'],
      [maskEmail('active@example.org'), false, 'already-active'],
      [maskEmail('foo@bar'), false, 'invalid-email'],
      [maskEmail('fast@example.org'), false, 'too-fast'],
      [maskEmail('bot@example.org'), false, 'honeypot'],
    ]);
    expect(subscribes[3]).toMatchObject({ code: 'domain-no-dot' });
    for (const address of ['new@example.org', 'active@example.org', 'foo@bar', 'fast@example.org', 'bot@example.org']) {
      expect(raw()).not.toContain(address);
    }
  });

  it('logs confirm and unsubscribe with the keyed hash and the outcome', async () => {
    const { f, lines, raw } = await startLogged();
    fixture = f;
    const store = await f.app.store();
    const pending = (await store.upsertSubscriber({ email: 'ann@example.org', status: 'pending', source: 'form' })).subscriber!;
    const keyring = await f.app.keyring();
    const confirm = signToken(keyring, { purpose: 'confirm', subscriberId: pending.id, expiresAt: confirmTokenExpiry(f.clock.now()) });
    const unsub = signToken(keyring, { purpose: 'unsub', subscriberId: pending.id });
    await f.server.inject({ method: 'POST', url: '/confirm', headers: FORM, payload: form({ token: confirm }) });
    await f.server.inject({ method: 'POST', url: '/confirm', headers: FORM, payload: form({ token: confirm }) });
    await f.server.inject({ method: 'POST', url: '/confirm', headers: FORM, payload: form({ token: `${confirm}x` }) });
    await f.server.inject({ method: 'POST', url: `/unsubscribe?token=${unsub}`, headers: FORM, payload: 'List-Unsubscribe=One-Click' });
    await f.server.inject({ method: 'POST', url: `/unsubscribe?token=${unsub}`, headers: FORM, payload: 'List-Unsubscribe=One-Click' });
    await f.server.close();

    const hash = maskEmail('ann@example.org');
    const confirms = lines.filter((line) => line.event === 'confirm');
    expect(confirms.map((line) => [line.subscriber, line.outcome, line.reason])).toEqual([
      [hash, 'activated', undefined],
      [hash, 'unchanged', 'already-active'],
      [undefined, 'refused', 'malformed'],
    ]);
    const unsubscribes = lines.filter((line) => line.event === 'unsubscribe');
    expect(unsubscribes.map((line) => [line.subscriber, line.outcome, line.reason])).toEqual([
      [hash, 'unsubscribed', undefined],
      [hash, 'unchanged', 'already-unsubscribed'],
    ]);
    expect(raw()).not.toContain('ann@example.org');
  });
});
