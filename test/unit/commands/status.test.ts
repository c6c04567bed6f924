import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmRecord, Cursor } from '../../../src/connectors/types.ts';
import { createStore } from '../../../src/store/index.ts';
import { rapportInProcess } from '../../support/cli.ts';
import { tempDir } from '../../support/temp-dir.ts';

let dir: ReturnType<typeof tempDir>;
afterEach(() => dir.cleanup());

const contact = (id: string): CrmRecord => ({
  portal: 'hubspot:1',
  type: 'contacts',
  id,
  contactIds: undefined,
  companyId: null,
  updatedAt: 1,
  deleted: false,
  data: { email: null, emailRaw: null, phone: null, phoneRaw: null, firstName: id, lastName: null, createdAt: null, lifecycleStage: null },
});

/** A store as a running daemon leaves it: one portal, streams run, a parked write, API usage, a model. */
async function seeded(): Promise<string> {
  dir = tempDir();
  const path = join(dir.path, 'r.db');
  let now = Date.now() - 120_000;
  const store = createStore({ path, now: () => now });
  await store.portals.upsert({ portal: 'hubspot:1', crm: 'hubspot', externalId: '1', baseUrl: 'https://api.hubapi.com', scopes: [] });
  await store.records.upsertPage([contact('10'), contact('11')]);
  const ok = await store.syncRuns.start('hubspot:1', 'contacts');
  await store.commitPage({ portal: 'hubspot:1', stream: 'contacts', records: [], cursor: 'c1' as Cursor, run: { id: ok, pages: 1, records: 2 } });
  await store.syncRuns.finish(ok, 'ok');
  const failed = await store.syncRuns.start('hubspot:1', 'tickets');
  await store.syncRuns.finish(failed, 'failed', { kind: 'forbidden', message: 'missing scope tickets' });
  await store.outbox.enqueue('hubspot:1', '11', { health: 'red' });
  await store.outbox.settle('hubspot:1', { written: [], failed: [{ item: { contactId: '11', properties: { health: 'red' }, attempts: 0 }, error: 'invalid_request: Object not found', retryable: false }] }, { maxAttempts: 5 });
  await store.apiUsage.record('hubspot:1', 330, 2);
  await store.models.saveAll('hubspot:1', [{ kind: 'churn', version: 'm0', trainedAt: now - 1000, params: {}, metrics: { auc: 0.5 } }]);
  await store.models.saveAll('hubspot:1', [{ kind: 'churn', version: 'm1', trainedAt: now, params: {}, metrics: { auc: 0.91, ece: 0.02, test_n: 500 } }]);
  now += 120_000;
  await store.close();
  return path;
}

describe('rapport status', () => {
  it('--json reports per portal: streams with lag and last error, API usage against the limit, outbox and parked writes, models', async () => {
    const db = await seeded();
    const r = await rapportInProcess(['status', '--json'], { RAPPORT_DB: db, HUBSPOT_RATE_LIMIT: '110' });
    expect(r.code).toBe(0);
    const [p] = JSON.parse(r.stdout) as [Record<string, unknown> & { streams: Record<string, unknown>[] }];
    expect(p).toMatchObject({
      portal: 'hubspot:1',
      status: 'connected',
      records: { contacts: { live: 2, deleted: 0 } },
      outbox: { pending: 0, parked: 1 },
      parked: [{ contactId: '11', lastError: 'invalid_request: Object not found' }],
      apiUsage: { calls10m: 330, rateLimited10m: 2, peakPerMinute: 330, limitPer10s: 110, peakShareOfLimit: 0.5 },
      parkedReasons: [{ reason: 'invalid_request', count: 1 }],
      models: { churn: { version: 'm1', metrics: { auc: 0.91 }, earlierVersions: 1 }, service_need: null },
    });
    const byStream = Object.fromEntries(p.streams.map((s) => [s['stream'], s]));
    expect(byStream['contacts']).toMatchObject({ lastRunStatus: 'ok', records: 2, lastError: null });
    expect(byStream['tickets']).toMatchObject({ lastRunStatus: 'failed', lastError: 'forbidden: missing scope tickets' });
  });

  it('prints a table a human can read, and says when nothing is installed', async () => {
    const db = await seeded();
    const r = await rapportInProcess(['status'], { RAPPORT_DB: db });
    expect(r.stdout).toMatch(/hubspot:1 {2}CONNECTED/);
    expect(r.stdout).toMatch(/330 calls, 2 answered 429; busiest minute 330 calls = 50% of the 110\/10 s limit/);
    expect(r.stdout).toMatch(/tickets .* failed .* forbidden: missing scope tickets/);
    expect(r.stdout).toMatch(/parked write: contact 11 after 1 attempts: invalid_request: Object not found/);
    expect(r.stdout).toMatch(/model churn: m1 .*ROC AUC 0\.910, .*ECE 0\.020.*; 1 earlier version kept$/m);
    expect(r.stdout).toContain('parked writes: 1 × invalid_request; once the cause is fixed, re-queue them with `rapport outbox retry --portal hubspot:1`');
    expect(r.stdout).toMatch(/model service_need: not trained \(cold-start model in use\)/);

    const empty = await rapportInProcess(['status'], { RAPPORT_DB: join(dir.path, 'empty.db') });
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/No portal installed yet/);
    const bad = await rapportInProcess(['status', '--bogus'], { RAPPORT_DB: db });
    expect(bad.code).toBe(2);
  });
});

describe('rapport status on a Salesforce org', () => {
  it("shows Rapport's calls against the org's daily budget, not HubSpot's ten-second limit", async () => {
    dir = tempDir();
    const path = join(dir.path, 'sf.db');
    let now = Date.now() - 3 * 3_600_000;
    const store = createStore({ path, now: () => now });
    await store.portals.upsert({ portal: 'salesforce:00D5g0000000001AAA', crm: 'salesforce', externalId: '00D5g0000000001AAA', baseUrl: 'https://example.my.salesforce.com', scopes: [] });
    await store.apiUsage.record('salesforce:00D5g0000000001AAA', 900, 0);
    now += 3 * 3_600_000 - 60_000;
    await store.apiUsage.record('salesforce:00D5g0000000001AAA', 12, 0);
    await store.close();
    const json = await rapportInProcess(['status', '--json'], { RAPPORT_DB: path });
    expect((JSON.parse(json.stdout) as [{ apiUsage: unknown }])[0].apiUsage).toMatchObject({ calls10m: 12, calls24h: 912 });
    const human = await rapportInProcess(['status'], { RAPPORT_DB: path });
    expect(human.stdout).toContain('API: 912 calls in the last 24 h (12 in the last 10 min, about 1728 a day at this pace)');
    expect(human.stdout).not.toContain('/10 s limit');
  });
});
