import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFakeConnector, type FakeConnector } from '../../../src/connectors/fake.ts';
import { createHubspotConnector } from '../../../src/connectors/hubspot/index.ts';
import type { ContactData, ScoreUpdate } from '../../../src/connectors/types.ts';
import { silentLogger, type Logger } from '../../../src/log.ts';
import { startHubspotSandbox } from '../../../src/sandbox/hubspot/index.ts';
import { createSalesforceConnector } from '../../../src/connectors/salesforce/index.ts';
import { startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { createStore, type Store } from '../../../src/store/index.ts';
import { drainOutbox } from '../../../src/sync/write-back.ts';
import { tempDir } from '../../support/temp-dir.ts';

const portal = 'hubspot:1';
let dir: ReturnType<typeof tempDir>;
let store: Store;
let clock = 1_000_000;
afterEach(async () => {
  await store.close();
  dir.cleanup();
});
function open(): Store {
  dir = tempDir();
  clock = 1_000_000;
  store = createStore({ path: join(dir.path, 'r.db'), now: () => clock });
  return store;
}

/** The contract-verified fake connector holding these contacts (writes to any other id fail as not found). */
function crmWith(ids: readonly string[], opts: Parameters<typeof createFakeConnector>[0] = {}): FakeConnector {
  const connector = createFakeConnector({ portal, ...opts });
  const data: ContactData = { email: null, emailRaw: null, phone: null, phoneRaw: null, firstName: null, lastName: null, createdAt: null, lifecycleStage: null };
  for (const id of ids) connector.put({ type: 'contacts', id, data });
  return connector;
}
/** the updates of every writeScores call, in order */
const batches = (c: FakeConnector): ScoreUpdate[][] => c.requests.flatMap((r) => (r.op === 'writeScores' ? [r.updates] : []));

const signal = new AbortController().signal;

describe('drainOutbox', () => {
  it('writes in batches of 100 and never re-sends values already written', async () => {
    open();
    const ids = Array.from({ length: 250 }, (_, i) => `c${i}`);
    for (const id of ids) await store.outbox.enqueue(portal, id, { satisfaction: '50', health: 'green' });
    const connector = crmWith(ids);
    const r = await drainOutbox({ store, connector, portal, logger: silentLogger }, { signal });
    expect(r).toMatchObject({ written: 250, retrying: 0, parked: 0 });
    expect(batches(connector).map((b) => b.length)).toEqual([100, 100, 50]);
    expect(connector.written.get('c249')).toEqual({ satisfaction: '50', health: 'green' });
    expect(await store.outbox.stats(portal)).toEqual({ pending: 0, parked: 0 });

    // Same values again: nothing to write. One changed value: only that property goes out.
    expect(await store.outbox.enqueue(portal, 'c1', { satisfaction: '50', health: 'green' })).toBe(0);
    await store.outbox.enqueue(portal, 'c2', { satisfaction: '51', health: 'green' });
    await drainOutbox({ store, connector, portal, logger: silentLogger }, { signal });
    expect(batches(connector).at(-1)).toEqual([{ contactId: 'c2', properties: { satisfaction: '51' } }]);
  });

  it('retries a retryable per-record failure with backoff, then parks it with the reason', async () => {
    open();
    await store.outbox.enqueue(portal, 'ok', { loyalty: '10' });
    await store.outbox.enqueue(portal, 'flaky', { loyalty: '20' });
    const connector = crmWith(['ok', 'flaky']);
    connector.failWrite('flaky', 'unavailable', 3);
    const deps = { store, connector, portal, logger: silentLogger };
    const first = await drainOutbox(deps, { signal, maxAttempts: 3 });
    expect(first).toMatchObject({ written: 1, retrying: 1, parked: 0 });
    // Not due yet: a second drain right away sends nothing.
    expect((await drainOutbox(deps, { signal, maxAttempts: 3 })).retrying).toBe(0);
    clock += 3_600_000;
    expect((await drainOutbox(deps, { signal, maxAttempts: 3 })).retrying).toBe(1);
    clock += 3_600_000;
    expect((await drainOutbox(deps, { signal, maxAttempts: 3 })).parked).toBe(1);
    expect(await store.outbox.stats(portal)).toEqual({ pending: 0, parked: 1 });
    expect((await store.outbox.parked(portal))[0]).toMatchObject({ contactId: 'flaky', lastError: 'unavailable INJECTED: fake connector: injected unavailable on contact flaky' });
    // each attempt went out once: no resend of the written one, no write while not due
    expect(batches(connector).map((b) => b.map((u) => u.contactId).sort())).toEqual([['flaky', 'ok'], ['flaky'], ['flaky']]);
  });

  it('parks a non-retryable failure at once (e.g. the contact was deleted)', async () => {
    open();
    await store.outbox.enqueue(portal, 'gone', { loyalty: '1' });
    const connector = crmWith(['gone']);
    connector.remove('contacts', 'gone');
    const r = await drainOutbox({ store, connector, portal, logger: silentLogger }, { signal });
    expect(r.parked).toBe(1);
    expect((await store.outbox.parked(portal))[0]?.lastError).toContain('contact gone does not exist');
  });

  it('keeps every item when the whole batch fails on auth, and loses nothing across a restart', async () => {
    open();
    await store.outbox.enqueue(portal, 'a', { churnRisk: '80' });
    await store.outbox.enqueue(portal, 'b', { churnRisk: '10' });
    const connector = crmWith(['a', 'b']);
    connector.failNext('auth', 1, { op: 'writeScores' });
    const r = await drainOutbox({ store, connector, portal, logger: silentLogger }, { signal });
    expect(r.error?.kind).toBe('auth');
    expect(r.written).toBe(0);
    const path = join(dir.path, 'r.db');
    await store.close();
    store = createStore({ path, now: () => clock });
    expect((await store.outbox.due(portal, 10)).map((i) => i.contactId).sort()).toEqual(['a', 'b']);
    expect((await drainOutbox({ store, connector, portal, logger: silentLogger }, { signal })).written).toBe(2);
    expect(connector.written).toEqual(new Map([['a', { churnRisk: '80' }], ['b', { churnRisk: '10' }]]));
  });

  it('schedules a retry for every item of a batch that failed as a whole with a 5xx', async () => {
    open();
    await store.outbox.enqueue(portal, 'a', { churnRisk: '80' });
    await store.outbox.enqueue(portal, 'b', { churnRisk: '20' });
    const connector = crmWith(['a', 'b']);
    // the connector reports a batch that stayed unavailable after its retries per record
    connector.failNext('unavailable', 1, { op: 'writeScores' });
    const r = await drainOutbox({ store, connector, portal, logger: silentLogger }, { signal });
    expect(r).toMatchObject({ written: 0, retrying: 2, parked: 0 });
    expect(await store.outbox.stats(portal)).toEqual({ pending: 2, parked: 0 });
    expect(await store.outbox.due(portal, 10)).toEqual([]);
    clock += 3_600_000;
    expect((await drainOutbox({ store, connector, portal, logger: silentLogger }, { signal })).written).toBe(2);
  });

  describe('stopped while a batch is in flight', () => {
    /** 150 pending writes, and a CRM that holds the first batch for `holdMs` while the drain is stopped */
    async function stopMidBatch(holdMs: number, graceMs?: number) {
      open();
      const ids = Array.from({ length: 150 }, (_, i) => `c${i}`);
      for (const id of ids) await store.outbox.enqueue(portal, id, { loyalty: '40' });
      const stop = new AbortController();
      const connector = crmWith(ids, {
        beforeRequest: async (req) => {
          if (req.op !== 'writeScores') return;
          stop.abort();
          await new Promise((r) => setTimeout(r, holdMs));
        },
      });
      const opts = graceMs === undefined ? { signal: stop.signal } : { signal: stop.signal, graceMs };
      const result = await drainOutbox({ store, connector, portal, logger: silentLogger }, opts);
      return { connector, result };
    }

    it('the batch sent gets its answer and is settled; no batch is sent after the stop', async () => {
      const { connector, result } = await stopMidBatch(50);
      expect(result).toMatchObject({ written: 100, retrying: 0, parked: 0 });
      expect(batches(connector).map((b) => b.length)).toEqual([100]);
      expect(connector.written.size).toBe(100);
      // the next run sends only the 50 never sent
      expect(await store.outbox.stats(portal)).toEqual({ pending: 50, parked: 0 });
    });

    it('a batch still unanswered past the grace is cut and stays pending, nothing counted against it', async () => {
      const { result } = await stopMidBatch(200, 20);
      expect(result).toMatchObject({ written: 0, retrying: 0, parked: 0 });
      expect(await store.outbox.stats(portal)).toEqual({ pending: 150, parked: 0 });
      expect((await store.outbox.due(portal, 200)).every((i) => i.attempts === 0)).toBe(true);
    });
  });

  describe('a write refused for a missing property', () => {
    function recordingLogger() {
      const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
      const logger: Logger = {
        debug: (fields, msg) => void lines.push({ level: 'debug', fields, msg }),
        info: (fields, msg) => void lines.push({ level: 'info', fields, msg }),
        warn: (fields, msg) => void lines.push({ level: 'warn', fields, msg }),
        error: (fields, msg) => void lines.push({ level: 'error', fields, msg }),
        child: () => logger,
      };
      return { logger, lines };
    }

    it('provisions the properties and retries the batch: everything written, nothing parked, no attempt spent', async () => {
      open();
      const ids = Array.from({ length: 150 }, (_, i) => `c${i}`);
      for (const [i, id] of ids.entries()) await store.outbox.enqueue(portal, id, { loyalty: String(i) });
      const connector = crmWith(ids, { unprovisioned: true });
      const { logger, lines } = recordingLogger();
      const r = await drainOutbox({ store, connector, portal, logger }, { signal });
      expect(r).toMatchObject({ written: 150, retrying: 0, parked: 0, reprovisioned: true });
      expect(connector.requests.filter((q) => q.op === 'provision')).toHaveLength(1);
      expect(connector.provisioned).toBe(true);
      // the refused batch of 100 went out again after provisioning, then the last 50
      expect(batches(connector).map((b) => b.length)).toEqual([100, 100, 50]);
      expect(connector.written.size).toBe(150);
      expect(await store.outbox.stats(portal)).toEqual({ pending: 0, parked: 0 });
      expect(lines.find((l) => l.level === 'warn')?.msg).toMatch(/lacks a Rapport property; provisioning the properties and retrying/);
    });

    it('parks the writes with the reason when provisioning fails, logs the parking at warn, and `requeueParked` brings them back', async () => {
      open();
      await store.outbox.enqueue(portal, 'a', { loyalty: '10' });
      await store.outbox.enqueue(portal, 'b', { loyalty: '20' });
      const connector = crmWith(['a', 'b'], { unprovisioned: true });
      connector.failNext('forbidden', 1, { op: 'provision', code: 'MISSING_SCOPES' });
      const { logger, lines } = recordingLogger();
      const r = await drainOutbox({ store, connector, portal, logger }, { signal });
      expect(r).toMatchObject({ written: 0, parked: 2 });
      expect(await store.outbox.stats(portal)).toEqual({ pending: 0, parked: 2 });
      const reason = 'invalid_request PROPERTY_DOESNT_EXIST; provisioning failed (forbidden MISSING_SCOPES)';
      expect(await store.outbox.parkedReasons(portal)).toEqual([{ reason, count: 2 }]);
      expect((await store.outbox.parked(portal))[0]?.lastError).toMatch(/^invalid_request PROPERTY_DOESNT_EXIST; provisioning failed \(forbidden MISSING_SCOPES\): Property values were not valid/);
      const warn = lines.filter((l) => l.level === 'warn' && /parked/.test(l.msg));
      expect(warn).toEqual([expect.objectContaining({ fields: { portal, parked: 2, reason } })]);
      // never the values: no log line carries the properties
      expect(JSON.stringify(lines)).not.toContain('"loyalty"');

      // The admin grants the scope (no more injected failure); `rapport outbox retry` re-queues, the next drain provisions and writes.
      expect(await store.outbox.requeueParked(portal)).toBe(2);
      expect(await store.outbox.stats(portal)).toEqual({ pending: 2, parked: 0 });
      expect((await store.outbox.due(portal, 10)).map((i) => i.attempts)).toEqual([0, 0]);
      const again = await drainOutbox({ store, connector, portal, logger }, { signal });
      expect(again).toMatchObject({ written: 2, parked: 0, reprovisioned: true });
      expect(await store.outbox.stats(portal)).toEqual({ pending: 0, parked: 0 });
      expect(await store.outbox.requeueParked(portal)).toBe(0);
    });
  });
});

describe('drainOutbox after a process died between sending a batch and settling it (HubSpot sandbox over HTTP)', () => {
  let hs: Awaited<ReturnType<typeof startHubspotSandbox>>;
  afterEach(async () => {
    await hs?.close();
  });

  it('asks the CRM what it holds and writes nothing new: the sent batch is settled, the rest is sent once', async () => {
    open();
    hs = await startHubspotSandbox({ limits: false, searchLagMs: 0 });
    const { hubId, token } = hs.sandbox.portals.create();
    const ids: string[] = [];
    for (let i = 0; i < 150; i++) ids.push(hs.sandbox.data.create(hubId, 'contacts', { email: `c${i}@died.example.com` }).id);
    const hubPortal = `hubspot:${hubId}`;
    const connector = createHubspotConnector({ basePath: hs.baseUrl, accessToken: async () => token, portal: hubPortal, limits: false, retry: { retries: 0 } });
    await connector.provision(signal);
    const scoredAt = new Date(1_700_000_000_000).toISOString();
    for (const [i, id] of ids.entries()) await store.outbox.enqueue(hubPortal, id, { satisfaction: String(i % 100), health: 'green', scoredAt });
    // the process that died: it marked a batch as being sent (as drainOutbox does), sent the first
    // batch (HubSpot applied it) and never settled it
    await store.outbox.setSending(hubPortal, true);
    const sent = await store.outbox.due(hubPortal, 100);
    const results = await connector.writeScores(sent.map((i) => ({ contactId: i.contactId, properties: i.properties })), signal);
    expect(results.every((r) => r.ok)).toBe(true);

    const r = await drainOutbox({ store, connector, portal: hubPortal, logger: silentLogger }, { signal });
    expect(r).toMatchObject({ written: 50, alreadyThere: 100, retrying: 0, parked: 0 });
    expect(await store.outbox.stats(hubPortal)).toEqual({ pending: 0, parked: 0 });
    const counts = hs.sandbox.writeCounts.of(hubId, 'contacts');
    for (const id of ids) expect(counts.get(id), id).toEqual({ inputs: 1, changed: 1 });
    expect(await store.outbox.lastWritten(hubPortal, ids[0]!)).toEqual({ satisfaction: '0', health: 'green', scoredAt });
  });

  it('sends the batch when the CRM holds other values (a value changed since, or the send never landed)', async () => {
    open();
    hs = await startHubspotSandbox({ limits: false, searchLagMs: 0 });
    const { hubId, token } = hs.sandbox.portals.create();
    const a = hs.sandbox.data.create(hubId, 'contacts', { email: 'a@died.example.com' }).id;
    const b = hs.sandbox.data.create(hubId, 'contacts', { email: 'b@died.example.com' }).id;
    const hubPortal = `hubspot:${hubId}`;
    const connector = createHubspotConnector({ basePath: hs.baseUrl, accessToken: async () => token, portal: hubPortal, limits: false, retry: { retries: 0 } });
    await connector.provision(signal);
    await connector.writeScores([{ contactId: a, properties: { satisfaction: '40' } }], signal);
    await store.outbox.enqueue(hubPortal, a, { satisfaction: '41' });
    await store.outbox.enqueue(hubPortal, b, { satisfaction: '42' });
    const r = await drainOutbox({ store, connector, portal: hubPortal, logger: silentLogger }, { signal });
    expect(r).toMatchObject({ written: 2, retrying: 0, parked: 0 });
    expect(r.alreadyThere).toBeUndefined();
    expect(hs.sandbox.data.get(hubId, 'contacts', a)?.properties['rapport_satisfaction']).toBe('41');
    expect(hs.sandbox.writeCounts.of(hubId, 'contacts').get(b)).toEqual({ inputs: 1, changed: 1 });
  });
});

describe('drainOutbox after a process died between sending a batch and settling it (Salesforce emulator over HTTP)', () => {
  let sf: Awaited<ReturnType<typeof startSalesforceSandbox>>;
  afterEach(async () => {
    await sf?.close();
  });
  const start = async (org: Parameters<typeof startSalesforceSandbox>[0] = {}) => {
    sf = await startSalesforceSandbox(org);
    const { accessToken } = sf.sandbox.sessions.issue();
    const sfPortal = `salesforce:${sf.sandbox.orgId}`;
    const connect = () =>
      createSalesforceConnector({ instanceUrl: sf.baseUrl, apiVersion: '62.0', accessToken: async () => accessToken, portal: sfPortal, retry: { retries: 0, baseMs: 1, maxMs: 1 } });
    return { sfPortal, connect, contacts: (n: number) => Array.from({ length: n }, (_, i) => sf.sandbox.data.create('Contact', { LastName: `Died ${i}` }).Id as string) };
  };
  const scoredAt = new Date(1_700_000_000_123).toISOString();
  const values = (i: number) => ({ satisfaction: String(i % 100), churnRisk: String((i * 7) % 100), health: 'green', reasons: `reason ${i}`, scoredAt, modelVersion: 'm1' });
  /** `n` contacts with values in the outbox, and a drain whose first collection the org applies and never answers: the process dies (abort) before settling */
  const dieAfterFirstCollection = async (n: number) => {
    const { sfPortal, connect, contacts } = await start();
    const ids = contacts(n);
    for (const [i, id] of ids.entries()) await store.outbox.enqueue(sfPortal, id, values(i));
    sf.sandbox.loseWriteAnswers(1);
    const dying = new AbortController();
    // a process dying gives its request no grace
    const first = drainOutbox({ store, connector: connect(), portal: sfPortal, logger: silentLogger }, { signal: dying.signal, graceMs: 0 });
    while (sf.sandbox.stats().lostAnswers === 0) await new Promise((r) => setTimeout(r, 10));
    dying.abort();
    return { sfPortal, connect, ids, first: await first };
  };

  it('a collection applied whose answer was lost: the next drain finds it in the org and writes nothing new', async () => {
    open();
    // the first drain's first collection (200 records) is applied and never answered
    const { sfPortal, connect, ids, first } = await dieAfterFirstCollection(250);
    expect(first).toMatchObject({ written: 0, retrying: 0, parked: 0 });
    expect(sf.sandbox.writeCounts.of('Contact').size).toBe(200);
    expect(await store.outbox.stats(sfPortal)).toEqual({ pending: 250, parked: 0 });

    const r = await drainOutbox({ store, connector: connect(), portal: sfPortal, logger: silentLogger }, { signal });
    expect(r).toMatchObject({ written: 50, alreadyThere: 200, retrying: 0, parked: 0 });
    expect(await store.outbox.stats(sfPortal)).toEqual({ pending: 0, parked: 0 });
    const counts = sf.sandbox.writeCounts.of('Contact');
    for (const id of ids) expect(counts.get(id), id).toEqual({ inputs: 1, changed: 1 });
    // the dying drain asked nothing (no batch was left unsettled before it); the second found its
    // sending mark: one query for the collection that was there, one for the next (not there: sent)
    const queries = () => sf.sandbox.stats().byRoute['GET /services/data/vXX.X/query'];
    expect(queries()).toBe(2);
    // the last answer settled cleared the mark: a drain after a clean one costs the org no query
    await store.outbox.enqueue(sfPortal, ids[0]!, { ...values(0), satisfaction: '99' });
    expect(await drainOutbox({ store, connector: connect(), portal: sfPortal, logger: silentLogger }, { signal })).toMatchObject({ written: 1 });
    expect(queries()).toBe(2);
  });

  it('a lost answer for the last collection in the outbox: the re-drain settles it from the org, clears the mark, and the drain after asks nothing', async () => {
    open();
    const { sfPortal, connect, ids } = await dieAfterFirstCollection(200);
    expect(await store.outbox.sending(sfPortal)).toBe(true);

    const queries = () => sf.sandbox.stats().byRoute['GET /services/data/vXX.X/query'] ?? 0;
    const r = await drainOutbox({ store, connector: connect(), portal: sfPortal, logger: silentLogger }, { signal });
    expect(r).toMatchObject({ written: 0, alreadyThere: 200, retrying: 0, parked: 0 });
    expect(queries()).toBe(1);
    // the org held all of it and nothing is pending: no batch is unsettled any more
    expect(await store.outbox.sending(sfPortal)).toBe(false);
    await store.outbox.enqueue(sfPortal, ids[0]!, { ...values(0), satisfaction: '99' });
    expect(await drainOutbox({ store, connector: connect(), portal: sfPortal, logger: silentLogger }, { signal })).toMatchObject({ written: 1 });
    expect(queries()).toBe(1);
    for (const id of ids.slice(1)) expect(sf.sandbox.writeCounts.of('Contact').get(id), id).toEqual({ inputs: 1, changed: 1 });
  });

  it('sends what the org holds differently, and what the integration user cannot read', async () => {
    open();
    const { connect, contacts } = await start({ org: { hiddenFields: [] } });
    const [a, b, c] = contacts(3);
    await connect().writeScores([a!, b!, c!].map((contactId) => ({ contactId, properties: { satisfaction: '40', reasons: 'why', scoredAt } })), signal);
    // held exactly (the org keeps whole seconds of the datetime)
    expect(await connect().scoresAlreadyWritten!([{ contactId: a!, properties: { satisfaction: '40', reasons: 'why', scoredAt } }], signal)).toEqual(new Set([a]));
    // a value changed since, a field the org holds empty, a contact the org does not have
    const differs = await connect().scoresAlreadyWritten!(
      [
        { contactId: a!, properties: { satisfaction: '41', reasons: 'why', scoredAt } },
        { contactId: b!, properties: { satisfaction: '40', health: 'green' } },
        { contactId: '003000000000999AAA', properties: { satisfaction: '40' } },
      ],
      signal,
    );
    expect(differs).toEqual(new Set());
    // field-level security hides Rapport_Reasons__c from the integration user: never "already written" on it
    sf.sandbox.configure({ hiddenFields: ['Contact.Rapport_Reasons__c'] });
    const hidden = await connect().scoresAlreadyWritten!(
      [
        { contactId: a!, properties: { satisfaction: '40', reasons: 'why' } },
        { contactId: c!, properties: { satisfaction: '40' } },
      ],
      signal,
    );
    expect(hidden).toEqual(new Set([c]));
  });
});
