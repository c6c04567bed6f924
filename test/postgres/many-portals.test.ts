/**
 * Issue 16's end-to-end on Postgres: 20 portals in one HubSpot sandbox, each with its own rate
 * limit (the sandbox's limits on), one `rapport serve --role web` and three `rapport worker`
 * processes. Every portal is installed through the web process and must end with its cache equal
 * to its sandbox account and every score written back once. Then one worker is killed (-9) while
 * its batch update is in flight (HubSpot applied it, the worker never settled it) and another in
 * the middle of a backfill: the survivor finishes both, and the sandbox's write counter shows no
 * contact written more often than its values changed. Real processes (bin/rapport's src/cli.ts), a
 * real sandbox over HTTP, a real PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/commands/demo.ts';
import type { ObjectType } from '../../src/connectors/types.ts';
import { generateAccount } from '../../src/sandbox/generator/index.ts';
import { installThroughBrowser } from '../../src/sandbox/hubspot/browser-install.ts';
import { CALLBACK_LIMIT } from '../../src/server/install-guard.ts';
import { createHubspotSandbox, type HubspotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { serveEmulator } from '../../src/sandbox/serve.ts';
import { diffRowsWithSandbox, type CachedRow } from '../support/cache-vs-sandbox.ts';
import { createDatabase } from '../support/postgres.ts';
import { alive, deploymentEnv, lines, rapportProcesses, unscored as unscoredIn, until as waitUntil, type Proc } from '../support/rapport-processes.ts';

const app = { clientId: 'rapport-many', clientSecret: randomBytes(16).toString('hex'), appId: 4712 };
const PORTALS = 20;
const CONTACTS = 150;
const BATCH_UPDATE = '/crm/v3/objects/contacts/batch/update';

let sandbox: HubspotSandbox;
let closeSandbox: () => Promise<void>;
let env: Record<string, string>;
let webUrl: string;
let db: pg.Client;
const hubIds: number[] = [];
const group = rapportProcesses(() => env);
const { procs, start } = group;

/**
 * The one batch update to hold: HubSpot has applied it, its answer waits until `release` (the
 * worker that sent it is killed meanwhile, so it never learns the outcome).
 */
let hold: { hubId: number; reached: boolean; release: () => void; released: Promise<void> } | undefined;

const until = (what: string, ok: () => boolean | Promise<boolean>, ms: number) => waitUntil(what, ok, ms, { sandbox, tails: group.tails });
const unscored = (hubId: number) => unscoredIn(sandbox, hubId);

/**
 * One install through the web process, as an admin's browser does it. Rapport allows 20 install
 * callbacks a minute (src/server/install-guard.ts CALLBACK_LIMIT, 429 past them), so the 21st
 * install within a minute waits for the window, as an admin told "try again in a minute" would.
 * (Retrying after a 429 instead would move on to the next sandbox account: the refused attempt's
 * account counts as installed there.)
 */
const installedAt: number[] = [];
async function install(): Promise<void> {
  const windowMs = CALLBACK_LIMIT.windowMs + 1_000;
  while (installedAt.filter((t) => Date.now() - t < windowMs).length >= CALLBACK_LIMIT.limit) await new Promise((r) => setTimeout(r, 500));
  installedAt.push(Date.now());
  await installThroughBrowser(`${webUrl}/oauth/hubspot/install`);
}

/** The portal's cache in the shape of the SQLite auditor (test/support/cache-vs-sandbox.ts). */
async function cacheOf(hubId: number) {
  const portal = `hubspot:${hubId}`;
  const rows = (
    await db.query<{ type: string; id: string; updated_at: string; deleted: boolean; company_id: string | null; data: unknown }>(
      'SELECT type, id, updated_at::text, deleted, company_id, data FROM records WHERE portal = $1',
      [portal],
    )
  ).rows;
  const links = (await db.query<{ from_type: string; from_id: string; to_id: string }>("SELECT from_type, from_id, to_id FROM associations WHERE portal = $1 AND to_type = 'contacts'", [portal])).rows;
  const byType = new Map<string, CachedRow[]>();
  for (const r of rows) {
    const list = byType.get(r.type) ?? [];
    list.push({ id: r.id, updated_at: Number(r.updated_at), deleted: r.deleted ? 1 : 0, company_id: r.company_id, data: JSON.stringify(r.data) });
    byType.set(r.type, list);
  }
  return { rows: (type: ObjectType) => byType.get(type) ?? [], links: (type: ObjectType) => links.filter((l) => l.from_type === type) };
}

const outboxLeft = async (hubId: number) =>
  (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE portal = $1', [`hubspot:${hubId}`])).rows[0]!.n;

/** Contacts written more often than their values changed (a re-sent batch), and contacts never written. */
function writeAudit(hubId: number): { duplicates: string[]; unwritten: number; writes: number } {
  const counts = sandbox.writeCounts.of(hubId, 'contacts');
  const duplicates = [...counts].filter(([, c]) => c.inputs !== c.changed).map(([id, c]) => `${id}: ${c.inputs} inputs, ${c.changed} changed`);
  let unwritten = 0;
  for (const c of sandbox.data.iterate(hubId, 'contacts')) if ((counts.get(c.id)?.changed ?? 0) === 0) unwritten++;
  return { duplicates, unwritten, writes: [...counts.values()].reduce((s, c) => s + c.inputs, 0) };
}

/** Every portal converged: all contacts scored in the CRM, nothing left in the outbox, the cache equal to the account. */
async function converged(ids: readonly number[]): Promise<boolean> {
  for (const hubId of ids) {
    if (unscored(hubId) > 0 || (await outboxLeft(hubId)) > 0) return false;
    if (diffRowsWithSandbox(await cacheOf(hubId), sandbox, hubId).length > 0) return false;
  }
  return true;
}

function newPortal(seed: number, contacts: number): number {
  const { hubId } = sandbox.portals.create();
  for (const b of generateAccount({ seed, contacts, now: sandbox.clock.now() })) sandbox.data.load(hubId, b);
  return hubId;
}

/** The worker running this portal's pass now: the last one that logged its start. */
function runnerOf(hubId: number): Proc | undefined {
  const started = (p: Proc) => lines(p).some((l) => l.includes('sync job started') && l.includes(`"hubspot:${hubId}"`));
  return procs.filter((p) => p.name.startsWith('worker') && alive(p) && started(p)).at(-1);
}

beforeAll(async () => {
  // the sandbox's per-portal limits stay on (HubSpot's per-account burst limit, src/sandbox/hubspot/limits.ts)
  sandbox = createHubspotSandbox({ oauth: app, webhookDelivery: { batchWindowMs: 20 }, searchLagMs: 0 });
  const served = await serveEmulator(
    async (req) => {
      const res = await sandbox.app.fetch(req);
      const h = hold;
      if (h !== undefined && !h.reached && req.method === 'POST' && new URL(req.url).pathname === BATCH_UPDATE && res.status === 200) {
        const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.get('authorization') ?? '')?.[1] ?? '';
        const grant = sandbox.portals.authenticate(bearer);
        if ('hubId' in grant && grant.hubId === h.hubId) {
          h.reached = true;
          await h.released;
        }
      }
      return res;
    },
    {},
    () => sandbox.close(),
  );
  closeSandbox = served.close;
  for (let i = 0; i < PORTALS; i++) hubIds.push(newPortal(100 + i, CONTACTS));
  const url = await createDatabase(inject('postgresUrl'));
  db = new pg.Client({ connectionString: url });
  await db.connect();
  const port = await freePort();
  env = deploymentEnv({ databaseUrl: url, port, hubspotBaseUrl: served.baseUrl, app });

  start('web', ['serve', '--role', 'web']);
  webUrl = `http://127.0.0.1:${port}`;
  await until('the web process', async () => (await fetch(`${webUrl}/healthz`).catch(() => undefined))?.ok === true, 60_000);
  for (let i = 1; i <= 3; i++) start(`worker-${i}`, ['worker', '--concurrency', '2']);
  sandbox.webhooks.subscribe({ targetUrl: `${webUrl}/webhooks/hubspot`, clientSecret: app.clientSecret, appId: app.appId });
}, 90_000);

afterAll(async () => {
  hold?.release();
  await group.stopAll();
  await db?.end();
  await closeSandbox?.();
});

describe('20 portals, 1 web + 3 worker processes on Postgres', () => {
  it('every portal installed through the web process ends with its cache equal to its account and every score written back once', async () => {
    for (let i = 0; i < PORTALS; i++) await install();
    await until('every portal converged', () => converged(hubIds), 240_000);
    for (const hubId of hubIds) {
      expect(diffRowsWithSandbox(await cacheOf(hubId), sandbox, hubId)).toEqual([]);
      const audit = writeAudit(hubId);
      expect(audit.duplicates, `hubspot:${hubId}`).toEqual([]);
      expect(audit.unwritten, `hubspot:${hubId}`).toBe(0);
    }
    // the web process ran no pass; the workers shared them
    expect(procs.find((p) => p.name === 'web')!.log.join('')).not.toMatch(/sync job started/);
    const ran = procs.filter((p) => p.name.startsWith('worker') && p.log.join('').includes('sync job done'));
    expect(ran.length).toBeGreaterThanOrEqual(2);
  }, 300_000);

  it('a worker killed -9 with its batch update applied but unanswered, another killed mid-backfill: same result, zero duplicate writes', async () => {
    const written = newPortal(200, CONTACTS);
    const backfilled = newPortal(201, 1_000);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    hold = { hubId: written, reached: false, release, released };
    await install();
    await until('the first batch update of the new portal applied and held', () => hold!.reached, 120_000);
    const first = runnerOf(written);
    expect(first).toBeDefined();
    first!.child.kill('SIGKILL');
    await new Promise((r) => first!.child.once('exit', r));
    release();
    // HubSpot holds the batch; Rapport's outbox still has it pending
    expect(writeAudit(written).writes).toBe(100);
    expect(await outboxLeft(written)).toBe(CONTACTS);

    await install();
    let second: Proc | undefined;
    await until('a worker starting the backfill', () => (second = runnerOf(backfilled)) !== undefined, 60_000);
    second!.child.kill('SIGKILL');
    expect(unscored(backfilled)).toBeGreaterThan(0); // killed mid-pass, not after it

    const all = [...hubIds, written, backfilled];
    await until('the survivor to finish both portals', () => converged(all), 240_000);
    for (const hubId of all) {
      expect(diffRowsWithSandbox(await cacheOf(hubId), sandbox, hubId)).toEqual([]);
      const audit = writeAudit(hubId);
      expect(audit.duplicates, `hubspot:${hubId}`).toEqual([]);
      expect(audit.unwritten, `hubspot:${hubId}`).toBe(0);
    }
    // the survivor found the held batch already in HubSpot and settled it without sending it again
    const survivor = procs.filter((p) => p.name.startsWith('worker') && alive(p));
    expect(survivor).toHaveLength(1);
    expect(lines(survivor[0]!).some((l) => l.includes(`"hubspot:${written}"`) && /"alreadyThere":100\b/.test(l))).toBe(true);
  }, 360_000);
});
