import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { IssueParser, ParseRequest } from '../../src/project/issue-parser.ts';
import type { ParseIssueResult } from '../../src/issue/parse-issue.ts';
import { LetterpressError } from '../../src/util/errors.ts';
import { hostileIssues } from '../fixtures/hostile/hostile-issues.ts';
import { createDaemonWorld, logText, type DaemonWorld } from '../helpers/daemon-project.ts';
import { startFakeDaemon, type FakeDaemon } from '../helpers/fake-daemon.ts';

/**
 * Issue 11: a parser that never answers (a file built to be slow, under a generous
 * limits.parseSeconds) holds neither the HTTP server nor the stop. The parser is a fake that
 * hangs; the daemon, its store and its HTTP server (port 0) are real, the clock is fake.
 */

/** A parser whose parse() never answers. `releaseOnClose`: close() rejects what it holds, as the worker parser does. */
function hangingParser(releaseOnClose: boolean) {
  const held: ((error: Error) => void)[] = [];
  const asked: string[] = [];
  let parsing: () => void = () => undefined;
  const firstParse = new Promise<void>((resolve) => (parsing = resolve));
  let closes = 0;
  const parser: IssueParser = {
    parse(request: ParseRequest) {
      asked.push(request.file);
      parsing();
      return new Promise<ParseIssueResult>((_resolve, reject) => held.push(reject));
    },
    render() {
      return new Promise(() => undefined);
    },
    async close() {
      closes += 1;
      if (releaseOnClose) for (const reject of held.splice(0)) reject(new LetterpressError('E_ABORTED', 'parsing was abandoned: the parser was closed'));
    },
  };
  return { parser, asked, firstParse, held, closes: () => closes };
}

let daemon: FakeDaemon | undefined;
afterEach(async () => {
  await daemon?.dispose();
  daemon = undefined;
});

describe('the daemon with a parser that hangs', () => {
  it('answers /healthz while a pass is stuck in parsing, and stops cleanly by abandoning the parse', async () => {
    const hang = hangingParser(true);
    daemon = await startFakeDaemon([], { issueParser: hang.parser, serve: true });
    await hang.firstParse;
    for (let i = 0; i < 5; i++) {
      const health = await fetch(new URL('/healthz', daemon.url));
      expect(health.status).toBe(200);
    }
    expect(hang.held.length).toBeGreaterThan(0);
    expect(daemon.passes).toEqual([]);

    // No time moves: the stop ends because the parse is abandoned, not because a timeout ran out.
    expect(await daemon.stop()).toEqual({ finished: true });
    expect(hang.closes()).toBeGreaterThanOrEqual(1);
    const messages = daemon.lines.map((line) => line.msg);
    expect(messages.some((msg) => /the pass in progress stopped unfinished/.test(msg))).toBe(true);
    expect(messages.filter((msg) => /pass failed|still in flight/.test(msg))).toEqual([]);
    expect(messages.at(-1)).toBe('stopped');
    // Nothing of the stuck pass was published.
    expect(await (await daemon.app.store()).listIssues()).toEqual([]);
    // The server is closed with the daemon.
    await expect(fetch(new URL('/healthz', daemon.url))).rejects.toThrow();
  });

  it('stops within schedule.shutdownTimeoutSeconds even when closing the parser frees nothing', async () => {
    const hang = hangingParser(false);
    daemon = await startFakeDaemon([], { issueParser: hang.parser, serve: true, env: { LETTERPRESS_SCHEDULE_SHUTDOWNTIMEOUTSECONDS: '7' } });
    await hang.firstParse;
    expect((await fetch(new URL('/healthz', daemon.url))).status).toBe(200);

    let stopped = false;
    const stopping = daemon.stop().then((result) => {
      stopped = true;
      return result;
    });
    // The daemon waits on the fake clock for the shutdown timeout, and only for that.
    while (!daemon.time.pendingSleeps().includes(7000)) await new Promise((resolve) => setTimeout(resolve, 10));
    await daemon.time.advance(6999);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stopped).toBe(false);
    await daemon.time.advance(1);
    expect(await stopping).toEqual({ finished: false });
    expect(hang.closes()).toBeGreaterThanOrEqual(1);
    expect(daemon.lines.some((line) => /still in flight after 7 s/.test(line.msg))).toBe(true);
  });
});

describe('the daemon and its parser at start-up', () => {
  it('starts the parser once, before its first pass parses anything', async () => {
    const events: string[] = [];
    const hang = hangingParser(true);
    const parser: IssueParser = {
      ...hang.parser,
      prepare: () => void events.push('prepare'),
      parse: (request) => {
        events.push('parse');
        return hang.parser.parse(request);
      },
    };
    daemon = await startFakeDaemon([], { issueParser: parser, serve: true });
    await hang.firstParse;
    expect(events[0]).toBe('prepare');
    expect(events.filter((event) => event === 'prepare')).toHaveLength(1);
    expect(events).toContain('parse');
  });
});

describe('letterpress start (a child process) parsing a long corpus', () => {
  let world: DaemonWorld | undefined;
  afterEach(async () => {
    await world?.dispose();
    world = undefined;
  });

  it('exits 0 on SIGTERM mid-parse, abandoning the pass rather than waiting for the files', async () => {
    // Forty 900 KB files of links with a budget no file meets: the first pass parses for many
    // seconds, and each file alone stays well within limits.parseSeconds.
    world = await createDaemonWorld([], {
      env: { LETTERPRESS_LIMITS_PARSESECONDS: '600', LETTERPRESS_SCHEDULE_SETTLEMS: '0', LETTERPRESS_SCHEDULE_SHUTDOWNTIMEOUTSECONDS: '600' },
    });
    const links = hostileIssues().find((issue) => issue.name === 'many-links.md')!.text;
    await Promise.all(Array.from({ length: 40 }, (_, i) => writeFile(path.join(world!.root, 'issues', `links-${i}.md`), links)));
    const daemon = world.start();
    const url = await daemon.url();
    await daemon.waitFor((line) => /^watching /.test(line.msg), 30_000, 'the watching line');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await fetch(new URL('/healthz', url))).status).toBe(200);

    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    const messages = daemon.lines.map((line) => line.msg);
    expect(messages.some((msg) => /the pass in progress stopped unfinished \((parsing .* was abandoned|stopped before parsing)/.test(msg)), logText(daemon.lines)).toBe(true);
    expect(messages.filter((msg) => /pass failed|still in flight/.test(msg))).toEqual([]);
    expect(messages.at(-1)).toBe('stopped');
    // The pass recorded nothing: the samples were not even archived.
    expect(daemon.lines.filter((line) => line.state !== undefined)).toEqual([]);
  });
});
