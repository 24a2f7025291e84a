import { watch } from 'node:fs';
import path from 'node:path';
import { isEditorTemporary } from '../project/list-issue-files.ts';

/** A running watch on `issues/`: close it on shutdown. */
export interface IssueWatch {
  close(): void;
}

/**
 * Calls `onChange` when something in `dir` changes, editors' temporary files aside, and
 * `onError` if the watch fails later. Throws when the directory cannot be watched at all.
 */
export type WatchIssues = (dir: string, onChange: () => void, onError: (error: Error) => void) => IssueWatch;

/** The real watch: fs.watch, recursive. */
export const watchIssueFiles: WatchIssues = (dir, onChange, onError) => {
  const watcher = watch(dir, { recursive: true }, (_event, name) => {
    const file = name ? path.basename(name.toString()) : '';
    if (file && isEditorTemporary(file)) return;
    onChange();
  });
  watcher.on('error', onError);
  return watcher;
};
