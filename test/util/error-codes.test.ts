import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIAGNOSTIC_CODES, ERROR_CODES, exitStatusOf, formatErrorCodesMarkdown } from '../../src/util/error-codes.ts';
import { REPO_ROOT } from '../helpers/temp-project.ts';

/** Every .ts file under src/, with its text. */
async function sourceFiles(dir = path.join(REPO_ROOT, 'src')): Promise<{ file: string; text: string }[]> {
  const found: { file: string; text: string }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await sourceFiles(full)));
    else if (entry.name.endsWith('.ts')) found.push({ file: path.relative(REPO_ROOT, full), text: await readFile(full, 'utf8') });
  }
  return found;
}

describe('the table of error codes', () => {
  it('lists every E_/W_ code that src/ names in quotes', async () => {
    const known = new Set([...Object.keys(ERROR_CODES), ...Object.keys(DIAGNOSTIC_CODES)]);
    const missing: string[] = [];
    for (const { file, text } of await sourceFiles()) {
      for (const match of text.matchAll(/['"`]([EW]_[A-Z0-9_]+)['"`]/g)) {
        if (!known.has(match[1]!)) missing.push(`${file}: ${match[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('gives each code a meaning, what to do, and an exit status of the convention', () => {
    for (const [code, entry] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^E_[A-Z0-9_]+$/);
      expect([1, 2, 70, 75], code).toContain(entry.exit);
      expect(entry.meaning.length, code).toBeGreaterThan(10);
      expect(entry.action.length, code).toBeGreaterThan(5);
    }
    for (const code of Object.keys(DIAGNOSTIC_CODES)) expect(code).toMatch(/^[EW]_[A-Z0-9_]+$/);
    // Neither section repeats the other: one meaning per code.
    expect(Object.keys(ERROR_CODES).filter((code) => Object.hasOwn(DIAGNOSTIC_CODES, code))).toEqual([]);
  });

  it('says which failures are temporary, usage or a bug', () => {
    expect(exitStatusOf('E_STORE_BUSY')).toBe(75);
    expect(exitStatusOf('E_SMTP_CONNECT')).toBe(75);
    expect(exitStatusOf('E_USAGE')).toBe(2);
    expect(exitStatusOf('E_INTERNAL')).toBe(70);
    expect(exitStatusOf('E_CONFIG')).toBe(1);
    expect(exitStatusOf('E_FRONT_MATTER')).toBe(1);
    // A code nobody put in the table is itself a bug.
    expect(exitStatusOf('E_NOT_IN_THE_TABLE')).toBe(70);
  });

  it('is the table README.md shows (regenerate with `letterpress help errors --markdown`)', async () => {
    const readme = await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const match = /<!-- error-codes:start -->\n([\s\S]*?)<!-- error-codes:end -->/.exec(readme);
    expect(match, 'README.md has the error-codes markers').not.toBeNull();
    expect(match![1]).toBe(formatErrorCodesMarkdown());
  });
});
