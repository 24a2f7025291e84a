import { describe, expect, it } from 'vitest';
import { createSendProgress, formatSendSummary } from '../../src/cli/send-progress.ts';

const progress = (done: number, total: number) => ({
  kind: 'progress' as const,
  progress: { slug: '2024-18', done, total, sent: done, failed: 0, deferred: 0, bounced: 0, skipped: 0 },
});

describe('send progress', () => {
  it('draws a bar with rate and ETA on a terminal, at most ten frames a second', () => {
    let out = '';
    let clock = 0;
    const view = createSendProgress({ write: (text) => void (out += text), isTTY: true }, { now: () => clock });
    view.onEvent({ kind: 'start', slug: '2024-18', title: 'T', total: 100, transport: 'outbox' });
    for (let done = 1; done <= 100; done += 1) {
      clock += 10;
      view.onEvent(progress(done, 100));
    }
    const frames = out.split('\r\x1b[2K').filter((frame) => frame.startsWith('['));
    expect(frames.length).toBeLessThanOrEqual(11);
    expect(frames.at(-1)).toMatch(/^\[#{24}\] 100\/100 100 msg\/s ETA 0s/);
  });

  it('logs a line every few seconds when not on a terminal', () => {
    const lines: string[] = [];
    let clock = 0;
    const view = createSendProgress({ write: (text) => void lines.push(text) }, { now: () => clock, intervalMs: 5000 });
    view.onEvent({ kind: 'start', slug: '2024-18', title: 'T', total: 1000, transport: 'smtp://relay:587' });
    for (let done = 1; done <= 1000; done += 1) {
      clock += 20;
      view.onEvent(progress(done, 1000));
    }
    const progressLines = lines.filter((line) => line.includes('msg/s'));
    expect(progressLines).toHaveLength(4);
    expect(progressLines[0]).toMatch(/^2024-18: 250\/1000 \(50 msg\/s, ETA 15s\): sent 250/);
  });

  it('summarises a run with its rate and what is left for later', () => {
    const line = formatSendSummary({
      slug: '2024-18',
      sent: 90,
      failed: 2,
      bounced: 1,
      skipped: 3,
      deferred: 4,
      durationMs: 2000,
      remainingDeferred: 4,
      nextRetryAt: '2026-11-22T15:00:00.000Z',
      complete: false,
      lost: 0,
    });
    expect(line).toBe(
      '2024-18: 90 sent, 2 failed, 1 bounced, 3 skipped, 4 deferred in 2.0 s (45.0 msg/s, 100 handled); 4 deferred for retry from 2026-11-22T15:00:00.000Z (run send again, or leave it to the daemon)',
    );
  });
});
