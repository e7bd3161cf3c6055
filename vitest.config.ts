import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Tests import workspace packages from their TypeScript sources, so `vitest` needs no build.
// Suites that start real member processes run the built CLI (server/dist), which `npm install`
// builds; test/README.md says which is which.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@arbor\/protocol$/, replacement: src('./packages/protocol/src/index.ts') },
      { find: /^@arbor\/raft$/, replacement: src('./packages/raft/src/index.ts') },
      { find: /^@arbor\/raft\/sim$/, replacement: src('./packages/raft/src/sim/index.ts') },
      { find: /^@arbor\/tree$/, replacement: src('./packages/tree/src/index.ts') },
      { find: /^@arbor\/server$/, replacement: src('./server/src/index.ts') },
      { find: /^@arbor\/client$/, replacement: src('./client/src/index.ts') },
      { find: /^@arbor\/testing$/, replacement: src('./packages/testing/src/index.ts') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'server/test/**/*.test.ts', 'client/test/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
