import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { displayWidth } from '../../src/util/display-width.ts';
import { activeRows, createSendProject, SLUG, TEST_SECRET } from '../helpers/send-project.ts';
import { createDaemonWorld, eventually, waitForFirstPass, type DaemonWorld } from '../helpers/daemon-project.ts';
import { digestIssue, dropIssue } from '../helpers/daemon-child.ts';
import { runCli } from '../helpers/temp-project.ts';

/** A relay nobody listens on: every session fails to connect. */
const DEAD_RELAY = 'smtp://127.0.0.1:1';
const ENV = { LETTERPRESS_SECRET: TEST_SECRET };

interface StatusRow {
  slug: string;
  title: string;
  state: string;
  counts: Record<string, number>;
  stalled: { code: string; message: string; since: string; nextRetryAt: string | null } | null;
}

const roots: string[] = [];
const worlds: DaemonWorld[] = [];
afterEach(async () => {
  for (const world of worlds.splice(0)) await world.dispose();
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

describe('letterpress status: a stalled send (issue 9, point 3)', () => {
  it('says the sending is stalled, with the session error, since when and how to retry', async () => {
    const root = await createSendProject(activeRows(4), ENV);
    roots.push(root);
    const sent = await runCli(['send', SLUG], root, { ...ENV, LETTERPRESS_SMTP_URL: DEAD_RELAY });
    expect(sent.stderr).toContain('[E_SMTP_CONNECT]');

    const json = await runCli(['status', '--json'], root, ENV);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as StatusRow[];
    const row = rows.find((entry) => entry.slug === SLUG)!;
    expect(row.counts).toEqual({ queued: 4, sending: 0, sent: 0, deferred: 0, failed: 0, bounced: 0, skipped: 0 });
    expect(row.stalled).toMatchObject({ code: 'E_SMTP_CONNECT', nextRetryAt: null });
    expect(row.stalled!.message).toMatch(/127\.0\.0\.1:1/);
    expect(row.stalled!.since).toMatch(ISO_UTC);
    // Issues that never tried to send are not stalled, and say so with null.
    expect(rows.find((entry) => entry.slug === '2024-32')!.stalled).toBeNull();

    const text = await runCli(['status'], root, ENV);
    expect(text.stdout).toMatch(/stalled since \d{4}-\d\d-\d\d \d\d:\d\d: E_SMTP_CONNECT/);
    expect(text.stdout).toContain('no daemon runs to retry: fix the relay, then `letterpress send`');
  }, 60_000);

  it('forgets the stall once a send makes progress', async () => {
    const root = await createSendProject(activeRows(2), ENV);
    roots.push(root);
    await runCli(['send', SLUG], root, { ...ENV, LETTERPRESS_SMTP_URL: DEAD_RELAY });
    // The outbox transport (no SMTP configured) always accepts.
    expect((await runCli(['send', SLUG], root, ENV)).code).toBe(0);
    const rows = JSON.parse((await runCli(['status', '--json'], root, ENV)).stdout) as StatusRow[];
    expect(rows.find((entry) => entry.slug === SLUG)).toMatchObject({ state: 'sent', stalled: null });
  }, 60_000);

  it('shows the daemon\'s transport errors apart from file errors, and its next retry', async () => {
    const world = await createDaemonWorld(activeRows(4), { env: { LETTERPRESS_SMTP_URL: DEAD_RELAY } });
    worlds.push(world);
    const daemon = world.start();
    await waitForFirstPass(daemon);
    await dropIssue(world.root, '2024-33.md', await digestIssue(33));
    await daemon.waitFor((line) => line.code === 'E_SMTP_CONNECT', 30_000, 'a session error');
    const view = await eventually(async () => {
      const result = await runCli(['status', '--json', '--daemon'], world.root, world.env);
      const parsed = JSON.parse(result.stdout) as { issues: StatusRow[]; daemon: Record<string, unknown> };
      return (parsed.daemon.transportErrors as number) > 0 ? parsed : undefined;
    }, 20_000, 'transportErrors > 0 in status --json --daemon');
    expect(view.daemon).toMatchObject({ fileErrors: 0, errors: view.daemon.transportErrors });
    const issue = view.issues.find((entry) => entry.slug === '2024-33')!;
    expect(issue.counts.queued).toBe(4);
    expect(issue.stalled).toMatchObject({ code: 'E_SMTP_CONNECT' });
    expect(issue.stalled!.nextRetryAt).toMatch(ISO_UTC);
    const text = await runCli(['status'], world.root, world.env);
    expect(text.stdout).toMatch(/next retry \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? \(the daemon's next pass\)/);
  }, 90_000);
});

describe('letterpress status: what a person reads (issue 9, point 7)', () => {
  it('fits 100 columns with a long Chinese title, uses the configured timezone, leaves out zero counters', async () => {
    const root = await createSendProject(activeRows(3), ENV);
    roots.push(root);
    const longTitle = '云计算技术动态特别版：分布式数据库、服务网格、可观测性与大模型推理平台的年度回顾与展望 2024 年第三十三期';
    await writeFile(path.join(root, 'issues', '2024-33.md'), await digestIssue(33, { title: longTitle }));
    expect((await runCli(['publish', 'issues/2024-33.md'], root, ENV)).code).toBe(0);

    const result = await runCli(['status'], root, ENV);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    for (const line of lines) expect(displayWidth(line), line).toBeLessThanOrEqual(100);
    expect(result.stdout).toContain('Asia/Shanghai');
    // No counter that is zero: an archived issue shows none, a planned one only "queued 3".
    expect(result.stdout).not.toMatch(/\b(queued|sending|sent|deferred|failed|bounced|skipped) 0\b/);
    expect(result.stdout).toMatch(/queued 3/);
    expect(result.stdout).toContain('云计算技术动态特别版');

    // The same instant, in UTC in JSON and in Asia/Shanghai (UTC+8) for people.
    const rows = JSON.parse((await runCli(['status', '--json'], root, ENV)).stdout) as (StatusRow & { publishedAt: string })[];
    const published = rows.find((entry) => entry.slug === '2024-33')!.publishedAt;
    expect(published).toMatch(ISO_UTC);
    const local = new Date(Date.parse(published) + 8 * 3_600_000).toISOString();
    expect(result.stdout).toContain(`${local.slice(0, 10)} ${local.slice(11, 16)}`);
  }, 60_000);
});
