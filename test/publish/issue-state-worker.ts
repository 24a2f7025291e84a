// A separate process that walks every issue of a store forward one guarded step at a time
// (published → planned → sending → sent), for the test that processes racing state changes
// leave one winner per step and never see an issue move backwards. Prints what it won and the
// states it saw, as JSON. It says it is ready (`<db>.ready-<pid>`) and waits for `<db>.go`.
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { moveIssue } from '../../src/publish/issue-state.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';
import type { IssueState } from '../../src/store/types.ts';

const [file, countText] = process.argv.slice(2);
if (file === undefined || countText === undefined) throw new Error('usage: issue-state-worker <file> <issue-count>');

const NEXT: Partial<Record<IssueState, IssueState>> = { published: 'planned', planned: 'sending', sending: 'sent' };
const store = await openSqliteStore({ file });
writeFileSync(`${file}.ready-${process.pid}`, '');
while (!existsSync(`${file}.go`)) await sleep(5);
const won: string[] = [];
const seen: Record<string, IssueState[]> = {};
for (let index = 0; index < Number(countText); index += 1) {
  const slug = `issue-${String(index).padStart(3, '0')}`;
  for (;;) {
    const state = (await store.getIssue(slug))?.state;
    if (state === undefined) throw new Error(`${slug} is gone`);
    (seen[slug] ??= []).push(state);
    const next = NEXT[state];
    if (next === undefined) break;
    if (await moveIssue(store, slug, next, { from: [state], at: new Date().toISOString() })) won.push(`${slug}:${state}>${next}`);
  }
}
await store.close();
process.stdout.write(JSON.stringify({ won, seen }));
