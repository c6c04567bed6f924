import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAccount } from '../../src/sandbox/generator/index.ts';
import { startHubspotSandbox, type HubspotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { rapportChild } from '../support/cli.ts';
import { rapportInTerminal } from '../support/pty.ts';
import { tempDir } from '../support/temp-dir.ts';
import { look, type DatabaseEnv } from './sync-suite.ts';

/**
 * `rapport sync` without `--once` is a daemon: its help says it syncs every
 * RAPPORT_SYNC_INTERVAL_MS until SIGINT/SIGTERM. It used to exit 0 by itself after ~5 s (the
 * interval timer was the only thing left and it does not hold the process).
 *
 * One suite, run per store: `test/e2e/sync-daemon.test.ts` on a SQLite file,
 * `test/postgres/sync-daemon.postgres.test.ts` on a Postgres database (RAPPORT_DATABASE_URL).
 */
export function syncDaemonSuite(storeName: string, makeDatabases: () => DatabaseEnv): void {
  let sandbox: HubspotSandbox;
  let baseUrl: string;
  let closeSandbox: () => Promise<void>;
  let hubId: number;
  let token: string;
  let databases: DatabaseEnv;
  // the log file of a run on a terminal is named after RAPPORT_DB (set even on Postgres, where it names no store)
  const dir = tempDir();

  beforeAll(async () => {
    databases = makeDatabases();
    ({ sandbox, baseUrl, close: closeSandbox } = await startHubspotSandbox({ limits: false, seed: 3 }));
    ({ hubId, token } = sandbox.portals.create({ privateAppToken: 'pat-e2e-daemon' }));
    for (const batch of generateAccount({ seed: 5, contacts: 60, now: sandbox.clock.now() })) sandbox.data.load(hubId, batch);
  });
  afterAll(async () => {
    await closeSandbox();
    await databases.cleanup();
    dir.cleanup();
  });

  /** Whether a cached contact has this e-mail, read through the store port. */
  const hasContactEmail = (db: Record<string, string>, email: string): Promise<boolean> =>
    look(db, async (store) => {
      for await (const c of store.records.iterate(`hubspot:${hubId}`, 'contacts')) if ('email' in c.data && c.data.email === email) return true;
      return false;
    });

  describe(`rapport sync as an operator runs it (${storeName})`, () => {
    it('keeps syncing until a signal: still running after 90 s, picks up a change made meanwhile, exits 0 on SIGTERM', async () => {
      const db = await databases.fresh('daemon');
      const { child, done } = rapportChild(['sync'], {
        ...db,
        HUBSPOT_BASE_URL: baseUrl,
        HUBSPOT_ACCESS_TOKEN: token,
        RAPPORT_SYNC_INTERVAL_MS: '15000',
      });
      let exitedEarly: unknown;
      void done.then((r) => (exitedEarly = r));

      await new Promise((r) => setTimeout(r, 30_000));
      sandbox.data.create(hubId, 'contacts', { email: 'late.arrival@example.com', firstname: 'Late' });
      await new Promise((r) => setTimeout(r, 60_000));

      expect(exitedEarly).toBeUndefined();
      expect(child.exitCode).toBeNull();
      // the loop really ran after the first pass: the contact created at 30 s is in the cache
      expect(await hasContactEmail(db, 'late.arrival@example.com')).toBe(true);

      child.kill('SIGTERM');
      const r = await done;
      expect(r.signal).toBeNull();
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/syncing hubspot:\d+ every 15s/);
      expect(r.stderr).toMatch(/SIGTERM received/);
    }, 150_000);

    it('on a terminal: one frozen bar per stream, the summary below them, JSON logs in a file instead of on screen', async () => {
      const t = rapportInTerminal(['sync', '--once'], {
        cols: 100,
        env: { ...(await databases.fresh('tty')), RAPPORT_DB: join(dir.path, 'tty.db'), HUBSPOT_BASE_URL: baseUrl, HUBSPOT_ACCESS_TOKEN: token, RAPPORT_LOG_LEVEL: 'info' },
      });
      try {
        const exit = await t.exited;
        const lines = await t.lines();
        expect(exit.exitCode, lines.join('\n')).toBe(0);
        expect(lines[0]).toBe(`rapport sync: logs (level info) go to ${join(dir.path, 'tty.log')}`);
        const bars = lines.filter((l) => /^\S+ +█{24} +\d+ +\d+\/s done in [\d.]+s$/.test(l));
        expect(bars.map((l) => l.split(' ')[0])).toEqual(['companies', 'contacts', 'deals', 'tickets', 'calls', 'emails', 'meetings', 'notes', 'tasks', 'feedback_submissions']);
        // the summary below the bars: what was read, then (sync --once scores and writes back) what was written
        expect(lines.at(-2)).toMatch(/^hubspot:\d+: \d+ records read, \d+ changed, in [\d.]+s$/);
        expect(lines.at(-1)).toMatch(/^hubspot:\d+: \d+ contacts scored; \d+ written back to the CRM$/);
        expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
        expect(readFileSync(join(dir.path, 'tty.log'), 'utf8')).toMatch(/"msg":"stream done"/);
      } finally {
        t.dispose();
      }
    }, 60_000);
  });
}
