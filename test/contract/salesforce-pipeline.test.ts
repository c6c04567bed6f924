import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createSalesforceConnector } from '../../src/connectors/salesforce/index.ts';
import { OBJECT_TYPES } from '../../src/connectors/types.ts';
import { silentLogger } from '../../src/log.ts';
import { createClock } from '../../src/sandbox/hubspot/clock.ts';
import { generateAccount } from '../../src/sandbox/generator/index.ts';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { scoreContacts } from '../../src/scoring/score-portal.ts';
import { createStore } from '../../src/store/index.ts';
import { createDaemon } from '../../src/sync/daemon.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * The whole one-way flow on Salesforce (ARCHITECTURE §1) with real parts: the emulator over HTTP,
 * the jsforce connector, the sync daemon into a real SQLite store, scoring, and write-back through
 * the outbox onto the Rapport_*__c fields.
 */
const dir = tempDir();
let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  dir.cleanup();
});

it('sync → score → write-back lands the scores on the Salesforce contacts, and a second pass writes nothing new', async () => {
  const now = Date.UTC(2026, 0, 5, 9);
  const clock = createClock({ frozenAt: now });
  const started = await startSalesforceSandbox({ clock });
  close = started.close;
  const { sandbox, baseUrl } = started;
  for (const batch of generateAccount({ seed: 5, contacts: 60, now })) sandbox.loader.load(batch);
  const { accessToken } = sandbox.sessions.issue();
  const connector = createSalesforceConnector({ instanceUrl: baseUrl, accessToken: async () => accessToken, apiVersion: '62.0', now: () => clock.now() });
  const { portal } = await connector.whoAmI();
  await connector.provision(new AbortController().signal);

  const store = createStore({ path: join(dir.path, 'rapport.db'), now: () => clock.now() });
  const daemon = createDaemon({
    store,
    logger: silentLogger,
    now: () => clock.now(),
    intervalMs: 60_000,
    score: async (p) => await scoreContacts(store, p, { contactIds: 'dirty', now: clock.now() }),
  });
  daemon.addPortal({ portal, connector });
  const first = await daemon.runOnce(portal);
  expect(first.error).toBeUndefined();
  expect(first.streams.map((s) => s.status)).toEqual(OBJECT_TYPES.map(() => 'ok'));

  // the cache holds what the org holds
  const counts = await store.records.counts(portal);
  expect(counts.contacts?.live).toBe(sandbox.data.count('Contact'));
  expect(counts.deals?.live).toBe(sandbox.data.count('Opportunity'));
  expect(counts.feedback_submissions?.live).toBe(sandbox.data.count('Survey_Response__c'));

  // every contact scored, and the scores are on the org's contacts
  expect(first.scored).toBe(sandbox.data.count('Contact'));
  expect(first.writeBack?.written ?? 0).toBeGreaterThan(0);
  const contacts = sandbox.data.rows('Contact').filter((r) => r.IsDeleted !== true);
  for (const c of contacts) {
    const saved = await store.scores.get(portal, c.Id as string);
    expect(saved, `scores for ${String(c.Id)}`).toBeDefined();
    expect(c.Rapport_Health__c).toBe(saved!.health);
    expect(c.Rapport_Satisfaction__c).toBe(Math.round(saved!.satisfaction.value));
    expect(typeof c.Rapport_Reasons__c).toBe('string');
  }

  // our own write-back bumped the contacts' SystemModstamp: the next pass re-reads them, but the
  // score fields are not model inputs, so nothing changes and nothing is written again
  clock.advance(60_000);
  const second = await daemon.runOnce(portal);
  expect(second.error).toBeUndefined();
  expect(second.writeBack?.written ?? 0).toBe(0);
  await store.close();
}, 60_000);
