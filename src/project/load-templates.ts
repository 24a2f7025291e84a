import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { REQUIRED_TEMPLATE_FILES } from '../render/compile-templates.ts';
import type { TemplateSources } from '../render/types.ts';
import { LetterpressError } from '../util/errors.ts';
import { OutsideFolderError, resolveInside } from '../util/resolve-inside.ts';

/** Folders whose every file of the given extension belongs to the set (partials, strings). */
const OPTIONAL_FOLDERS: ReadonlyArray<{ folder: string; ext: string }> = [
  { folder: 'partials', ext: '.hbs' },
  { folder: 'i18n', ext: '.json' },
];

async function readText(dir: string, relative: string): Promise<string> {
  const full = path.join(dir, ...relative.split('/'));
  try {
    // A template that links out of the folder (web/style.css → /etc/passwd) would be
    // published as is: refused, naming the template.
    return await readFile(await resolveInside(dir, full, { shown: full }), 'utf8');
  } catch (error) {
    if (error instanceof OutsideFolderError) {
      throw new LetterpressError('E_TEMPLATE', `template file ${error.message}`, { cause: error, file: full });
    }
    const code = (error as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? `template file missing: ${full}`
        : `cannot read template file ${full}: ${(error as Error).message}`;
    throw new LetterpressError('E_TEMPLATE', message, { cause: error, file: full });
  }
}

async function listFolder(dir: string, folder: string, ext: string): Promise<string[]> {
  try {
    const entries = await readdir(path.join(dir, folder), { withFileTypes: true });
    return entries
      .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && entry.name.endsWith(ext))
      .map((entry) => `${folder}/${entry.name}`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new LetterpressError('E_TEMPLATE', `cannot list ${path.join(dir, folder)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Reads a template folder into plain data (the only template I/O there is), so compiling and
 * rendering stay pure. A missing required file is an E_TEMPLATE error naming its full path.
 */
export async function loadTemplateSources(dir: string): Promise<TemplateSources> {
  const names = new Set(REQUIRED_TEMPLATE_FILES);
  for (const { folder, ext } of OPTIONAL_FOLDERS) {
    for (const name of await listFolder(dir, folder, ext)) names.add(name);
  }
  const files: Record<string, string> = {};
  for (const name of [...names].sort()) files[name] = await readText(dir, name);
  return { origin: dir, files };
}
