/**
 * Salesforce Change Data Capture in a deployment of processes on Postgres (issue 16): one
 * `rapport serve --role web` and two `rapport worker` processes against the Salesforce emulator
 * over HTTP. Exactly one worker holds the org's CDC subscription (a session advisory lock); a
 * change in the org reaches the cache through an event (a pass queued by the holder), not the
 * periodic pass (scheduled once an hour here). The holder is killed -9; a change made while no
 * worker subscribes is replayed to the worker that takes over (the replay id stored per portal),
 * and a later change arrives through it too.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/commands/demo.ts';
import { generateAccount } from '../../src/sandbox/generator/index.ts';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { createBrowser } from '../support/browser.ts';
import { createDatabase } from '../support/postgres.ts';
import { alive, lines, rapportProcesses, until as waitUntil, type Proc } from '../support/rapport-processes.ts';

const APP = { clientId: 'rapport-sf-workers', clientSecret: randomBytes(16).toString('hex') };
const CONTACTS = 40;
const HOLDING = 'holding the change events subscription';
const QUEUED = 'change event: pass queued';

let sandbox: SalesforceSandbox;
let closeSandbox: () => Promise<void>;
let env: Record<string, string>;
let webUrl: string;
let db: pg.Client;
let portal: string;
const group = rapportProcesses(() => env);
const { procs, start } = group;
const until = (what: string, ok: () => boolean | Promise<boolean>, ms: number) => waitUntil(what, ok, ms, { tails: group.tails });

const workers = () => procs.filter((p) => p.name.startsWith('worker') && alive(p));
const count = (p: Proc, text: string) => lines(p).filter((l) => l.includes(text) && l.includes(`"${portal}"`)).length;
const holders = () => workers().filter((p) => count(p, HOLDING) > 0);
const unscored = () => sandbox.data.rows('Contact').filter((c) => c['IsDeleted'] !== true && c['Rapport_Health__c'] == null).length;
async function cachedFirstName(id: string): Promise<string | null> {
  const r = await db.query<{ data: unknown }>("SELECT data FROM records WHERE portal = $1 AND type = 'contacts' AND id = $2", [portal, id]);
  const data = r.rows[0]?.data;
  // the Postgres store keeps a record's data under `d` (src/store/postgres/records.ts)
  return (data as { d?: { firstName?: string | null } } | undefined)?.d?.firstName ?? null;
}
async function stored(): Promise<{ state: string; replayId: number | null } | undefined> {
  const r = await db.query<{ cursor: string }>("SELECT cursor FROM cursors WHERE portal = $1 AND stream = 'change-events'", [portal]);
  return r.rows[0] === undefined ? undefined : (JSON.parse(r.rows[0].cursor) as { state: string; replayId: number | null });
}
const jobs = () => procs.reduce((n, p) => n + count(p, 'sync job started'), 0);
const done = () => procs.reduce((n, p) => n + count(p, 'sync job done'), 0);

beforeAll(async () => {
  let baseUrl: string;
  ({ sandbox, baseUrl, close: closeSandbox } = await startSalesforceSandbox({ oauth: APP, seed: 7 }));
  for (const b of generateAccount({ seed: 7, contacts: CONTACTS, now: sandbox.clock.now() })) sandbox.loader.load(b);
  portal = `salesforce:${sandbox.orgId}`;
  const url = await createDatabase(inject('postgresUrl'));
  db = new pg.Client({ connectionString: url });
  await db.connect();
  const port = await freePort();
  env = {
    RAPPORT_DATABASE_URL: url,
    RAPPORT_PORT: String(port),
    RAPPORT_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    SALESFORCE_LOGIN_URL: baseUrl,
    SALESFORCE_CLIENT_ID: APP.clientId,
    SALESFORCE_CLIENT_SECRET: APP.clientSecret,
    RAPPORT_JOB_HEARTBEAT_SECONDS: '10',
    // the periodic pass once a day (a tick when the workers start, then one per day counted from
    // the epoch: src/work/queue.ts): a change arriving in seconds came through CDC
    RAPPORT_SYNC_INTERVAL_MS: String(24 * 3_600_000),
    RAPPORT_LOG_LEVEL: 'info',
  };
  start('web', ['serve', '--role', 'web']);
  webUrl = `http://127.0.0.1:${port}`;
  await until('the web process', async () => (await fetch(`${webUrl}/healthz`).catch(() => undefined))?.ok === true, 60_000);
  start('worker-1', ['worker', '--concurrency', '2']);
  start('worker-2', ['worker', '--concurrency', '2']);
}, 90_000);

afterAll(async () => {
  await group.stopAll();
  await db?.end();
  await closeSandbox?.();
});

describe('Salesforce CDC with 1 web + 2 worker processes on Postgres', () => {
  it('one worker holds the subscription; a change reaches the cache through an event; after the holder is killed -9 the other takes over and replays what it missed', async () => {
    const browser = createBrowser();
    const go = await browser.get(`${webUrl}/oauth/salesforce/install`);
    const approved = await browser.get(go.headers.get('location') ?? '');
    expect((await browser.get(approved.headers.get('location') ?? '')).status).toBe(200);
    await until('the org backfilled and scored', () => unscored() === 0, 180_000);
    await until('one worker holding the subscription, live', async () => holders().length === 1 && (await stored())?.state === 'live', 60_000);
    await until('the passes over', () => done() >= jobs(), 60_000);
    const [holder] = holders();
    const other = workers().find((p) => p !== holder)!;
    expect(count(other, HOLDING)).toBe(0);

    // a rep edits a contact: an event, a pass queued by the holder, the cache updated
    const [first, second, third] = sandbox.data.rows('Contact').filter((c) => c['IsDeleted'] !== true).map((c) => String(c['Id']));
    const queuedBefore = count(holder!, QUEUED);
    const at = Date.now();
    sandbox.data.update('Contact', first!, { FirstName: 'Changed-One' });
    await until('the first change in the cache', async () => (await cachedFirstName(first!)) === 'Changed-One', 60_000);
    expect(Date.now() - at).toBeLessThan(30_000);
    expect(count(holder!, QUEUED)).toBeGreaterThan(queuedBefore);
    await until('the event marked handled', async () => (await stored())?.replayId === sandbox.cdc.latest(), 30_000);
    await until('the passes over', () => done() >= jobs(), 60_000);

    // the holder dies; a change made while nobody subscribes
    holder!.child.kill('SIGKILL');
    await new Promise((r) => holder!.child.once('exit', r));
    sandbox.data.update('Contact', second!, { FirstName: 'Changed-Two' });
    const missed = sandbox.cdc.latest();
    await until('the other worker taking over', () => count(other, HOLDING) > 0, 60_000);
    await until('the missed change in the cache', async () => (await cachedFirstName(second!)) === 'Changed-Two', 60_000);
    // it came as a replayed event (the takeover also queues one pass, which would bring it too)
    await until('the missed event replayed and handled', async () => count(other, QUEUED) > 0 && ((await stored())?.replayId ?? 0) >= missed, 30_000);

    // and a later change arrives through the new holder
    const queued = count(other, QUEUED);
    sandbox.data.update('Contact', third!, { FirstName: 'Changed-Three' });
    await until('the later change in the cache', async () => (await cachedFirstName(third!)) === 'Changed-Three', 60_000);
    expect(count(other, QUEUED)).toBeGreaterThan(queued);
    expect(workers()).toEqual([other]);
  }, 420_000);

  it('a worker killed -9 after the org applied its write-back but before it learnt so: the re-drain writes nothing new', async () => {
    const third = start('worker-3', ['worker', '--concurrency', '2']);
    await until('the third worker', () => lines(third).some((l) => l.includes('rapport worker: running')), 60_000);
    // a new contact: an event, a pass, its scores written back; the org applies that collection and the answer is lost
    sandbox.loseWriteAnswers(1);
    const created = String(sandbox.data.create('Contact', { FirstName: 'New', LastName: 'Comer', Email: 'new.comer@example.com' }).Id);
    await until('the write-back applied, its answer lost', () => sandbox.stats().lostAnswers === 1, 90_000);
    expect(sandbox.data.get('Contact', created)?.['Rapport_Health__c']).not.toBeNull();
    const running = workers().find((p) => count(p, 'sync job started') > count(p, 'sync job done'));
    expect(running).toBeDefined();
    running!.child.kill('SIGKILL');
    await new Promise((r) => running!.child.once('exit', r));
    const [survivor] = workers();
    // the pass is retried once its heartbeat lapses; the survivor finds the collection in the org
    await until('the re-drain', () => lines(survivor!).some((l) => l.includes(`"${portal}"`) && /"alreadyThere":\d+/.test(l)), 120_000);
    // every write the org took changed a value: the collection was not sent again
    const counts = sandbox.writeCounts.of('Contact');
    const duplicates = [...counts].filter(([, c]) => c.inputs !== c.changed).map(([id, c]) => `${id}: ${c.inputs} writes, ${c.changed} changed`);
    expect(duplicates).toEqual([]);
    expect(counts.get(created)).toEqual({ inputs: 1, changed: 1 });
    await until('nothing left to write', async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE portal = $1', [portal])).rows[0]!.n === 0, 60_000);
  }, 300_000);
});
