import { defineConfig } from 'vitest/config';

// Projects so the fast part runs alone (`npm run test:unit`); `npm test` runs all of them.
// `unit` is every test directory except the slow, process- and browser-driving ones and those
// that need the PostgreSQL server the `postgres` project starts once for the run.
const SLOW = ['test/e2e/**', 'test/browser/**'];
const POSTGRES = ['test/postgres/**'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['**/node_modules/**', ...SLOW, ...POSTGRES] } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'] } },
      { extends: true, test: { name: 'browser', include: ['test/browser/**/*.test.ts'] } },
      { extends: true, test: { name: 'postgres', include: ['test/postgres/**/*.test.ts'], globalSetup: ['test/support/postgres-global.ts'] } },
    ],
  },
});
