import { join } from 'node:path';
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { z } from 'zod';
import { createFakeConnector, type FakeConnector } from '../../../src/connectors/fake.ts';
import type { CrmProvider } from '../../../src/connectors/provider.ts';
import { registryWith } from '../../../src/connectors/registry.ts';
import type { Cursor } from '../../../src/connectors/types.ts';
import { silentLogger } from '../../../src/log.ts';
import { createRapport, type Rapport } from '../../../src/main.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { ENCRYPTION_KEY_HEX } from './harness.ts';

/** A CRM whose one account is a fake connector: enough to label series by the portal row's crm. */
const providerOf = (name: string, fake: FakeConnector): CrmProvider => ({
  name,
  label: name,
  config: { keys: [], secretKeys: [], schema: z.object({}) },
  oauth: {
    missing: () => [],
    authorizeUrl: () => 'http://127.0.0.1:9/authorize',
    exchange: () => Promise.reject(new Error('not used')),
    refresh: () => Promise.reject(new Error('not used')),
  },
  createConnector: () => fake,
  provisionOnConnect: false,
  hints: { explain: (e) => e.message, refreshRefused: 'refused' },
});

/**
 * The whole `/metrics` answer of a running Rapport (daemon + server families in one prom-client
 * registry), read by a Prometheus text parser: one family per name, one backlog name, and the
 * `crm` label taken from each portal's row, not a constant.
 */
describe('/metrics exposition', () => {
  const dir = tempDir('rapport-metrics-');
  let rapport: Rapport;
  let operatorUrl: string;
  let url: string;
  let text: string;
  let families: Map<string, MetricFamily>;
  let t = 1_800_000_000_000;

  beforeAll(async () => {
    const a = createFakeConnector({ portal: 'alpha:1', now: () => t });
    const b = createFakeConnector({ portal: 'beta:7', now: () => t });
    const providers = registryWith(providerOf('alpha', a), providerOf('beta', b));
    const config = loadConfig(
      { RAPPORT_DB: join(dir.path, 'r.db'), RAPPORT_ENCRYPTION_KEY: ENCRYPTION_KEY_HEX, RAPPORT_OPERATOR_PORT: '0' },
      join(dir.path, 'none.json'),
      {},
      providers,
    );
    rapport = await createRapport({ config, logger: silentLogger, now: () => t, providers });
    await rapport.addPortal({ portal: 'alpha:1', crm: 'alpha', externalId: '1', baseUrl: 'http://x', scopes: [] }, { accessToken: async () => 'at' });
    await rapport.addPortal({ portal: 'beta:7', crm: 'beta', externalId: '7', baseUrl: 'http://y', scopes: [] }, { accessToken: async () => 'at' });
    b.failNext('rate_limited');
    await rapport.daemon.runOnce('alpha:1');
    await rapport.daemon.runOnce('beta:7');
    await rapport.store.cursors.set('alpha:1', 'contacts', 'c1' as Cursor);
    // a change stream's position (e.g. Salesforce CDC's replay id) lives in the cursors table too
    await rapport.store.cursors.set('alpha:1', 'change-events', '{"position":7}' as Cursor);
    await rapport.store.outbox.enqueue('alpha:1', '101', { health: 'red' });
    await rapport.store.dirty.mark('alpha:1', '103', t);
    t += 90_000;
    ({ url, operatorUrl } = (await rapport.listen(0, '127.0.0.1')) as { url: string; operatorUrl: string });
    // an install callback refused (no state) counts under the provider it was for
    expect((await fetch(`${url}/oauth/beta/callback?code=x`)).status).toBe(400);
    const res = await fetch(`${operatorUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    text = await res.text();
    families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
  }, 30_000);
  afterAll(async () => {
    await rapport.close();
    dir.cleanup();
  });

  it('declares each family once (the parser merges duplicates silently, so count the TYPE lines)', () => {
    const typed = text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
    expect(typed.length).toBeGreaterThan(10);
    expect(new Set(typed).size).toBe(typed.length);
    expect(families.size).toBe(typed.length);
  });

  it('has the default process metrics and every Rapport family, with their types', () => {
    expect(families.get('process_cpu_user_seconds_total')?.type).toBe('COUNTER');
    expect(families.get('nodejs_eventloop_lag_seconds')?.type).toBe('GAUGE');
    const types = Object.fromEntries([...families.values()].filter((f) => f.name.startsWith('rapport_')).map((f) => [f.name, f.type]));
    expect(types).toEqual({
      rapport_portal_connected: 'GAUGE',
      rapport_sync_lag_seconds: 'GAUGE',
      rapport_outbox_backlog: 'GAUGE',
      rapport_dirty_contacts: 'GAUGE',
      rapport_webhook_deliveries_total: 'COUNTER',
      rapport_webhook_rejections_total: 'COUNTER',
      rapport_webhook_events_total: 'COUNTER',
      rapport_oauth_installs_total: 'COUNTER',
      rapport_api_calls_total: 'COUNTER',
      rapport_api_429_total: 'COUNTER',
      rapport_scoring_seconds: 'HISTOGRAM',
    });
  });

  const series = (name: string): Record<string, string | number>[] => (families.get(name)?.metrics ?? []).map((m) => ({ ...m.labels, value: Number(m.value) }));

  it('labels portal series with the portal row’s crm', () => {
    expect(series('rapport_portal_connected')).toEqual([
      { portal: 'alpha:1', crm: 'alpha', value: 1 },
      { portal: 'beta:7', crm: 'beta', value: 1 },
    ]);
    expect(series('rapport_outbox_backlog')).toEqual(
      expect.arrayContaining([
        { portal: 'alpha:1', crm: 'alpha', status: 'pending', value: 1 },
        { portal: 'alpha:1', crm: 'alpha', status: 'parked', value: 0 },
        { portal: 'beta:7', crm: 'beta', status: 'pending', value: 0 },
      ]),
    );
    expect(series('rapport_dirty_contacts')).toContainEqual({ portal: 'alpha:1', crm: 'alpha', value: 1 });
    expect(series('rapport_sync_lag_seconds')).toContainEqual({ portal: 'alpha:1', crm: 'alpha', stream: 'contacts', value: 90 });
    // not a record stream: a quiet org's change stream would look ever more behind
    expect(series('rapport_sync_lag_seconds').map((x) => x.stream)).not.toContain('change-events');
  });

  it('counts API calls and 429s per portal from the connectors, and scoring passes in a histogram', () => {
    const calls = series('rapport_api_calls_total');
    expect(calls.map((s) => [s.portal, s.crm])).toEqual([['alpha:1', 'alpha'], ['beta:7', 'beta']]);
    for (const s of calls) expect(s.value).toBeGreaterThan(0);
    expect(series('rapport_api_429_total')).toEqual([
      { portal: 'alpha:1', crm: 'alpha', value: 0 },
      { portal: 'beta:7', crm: 'beta', value: 1 },
    ]);
    const [scoring] = families.get('rapport_scoring_seconds')?.metrics ?? [];
    expect(scoring?.count).toBe('2'); // one pass per portal
    expect(Number(scoring?.sum)).toBeGreaterThan(0);
    expect(scoring?.buckets?.['+Inf']).toBe('2');
  });

  it('labels install counters by provider and has no legacy backlog names', () => {
    expect(series('rapport_oauth_installs_total')).toEqual([
      { crm: 'beta', result: 'ok', value: 0 },
      { crm: 'beta', result: 'failed', value: 1 },
    ]);
    expect(text).not.toMatch(/rapport_outbox_(pending|parked)\b/);
  });
});
