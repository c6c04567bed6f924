import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/commands/demo.ts';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { createRapport, type Rapport } from '../../src/main.ts';
import { generateAccount } from '../../src/sandbox/generator/index.ts';
import { installThroughBrowser } from '../../src/sandbox/hubspot/browser-install.ts';
import { startHubspotSandbox, type HubspotSandbox } from '../../src/sandbox/hubspot/index.ts';

/**
 * The whole loop over real HTTP: a call logged on a sandbox contact → the sandbox delivers a
 * signed webhook → Rapport syncs, rescores and writes back → the sandbox contact shows new
 * rapport_* values; then our own write's propertyChange events come back and cause nothing.
 *
 * One suite, run per store: `test/e2e/webhook-loop.test.ts` on a SQLite file,
 * `test/postgres/webhook-loop.postgres.test.ts` on a Postgres database (RAPPORT_DATABASE_URL).
 */
export type LoopDatabase = { env: Record<string, string>; cleanup(): Promise<void> };

export function webhookLoopSuite(storeName: string, makeDatabase: () => Promise<LoopDatabase>): void {
  let database: LoopDatabase;
  const app = { clientId: 'rapport-e2e', clientSecret: randomBytes(16).toString('hex'), appId: 777 };
  let sandbox: HubspotSandbox;
  let closeSandbox: () => Promise<void>;
  let rapport: Rapport;
  let hubId: number;
  let portal: string;
  let rapportUrl: string;
  const metricsToken = randomBytes(24).toString('hex');

  const waitFor = async (what: string, ok: () => boolean, ms = 15_000) => {
    const until = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await sandbox.webhooks.flush();
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const writes = () => sandbox.stats(hubId).byRoute['POST /crm/v3/objects/contacts/batch/update'] ?? 0;

  /**
   * The receiver's per-outcome event counters (`own_property`, `nudged`, …), read from /metrics:
   * what an operator sees, with no assumption about label order.
   */
  const eventOutcomes = async (): Promise<Record<string, number>> => {
    const res = await fetch(`${rapportUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    const out: Record<string, number> = {};
    for (const line of (await res.text()).split('\n')) {
      const m = /^rapport_webhook_events_total\{([^}]*)\}\s+(\S+)$/.exec(line);
      const outcome = m === null ? undefined : /(?:^|,)outcome="([^"]*)"/.exec(m[1] ?? '')?.[1];
      if (m !== null && outcome !== undefined) out[outcome] = (out[outcome] ?? 0) + Number(m[2]);
    }
    return out;
  };

  beforeAll(async () => {
    database = await makeDatabase();
    let baseUrl: string;
    ({ sandbox, baseUrl, close: closeSandbox } = await startHubspotSandbox({
      limits: false,
      oauth: app,
      webhookDelivery: { batchWindowMs: 20 },
      // this test is about the write-back loop; search index lag has its own tests (contract suite)
      searchLagMs: 0,
    }));
    ({ hubId } = sandbox.portals.create());
    portal = `hubspot:${hubId}`;
    for (const b of generateAccount({ seed: 5, contacts: 80, now: sandbox.clock.now() })) sandbox.data.load(hubId, b);
    const port = await freePort();
    const config = loadConfig(
      {
        ...database.env,
        RAPPORT_PORT: String(port),
        RAPPORT_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
        HUBSPOT_BASE_URL: baseUrl,
        HUBSPOT_CLIENT_ID: app.clientId,
        HUBSPOT_CLIENT_SECRET: app.clientSecret,
        HUBSPOT_APP_ID: String(app.appId),
        RAPPORT_METRICS_TOKEN: metricsToken,
      },
      '/nonexistent.json',
    );
    let backfill: Promise<void> | undefined;
    rapport = await createRapport({ config, logger: silentLogger, now: () => sandbox.clock.now(), onPortalReady: (_p, done) => {
        backfill = done;
      } });
    const { url } = await rapport.listen(port);
    rapportUrl = url;
    sandbox.webhooks.subscribe({ targetUrl: `${url}/webhooks/hubspot`, clientSecret: app.clientSecret, appId: app.appId });
    await installThroughBrowser(`${url}/oauth/hubspot/install`);
    await waitFor('the install', () => backfill !== undefined);
    await backfill;
    await rapport.daemon.idle();
  }, 60_000);

  afterAll(async () => {
    await rapport.close();
    await closeSandbox();
    await database.cleanup();
  });

  describe(`webhook → sync → rescore → write-back (${storeName})`, () => {
    it('after install every contact carries rapport_* values in the sandbox', () => {
      let missing = 0;
      for (const c of sandbox.data.iterate(hubId, 'contacts')) if (c.properties['rapport_health'] == null) missing++;
      expect(sandbox.data.count(hubId, 'contacts')).toBeGreaterThan(0);
      expect(missing).toBe(0);
    });

    it('a new inbound call and ticket rescore its contact and writes the new values back, with no loop', async () => {
      const target = [...sandbox.data.iterate(hubId, 'contacts')][0];
      if (target === undefined) throw new Error('no contacts');
      const before = { ...sandbox.data.get(hubId, 'contacts', target.id)?.properties };
      const scoredBefore = await rapport.store.scores.get(portal, target.id);
      const writesBefore = writes();
      // the install's own write-back came back as webhooks too: drain them before taking the baseline
      await sandbox.webhooks.flush();
      const ownBefore = (await eventOutcomes())['own_property'] ?? 0;

      sandbox.clock.advance(1000);
      sandbox.data.create(
        hubId,
        'calls',
        {
          hs_timestamp: new Date(sandbox.clock.now()).toISOString(),
          hs_call_direction: 'INBOUND',
          hs_call_duration: '600000',
          hs_call_body: 'Customer is furious: the product keeps failing, considering cancelling the contract.',
          hs_call_status: 'COMPLETED',
        },
        [{ type: 'contacts', id: target.id }],
      );
      // and an urgent ticket, so the service-need score surely moves
      sandbox.data.create(
        hubId,
        'tickets',
        { subject: 'Outage', hs_ticket_priority: 'URGENT', hs_pipeline: '0', hs_pipeline_stage: '1', createdate: new Date(sandbox.clock.now()).toISOString() },
        [{ type: 'contacts', id: target.id }],
      );
      await waitFor('the rescore to be written back', () => {
        const now = sandbox.data.get(hubId, 'contacts', target.id)?.properties;
        return now?.['rapport_scored_at'] !== before['rapport_scored_at'];
      });
      const after = sandbox.data.get(hubId, 'contacts', target.id)?.properties ?? {};
      const scoredAfter = await rapport.store.scores.get(portal, target.id);
      expect(scoredAfter?.scoredAt).toBeGreaterThan(scoredBefore?.scoredAt ?? 0);
      // what the sandbox shows is exactly what Rapport stored
      expect(after['rapport_health']).toBe(scoredAfter?.health);
      expect(Number(after['rapport_service_need'])).toBe(Math.round(scoredAfter?.serviceNeed.value ?? NaN));
      expect(writes()).toBeGreaterThan(writesBefore);

      // Our own write produces propertyChange webhooks on rapport_* properties: the receiver must
      // count them as its own and drop them, so they cause no sync → rescore → write. flush()
      // delivers every pending event and awaits the answers; the receiver counts before answering.
      await sandbox.webhooks.flush();
      const settled = writes();
      const outcomes = await eventOutcomes();
      expect(outcomes['own_property'] ?? 0).toBeGreaterThan(ownBefore);
      await rapport.daemon.idle();
      await sandbox.webhooks.flush();
      expect(await eventOutcomes()).toEqual(outcomes);
      expect(writes()).toBe(settled);
    });
  });
}
