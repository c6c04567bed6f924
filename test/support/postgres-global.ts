import type { TestProject } from 'vitest/node';
import { startPostgres } from './postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** superuser URL of the run's PostgreSQL server: test files take a fresh database with createDatabase() */
    postgresUrl: string;
  }
}

/**
 * globalSetup of the `postgres` project: one server for the whole run, started before its first
 * test file and stopped after the last. A server that cannot start fails the run; nothing skips.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startPostgres();
  console.log(`postgres: test server ready in ${server.startupMs} ms`);
  project.provide('postgresUrl', server.url);
  return () => server.stop();
}
