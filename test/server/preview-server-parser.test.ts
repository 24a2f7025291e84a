import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { startPreviewServer, type PreviewServer } from '../../src/server/preview-server.ts';
import { createScriptedParser } from '../helpers/scripted-parser.ts';
import { createTempProject } from '../helpers/temp-project.ts';

/** Issue 11: the preview parses and renders through the budgeted parser it is given. */

let root: string | undefined;
let server: PreviewServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

describe('preview server and its issue parser', () => {
  it('parses and renders the file through the parser, and shows its E_TOO_SLOW verdict', async () => {
    root = await createTempProject();
    const loaded = await loadConfig({ root, env: {} });
    const good = path.join(root, 'issues', '2024-18.md');
    const fine = createScriptedParser();
    server = await startPreviewServer({ loaded, file: good, port: 0, parser: fine });
    expect(fine.asked).toContain('parse issues/2024-18.md');
    expect(fine.asked).toContain('render issues/2024-18.md');
    expect((await fetch(`${server.url}/email.html`)).status).toBe(200);
    await server.close();

    const slowFile = path.join(root, 'issues', 'slow.md');
    await writeFile(slowFile, '# Slow\n\nBody.\n');
    server = await startPreviewServer({ loaded, file: slowFile, port: 0, parser: createScriptedParser(new Set(['issues/slow.md'])) });
    const version = (await (await fetch(`${server.url}/version`)).json()) as { errors: number };
    expect(version.errors).toBeGreaterThanOrEqual(1);
    const shell = await (await fetch(`${server.url}/`)).text();
    expect(shell).toContain('E_TOO_SLOW');
  });

  it('renders with its own budgeted worker when given no parser, and closes it with the server', async () => {
    root = await createTempProject();
    const loaded = await loadConfig({ root, env: {} });
    server = await startPreviewServer({ loaded, file: path.join(root, 'issues', '2024-18.md'), port: 0 });
    expect((await fetch(`${server.url}/email.html`)).status).toBe(200);
    await server.close();
    server = undefined;
  });
});
