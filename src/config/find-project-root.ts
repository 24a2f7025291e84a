import { stat } from 'node:fs/promises';
import path from 'node:path';
import { LetterpressError } from '../util/errors.ts';
import { CONFIG_FILE } from './load-config.ts';

async function holdsConfig(dir: string): Promise<boolean> {
  try {
    return (await stat(path.join(dir, CONFIG_FILE))).isFile();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A folder we may not read, or a path through a file, simply is not a project.
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return false;
    throw error;
  }
}

/**
 * The project a command works on: `root` when given (it must hold the config), else the
 * nearest directory at or above `cwd` that holds `config/letterpress.json`, as git finds
 * `.git`. Outside a project it throws E_NO_PROJECT, before anything is read or created, so a
 * stray command never leaves a `data/letterpress.db` behind.
 */
export async function findProjectRoot(options: { cwd: string; root?: string }): Promise<string> {
  const cwd = path.resolve(options.cwd);
  if (options.root !== undefined) {
    const root = path.resolve(cwd, options.root);
    if (await holdsConfig(root)) return root;
    throw new LetterpressError(
      'E_NO_PROJECT',
      `not a Letterpress project (no ${CONFIG_FILE} in --root ${root}): run \`letterpress init ${root}\` or pass the project's folder to --root`,
    );
  }
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    if (await holdsConfig(dir)) return dir;
    if (path.dirname(dir) === dir) break;
  }
  throw new LetterpressError(
    'E_NO_PROJECT',
    `not a Letterpress project (no ${CONFIG_FILE} here or in any parent directory of ${cwd}): run \`letterpress init\` or pass --root`,
  );
}
