import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/site/write-output.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('writeFileAtomic in steps', () => {
  it('writes a multi-chunk string byte for byte, never splitting a surrogate pair, and skips an unchanged one', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'letterpress-write-'));
    const file = path.join(dir, 'feed.atom');
    // 😀 straddles the first 64 Ki-character boundary; CJK and a lone surrogate elsewhere.
    const content = `${'a'.repeat(64 * 1024 - 1)}😀${'中文'.repeat(70_000)}\ud800x${'b'.repeat(10)}`;
    expect(await writeFileAtomic(file, content)).toBe(true);
    expect((await readFile(file)).equals(Buffer.from(content, 'utf8'))).toBe(true);
    expect(await writeFileAtomic(file, content)).toBe(false);
    expect(await writeFileAtomic(file, `${content}!`)).toBe(true);
    expect(await writeFileAtomic(file, content.slice(0, -1))).toBe(true);
    expect((await readFile(file)).equals(Buffer.from(content.slice(0, -1), 'utf8'))).toBe(true);
  });
});
