import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import type { CrmRecord, Cursor, ObjectType, Page } from '../../src/connectors/types.ts';
import { silentLogger } from '../../src/log.ts';
import { DEFAULT_BULK } from '../../src/sandbox/salesforce/bulk.ts';
import { createStore } from '../../src/store/index.ts';
import { syncStream } from '../../src/sync/sync-stream.ts';
import { tempDir } from '../support/temp-dir.ts';
import { salesforceHarness, type SalesforceHarness } from './salesforce-harness.ts';

/**
 * Bulk API 2.0 backfill (issue 14, "Large orgs"): the emulator's query job lifecycle over HTTP, and
 * the real connector (jsforce's HTTP layer) backfilling big objects through it, against the REST
 * path on the same org. A small threshold stands for the 50,000-row default.
 */
let h: SalesforceHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});
const signal = new AbortController().signal;
const BULK = { bulkThreshold: 10, bulkPageRows: 7, bulkPollMs: 1 };

async function pages(type: ObjectType, cursor: Cursor | null = null, connector = h!.connector): Promise<Page[]> {
  const out: Page[] = [];
  for await (const p of connector.changes(type, cursor, signal)) out.push(p);
  return out;
}
const records = (ps: Page[]) => ps.flatMap((p) => p.records);
const byId = (rs: CrmRecord[]) => new Map(rs.map((r) => [r.id, r]));
const jobsCreated = () => h!.sandbox.stats().byRoute['POST /services/data/vXX.X/jobs/query'] ?? 0;
const restQueries = () => h!.sandbox.stats().byRoute['GET /services/data/vXX.X/queryAll'] ?? 0;

/** an org with links of every kind a REST query reads as a child subquery */
function seedOrg(contacts: number) {
  const d = h!.sandbox.data;
  const accounts = [0, 1, 2].map((i) => d.create('Account', { Name: `Acme ${i}`, AnnualRevenue: 1_000_000 * (i + 1), NumberOfEmployees: 10 + i }).Id as string);
  const ids: string[] = [];
  for (let i = 0; i < contacts; i++) {
    ids.push(d.create('Contact', { LastName: `L${i}`, FirstName: i === 3 ? 'Say "hi", then\nleave' : `F${i}`, Email: `c${i}@example.com`, AccountId: accounts[i % 3]! }).Id as string);
  }
  for (let i = 0; i < 12; i++) {
    const opp = d.create('Opportunity', { Name: `Deal ${i}`, AccountId: accounts[i % 3]!, Amount: 1000 + i, StageName: 'Prospecting', IsClosed: false, IsWon: false }).Id as string;
    d.create('OpportunityContactRole', { OpportunityId: opp, ContactId: ids[i]!, Role: 'Decision Maker' });
    d.create('OpportunityContactRole', { OpportunityId: opp, ContactId: ids[i + 1]!, Role: 'Influencer' });
  }
  for (let i = 0; i < 12; i++) {
    const t = d.create('Task', { TaskSubtype: 'Call', Type: 'Call', Subject: `Call ${i}`, Status: 'Completed', IsClosed: true, WhoId: ids[i]!, CallDurationInSeconds: 60 + i }).Id as string;
    d.create('TaskWhoRelation', { TaskId: t, RelationId: ids[i]!, Type: 'Contact' });
    d.create('TaskWhoRelation', { TaskId: t, RelationId: ids[i + 2]!, Type: 'Contact' });
  }
  // a deleted contact in the recycle bin: queryAll shows it, both paths must tombstone it
  d.remove('Contact', ids.at(-1)!);
  return ids;
}

describe('Bulk API 2.0 query jobs in the emulator', () => {
  it('a queryAll job goes UploadComplete → InProgress → JobComplete; results are CSV paged by Sforce-Locator with maxRecords; strict on version, locators, nested queries and early reads', async () => {
    h = await salesforceHarness();
    seedOrg(5);
    const { accessToken } = h.sandbox.sessions.issue();
    const call = (method: string, path: string, body?: unknown, version = '62.0') =>
      fetch(`${h!.baseUrl}/services/data/v${version}${path}`, {
        method,
        headers: { authorization: `Bearer ${accessToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const created = await call('POST', '/jobs/query', { operation: 'queryAll', query: 'SELECT Id, FirstName, IsDeleted FROM Contact' });
    expect(created.status).toBe(200);
    const job = (await created.json()) as { id: string; state: string; object: string; operation: string; contentType: string };
    expect(job).toMatchObject({ state: 'UploadComplete', object: 'Contact', operation: 'queryAll', contentType: 'CSV' });
    // results before the job is complete are refused
    const early = await call('GET', `/jobs/query/${job.id}/results`);
    expect(early.status).toBe(412);
    expect(await early.json()).toEqual([expect.objectContaining({ errorCode: 'JOB_NOT_COMPLETE' })]);
    expect(((await (await call('GET', `/jobs/query/${job.id}`)).json()) as { state: string }).state).toBe('InProgress');
    expect(await (await call('GET', `/jobs/query/${job.id}`)).json()).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 5 });
    const first = await call('GET', `/jobs/query/${job.id}/results?maxRecords=2`);
    expect(first.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(first.headers.get('sforce-numberofrecords')).toBe('2');
    const text = await first.text();
    expect(text.split('\n')[0]).toBe('"Id","FirstName","IsDeleted"');
    expect(text.split('\n')).toHaveLength(4); // header, 2 rows, trailing newline
    let locator = first.headers.get('sforce-locator')!;
    expect(locator).not.toBe('null');
    let rows = 2;
    for (;;) {
      const page = await call('GET', `/jobs/query/${job.id}/results?maxRecords=2&locator=${locator}`);
      rows += Number(page.headers.get('sforce-numberofrecords'));
      locator = page.headers.get('sforce-locator')!;
      if (locator === 'null') break;
    }
    // queryAll: the deleted contact too
    expect(rows).toBe(5);
    expect((await call('GET', `/jobs/query/${job.id}/results?locator=bm90LWEtbG9jYXRvcg`)).status).toBe(400);
    expect((await call('GET', `/jobs/query/${job.id}/results?maxRecords=0`)).status).toBe(400);
    // Bulk 2.0 allows no parent-to-child subqueries nor aggregate functions
    const nested = await call('POST', '/jobs/query', { operation: 'queryAll', query: 'SELECT Id, (SELECT ContactId FROM OpportunityContactRoles) FROM Opportunity' });
    expect(nested.status).toBe(400);
    expect(await nested.json()).toEqual([expect.objectContaining({ errorCode: 'INVALIDJOB', message: expect.stringMatching(/Parent-to-child/) })]);
    expect((await call('POST', '/jobs/query', { operation: 'queryAll', query: 'SELECT COUNT() FROM Contact' })).status).toBe(400);
    expect((await call('POST', '/jobs/query', { operation: 'export', query: 'SELECT Id FROM Contact' })).status).toBe(400);
    // query jobs exist from API 47.0
    expect((await call('POST', '/jobs/query', { operation: 'query', query: 'SELECT Id FROM Contact' }, '46.0')).status).toBe(404);
    // abort, delete, expiry after 7 days
    const other = (await (await call('POST', '/jobs/query', { operation: 'query', query: 'SELECT Id FROM Contact' })).json()) as { id: string };
    expect(await (await call('PATCH', `/jobs/query/${other.id}`, { state: 'Aborted' })).json()).toMatchObject({ state: 'Aborted' });
    expect((await call('GET', `/jobs/query/${other.id}/results`)).status).toBe(412);
    expect((await call('DELETE', `/jobs/query/${other.id}`)).status).toBe(204);
    expect((await call('GET', `/jobs/query/${other.id}`)).status).toBe(404);
    await h.advance(7 * 86_400_000 + 1);
    const fresh = h.sandbox.sessions.issue().accessToken;
    const gone = await fetch(`${h.baseUrl}/services/data/v62.0/jobs/query/${job.id}/results`, { headers: { authorization: `Bearer ${fresh}` } });
    expect(gone.status).toBe(404);
  });

  it('SOQL COUNT() answers the number of rows in totalSize with no records', async () => {
    h = await salesforceHarness();
    seedOrg(6);
    const { accessToken } = h.sandbox.sessions.issue();
    const res = await fetch(`${h.baseUrl}/services/data/v62.0/query?q=${encodeURIComponent("SELECT COUNT() FROM Contact WHERE Email != 'c0@example.com'")}`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(await res.json()).toEqual({ totalSize: 4, done: true, records: [] });
  });
});

describe('the connector backfills big objects through Bulk API 2.0', () => {
  it('above the threshold each object is read by bulk jobs, links from their own jobs: the records equal the REST path on the same org, and the stream continues by REST from the job start', async () => {
    h = await salesforceHarness(BULK);
    seedOrg(30);
    // the backfill runs a while after the rows were written
    await h.advance(600_000);
    const types: ObjectType[] = ['contacts', 'companies', 'deals', 'calls'];
    const bulk = new Map<ObjectType, Page[]>();
    for (const t of types) bulk.set(t, await pages(t));
    // contacts (30), deals (12 + 24 roles) and calls (12 + 24 relations) went through bulk; companies (3) through REST
    expect(jobsCreated()).toBe(5);
    const rest = { ...(await import('../../src/connectors/salesforce/index.ts')) };
    const restConnector = rest.createSalesforceConnector({ instanceUrl: h.baseUrl, accessToken: async () => h!.sandbox.sessions.issue().accessToken, apiVersion: '62.0', pageSize: 200, now: () => h!.sandbox.clock.now(), bulkThreshold: null });
    for (const t of types) {
      const viaBulk = byId(records(bulk.get(t)!));
      const viaRest = byId(records(await pages(t, null, restConnector)));
      expect(viaBulk.size, t).toBe(viaRest.size);
      for (const [id, r] of viaRest) expect(viaBulk.get(id), `${t} ${id}`).toEqual(r);
    }
    const deals = records(bulk.get('deals')!);
    expect(deals.every((d) => d.contactIds?.length === 2)).toBe(true);
    const calls = records(bulk.get('calls')!);
    expect(calls.every((c) => (c.contactIds?.length ?? 0) === 2)).toBe(true);
    const contacts = records(bulk.get('contacts')!);
    expect(contacts.filter((c) => c.deleted)).toHaveLength(1);
    expect(contacts.find((c) => (c.data as { firstName?: string }).firstName?.includes('"hi"'))).toBeDefined();
    expect(bulk.get('contacts')!.find((p) => p.records.length > 0)?.total).toBe(30);

    // then REST, from when the job was created: a later change arrives, no new job
    const cursor = bulk.get('contacts')!.at(-1)!.next;
    await h.advance(60_000);
    const changed = contacts.find((c) => !c.deleted)!.id;
    h.sandbox.data.update('Contact', changed, { FirstName: 'Changed' });
    await h.advance(1_000);
    const before = restQueries();
    const next = records(await pages('contacts', cursor));
    expect(next.map((r) => r.id)).toContain(changed);
    expect(next.length).toBeLessThan(5);
    expect(jobsCreated()).toBe(5);
    expect(restQueries()).toBeGreaterThan(before);
  });

  it('below the threshold nothing changes: REST pages, no job', async () => {
    h = await salesforceHarness({ ...BULK, bulkThreshold: 1000 });
    seedOrg(30);
    expect(records(await pages('contacts'))).toHaveLength(30);
    expect(jobsCreated()).toBe(0);
  });

  it('a restart mid-locator resumes paging the same job from the stored cursor; a job expired meanwhile is started again', async () => {
    // days pass below: a session per call, as the token manager's refresh would give
    h = await salesforceHarness({ ...BULK, accessToken: async () => h!.sandbox.sessions.issue().accessToken });
    const ids = seedOrg(30);
    const seen: CrmRecord[] = [];
    let cursor: Cursor | null = null;
    let nonEmpty = 0;
    // the daemon is killed after committing two result pages
    for await (const p of h.connector.changes('contacts', null, signal)) {
      seen.push(...p.records);
      cursor = p.next;
      if (p.records.length > 0 && ++nonEmpty === 2) break;
    }
    expect(seen).toHaveLength(14);
    expect(JSON.parse(cursor as string)).toMatchObject({ bulk: { job: expect.any(String), locator: expect.any(String) } });
    const rest = await pages('contacts', cursor);
    expect(jobsCreated()).toBe(1);
    const all = byId([...seen, ...records(rest)]);
    expect(new Set(all.keys())).toEqual(new Set(ids));
    // each row once: the resumed run did not start over
    expect(seen.length + records(rest).length).toBe(30);
    expect(JSON.parse(rest.at(-1)!.next as string)).not.toHaveProperty('bulk');

    // the same kill, but the job's results are gone (kept 7 days) by the restart: a new job, every row
    seen.length = 0;
    for await (const p of h.connector.changes('contacts', null, signal)) {
      seen.push(...p.records);
      cursor = p.next;
      if (p.records.length > 0) break;
    }
    await h.advance(8 * 86_400_000);
    const again = records(await pages('contacts', cursor));
    expect(jobsCreated()).toBe(3);
    expect(new Set(again.map((r) => r.id))).toEqual(new Set(ids));
  });

  it('through the sync engine into SQLite: a pass stopped mid-locator and restarted leaves the cache equal to the org, links intact, one job per object', async () => {
    h = await salesforceHarness(BULK);
    seedOrg(30);
    const dir = tempDir();
    const store = createStore({ path: join(dir.path, 'rapport.db'), now: () => h!.sandbox.clock.now() });
    try {
      const portal = (await h.connector.whoAmI()).portal;
      const deps = { store, connector: h.connector, portal, logger: silentLogger };
      for (const type of ['contacts', 'deals', 'calls'] as const) {
        // the daemon stops after the first committed page of results (the page before it only holds the new job)
        const stop = new AbortController();
        const first = await syncStream(deps, type, { signal: stop.signal, graceMs: 0, onProgress: (p) => p.records > 0 && p.pages >= 2 && stop.abort() });
        expect(first.status, type).toBe('aborted');
        expect(JSON.parse((await store.cursors.get(portal, type)) as string), type).toMatchObject({ bulk: { locator: expect.any(String) } });
        const second = await syncStream(deps, type, { signal });
        expect(second.status, type).toBe('ok');
      }
      // one main job and one relation job for deals and calls, none started again
      expect(jobsCreated()).toBe(5);
      const live = (sobject: string, keep: (r: Record<string, unknown>) => boolean = () => true) =>
        h!.sandbox.data
          .rows(sobject)
          .filter((r) => r.IsDeleted !== true && keep(r))
          .map((r) => r.Id as string)
          .sort();
      expect((await store.records.ids(portal, 'contacts')).sort()).toEqual(live('Contact'));
      expect((await store.records.ids(portal, 'deals')).sort()).toEqual(live('Opportunity'));
      expect((await store.records.ids(portal, 'calls')).sort()).toEqual(live('Task', (r) => r.TaskSubtype === 'Call'));
      // every contact role and activity relation of the org links its record to its contact
      for (const role of h.sandbox.data.rows('OpportunityContactRole')) {
        expect((await store.records.linkedToContact(portal, role.ContactId as string)).some((r) => r.type === 'deals' && r.id === role.OpportunityId)).toBe(true);
      }
      for (const rel of h.sandbox.data.rows('TaskWhoRelation')) {
        expect((await store.records.linkedToContact(portal, rel.RelationId as string)).some((r) => r.type === 'calls' && r.id === rel.TaskId)).toBe(true);
      }
    } finally {
      await store.close();
      dir.cleanup();
    }
  });

  it('a job that fails is a clear error naming Salesforce’s message; the cursor drops it and the next attempt runs a new job', async () => {
    h = await salesforceHarness(BULK, { org: { bulk: { ...DEFAULT_BULK, failWith: 'InternalServerError : retried more than 15 times' } } });
    const ids = seedOrg(30);
    const got: Page[] = [];
    const run = async () => {
      for await (const p of h!.connector.changes('contacts', null, signal)) got.push(p);
    };
    await expect(run()).rejects.toMatchObject({ kind: 'unavailable', details: { code: 'BULK_JOB_FAILED' }, message: expect.stringContaining('retried more than 15 times') });
    expect(records(got)).toEqual([]);
    const last = got.at(-1)!.next;
    expect(JSON.parse(last as string)).toMatchObject({ bulk: { job: null } });
    h.sandbox.configure({ bulk: DEFAULT_BULK });
    const retried = records(await pages('contacts', last));
    expect(new Set(retried.map((r) => r.id))).toEqual(new Set(ids));
    expect(jobsCreated()).toBe(2);
  });
});

describe('SALESFORCE_BULK_THRESHOLD', () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());
  const load = (env: Record<string, string>) => loadConfig({ RAPPORT_DB: join(dir.path, 'r.db'), ...env }, '/nonexistent.json');

  it('is 50,000 rows by default, configurable, 0 turns bulk off; anything else is a clear error', () => {
    expect(load({}).salesforce).toMatchObject({ bulkThreshold: 50_000 });
    expect(load({ SALESFORCE_BULK_THRESHOLD: '200000' }).salesforce).toMatchObject({ bulkThreshold: 200_000 });
    expect(load({ SALESFORCE_BULK_THRESHOLD: '0' }).salesforce).toMatchObject({ bulkThreshold: null });
    expect(() => load({ SALESFORCE_BULK_THRESHOLD: '-5' })).toThrow(/SALESFORCE_BULK_THRESHOLD must be 0 \(never\) or more/);
    expect(() => load({ SALESFORCE_BULK_THRESHOLD: '1.5' })).toThrow(/SALESFORCE_BULK_THRESHOLD must be a whole number/);
  });
});
