import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OBJECT_TYPES, type ObjectType } from '../../src/connectors/types.ts';
import { generateAccount } from '../../src/sandbox/generator/index.ts';
import { startHubspotSandbox, type HubspotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { diffRowsWithSandbox, type CachedRow } from '../support/cache-vs-sandbox.ts';
import { rapportChild, rapportInProcess } from '../support/cli.ts';
import { createDatabase } from '../support/postgres.ts';

/**
 * test/e2e/sync.test.ts's SIGKILL run with the store on Postgres: `rapport sync` killed at three
 * points of a backfill, each rerun resumes from the committed cursors, and the cache read back
 * from Postgres equals the sandbox with no duplicate row. A killed process's open transaction
 * is rolled back by the server, so a page and its cursor land together or not at all.
 */
let sandbox: HubspotSandbox;
let baseUrl: string;
let closeSandbox: () => Promise<void>;
let hubId: number;
let token: string;
const clients: pg.Client[] = [];

beforeAll(async () => {
  ({ sandbox, baseUrl, close: closeSandbox } = await startHubspotSandbox({ limits: false, seed: 7, searchLagMs: 0 }));
  ({ hubId, token } = sandbox.portals.create({ privateAppToken: 'pat-pg-crash' }));
  for (const batch of generateAccount({ seed: 11, contacts: 150, now: sandbox.clock.now() })) sandbox.data.load(hubId, batch);
});
afterAll(async () => {
  await closeSandbox();
  for (const c of clients) await c.end();
});

async function reader(url: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  clients.push(c);
  const count = async () => {
    try {
      return (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM records')).rows[0]!.n;
    } catch {
      return 0; // not migrated yet
    }
  };
  /** the cache in the shape of the SQLite auditor (test/support/cache-vs-sandbox.ts) */
  const snapshot = async () => {
    const portal = `hubspot:${hubId}`;
    const rows = (
      await c.query<{ type: string; id: string; updated_at: string; deleted: boolean; company_id: string | null; data: unknown }>(
        'SELECT type, id, updated_at::text, deleted, company_id, data FROM records WHERE portal = $1',
        [portal],
      )
    ).rows;
    const links = (await c.query<{ from_type: string; from_id: string; to_id: string }>("SELECT from_type, from_id, to_id FROM associations WHERE portal = $1 AND to_type = 'contacts'", [portal])).rows;
    const byType = new Map<string, CachedRow[]>();
    for (const r of rows) {
      const list = byType.get(r.type) ?? [];
      list.push({ id: r.id, updated_at: Number(r.updated_at), deleted: r.deleted ? 1 : 0, company_id: r.company_id, data: JSON.stringify(r.data) });
      byType.set(r.type, list);
    }
    return { rows: (type: ObjectType) => byType.get(type) ?? [], links: (type: ObjectType) => links.filter((l) => l.from_type === type) };
  };
  return { count, snapshot };
}

describe('rapport sync on Postgres', () => {
  it('survives SIGKILL at three points of a backfill: every rerun resumes, the end result equals the sandbox', async () => {
    const url = await createDatabase(inject('postgresUrl'));
    const env = { RAPPORT_DATABASE_URL: url, HUBSPOT_BASE_URL: baseUrl, HUBSPOT_ACCESS_TOKEN: token };
    const db = await reader(url);
    // live records plus tombstones of archived ones (a backfill lists archived records too)
    const total = OBJECT_TYPES.reduce((n, t) => n + sandbox.data.count(hubId, t) + sandbox.data.count(hubId, t, { archived: true }), 0);
    const kills: number[] = [];
    for (const fraction of [0.15, 0.45, 0.75]) {
      const { child, done } = rapportChild(['sync', '--once', '--read-only'], env);
      for (;;) {
        await new Promise((r) => setTimeout(r, 15));
        if (child.exitCode !== null) break;
        if ((await db.count()) >= fraction * total) {
          child.kill('SIGKILL');
          break;
        }
      }
      const r = await done;
      kills.push(await db.count());
      if (r.signal !== 'SIGKILL') expect(r.code, r.stderr).toBe(0);
    }
    expect(new Set(kills).size).toBeGreaterThanOrEqual(3);
    const last = await rapportInProcess(['sync', '--once', '--read-only'], env);
    expect(last.code, last.stderr).toBe(0);
    expect(diffRowsWithSandbox(await db.snapshot(), sandbox, hubId)).toEqual([]);
    expect(await db.count()).toBe(total);
  }, 120_000);
});
