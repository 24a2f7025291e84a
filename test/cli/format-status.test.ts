import { describe, expect, it } from 'vitest';
import { formatIssueStatus, type IssueStatusView } from '../../src/cli/format-status.ts';

const stalledIssue: IssueStatusView = {
  slug: '2024-42',
  title: 'Weekly 42',
  state: 'sending',
  publishedAt: '2026-12-01T10:00:00.000Z',
  counts: { queued: 10, sending: 0, sent: 5, deferred: 0, failed: 0, bounced: 0, skipped: 0 },
  stalled: { code: 'E_SMTP_CONNECT', message: 'cannot reach the SMTP server', since: '2026-12-01T10:05:00.000Z', nextRetryAt: null },
};

describe('a stalled send in status', () => {
  it('says who retries: live senders (workers on any machine), else nobody', () => {
    const withWorkers = formatIssueStatus(stalledIssue, { timezone: 'UTC', daemonAlive: false, liveSenders: 2 }).join('\n');
    expect(withWorkers).toContain('2 live senders keep trying: fix the relay and they go on');
    expect(withWorkers).not.toContain('no daemon runs to retry');

    const nobody = formatIssueStatus(stalledIssue, { timezone: 'UTC', daemonAlive: false, liveSenders: 0 }).join('\n');
    expect(nobody).toContain('no daemon runs to retry: fix the relay, then `letterpress send`');
  });
});
