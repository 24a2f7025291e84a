import { describe, expect, it } from 'vitest';
import { createBuildProgress } from '../../src/cli/progress.ts';

describe('createBuildProgress', () => {
  it('logs a line at most every interval when not on a terminal', () => {
    let text = '';
    let now = 0;
    const progress = createBuildProgress({ write: (t) => void (text += t) }, { intervalMs: 1000, now: () => now });
    for (let done = 1; done <= 10; done += 1) {
      now += 300;
      progress.onProgress({ phase: 'render', done, total: 10, slug: `s${done}` });
    }
    progress.finish();
    expect(text).toBe('rendering: 4/10 issues checked\nrendering: 8/10 issues checked\n');
  });

  it('redraws one line on a terminal and clears it at the end', () => {
    let text = '';
    const progress = createBuildProgress({ write: (t) => void (text += t), isTTY: true });
    progress.onProgress({ phase: 'render', done: 1, total: 2, slug: 'a' });
    progress.onProgress({ phase: 'render', done: 2, total: 2, slug: 'b' });
    progress.finish();
    expect(text.split('\r\x1b[2K')).toEqual(['', `[${'#'.repeat(12)}${'.'.repeat(12)}] 1/2 a`, `[${'#'.repeat(24)}] 2/2 b`, '']);
  });
});
