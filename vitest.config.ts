import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Rebuilds dist/ when it is older than src/: the CLI that tests spawn runs dist/.
    globalSetup: ['test/helpers/build-dist.ts'],
    testTimeout: 120_000, // generous: a loaded 2-core machine; tests never assert on wall time
    hookTimeout: 60_000,
    // Tests spawn CLIs and browsers; two cores are all CI has.
    maxWorkers: 2,
  },
});
