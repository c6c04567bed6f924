/**
 * New engagement → written-back score, measured through the sandboxes (issues 5 and 14), HubSpot
 * and Salesforce side by side:
 * - HubSpot: a ticket on a contact → the sandbox delivers a signed webhook → Rapport syncs,
 *   rescores and writes back → the contact shows the new rapport_* values.
 * - Salesforce: a Case on a contact → the emulated org publishes a Change Data Capture event on
 *   its CometD endpoint → Rapport's subscription nudges the tickets stream → sync, rescore, write
 *   back → the contact shows the new Rapport_*__c values.
 * Latency = creation → the contact's scored-at changed in the CRM. Goal p95 ≤ 3 s for both.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/commands/demo.ts';
import { loadConfig } from '../src/config.ts';
import { silentLogger } from '../src/log.ts';
import { createRapport } from '../src/main.ts';
import { generateAccount } from '../src/sandbox/generator/index.ts';
import { installThroughBrowser } from '../src/sandbox/hubspot/browser-install.ts';
import { startHubspotSandbox } from '../src/sandbox/hubspot/index.ts';
import { startSalesforceSandbox } from '../src/sandbox/salesforce/index.ts';
import { reportFigures } from './figures.ts';

const CONTACTS = Number(process.env['BENCH_CONTACTS'] ?? 2000);
const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 40);


/** ms from `t0` until `read()` differs from `before` (the score written back), or null after 15 s. */
async function untilChanged(read: () => unknown, before: unknown, t0: number): Promise<number | null> {
  for (;;) {
    if (read() !== before) return performance.now() - t0;
    if (performance.now() - t0 > 15_000) return null;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function hubspot(): Promise<{ latencies: number[]; timeouts: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'rapport-bench-latency-'));
  const app = { clientId: 'bench', clientSecret: randomBytes(16).toString('hex'), appId: 99 };
  // HubSpot's real limits: the loop must be fast within them, not thanks to a lax sandbox.
  const { sandbox, baseUrl, close } = await startHubspotSandbox({ oauth: app, limits: { per10s: 110, searchPerSecond: 5 } });
  const { hubId } = sandbox.portals.create();
  for (const b of generateAccount({ seed: 3, contacts: CONTACTS, now: sandbox.clock.now() })) sandbox.data.load(hubId, b);
  sandbox.setLimits(false);
  const port = await freePort();
  const config = loadConfig(
    {
      RAPPORT_DB: join(dir, 'r.db'),
      RAPPORT_PORT: String(port),
      RAPPORT_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      HUBSPOT_BASE_URL: baseUrl,
      HUBSPOT_CLIENT_ID: app.clientId,
      HUBSPOT_CLIENT_SECRET: app.clientSecret,
      HUBSPOT_APP_ID: String(app.appId),
      HUBSPOT_RATE_LIMIT: '1100',
    },
    '/nonexistent.json',
  );
  let backfill: Promise<void> | undefined;
  const rapport = await createRapport({ config, logger: silentLogger, now: () => sandbox.clock.now(), onPortalReady: (_p, d) => {
      backfill = d;
    } });
  const { url } = await rapport.listen(port);
  sandbox.webhooks.subscribe({ targetUrl: `${url}/webhooks/hubspot`, clientSecret: app.clientSecret, appId: app.appId });
  await installThroughBrowser(`${url}/oauth/hubspot/install`);
  while (backfill === undefined) await new Promise((r) => setTimeout(r, 20));
  await backfill;
  await rapport.daemon.nudge(`hubspot:${hubId}`);
  // From here on HubSpot's real limits apply to the live loop.
  sandbox.setLimits({ per10s: 110, searchPerSecond: 5 });

  const contacts = [...sandbox.data.iterate(hubId, 'contacts')].map((c) => c.id);
  const latencies: number[] = [];
  let timeouts = 0;
  for (let i = 0; i < EVENTS; i++) {
    const contactId = contacts[(i * 7919) % contacts.length] as string;
    const before = sandbox.data.get(hubId, 'contacts', contactId)?.properties['rapport_scored_at'];
    const t0 = performance.now();
    sandbox.clock.advance(1000);
    const at = new Date(sandbox.clock.now()).toISOString();
    // An urgent ticket always moves service need, so every event leads to a write.
    sandbox.data.create(hubId, 'tickets', { subject: `Bench ${i}`, hs_ticket_priority: 'URGENT', hs_pipeline: '0', hs_pipeline_stage: '1', createdate: at }, [
      { type: 'contacts', id: contactId },
    ]);
    const ms = await untilChanged(() => sandbox.data.get(hubId, 'contacts', contactId)?.properties['rapport_scored_at'], before, t0);
    if (ms === null) timeouts++;
    else latencies.push(ms);
    await new Promise((r) => setTimeout(r, 250));
  }
  await rapport.close();
  await close();
  rmSync(dir, { recursive: true, force: true });
  return { latencies, timeouts };
}

async function salesforce(): Promise<{ latencies: number[]; timeouts: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'rapport-bench-latency-sf-'));
  const { sandbox, baseUrl, close } = await startSalesforceSandbox({ seed: 3 });
  for (const b of generateAccount({ seed: 3, contacts: CONTACTS, now: sandbox.clock.now() })) sandbox.loader.load(b);
  const config = loadConfig({ RAPPORT_DB: join(dir, 'r.db'), RAPPORT_ENCRYPTION_KEY: randomBytes(32).toString('hex'), SALESFORCE_LOGIN_URL: baseUrl }, '/nonexistent.json');
  const rapport = await createRapport({ config, logger: silentLogger, now: () => sandbox.clock.now(), changeStreams: true });
  const portal = `salesforce:${sandbox.orgId}`;
  let token = sandbox.sessions.issue().accessToken;
  const connector = await rapport.addPortal(
    { portal, crm: 'salesforce', externalId: sandbox.orgId, baseUrl, scopes: [] },
    { accessToken: async () => token, onUnauthorized: async () => (token = sandbox.sessions.issue().accessToken) },
  );
  await connector.provision(rapport.daemon.signal);
  await rapport.daemon.runOnce(portal);
  await rapport.changeStream(portal)?.ready();
  await rapport.daemon.idle();

  const contacts = sandbox.data.rows('Contact').filter((c) => c['IsDeleted'] !== true).map((c) => c['Id'] as string);
  const scoredAt = (id: string) => sandbox.data.get('Contact', id)?.['Rapport_Scored_At__c'];
  const latencies: number[] = [];
  let timeouts = 0;
  for (let i = 0; i < EVENTS; i++) {
    const contactId = contacts[(i * 7919) % contacts.length] as string;
    const before = scoredAt(contactId);
    const t0 = performance.now();
    // Rapport_Scored_At__c has whole seconds: the org's clock moves on so a rescore always shows
    sandbox.clock.advance(2000);
    // a rep logs an urgent Case: it always moves service need, so every event leads to a write
    sandbox.data.create('Case', { Subject: `Bench ${i}`, ContactId: contactId, Priority: 'High', Status: 'New', Origin: 'Phone' });
    const ms = await untilChanged(() => scoredAt(contactId), before, t0);
    if (ms === null) timeouts++;
    else latencies.push(ms);
    await new Promise((r) => setTimeout(r, 250));
  }
  await rapport.close();
  await close();
  rmSync(dir, { recursive: true, force: true });
  return { latencies, timeouts };
}

const q = (latencies: number[], p: number) => {
  const sorted = [...latencies].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN;
};
const hs = await hubspot();
const sf = await salesforce();
reportFigures('latency (engagement → written-back score)', [
  { figure: `events per CRM (${CONTACTS} contacts)`, value: EVENTS, goal: '', met: null },
  { figure: 'HubSpot (webhooks) p50 latency (ms)', value: q(hs.latencies, 0.5), goal: '', met: null },
  { figure: 'HubSpot (webhooks) p95 latency (ms)', value: q(hs.latencies, 0.95), goal: '≤ 3000', met: q(hs.latencies, 0.95) <= 3000 },
  { figure: 'HubSpot events never written back within 15 s', value: hs.timeouts, goal: '0', met: hs.timeouts === 0 },
  { figure: 'Salesforce (CDC) p50 latency (ms)', value: q(sf.latencies, 0.5), goal: '', met: null },
  { figure: 'Salesforce (CDC) p95 latency (ms)', value: q(sf.latencies, 0.95), goal: '≤ 3000', met: q(sf.latencies, 0.95) <= 3000 },
  { figure: 'Salesforce events never written back within 15 s', value: sf.timeouts, goal: '0', met: sf.timeouts === 0 },
]);
