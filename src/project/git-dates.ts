import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The date each file under `dir` was first committed, by absolute path. This is the stable
 * date of an issue whose front matter gives none: unlike mtime it survives a fresh clone.
 * One `git log` for the whole folder; an empty map when git or the repository is missing.
 */
export async function readFirstCommitDates(dir: string): Promise<Map<string, string>> {
  const dates = new Map<string, string>();
  let stdout: string;
  let topLevel: string;
  try {
    topLevel = (await run('git', ['rev-parse', '--show-toplevel'], { cwd: dir })).stdout.trim();
    // Oldest first, so the first date recorded for a path is the commit that added it.
    ({ stdout } = await run(
      'git',
      ['log', '--reverse', '--no-renames', '--diff-filter=A', '--format=%x00%aI', '--name-only', '-z', '--', '.'],
      { cwd: dir, maxBuffer: 64 * 1024 * 1024 },
    ));
  } catch {
    return dates;
  }
  let current: string | undefined;
  for (const field of stdout.split('\0')) {
    const token = field.replace(/^\n+/, '');
    if (token === '') continue;
    if (/^\d{4}-\d\d-\d\dT/.test(token) && !token.includes('/')) {
      current = token.trim();
      continue;
    }
    if (current === undefined) continue;
    const file = path.resolve(topLevel, token);
    if (!dates.has(file)) dates.set(file, current);
  }
  return dates;
}
