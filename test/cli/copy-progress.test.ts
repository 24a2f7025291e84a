import { describe, expect, it } from 'vitest';
import { createCopyProgress } from '../../src/cli/copy-progress.ts';

describe('createCopyProgress', () => {
  it('through a pipe: a line at most every interval, and one when each table is done', () => {
    let text = '';
    let now = 0;
    const progress = createCopyProgress({ write: (t) => void (text += t) }, { intervalMs: 1000, now: () => now });
    for (let done = 5; done <= 20; done += 5) {
      now += 600;
      progress.onEvent({ kind: 'copy', table: 'deliveries', done, total: 20 });
    }
    progress.onEvent({ kind: 'check', table: 'issues', done: 3, total: 3 });
    progress.finish();
    expect(text).toBe('copying deliveries: 10/20 rows\ncopying deliveries: 20/20 rows\ncomparing issues: 3/3 rows\n');
  });

  it('on a terminal: one redrawn line per table, kept once the table is done', () => {
    let text = '';
    const progress = createCopyProgress({ write: (t) => void (text += t), isTTY: true });
    progress.onEvent({ kind: 'copy', table: 'subscribers', done: 5, total: 10 });
    progress.onEvent({ kind: 'copy', table: 'subscribers', done: 10, total: 10 });
    progress.onEvent({ kind: 'copy', table: 'deliveries', done: 1, total: 30 });
    progress.finish();
    expect(text).toBe(
      '\r\x1b[2Kcopying subscribers: 5/10 rows\r\x1b[2Kcopying subscribers: 10/10 rows\n\r\x1b[2Kcopying deliveries: 1/30 rows\r\x1b[2K',
    );
  });
});
