import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { FeedEntry, IndexEntry } from '../render/types.ts';
import { LetterpressError } from '../util/errors.ts';
import { stringifyInStepsToParts } from './stringify-in-steps.ts';
import { writeFileAtomic } from './write-output.ts';

/** What the build remembers about one published issue between runs. */
export interface IssueBuildRecord {
  /** The issue file, relative to the project root, so a later broken edit can be traced to it. */
  sourceFile: string;
  /** Content hash of the issue file when it was last rendered. */
  contentHash: string;
  /** The stable date used when the front matter gives none (first commit, else first mtime seen). */
  firstSeen: string;
  /** When the content hash last changed; the feeds' `updated`. */
  updated: string;
  /** Feed id, frozen the first time the issue was published. */
  feedId: string;
  /** Fingerprint of everything the rendered files depend on; equal means "skip rendering". */
  renderKey: string;
  /** The rendered feed and index entries, so unchanged issues need no re-render for the feeds. */
  feedEntry: FeedEntry;
  indexEntry: IndexEntry;
}

/**
 * The build's memory, kept in `data/` (private, not regenerable from `out/`): stable dates,
 * frozen feed ids and the render cache. The store replaces the first two when it arrives.
 */
export interface BuildState {
  version: 1;
  issues: Record<string, IssueBuildRecord>;
}

export const BUILD_STATE_FILE = 'build-state.json';

export function emptyBuildState(): BuildState {
  return { version: 1, issues: {} };
}

/**
 * The state this process last read, with the file's size and modification time then. A daemon
 * reads the state for every issue it sends, and the state holds each issue's whole feed
 * content: parsing it again for each was tens of milliseconds of a server's event loop apiece.
 */
let lastRead: { file: string; size: number; mtimeMs: number; state: BuildState } | undefined;

/**
 * Reads the state; a missing file is a first build, a corrupt one is an error naming it. The
 * result is shared with later reads of the same unchanged file: treat it as read-only.
 */
export async function readBuildState(dataDir: string): Promise<BuildState> {
  const file = path.join(dataDir, BUILD_STATE_FILE);
  let text: string;
  let seen: { size: number; mtimeMs: number };
  try {
    seen = await stat(file);
    if (lastRead?.file === file && lastRead.size === seen.size && lastRead.mtimeMs === seen.mtimeMs) return lastRead.state;
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyBuildState();
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as BuildState;
    if (parsed?.version !== 1 || typeof parsed.issues !== 'object' || parsed.issues === null) {
      throw new Error('unexpected shape');
    }
    // Only when the text is what the stat described: a file replaced in between is read again next time.
    if (Buffer.byteLength(text) === seen.size) lastRead = { file, size: seen.size, mtimeMs: seen.mtimeMs, state: parsed };
    return parsed;
  } catch (error) {
    throw new LetterpressError(
      'E_BUILD_STATE',
      `${file}: unreadable build state (${(error as Error).message}); move it aside to rebuild from scratch (issue dates without front matter would then be re-derived)`,
      { cause: error, file },
    );
  }
}

/**
 * Saves the state atomically; keys sorted so the file diffs cleanly. Records are turned into
 * JSON a slice at a time with turns of the event loop between (each holds an issue's whole
 * feed content, so all at once held a server in the same process); the text is exactly
 * `JSON.stringify({ version: 1, issues }, null, 1)`.
 */
export async function writeBuildState(dataDir: string, state: BuildState): Promise<void> {
  const slugs = Object.keys(state.issues).sort();
  // Kept as parts and written as parts: joined, the text of a state holding big issues was a
  // copy of tens of megabytes in one turn, and encoding it flattened it again.
  const parts: string[] = ['{\n "version": 1,\n "issues": ', slugs.length === 0 ? '{}' : '{\n'];
  for (const [position, slug] of slugs.entries()) {
    if (position > 0) {
      await yieldToEventLoop();
      parts.push(',\n');
    }
    // Indented as a member two levels down, like the whole-object stringify would.
    parts.push(`  ${JSON.stringify(slug)}: `, ...(await stringifyInStepsToParts(state.issues[slug], 2)));
  }
  if (slugs.length > 0) parts.push('\n }');
  parts.push('\n}\n');
  await writeFileAtomic(path.join(dataDir, BUILD_STATE_FILE), parts);
}
