import { readdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * True for names an editor's tools leave behind (`.swp`, `~`, `.#lock`, dotfiles), which must
 * never be taken for issues.
 */
export function isEditorTemporary(name: string): boolean {
  return name.startsWith('.') || name.endsWith('~') || /\.(swp|swo|swx|tmp|bak|orig)$/i.test(name);
}

/**
 * The Markdown issue files under `dir` (recursively), as absolute paths in a stable order,
 * so every build visits issues in the same sequence.
 */
export async function listIssueFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries
    // Symlinks are listed too: reading refuses those that lead out of the folder (E_OUTSIDE),
    // so a planted link is reported rather than silently skipped, and links inside keep working.
    .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && /\.(md|markdown)$/i.test(entry.name) && !isEditorTemporary(entry.name))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .filter((file) => !path.relative(dir, file).split(path.sep).some((part) => part.startsWith('.')))
    .sort();
}
