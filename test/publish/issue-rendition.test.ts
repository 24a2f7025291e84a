import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { activeRows, createSendProject, importRows, TEST_SECRET, withStore } from '../helpers/send-project.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';
import { createTempProject, runCli } from '../helpers/temp-project.ts';

/**
 * Issue 14, acceptance 2: a sender needs only the store, the config and the secret. An issue
 * planned in a full project is sent from a copy whose issues/, templates/ and out/ are gone,
 * and every message body equals what the full project sends, apart from the per-recipient slots.
 */

const env = { LETTERPRESS_SECRET: TEST_SECRET };
const SLUG = '2024-33';
const roots: string[] = [];

afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

/** Each outbox message of an issue by recipient: its parsed text and html with the slots blanked. */
async function outboxBodies(root: string, slug: string): Promise<Map<string, { subject: string; text: string; html: string; from: string }>> {
  const folder = path.join(root, 'data', 'outbox', slug);
  const bodies = new Map<string, { subject: string; text: string; html: string; from: string }>();
  for (const name of (await readdir(folder)).filter((file) => file.endsWith('.eml')).sort()) {
    const parsed = await simpleParser(await readFile(path.join(folder, name)));
    const to = Array.isArray(parsed.to) ? parsed.to[0] : parsed.to;
    const address = to?.value[0]?.address ?? '?';
    // Tokens are per recipient (and differ only if the key did): blank them before comparing.
    const blank = (value: string) => value.replace(/token=[A-Za-z0-9._~-]+/g, 'token=<token>');
    expect(bodies.has(address), `one message per recipient (${address})`).toBe(false);
    bodies.set(address, { subject: parsed.subject ?? '', text: blank(parsed.text ?? ''), html: blank(String(parsed.html)), from: parsed.from?.text ?? '' });
  }
  return bodies;
}

describe('the rendition in the store', () => {
  it('sends a planned issue from the store alone, with the bodies the full project sends', async () => {
    const full = await createSendProject(activeRows(4), env);
    roots.push(full);
    // A new issue after the backlog: published and planned by the build, its rendition stored.
    const text = (await readFile(path.join(full, 'issues', '2024-32.md'), 'utf8')).replace('第三十二期', '第三十三期');
    await writeFile(path.join(full, 'issues', `${SLUG}.md`), text);
    const built = await runCli(['build'], full, env);
    expect(built.code, built.stderr).toBe(0);
    const stored = await withStore(full, async (store) => ({ issue: await store.getIssue(SLUG), rendition: await store.getRendition(SLUG) }));
    expect(stored.issue?.state).toBe('planned');
    expect(stored.rendition).toMatchObject({ issueSlug: SLUG, subject: '云计算技术动态 2024 年第三十三期', siteUrl: 'http://127.0.0.1:8080' });
    expect(stored.rendition?.html).toContain('%%unsubscribe_url%%');

    // The same store and config, without the project tree.
    const bare = `${full}-bare`;
    roots.push(bare);
    await cp(full, bare, { recursive: true });
    for (const folder of ['issues', 'templates', 'out']) await rm(path.join(bare, folder), { recursive: true, force: true });
    await rm(path.join(bare, 'data', 'build-state.json'), { force: true });

    const fromBare = await runCli(['send'], bare, env);
    expect(fromBare.code, fromBare.stderr).toBe(0);
    expect(fromBare.stderr).toContain('not building');
    const fromFull = await runCli(['send'], full, env);
    expect(fromFull.code, fromFull.stderr).toBe(0);

    const sentBare = await outboxBodies(bare, SLUG);
    const sentFull = await outboxBodies(full, SLUG);
    expect(sentBare.size).toBe(4);
    expect([...sentBare.keys()].sort()).toEqual([...sentFull.keys()].sort());
    for (const [address, body] of sentFull) {
      expect(sentBare.get(address)).toEqual(body);
    }
    expect(sentFull.get('reader-0001@example.org')?.text).toContain('token=<token>');
    for (const root of [bare, full]) {
      expect(await withStore(root, async (store) => (await store.getIssue(SLUG))?.state)).toBe('sent');
    }
  });

  it('re-renders a planned issue edited before sending, and never one being sent', async () => {
    const root = await createSendProject(activeRows(2), env);
    roots.push(root);
    const file = path.join(root, 'issues', `${SLUG}.md`);
    const text = (await readFile(path.join(root, 'issues', '2024-32.md'), 'utf8')).replace('第三十二期', '第三十三期');
    await writeFile(file, text);
    expect((await runCli(['build'], root, env)).code).toBe(0);
    const first = await withStore(root, (store) => store.getRendition(SLUG));

    await writeFile(file, `${text}\n\nA correction before sending.\n`);
    expect((await runCli(['build'], root, env)).code).toBe(0);
    const edited = await withStore(root, (store) => store.getRendition(SLUG));
    expect(edited?.renderKey).not.toBe(first?.renderKey);
    expect(edited?.text).toContain('A correction before sending.');

    // Once sending (a sender took it), an edit changes the site but not the messages.
    await withStore(root, (store) => store.transitionIssue(SLUG, ['planned'], 'sending', new Date().toISOString()));
    await writeFile(file, `${text}\n\nA late edit.\n`);
    expect((await runCli(['build'], root, env)).code).toBe(0);
    const during = await withStore(root, (store) => store.getRendition(SLUG));
    expect(during?.renderKey).toBe(edited?.renderKey);
    expect(during?.text).not.toContain('A late edit.');
    expect(await readFile(path.join(root, 'out', 'issues', SLUG, 'email.txt'), 'utf8')).toContain('A late edit.');
  });

  it('checks the site URL and From the issue was rendered with, not only the config', async () => {
    const sink = await startSmtpSink();
    try {
      const root = await createTempProject();
      roots.push(root);
      const smtp = { ...env, LETTERPRESS_SMTP_URL: sink.url };
      expect((await runCli(['build'], root, smtp)).code).toBe(0);
      await importRows(root, activeRows(2), smtp);
      // Planned while the config still had the loopback site URL and a From on localhost.
      const text = (await readFile(path.join(root, 'issues', '2024-32.md'), 'utf8')).replace('第三十二期', '第三十三期');
      await writeFile(path.join(root, 'issues', `${SLUG}.md`), text);
      expect((await runCli(['build'], root, smtp)).code).toBe(0);

      // The config is public now, but the planned messages still carry the old values.
      const fixed = { ...smtp, LETTERPRESS_SITE_URL: 'https://news.acme-letters.org', LETTERPRESS_SENDER_FROMADDRESS: 'news@acme-letters.org' };
      const refused = await runCli(['send', '--no-build'], root, fixed);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('[E_PREFLIGHT]');
      expect(refused.stderr).toContain('the site URL this issue was rendered with http://127.0.0.1:8080');
      expect(refused.stderr).toContain('the From this issue was rendered with newsletter@localhost');
      expect(sink.messages).toHaveLength(0);
      expect(await withStore(root, async (store) => (await store.getIssue(SLUG))?.state)).toBe('planned');

      // A build renders the planned issue again under the new config; then it goes out.
      const sent = await runCli(['send'], root, fixed);
      expect(sent.code, sent.stderr).toBe(0);
      expect(sink.messages).toHaveLength(2);
      const raw = sink.messages[0]!.raw.toString('latin1');
      expect(raw).toContain('https://news.acme-letters.org/unsubscribe?token=');
      expect(raw).toMatch(/^From: .*news@acme-letters\.org/m);
    } finally {
      await sink.close();
    }
  });
});
