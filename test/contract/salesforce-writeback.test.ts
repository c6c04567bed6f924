import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectStatus } from '../../src/commands/status.ts';
import { CrmError } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { createStore, type Store } from '../../src/store/index.ts';
import { drainOutbox } from '../../src/sync/write-back.ts';
import { tempDir } from '../support/temp-dir.ts';
import { salesforceHarness, type SalesforceHarness } from './salesforce-harness.ts';

/**
 * Score write-back on a Salesforce org that behaves like a customer's: the daily API budget, a
 * validation rule, an Apex trigger at its governor limits. Real parts: the jsforce connector, the
 * emulator over HTTP, the SQLite outbox and `rapport status`'s report.
 */
let h: SalesforceHarness | undefined;
let store: Store | undefined;
let dir: ReturnType<typeof tempDir> | undefined;
afterEach(async () => {
  await h?.close();
  await store?.close();
  dir?.cleanup();
  h = undefined;
  store = undefined;
  dir = undefined;
});

function openStore(now: () => number): Store {
  dir = tempDir();
  store = createStore({ path: join(dir.path, 'rapport.db'), now });
  return store;
}
const signal = new AbortController().signal;
const scores = (v: number) => ({ satisfaction: String(v), health: 'green' });
const patches = (hh: SalesforceHarness) => hh.sandbox.stats().byRoute['PATCH /services/data/vXX.X/composite/sobjects'] ?? 0;
const contacts = (hh: SalesforceHarness, n: number) => Array.from({ length: n }, (_, i) => hh.sandbox.data.create('Contact', { LastName: `c${i}` }).Id as string);

describe('salesforce daily budget pause', () => {
  it('clears after the window: while paused nothing is sent, then /limits is re-probed and calls resume', async () => {
    h = await salesforceHarness({ budgetFraction: 0.5, budgetProbeMs: 15 * 60_000 }, { dailyLimit: 20, sessionTimeoutMs: 7 * 86_400_000 });
    await h.createContact({ email: 'a@example.com' });
    let paused: unknown;
    for (let i = 0; i < 15 && paused === undefined; i++) paused = await h.connector.whoAmI().then(() => undefined, (e: unknown) => e);
    expect(paused).toBeInstanceOf(CrmError);
    expect((paused as CrmError).details).toMatchObject({ code: 'DAILY_BUDGET', policy: 'DAILY' });
    expect(h.connector.stats().paused).toBe(true);
    const sent = h.sandbox.stats().requests;
    // within the window: refused locally, not one request reaches the org
    await h.advance(10 * 60_000);
    await expect(h.connector.whoAmI()).rejects.toMatchObject({ details: { code: 'DAILY_BUDGET' } });
    expect(h.sandbox.stats().requests).toBe(sent);
    // past the window but the org is still over the share: one /limits probe, still paused
    await h.advance(6 * 60_000);
    await expect(h.connector.whoAmI()).rejects.toMatchObject({ details: { code: 'DAILY_BUDGET' } });
    expect(h.sandbox.stats().byRoute['GET /services/data/vXX.X/limits']).toBe(1);
    // the org's window rolls (the emulator's budget is per UTC day): the next probe clears the pause
    await h.advance(24 * 3_600_000);
    expect(await h.connector.whoAmI()).toEqual({ portal: h.portal });
    expect(h.connector.stats().paused).toBe(false);
    expect(h.connector.stats().probes).toBe(2);
  });

  it('a pause is not a write-back attempt: many drains while paused park nothing, and the writes land afterwards', async () => {
    h = await salesforceHarness({ budgetFraction: 0.5, budgetProbeMs: 60_000 }, { dailyLimit: 20, sessionTimeoutMs: 7 * 86_400_000 });
    const s = openStore(() => h!.sandbox.clock.now());
    const ids = contacts(h, 3);
    for (const id of ids) await s.outbox.enqueue(h.portal, id, scores(70));
    // use up half the budget
    for (let i = 0; i < 30 && h.connector.stats().paused !== true; i++) await h.connector.whoAmI().catch(() => undefined);
    expect(h.connector.stats().paused).toBe(true);
    for (let i = 0; i < 8; i++) {
      await h.advance(2 * 60_000); // every drain past the probe window: each one probes, none writes
      const r = await drainOutbox({ store: s, connector: h.connector, portal: h.portal, logger: silentLogger }, { signal });
      expect(r.error?.details.code).toBe('DAILY_BUDGET');
      expect(r).toMatchObject({ written: 0, parked: 0, retrying: 0 });
    }
    expect(await s.outbox.stats(h.portal)).toEqual({ pending: 3, parked: 0 });
    expect(patches(h)).toBe(0);
    await h.advance(24 * 3_600_000);
    const r = await drainOutbox({ store: s, connector: h.connector, portal: h.portal, logger: silentLogger }, { signal });
    expect(r).toMatchObject({ written: 3, parked: 0 });
    for (const id of ids) expect(h.sandbox.data.get('Contact', id)!.Rapport_Satisfaction__c).toBe(70);
  });
});

describe('salesforce write-back against customer automation', () => {
  it('sends 200 records per composite call', async () => {
    h = await salesforceHarness();
    const s = openStore(() => h!.sandbox.clock.now());
    for (const id of contacts(h, 450)) await s.outbox.enqueue(h.portal, id, scores(40));
    const r = await drainOutbox({ store: s, connector: h.connector, portal: h.portal, logger: silentLogger }, { signal });
    expect(r).toMatchObject({ written: 450, parked: 0 });
    expect(patches(h)).toBe(3);
  });

  it('a validation rule rejecting 5 % of writes: the others land, the rejected ones are in `rapport status` with the org message', async () => {
    const message = 'Rapport scores can only be set on customer contacts';
    h = await salesforceHarness({}, { org: { validationRule: { share: 0.05, message } } });
    const s = openStore(() => h!.sandbox.clock.now());
    await s.portals.upsert({ portal: h.portal, crm: 'salesforce', externalId: h.sandbox.orgId, baseUrl: h.baseUrl, scopes: [] });
    const ids = contacts(h, 400);
    for (const id of ids) await s.outbox.enqueue(h.portal, id, scores(55));
    const r = await drainOutbox({ store: s, connector: h.connector, portal: h.portal, logger: silentLogger }, { signal });
    const landed = ids.filter((id) => h!.sandbox.data.get('Contact', id)!.Rapport_Satisfaction__c === 55);
    const rejected = ids.filter((id) => h!.sandbox.data.get('Contact', id)!.Rapport_Satisfaction__c === undefined);
    expect(rejected.length).toBeGreaterThan(5);
    expect(landed.length + rejected.length).toBe(400);
    expect(r).toMatchObject({ written: landed.length, parked: rejected.length, retrying: 0 });
    const [report] = await collectStatus(s, h.portal);
    expect(report!.outbox).toEqual({ pending: 0, parked: rejected.length });
    expect(report!.parked.length).toBeGreaterThan(0);
    for (const p of report!.parked) {
      expect(rejected).toContain(p.contactId);
      expect(p.lastError).toBe(`invalid_request FIELD_CUSTOM_VALIDATION_EXCEPTION: Salesforce rejected the update: FIELD_CUSTOM_VALIDATION_EXCEPTION: ${message}`);
    }
  });

  it('a chunk failing whole on an Apex governor limit is split and retried until the halves pass', async () => {
    h = await salesforceHarness({}, { org: { apexRecordLimit: 60 } });
    const s = openStore(() => h!.sandbox.clock.now());
    const ids = contacts(h, 200);
    for (const id of ids) await s.outbox.enqueue(h.portal, id, scores(33));
    const r = await drainOutbox({ store: s, connector: h.connector, portal: h.portal, logger: silentLogger }, { signal });
    expect(r).toMatchObject({ written: 200, parked: 0, retrying: 0 });
    expect(ids.every((id) => h!.sandbox.data.get('Contact', id)!.Rapport_Satisfaction__c === 33)).toBe(true);
    // 200 → 2 × 100 → 4 × 50
    expect(patches(h)).toBe(1 + 2 + 4);
  });

  it('a trigger that fails even small chunks is reported per record as retryable, with the exception text', async () => {
    h = await salesforceHarness({}, { org: { apexRecordLimit: 10 } });
    const ids = contacts(h, 200);
    const results = await h.connector.writeScores(ids.map((contactId) => ({ contactId, properties: scores(20) })), signal);
    expect(results).toHaveLength(200);
    // split at most three times (200 → 25), then reported
    expect(patches(h)).toBe(1 + 2 + 4 + 8);
    for (const r of results) {
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.kind).toBe('unavailable');
        expect(r.error.message).toContain('System.LimitException: Too many SOQL queries: 101');
      }
    }
  });

  it('never names a contact twice in one call: the latest values of a repeated contact are written', async () => {
    h = await salesforceHarness();
    const [a, b] = contacts(h, 2) as [string, string];
    const results = await h.connector.writeScores(
      [
        { contactId: a, properties: scores(10) },
        { contactId: b, properties: scores(20) },
        { contactId: a, properties: scores(30) },
      ],
      signal,
    );
    expect(results).toEqual([
      { contactId: a, ok: true },
      { contactId: b, ok: true },
    ]);
    expect(h.sandbox.data.get('Contact', a)!.Rapport_Satisfaction__c).toBe(30);
  });
});

describe('salesforce request deadline', () => {
  it('a call with no answer within the timeout fails as unavailable and its connection is closed', async () => {
    const { createServer } = await import('node:http');
    const { createSalesforceConnector } = await import('../../src/connectors/salesforce/index.ts');
    let closedAt: number | undefined;
    const server = createServer((req) => {
      // never answers; notes when the client gives up the request
      req.socket.on('close', () => (closedAt = Date.now()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const c = createSalesforceConnector({ instanceUrl: `http://127.0.0.1:${port}`, accessToken: async () => 'x', apiVersion: '62.0', timeoutMs: 300, retry: { retries: 0 } });
      const started = Date.now();
      await expect(c.whoAmI()).rejects.toMatchObject({ kind: 'unavailable' });
      for (let i = 0; i < 50 && closedAt === undefined; i++) await new Promise((r) => setTimeout(r, 20));
      expect(closedAt).toBeDefined();
      expect(closedAt! - started).toBeLessThan(2_000);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
