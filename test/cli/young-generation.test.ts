import { execFile } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/temp-project.ts';

const run = promisify(execFile);
const MODULE = pathToFileURL(path.join(REPO_ROOT, 'dist/cli/young-generation.js')).href;

/**
 * A fresh Node process that (when `keep`) calls keepYoungGenerationSmall, then allocates the
 * way a send does (short-lived garbage, some of it alive across scavenges) and reports the
 * young generation's size in MB and what the call returned.
 */
async function youngGenerationAfterChurn(keep: boolean, nodeFlags: string[] = []): Promise<{ kept: boolean; megabytes: number }> {
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    const { keepYoungGenerationSmall } = await import(${JSON.stringify(MODULE)});
    const kept = ${keep} ? keepYoungGenerationSmall() : false;
    const alive = [];
    for (let i = 0; i < 4e6; i++) {
      const garbage = { i, text: 'x' + i };
      if (i % 40 === 0) { alive.push(garbage); if (alive.length > 20000) alive.splice(0, 10000); }
    }
    const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    console.log(JSON.stringify({ kept, megabytes: space.space_size / 1048576 }));`;
  const { stdout } = await run(process.execPath, [...nodeFlags, '--input-type=module', '-e', script], { env: { PATH: process.env.PATH } });
  return JSON.parse(stdout) as { kept: boolean; megabytes: number };
}

describe('keepYoungGenerationSmall', () => {
  it('keeps the young generation at its starting size where V8 would grow it', async () => {
    const grown = await youngGenerationAfterChurn(false);
    // The same work without the call grows the young generation: the churn is a real test.
    expect(grown.megabytes).toBeGreaterThanOrEqual(8);
    const kept = await youngGenerationAfterChurn(true);
    expect(kept.kept).toBe(true);
    expect(kept.megabytes).toBeLessThanOrEqual(4);
  });

  it('leaves the young generation alone when the node options size it', async () => {
    const sized = await youngGenerationAfterChurn(true, ['--max-semi-space-size=8']);
    expect(sized.kept).toBe(false);
    expect(sized.megabytes).toBeGreaterThan(4);
  });
});
