import { lstatSync, realpathSync } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { LetterpressError } from './errors.ts';

/**
 * A path that resolves (through symlinks) outside the folder it was read from. The message
 * names the link, where it leads and the folder: "is a symlink to /etc/passwd, outside
 * issues/: refused".
 */
export class OutsideFolderError extends LetterpressError {
  /** Where the path really leads (its realpath). */
  readonly target: string;
  /** The message without the path in front, for diagnostics that name the file themselves. */
  readonly reason: string;

  constructor(options: { shown: string; target: string; folder: string; viaLink: boolean }) {
    const how = options.viaLink ? 'is a symlink to' : 'resolves (through a symlinked folder) to';
    const reason = `${how} ${options.target}, outside ${options.folder}/: refused`;
    super('E_OUTSIDE', `${options.shown} ${reason}`, { file: options.shown });
    this.name = 'OutsideFolderError';
    this.target = options.target;
    this.reason = reason;
  }
}

/** How a folder is named in messages: relative to `base` (the project root) when inside it. */
function folderLabel(dir: string, base: string | undefined): string {
  if (base === undefined) return dir;
  const relative = path.relative(base, dir);
  return relative === '' || relative.startsWith('..') || path.isAbsolute(relative) ? dir : relative;
}

function isWithin(dir: string, file: string): boolean {
  const relative = path.relative(dir, file);
  return relative === '' || (!relative.startsWith(`..${path.sep}`) && relative !== '..' && !path.isAbsolute(relative));
}

interface ResolveOptions {
  /** The project root, so messages name `issues/` rather than an absolute path. */
  root?: string;
  /** How the path itself is named in the message (default: `relative`). */
  shown?: string;
}

/**
 * The real path of `relative` under `dir`, refused with E_OUTSIDE when it leads outside `dir`
 * (a `..`, a symlink, or a symlinked folder on the way). Files are read and served only inside
 * the project tree: a planted link to /etc/passwd or to data/letterpress.db must not be
 * published. Links that stay inside `dir` are followed. A missing file throws the usual ENOENT.
 */
export async function resolveInside(dir: string, relative: string, options: ResolveOptions = {}): Promise<string> {
  const realDir = await realpath(dir);
  const full = path.resolve(dir, relative);
  const real = await realpath(full);
  if (isWithin(realDir, real)) return real;
  const viaLink = await lstat(full).then((info) => info.isSymbolicLink(), () => false);
  throw outside(dir, relative, real, viaLink, options);
}

/** resolveInside for the synchronous readers (issue files are read in batches, synchronously). */
export function resolveInsideSync(dir: string, relative: string, options: ResolveOptions = {}): string {
  const realDir = realpathSync(dir);
  const full = path.resolve(dir, relative);
  const real = realpathSync(full);
  if (isWithin(realDir, real)) return real;
  let viaLink = false;
  try {
    viaLink = lstatSync(full).isSymbolicLink();
  } catch {
    // It resolved a moment ago; either wording is true enough.
  }
  throw outside(dir, relative, real, viaLink, options);
}

function outside(dir: string, relative: string, target: string, viaLink: boolean, options: ResolveOptions): OutsideFolderError {
  return new OutsideFolderError({ shown: options.shown ?? relative, target, folder: folderLabel(path.resolve(dir), options.root), viaLink });
}
