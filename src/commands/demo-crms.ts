import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defaultRegistry } from '../connectors/registry.ts';
import type { ObjectType } from '../connectors/types.ts';
import type { Rapport } from '../main.ts';
import { createLiveActivity, generateAccount } from '../sandbox/generator/index.ts';
import { installThroughBrowser } from '../sandbox/hubspot/browser-install.ts';
import { startHubspotSandbox } from '../sandbox/hubspot/index.ts';
import { HUBSPOT_OBJECT_TYPES, type GeneratedBatch, type HubspotObjectType } from '../sandbox/model.ts';
import { startSalesforceSandbox } from '../sandbox/salesforce/index.ts';

/**
 * What `rapport demo` needs from an emulated CRM: its sandbox, how Rapport gets installed on it,
 * how live activity is added, and how to read back what Rapport wrote. One per CRM, so the demo's
 * flow (and its live table) is the same for HubSpot and Salesforce.
 */
export type DemoCrm = {
  /** for the narration */
  label: string;
  /** the CRM's own name for a kind of record (progress bars, cache counts, the live table) */
  objectName(type: ObjectType): string;
  /** what triggers a rescore in the live phase */
  liveMechanism: string;
  /** Rapport's config for this CRM (base URLs, OAuth app) */
  env: Record<string, string>;
  /** connects Rapport (install or token); resolves when the first pass (backfill, training, scoring, write-back) is done */
  install(rapport: Rapport, url: string, signal: AbortSignal): Promise<string>;
  /** adds one live event; returns the affected contact (Rapport's id) and a label */
  addActivity(at: number): { contactId: string; label: string }[];
  /** lets the event reach Rapport (deliver webhooks, or poll) */
  pump(rapport: Rapport, portal: string): Promise<void>;
  contactCount(): number;
  /** contacts whose CRM record carries a Rapport health value */
  writtenBackCount(): number;
  /** the CRM record shows a Rapport scored-at value different from `previous` */
  scoredAtOf(contactId: string): string | undefined;
  now(): number;
  stats(): unknown;
  close(): Promise<void>;
};

type Options = { seed: number; contacts: number; realLimits: boolean };

const label = (type: string, id: string) =>
  `${type === 'feedback_submissions' ? 'survey answer' : (HUBSPOT_OBJECT_TYPES[type as HubspotObjectType]?.singular ?? type)} ${id}`;

/** Salesforce names for Rapport's record kinds (its provider's, documented in docs/install-salesforce.md). */
export function salesforceObjectName(type: ObjectType): string {
  return defaultRegistry.get('salesforce')?.objectName?.(type) ?? type;
}

const webhookConfig = z.object({
  config: z.object({ subscriptions: z.record(z.string(), z.array(z.object({ propertyName: z.string().optional() }))) }),
});

/**
 * The property changes the uploaded app subscribes to (ui-extension/hubspot webhooks-hsmeta.json):
 * the demo subscribes to the same ones, so our own rapport_* writes are not delivered back, as in
 * a real account.
 */
function subscribedProperties(): string[] {
  const file = join(import.meta.dirname, '..', '..', 'ui-extension', 'hubspot', 'src', 'app', 'webhooks', 'webhooks-hsmeta.json');
  const parsed = webhookConfig.parse(JSON.parse(readFileSync(file, 'utf8')));
  return [...new Set(Object.values(parsed.config.subscriptions).flatMap((subs) => subs.flatMap((s) => (s.propertyName === undefined ? [] : [s.propertyName]))))];
}

/** HubSpot: OAuth install through the sandbox, signed webhooks trigger the rescoring. */
export async function hubspotDemo(opts: Options): Promise<DemoCrm> {
  const app = { clientId: 'rapport-demo', clientSecret: randomBytes(16).toString('hex'), appId: 424242 };
  const per10s = opts.realLimits ? 110 : 1100;
  const { sandbox, baseUrl, close } = await startHubspotSandbox({
    seed: opts.seed,
    oauth: app,
    limits: { per10s, searchPerSecond: opts.realLimits ? 5 : 50 },
  });
  const { hubId } = sandbox.portals.create();
  for (const batch of generateAccount({ seed: opts.seed, contacts: opts.contacts, now: sandbox.clock.now() })) sandbox.data.load(hubId, batch);
  const live = createLiveActivity({ seed: opts.seed + 1, now: sandbox.clock.now() });
  let contactIds: string[] = [];
  return {
    label: `HubSpot sandbox (${per10s} requests / 10 s)`,
    // HubSpot's own object type names (crm/v3/objects/{type})
    objectName: (type) => type,
    liveMechanism: 'webhooks → sync → rescore → write-back',
    env: {
      HUBSPOT_BASE_URL: baseUrl,
      HUBSPOT_CLIENT_ID: app.clientId,
      HUBSPOT_CLIENT_SECRET: app.clientSecret,
      HUBSPOT_APP_ID: String(app.appId),
      HUBSPOT_RATE_LIMIT: String(per10s),
    },
    async install(rapport, url, signal) {
      sandbox.webhooks.subscribe({
        targetUrl: `${url}/webhooks/hubspot`,
        clientSecret: app.clientSecret,
        appId: app.appId,
        properties: subscribedProperties(),
      });
      const ready = new Promise<{ portal: string; backfill: Promise<void> }>((resolve) => {
        rapport.onPortalReady((portal, backfill) => resolve({ portal, backfill }));
      });
      await installThroughBrowser(`${url}/oauth/hubspot/install`);
      const { portal, backfill } = await ready;
      await backfill;
      // Writing every score bumped each contact's lastmodifieddate: one incremental pass reads
      // those back (content unchanged, so nothing is rescored) before the live phase, as the
      // daemon would in steady state.
      if (!signal.aborted) await rapport.daemon.nudge(portal);
      contactIds = await rapport.store.records.ids(portal, 'contacts');
      return portal;
    },
    addActivity(at) {
      const batch = live.next(contactIds, at);
      const out: { contactId: string; label: string }[] = [];
      for (const obj of batch.objects) {
        // the generator may record a link in either direction
        const assoc = batch.associations.flatMap((a) =>
          a.fromType === obj.type && a.fromId === obj.id
            ? [{ type: a.toType, id: a.toId }]
            : a.toType === obj.type && a.toId === obj.id
              ? [{ type: a.fromType, id: a.fromId }]
              : [],
        );
        const created = sandbox.data.create(hubId, obj.type, obj.properties, assoc);
        const contact = assoc.find((a) => a.type === 'contacts');
        if (contact !== undefined) out.push({ contactId: contact.id, label: label(obj.type, created.id) });
      }
      return out;
    },
    pump: () => sandbox.webhooks.flush(),
    contactCount: () => sandbox.data.count(hubId, 'contacts'),
    writtenBackCount() {
      let n = 0;
      for (const c of sandbox.data.iterate(hubId, 'contacts')) if (c.properties['rapport_health'] != null) n++;
      return n;
    },
    scoredAtOf: (id) => sandbox.data.get(hubId, 'contacts', id)?.properties['rapport_scored_at'] ?? undefined,
    now: () => sandbox.clock.now(),
    stats: () => sandbox.stats(hubId),
    close,
  };
}

/**
 * Salesforce: a connected-app session on the emulated org. The live phase runs through Change
 * Data Capture: the emulator publishes a change event for each new record on its CometD endpoint,
 * Rapport's subscription nudges the streams concerned, which sync, rescore and write back.
 */
export async function salesforceDemo(opts: Options): Promise<DemoCrm> {
  const { sandbox, baseUrl, close } = await startSalesforceSandbox({ seed: opts.seed });
  const loader = sandbox.loader;
  for (const batch of generateAccount({ seed: opts.seed, contacts: opts.contacts, now: sandbox.clock.now() })) loader.load(batch);
  const live = createLiveActivity({ seed: opts.seed + 1, now: sandbox.clock.now() });
  const contactOf = (batch: GeneratedBatch, objType: string, objId: string): string | undefined => {
    for (const a of batch.associations) {
      if (a.fromType === objType && a.fromId === objId && a.toType === 'contacts') return a.toId;
      if (a.toType === objType && a.toId === objId && a.fromType === 'contacts') return a.fromId;
    }
    return undefined;
  };
  return {
    label: 'Salesforce sandbox (emulated org)',
    objectName: salesforceObjectName,
    liveMechanism: 'Change Data Capture (CometD) → sync → rescore → write-back',
    env: { SALESFORCE_LOGIN_URL: baseUrl },
    async install(rapport) {
      const { accessToken } = sandbox.sessions.issue();
      const portal = `salesforce:${sandbox.orgId}`;
      const connector = await rapport.addPortal(
        { portal, crm: 'salesforce', externalId: sandbox.orgId, baseUrl, scopes: [] },
        { accessToken: async () => accessToken },
      );
      // the session names the org it belongs to: the portal id must be that one
      if ((await connector.whoAmI()).portal !== portal) throw new Error(`the emulated org's session does not belong to ${portal}`);
      await connector.provision(rapport.daemon.signal);
      await rapport.daemon.runOnce(portal);
      // the live phase needs the change events subscription up (it started with the portal)
      const stream = rapport.changeStream(portal);
      if (stream === undefined) throw new Error('no Change Data Capture subscription for the emulated org (SALESFORCE_CDC=false?)');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        stream.ready(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`the Change Data Capture subscription did not come up: ${stream.status().lastError ?? 'no answer'}`)), 30_000))),
      ]).finally(() => clearTimeout(timer));
      return portal;
    },
    addActivity(at) {
      const batch = live.next(loader.contactIds(), at);
      loader.load(batch);
      const out: { contactId: string; label: string }[] = [];
      for (const obj of batch.objects) {
        const genContact = contactOf(batch, obj.type, obj.id);
        const contactId = genContact === undefined ? undefined : loader.idOf('contacts', genContact);
        if (contactId !== undefined) out.push({ contactId, label: `${salesforceObjectName(obj.type)} ${loader.idOf(obj.type, obj.id) ?? obj.id}` });
      }
      return out;
    },
    // nothing to pump: change events reach Rapport's subscription on their own
    pump: async () => {},
    contactCount: () => sandbox.data.count('Contact'),
    writtenBackCount: () => sandbox.data.rows('Contact').filter((c) => !c['IsDeleted'] && c['Rapport_Health__c'] != null).length,
    scoredAtOf: (id) => {
      const v = sandbox.data.get('Contact', id)?.['Rapport_Scored_At__c'];
      return v === undefined || v === null ? undefined : String(v);
    },
    now: () => sandbox.clock.now(),
    stats: () => sandbox.stats(),
    close,
  };
}
