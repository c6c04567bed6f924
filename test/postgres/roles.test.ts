/**
 * Several processes on Postgres (issue 16): `rapport serve --role web` answers installs and
 * webhooks and only enqueues; two `rapport worker` processes run the passes. Three portals are
 * installed through the web process; every portal's contacts get their scores written back by the
 * workers. Then the worker running a fourth portal's backfill is killed (-9): the other takes the
 * pass over after its heartbeat lapses and finishes it; a change on a portal still reaches the CRM. Real processes (bin/rapport), a real HubSpot sandbox over HTTP, a real PostgreSQL.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/commands/demo.ts';
import { generateAccount } from '../../src/sandbox/generator/index.ts';
import { installThroughBrowser } from '../../src/sandbox/hubspot/browser-install.ts';
import { startHubspotSandbox, type HubspotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { connectStore, type Store } from '../../src/store/index.ts';
import { SYNC_QUEUE } from '../../src/work/queue.ts';
import { createDatabase } from '../support/postgres.ts';
import { deploymentEnv, lines, rapportProcesses, unscored as unscoredIn, until as waitUntil } from '../support/rapport-processes.ts';

const app = { clientId: 'rapport-roles', clientSecret: randomBytes(16).toString('hex'), appId: 4711 };
const PORTALS = 3;
/** the deployment's periodic pass: a day, so that no tick comes while a test measures calls (one comes when the workers start) */
const TICK_MS = 24 * 3_600_000;
let sandbox: HubspotSandbox;
let closeSandbox: () => Promise<void>;
let env: Record<string, string>;
let webUrl: string;
let store: Store;
const hubIds: number[] = [];
const group = rapportProcesses(() => env);
const { procs, start } = group;

const until = (what: string, ok: () => boolean | Promise<boolean>, ms: number) => waitUntil(what, ok, ms, { sandbox, tails: group.tails });
/**
 * A worker marks its outbox rows once the CRM has answered: the CRM can show every score a moment
 * before the rows say so, so the outbox is waited for (briefly), then asserted.
 */
async function outboxSettled(portal: string): Promise<void> {
  await until(`${portal}'s outbox settled`, async () => (await store.outbox.stats(portal)).pending === 0, 30_000);
  expect(await store.outbox.stats(portal)).toEqual({ pending: 0, parked: 0 });
}
const unscored = (hubId: number) => unscoredIn(sandbox, hubId);

beforeAll(async () => {
  let baseUrl: string;
  ({ sandbox, baseUrl, close: closeSandbox } = await startHubspotSandbox({ limits: false, oauth: app, webhookDelivery: { batchWindowMs: 20 }, searchLagMs: 0 }));
  for (let i = 0; i < PORTALS; i++) {
    const { hubId } = sandbox.portals.create();
    hubIds.push(hubId);
    for (const b of generateAccount({ seed: 20 + i, contacts: 40, now: sandbox.clock.now() })) sandbox.data.load(hubId, b);
  }
  const url = await createDatabase(inject('postgresUrl'));
  const port = await freePort();
  // the deployment's periodic pass once a day (TICK_MS), not every minute: a test that counts a
  // portal's calls while a worker starts must not meet one (passes here come from installs,
  // webhooks and retries)
  env = { ...deploymentEnv({ databaseUrl: url, port, hubspotBaseUrl: baseUrl, app }), RAPPORT_SYNC_INTERVAL_MS: String(TICK_MS) };

  start('web', ['serve', '--role', 'web']);
  webUrl = `http://127.0.0.1:${port}`;
  await until('the web process', async () => (await fetch(`${webUrl}/healthz`).catch(() => undefined))?.ok === true, 60_000);
  start('worker-1', ['worker', '--concurrency', '2']);
  start('worker-2', ['worker', '--concurrency', '2']);
  sandbox.webhooks.subscribe({ targetUrl: `${webUrl}/webhooks/hubspot`, clientSecret: app.clientSecret, appId: app.appId });
  store = await connectStore({ dbPath: '', databaseUrl: url });
}, 90_000);

afterAll(async () => {
  await group.stopAll();
  await store?.close();
  await closeSandbox?.();
});

describe('web + worker processes on Postgres', () => {
  it('portals installed through the web process are backfilled, scored and written back by the workers', async () => {
    for (let i = 0; i < PORTALS; i++) await installThroughBrowser(`${webUrl}/oauth/hubspot/install`);
    await until('every contact of every portal scored in the CRM', () => hubIds.every((h) => unscored(h) === 0), 120_000);
    for (const hubId of hubIds) {
      const portal = `hubspot:${hubId}`;
      expect(await store.contacts.count(portal)).toBe(sandbox.data.count(hubId, 'contacts'));
      await outboxSettled(portal);
    }
    // the web process synced nothing itself: every pass ran in a worker
    const web = procs.find((p) => p.name === 'web')!.log.join('');
    expect(web).not.toMatch(/sync job started/);
    const workers = procs.filter((p) => p.name.startsWith('worker')).map((p) => p.log.join(''));
    expect(workers.join('')).toMatch(/sync job done/);
    // rapport status shows each portal's passes in the job queue (nothing queued, running or failed now)
    // (a pass finishing its last step may still count as running for a moment: asked again then)
    let reports: { portal: string; jobs: unknown }[] = [];
    await until('rapport status to show an idle queue', () => {
      const status = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'status', '--json'], { env: { ...process.env, ...env }, encoding: 'utf8' });
      expect(status.status, status.stderr).toBe(0);
      reports = JSON.parse(status.stdout) as typeof reports;
      return reports.every((r) => JSON.stringify(r.jobs) === JSON.stringify({ queued: 0, active: 0, failed: [] }));
    }, 30_000);
    expect(reports.map((r) => r.portal).sort()).toEqual(hubIds.map((h) => `hubspot:${h}`).sort());
    for (const r of reports) expect(r.jobs).toEqual({ queued: 0, active: 0, failed: [] });
    // an operator tells the web process's sessions from the workers' (docs/operations.md)
    const db = new pg.Client({ connectionString: env['RAPPORT_DATABASE_URL'] });
    await db.connect();
    try {
      const names = (await db.query<{ name: string }>('SELECT DISTINCT application_name AS name FROM pg_stat_activity WHERE datname = current_database()')).rows.map((r) => r.name);
      expect(names).toEqual(expect.arrayContaining(['rapport-web', 'rapport']));
    } finally {
      await db.end();
    }
  }, 180_000);

  it('a worker killed with -9 in the middle of a backfill loses nothing: the other worker takes the pass over and finishes it', async () => {
    const { hubId } = sandbox.portals.create();
    for (const b of generateAccount({ seed: 31, contacts: 1_500, now: sandbox.clock.now() })) sandbox.data.load(hubId, b);
    hubIds.push(hubId);
    const portal = `hubspot:${hubId}`;
    await installThroughBrowser(`${webUrl}/oauth/hubspot/install`);
    // whichever worker took the pass: killed as soon as it says it started
    let victim: (typeof procs)[number] | undefined;
    await until('a worker starting the pass', () => {
      victim = procs.find((p) => p.name.startsWith('worker') && p.log.join('').split('\n').some((l) => l.includes('sync job started') && l.includes(`"${portal}"`)));
      return victim !== undefined;
    }, 60_000);
    victim!.child.kill('SIGKILL');
    expect(unscored(hubId)).toBeGreaterThan(0); // killed mid-pass, not after it
    await until('the survivor to finish the backfill and write every score', () => unscored(hubId) === 0, 150_000);
    expect(await store.contacts.count(portal)).toBe(sandbox.data.count(hubId, 'contacts'));
    await outboxSettled(portal);
    const survivor = procs.find((p) => p.name.startsWith('worker') && p !== victim)!;
    expect(survivor.log.join('')).toMatch(new RegExp(`"portal":"${portal}"[^\n]*"attempt":2|"attempt":2[^\n]*"portal":"${portal}"`));
  }, 240_000);

  it('with one worker left, a change on a portal is still rescored and written back', async () => {
    const hubId = hubIds[0]!;
    const target = [...sandbox.data.iterate(hubId, 'contacts')][0]!;
    const before = sandbox.data.get(hubId, 'contacts', target.id)?.properties['rapport_scored_at'];
    sandbox.clock.advance(1000);
    sandbox.data.create(
      hubId,
      'tickets',
      { subject: 'Outage', hs_ticket_priority: 'URGENT', hs_pipeline: '0', hs_pipeline_stage: '1', createdate: new Date(sandbox.clock.now()).toISOString() },
      [{ type: 'contacts', id: target.id }],
    );
    await until('the rescore written back', () => sandbox.data.get(hubId, 'contacts', target.id)?.properties['rapport_scored_at'] !== before, 120_000);
    await outboxSettled(`hubspot:${hubId}`);
  }, 150_000);

  it("a worker joining the deployment calls no portal's CRM until it runs that portal's job, then provisions it there", async () => {
    // A portal's calls count against its rate limit in whichever process sends them; only the
    // process running the portal's job counts them (src/connectors/limiter.ts). A worker that
    // provisioned every portal as it started sent calls the running job could not count.
    // The passes the last write-backs' webhooks queued end first: no sync job queued, retrying
    // (the killed worker's, after its heartbeat lapses) or running, and no portal called for 3 s.
    const db = new pg.Client({ connectionString: env['RAPPORT_DATABASE_URL'] });
    await db.connect();
    const pending = async () =>
      (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry', 'active')`, [SYNC_QUEUE])).rows[0]!.n;
    const counts = () => hubIds.map((h) => sandbox.stats(h).requests).join();
    let seen = counts();
    let quietSince = Date.now();
    try {
      await until('no sync job pending and every portal quiet for 3 s', async () => {
        if (counts() !== seen || (await pending()) > 0) [seen, quietSince] = [counts(), Date.now()];
        return Date.now() - quietSince >= 3_000;
      }, 90_000);
    } finally {
      await db.end();
    }
    // The deployment's periodic tick queues a pass for every portal, once per TICK_MS slot counted
    // from the epoch (src/work/queue.ts, schedulePasses): the window below must not hold one (with
    // the old cron step `*/59` it did, in a run at 00:59, with 10–25 calls per portal).
    await until('no periodic tick due', () => {
      const sinceSlot = Date.now() % TICK_MS;
      return sinceSlot > 3 * 60_000 && sinceSlot < TICK_MS - 60_000;
    }, 300_000);
    const before = hubIds.map((h) => sandbox.stats(h).requests);
    const joined = start('worker-3', ['worker', '--concurrency', '2']);
    await until('the new worker up', () => joined.log.join('').includes('rapport worker: running up to'), 60_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(hubIds.map((h) => sandbox.stats(h).requests)).toEqual(before);
    // the only worker left: its first job of a portal provisions it (a change wakes one), then syncs
    for (const p of procs) if (p.name.startsWith('worker') && p !== joined) p.child.kill('SIGKILL');
    const hubId = hubIds[1]!;
    const portal = `hubspot:${hubId}`;
    const propertyReads = () => sandbox.stats(hubId).byRoute['GET /crm/v3/properties/contacts'] ?? 0;
    const readsBefore = propertyReads();
    const target = [...sandbox.data.iterate(hubId, 'contacts')][0]!;
    sandbox.clock.advance(1000);
    const ticket = sandbox.data.create(
      hubId,
      'tickets',
      { subject: 'Outage again', hs_ticket_priority: 'URGENT', hs_pipeline: '0', hs_pipeline_stage: '1', createdate: new Date(sandbox.clock.now()).toISOString() },
      [{ type: 'contacts', id: target.id }],
    );
    await until(`the new worker's pass over ${portal}`, () => lines(joined).some((l) => l.includes('sync job done') && l.includes(`"${portal}"`)), 120_000);
    expect(propertyReads()).toBeGreaterThan(readsBefore);
    expect(await store.records.get(portal, 'tickets', ticket.id)).toBeDefined();
    await outboxSettled(portal);
  }, 360_000);
});
