import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { prepareIssueEmail } from '../../src/deliver/prepare-issue-email.ts';
import { openStore } from '../../src/store/open-store.ts';
import { createTempProject, runCli } from '../helpers/temp-project.ts';

describe('prepareIssueEmail', () => {
  it('sends exactly what the build rendered, and renders afresh when out/ is stale', async () => {
    const root = await createTempProject();
    expect((await runCli(['build'], root)).code).toBe(0);
    const loaded = await loadConfig({ root, env: {} });
    const store = await openStore({ url: loaded.config.store.url, root });
    try {
      const record = (await store.getIssue('2024-18'))!;
      const email = await prepareIssueEmail(record, loaded);
      const outDir = path.join(root, 'out', 'issues', '2024-18');
      expect(email.html).toBe(await readFile(path.join(outDir, 'email.html'), 'utf8'));
      expect(email.text).toBe(await readFile(path.join(outDir, 'email.txt'), 'utf8'));
      expect(email.subject).toBe('云计算技术动态 2024 年第十八期');
      expect(email.html).toContain('%%unsubscribe_url%%');

      // Templates edited without a rebuild: the build's files are stale, so render again.
      await appendFile(path.join(root, 'templates', 'email', 'issue.txt.hbs'), '\nA new closing line.\n');
      const fresh = await prepareIssueEmail(record, loaded);
      expect(fresh.text).toContain('A new closing line.');
      expect(await readFile(path.join(outDir, 'email.txt'), 'utf8')).not.toContain('A new closing line.');
    } finally {
      await store.close();
    }
  });
});
