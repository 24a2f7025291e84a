import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z as fromSource } from '../../src/vendor/zod.ts';
import { REPO_ROOT } from '../helpers/temp-project.ts';

const SHIPPED = path.join(REPO_ROOT, 'dist/vendor/zod.js');

/** A schema using every part of `z`, made with the given `z`. */
function sampleSchema(z: typeof fromSource) {
  return z.strictObject({
    url: z.string().refine((value) => value.startsWith('https://'), { message: 'must be an https URL' }),
    count: z.number().int().min(1).max(10).default(3),
    on: z.boolean().optional(),
    kind: z.enum(['a', 'b']),
  });
}

const BAD_INPUTS = [
  { url: 'ftp://x', count: 'three', on: 'yes', kind: 'c' },
  { url: 5, count: 0, kind: 'a', extra: true },
  { count: 11.5 },
  'not an object',
];

describe('the bundled zod the build ships (dist/vendor/zod.js)', () => {
  it('holds only what `z` names, not the locales or the JSON Schema code', async () => {
    const source = await readFile(SHIPPED, 'utf8');
    expect(source.length).toBeLessThan(400_000);
    // Two locales' own messages (the bundle escapes what is not ASCII): English only is kept.
    expect(source).not.toContain('Eingabe');
    expect(source).not.toContain('Entrada inv');
  });

  it('gives the same values and the same messages as zod from source', async () => {
    const shipped = (await import(pathToFileURL(SHIPPED).href)) as { z: typeof fromSource };
    expect(Object.keys(shipped.z).sort()).toEqual(Object.keys(fromSource).sort());
    const fromShipped = sampleSchema(shipped.z);
    const expected = sampleSchema(fromSource);
    expect(fromShipped.parse({ url: 'https://x', kind: 'b' })).toEqual({ url: 'https://x', count: 3, kind: 'b' });
    for (const input of BAD_INPUTS) {
      const a = fromShipped.safeParse(input);
      const b = expected.safeParse(input);
      expect(a.success).toBe(false);
      expect(a.error!.issues.map((issue) => [issue.path, issue.message])).toEqual(b.error!.issues.map((issue) => [issue.path, issue.message]));
    }
    // Messages are English sentences, not bare codes: the default locale came with the bundle.
    expect(fromShipped.safeParse(BAD_INPUTS[0]).error!.issues.map((issue) => issue.message)).toContain('Invalid input: expected number, received string');
  });
});
