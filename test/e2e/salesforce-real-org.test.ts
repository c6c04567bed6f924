import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { collectStatus } from '../../src/commands/status.ts';
import { createSalesforceConnector } from '../../src/connectors/salesforce/index.ts';
import { OBJECT_TYPES, type ObjectType } from '../../src/connectors/types.ts';
import { silentLogger } from '../../src/log.ts';
import { createClock } from '../../src/sandbox/hubspot/clock.ts';
import { generateAccount } from '../../src/sandbox/generator/index.ts';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { scoreContacts } from '../../src/scoring/score-portal.ts';
import { createStore } from '../../src/store/index.ts';
import { createDaemon } from '../../src/sync/daemon.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * Issue 14, "Must show": Rapport on an org that behaves like a customer's rather than a fresh one —
 * fields hidden from the integration user, Shared Activities off, 300 contacts on one Account, a
 * record purged past the recycle bin, and a validation rule rejecting 5 % of writes. Real parts:
 * the emulator over HTTP, jsforce, the daemon, SQLite, scoring, write-back and `rapport status`.
 */
const dir = tempDir();
let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  dir.cleanup();
});

const RULE = 'Health scores may only be set on contacts with an owner in Sales';

it('a customised org: the cache equals the org, every other write lands, rejected writes are in rapport status with the org message', async () => {
  const now = Date.UTC(2026, 0, 5, 9);
  const clock = createClock({ frozenAt: now });
  const started = await startSalesforceSandbox({
    clock,
    sessionTimeoutMs: 30 * 86_400_000,
    org: { hiddenFields: ['Contact.MobilePhone', 'Contact.LeadSource', 'Task.CallDisposition'], sharedActivities: false, validationRule: { share: 0.05, message: RULE } },
  });
  close = started.close;
  const { sandbox, baseUrl } = started;
  for (const batch of generateAccount({ seed: 5, contacts: 80, now })) sandbox.loader.load(batch);
  const big = sandbox.data.create('Account', { Name: 'Big Customer Inc' }, { at: now - 86_400_000 }).Id as string;
  const bigContacts = Array.from(
    { length: 300 },
    (_, i) => sandbox.data.create('Contact', { LastName: `Big ${i}`, Email: `big${i}@bigcustomer.example`, AccountId: big }, { at: now - 86_400_000 }).Id as string,
  );
  const { accessToken } = sandbox.sessions.issue();
  const connector = createSalesforceConnector({ instanceUrl: baseUrl, accessToken: async () => accessToken, apiVersion: '62.0', now: () => clock.now() });
  const { portal } = await connector.whoAmI();
  await connector.provision(new AbortController().signal);

  const store = createStore({ path: join(dir.path, 'rapport.db'), now: () => clock.now() });
  await store.portals.upsert({ portal, crm: 'salesforce', externalId: sandbox.orgId, baseUrl, scopes: ['api', 'refresh_token'] });
  const daemon = createDaemon({ store, logger: silentLogger, now: () => clock.now(), intervalMs: 60_000, score: async (p) => await scoreContacts(store, p, { contactIds: 'dirty', now: clock.now() }) });
  daemon.addPortal({ portal, connector });

  const first = await daemon.runOnce(portal);
  expect(first.error).toBeUndefined();
  expect(first.streams.map((s) => [s.type, s.status])).toEqual(OBJECT_TYPES.map((t) => [t, 'ok']));

  // every contact of the big account is linked to it, not only the first page of children
  const bigCompany = (await store.records.linkedToContact(portal, bigContacts[299]!)).filter((r) => r.type === 'companies');
  expect(bigCompany.map((r) => r.id)).toEqual([big]);

  // writes: 5 % rejected by the customer's rule, the rest on the org
  const contacts = () => sandbox.data.rows('Contact').filter((r) => r.IsDeleted !== true);
  const rejected = contacts().filter((c) => c.Rapport_Satisfaction__c === undefined);
  const landed = contacts().filter((c) => c.Rapport_Satisfaction__c !== undefined);
  expect(rejected.length).toBeGreaterThan(0);
  expect(rejected.length).toBeLessThan(contacts().length * 0.12);
  for (const c of landed) expect(c.Rapport_Health__c).toBe((await store.scores.get(portal, c.Id as string))!.health);
  expect(first.writeBack).toMatchObject({ written: landed.length, parked: rejected.length, retrying: 0 });
  const [report] = await collectStatus(store, portal);
  expect(report!.outbox).toEqual({ pending: 0, parked: rejected.length });
  const rejectedIds = new Set(rejected.map((c) => c.Id));
  for (const p of report!.parked) {
    expect(rejectedIds.has(p.contactId)).toBe(true);
    expect(p.lastError).toContain(`FIELD_CUSTOM_VALIDATION_EXCEPTION: ${RULE}`);
  }

  // a contact deleted and purged from the recycle bin, found by the next day's sweep
  const purged = bigContacts[7]!;
  clock.advance(3_600_000);
  sandbox.data.remove('Contact', purged);
  sandbox.data.purge('Contact', purged);
  clock.advance(25 * 3_600_000);
  const second = await daemon.runOnce(portal);
  expect(second.error).toBeUndefined();
  expect((await store.records.get(portal, 'contacts', purged))?.deleted).toBe(true);

  // the cache equals the org, type by type (live ids), as the integration user sees it
  const orgIds: Record<ObjectType, () => string[]> = {
    contacts: () => ids('Contact'),
    companies: () => ids('Account'),
    deals: () => ids('Opportunity'),
    tickets: () => ids('Case'),
    calls: () => ids('Task', (r) => r.TaskSubtype === 'Call' || (r.TaskSubtype === 'Task' && r.Type === 'Call' && r.IsClosed === true)),
    emails: () => ids('EmailMessage'),
    meetings: () => ids('Event', (r) => r.IsChild !== true),
    notes: () => ids('Task', (r) => r.TaskSubtype === 'Task' && r.Type === 'Note'),
    tasks: () => ids('Task', (r) => r.TaskSubtype === 'Task' && r.Type !== 'Note' && !(r.Type === 'Call' && r.IsClosed === true)),
    feedback_submissions: () => ids('Survey_Response__c'),
  };
  function ids(sobject: string, keep: (r: Record<string, unknown>) => boolean = () => true): string[] {
    return sandbox.data
      .rows(sobject)
      .filter((r) => r.IsDeleted !== true && keep(r))
      .map((r) => r.Id as string)
      .sort();
  }
  for (const type of OBJECT_TYPES) expect((await store.records.ids(portal, type)).sort(), type).toEqual(orgIds[type]());
  // without Shared Activities every activity's contact comes from WhoId
  const calls = sandbox.data.rows('Task').filter((r) => r.IsDeleted !== true && r.TaskSubtype === 'Call' && typeof r.WhoId === 'string');
  expect(calls.length).toBeGreaterThan(0);
  for (const call of calls.slice(0, 20)) {
    expect((await store.records.linkedToContact(portal, call.WhoId as string)).some((r) => r.type === 'calls' && r.id === call.Id)).toBe(true);
  }
  await store.close();
}, 120_000);
