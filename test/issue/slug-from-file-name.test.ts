import { describe, expect, it } from 'vitest';
import { slugFromFileName } from '../../src/issue/slug-from-file-name.ts';

describe('slugFromFileName', () => {
  it.each([
    ['issues/2024-18.md', '2024-18'],
    ['C:\\letters\\2024-32.markdown', '2024-32'],
    ['issues/Weekly Digest #7.md', 'weekly-digest-7'],
    ['Ｗｅｅｋｌｙ　１８.md', 'weekly-18'],
    ['Crème Brûlée.md', 'creme-brulee'],
    ['--Hello__World--.md', 'hello-world'],
    ['no-extension', 'no-extension'],
    ['archive.2024.05.md', 'archive-2024-05'],
    ['云计算技术动态第十八期.md', ''],
    ['2024 年第十八期.md', '2024'],
    [`${'a'.repeat(79)}-b.md`, 'a'.repeat(79)],
  ])('%s → %j', (file, slug) => {
    expect(slugFromFileName(file)).toBe(slug);
  });
});
