import { afterEach, describe, expect, it } from 'vitest';
import { createHubspotConnector } from '../../src/connectors/hubspot/index.ts';
import type { ScoreValues } from '../../src/scores.ts';
import type { ContactData, CrmRecord, Cursor, DealData, ObjectType } from '../../src/connectors/types.ts';
import { CrmError } from '../../src/errors.ts';
import type { Logger } from '../../src/log.ts';
import type { SandboxObject } from '../../src/sandbox/model.ts';
import { createStore } from '../../src/store/index.ts';
import { createLimiter } from '../../src/connectors/limiter.ts';
import { primaryTypeId, userLabelKey } from '../../src/sandbox/hubspot/association-types.ts';
import { startHubspotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { createDaemon } from '../../src/sync/daemon.ts';
import { silentLogger } from '../../src/log.ts';
import { tempDir } from '../support/temp-dir.ts';
import { hubspotHarness, T0, type HubspotHarness } from './hubspot-harness.ts';
import { join } from 'node:path';

/** values as read back from storage: any keys, typed only at run time */
const fromStorage = (o: Record<string, string>): ScoreValues => o;

/** HubSpot-specific behaviour beyond the shared contract, against the sandbox over real HTTP. */

let h: HubspotHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function drain(c: HubspotHarness['connector'], type: ObjectType, cursor: Cursor | null) {
  const records: CrmRecord[] = [];
  let last = cursor;
  let pages = 0;
  for await (const p of c.changes(type, cursor, new AbortController().signal)) {
    records.push(...p.records);
    last = p.next;
    if (++pages > 1000) throw new Error('runaway paging');
  }
  return { records, cursor: last, pages };
}

describe('hubspot connector on the sandbox', () => {
  it('an incremental window with more than 10,000 changes sharing one timestamp completes', async () => {
    h = await hubspotHarness({ pageSize: 100 });
    const { sandbox, hubId, connector } = h;
    const first = await drain(connector, 'contacts', null); // empty portal: straight to search
    const bulkAt = T0 + 3_600_000;
    const objects: SandboxObject[] = [];
    for (let i = 0; i < 10_050; i++) {
      const id = String(1_000_000 + i);
      objects.push({
        type: 'contacts',
        id,
        properties: { email: `bulk${i}@example.com`, lastmodifieddate: new Date(bulkAt).toISOString(), createdate: new Date(T0).toISOString() },
        createdAt: T0,
        updatedAt: bulkAt,
        archived: false,
      });
    }
    sandbox.data.load(hubId, { objects, associations: [], truth: [] });
    await h.advance(2 * 3_600_000);
    const inc = await drain(connector, 'contacts', first.cursor);
    const ids = new Set(inc.records.map((r) => r.id));
    expect(ids.size).toBe(10_050);
    // a plain offset search would have stopped at 10,000 (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm); we paged the timestamp by id
    expect(inc.records.every((r) => r.updatedAt === bulkAt)).toBe(true);
    // the next pass starts after the bulk timestamp's run, not from the beginning again
    const again = await drain(connector, 'contacts', inc.cursor);
    expect(again.records.length).toBeLessThan(300);
  }, 120_000);

  it('association changes (which do not bump last-modified) arrive with the periodic sweep', async () => {
    h = await hubspotHarness({ sweepEveryMs: 3_600_000 });
    const { sandbox, hubId, connector } = h;
    const a = await h.createContact({ email: 'a@example.com' });
    const b = await h.createContact({ email: 'b@example.com' });
    const note = await h.createNote([a], 'hello');
    const backfill = await drain(connector, 'notes', null);
    expect(backfill.records.find((r) => r.id === note)?.contactIds).toEqual([a]);
    await h.advance(60_000);
    // a later note moves the incremental boundary past the first one
    await h.createNote([b], 'later');
    await h.advance(60_000);
    const caughtUp = await drain(connector, 'notes', backfill.cursor);
    await h.advance(60_000);
    sandbox.data.associate(hubId, 'notes', note, 'contacts', b);
    const inc = await drain(connector, 'notes', caughtUp.cursor);
    // HubSpot's search does not see it: the modified date did not change
    expect(inc.records.find((r) => r.id === note)).toBeUndefined();
    await h.advance(3_600_000);
    const swept = await drain(connector, 'notes', inc.cursor);
    expect(swept.records.find((r) => r.id === note)?.contactIds).toEqual([a, b].sort());
  });

  it('incremental records fetch their associations (search cannot inline them) and keep the primary company', async () => {
    h = await hubspotHarness();
    const { sandbox, hubId, connector } = h;
    const first = await drain(connector, 'deals', null);
    await h.advance(1_000);
    const c = await h.createContact({ email: 'buyer@example.com' });
    const co = sandbox.data.create(hubId, 'companies', { name: 'Acme' }).id;
    const deal = sandbox.data.create(
      hubId,
      'deals',
      { dealname: 'Renewal', amount: '1,500.50', dealstage: 'closedwon', hs_is_closed_won: 'true', closedate: new Date(T0).toISOString() },
      [
        { type: 'contacts', id: c },
        { type: 'companies', id: co },
      ],
    ).id;
    const inc = await drain(connector, 'deals', first.cursor);
    const r = inc.records.find((x) => x.id === deal)!;
    expect(r.contactIds).toEqual([c]);
    expect(r.companyId).toBe(co);
    const d = r.data as DealData;
    expect(d).toMatchObject({ amount: 1500.5, amountRaw: '1,500.50', isClosedWon: true, isClosed: true, closedAt: T0 });
  });

  describe('associations as HubSpot models them (issue 13)', () => {
    /**
     * A `from` record whose primary company is `primary`, also linked to `labelled` through user
     * labels whose typeIds are other pairs' primary ids and the pair's own primary id (USER_DEFINED).
     */
    function labelledRecord(hh: HubspotHarness, from: 'contacts' | 'deals' | 'tickets', labels: readonly string[]) {
      const { sandbox, hubId } = hh;
      const labelled = sandbox.data.create(hubId, 'companies', { name: 'Billing Co' }).id; // lower id: listed first
      const primary = sandbox.data.create(hubId, 'companies', { name: 'Employer' }).id;
      const id = sandbox.data.create(hubId, from, from === 'contacts' ? { email: 'label@example.com' } : {}).id;
      for (const label of labels.slice(0, 1)) sandbox.data.associate(hubId, from, id, 'companies', labelled, userLabelKey(from, 'companies', label));
      sandbox.data.associate(hubId, from, id, 'companies', primary, primaryTypeId(from, 'companies'));
      for (const label of labels.slice(1)) sandbox.data.associate(hubId, from, id, 'companies', labelled, userLabelKey(from, 'companies', label));
      return { id, primary, labelled };
    }

    it.each([
      // "Decision maker" is USER_DEFINED typeId 1, the contact→company primary's own typeId
      ['contacts', ['Billing contact', 'Former employer', 'Decision maker']],
      ['deals', ['Reseller', 'Partner']], // "Partner" is USER_DEFINED 5, as the deal→company primary
      ['tickets', ['Escalated to', 'Reported by']], // "Reported by" is USER_DEFINED 26, as the ticket→company primary
    ] as const)('%s: primary company by HUBSPOT_DEFINED + the pair’s primary typeId, never by typeId alone or a user label, on list (v3 inline) and search (v4)', async (from, labels) => {
      h = await hubspotHarness();
      const { id, primary } = labelledRecord(h, from, labels);
      const backfill = await drain(h.connector, from, null);
      expect(backfill.records.find((r) => r.id === id)?.companyId).toBe(primary);
      await h.advance(60_000);
      h.sandbox.data.update(h.hubId, from, id, { contacts: { firstname: 'Changed' }, deals: { dealname: 'Changed' }, tickets: { subject: 'Changed' } }[from]);
      const inc = await drain(h.connector, from, backfill.cursor);
      expect(inc.records.find((r) => r.id === id)?.companyId).toBe(primary);
    });

    it('an association to an archived company is gone: the contact’s company is cleared on the next sweep', async () => {
      h = await hubspotHarness({ sweepEveryMs: 3_600_000 });
      const co = h.sandbox.data.create(h.hubId, 'companies', { name: 'Doomed' }).id;
      const contact = h.sandbox.data.create(h.hubId, 'contacts', { email: 'x@example.com' }, [{ type: 'companies', id: co }]).id;
      const backfill = await drain(h.connector, 'contacts', null);
      expect(backfill.records.find((r) => r.id === contact)?.companyId).toBe(co);
      h.sandbox.data.archive(h.hubId, 'companies', co);
      await h.advance(2 * 3_600_000);
      const swept = await drain(h.connector, 'contacts', backfill.cursor);
      expect(swept.records.find((r) => r.id === contact)?.companyId).toBeNull();
    });

    it('a contact whose company was deleted loses it in the store too: the sweep re-lists it with the same updatedAt and no company', async () => {
      h = await hubspotHarness({ sweepEveryMs: 3_600_000 });
      const dir = tempDir();
      const store = createStore({ path: join(dir.path, 'r.db') });
      try {
        const co = h.sandbox.data.create(h.hubId, 'companies', { name: 'Doomed' }).id;
        const contact = h.sandbox.data.create(h.hubId, 'contacts', { email: 'x@example.com' }, [{ type: 'companies', id: co }]).id;
        const daemon = createDaemon({ store, logger: silentLogger, intervalMs: 3_600_000, now: () => h!.sandbox.clock.now(), score: async () => ({ scored: 0, enqueued: 0 }) });
        daemon.addPortal({ portal: h.portal, connector: h.connector });
        await daemon.runOnce(h.portal, { types: ['contacts'], writeBack: false });
        const before = await store.records.get(h.portal, 'contacts', contact);
        expect(before?.companyId).toBe(co);
        h.sandbox.data.archive(h.hubId, 'companies', co);
        await h.advance(2 * 3_600_000);
        await daemon.runOnce(h.portal, { types: ['contacts'], writeBack: false });
        const after = await store.records.get(h.portal, 'contacts', contact);
        expect(after?.updatedAt).toBe(before?.updatedAt);
        expect(after?.companyId).toBeNull();
        await daemon.stop();
      } finally {
        await store.close();
        dir.cleanup();
      }
    });

    it('v4: NO_ASSOCIATIONS_FOUND means none; any other per-input error fails the page instead of wiping links', async () => {
      h = await hubspotHarness();
      const first = await drain(h.connector, 'notes', null);
      await h.advance(1_000);
      const a = await h.createContact({ email: 'a@example.com' });
      const linked = await h.createNote([a], 'linked');
      const lonely = await h.createNote([], 'no contact');
      await h.advance(1_000);
      const inc = await drain(h.connector, 'notes', first.cursor);
      expect(inc.records.find((r) => r.id === lonely)?.contactIds).toEqual([]);
      expect(inc.records.find((r) => r.id === linked)?.contactIds).toEqual([a]);
      h.sandbox.setAssociationReadFailures([linked]);
      const failing = drain(h.connector, 'notes', first.cursor);
      await expect(failing).rejects.toMatchObject({ kind: 'unavailable', details: { code: 'INTERNAL_ERROR' } });
      await expect(failing).rejects.toThrow(new RegExp(`notes ${linked}`));
    });

    it('an association change (no last-modified bump) lands by re-reading the record, without waiting for the sweep', async () => {
      h = await hubspotHarness({ sweepEveryMs: 24 * 3_600_000 });
      const dir = tempDir();
      const store = createStore({ path: join(dir.path, 'r.db') });
      try {
        const a = await h.createContact({ email: 'a@example.com' });
        const b = await h.createContact({ email: 'b@example.com' });
        const note = await h.createNote([a], 'hello');
        const daemon = createDaemon({ store, logger: silentLogger, intervalMs: 3_600_000, now: () => h!.sandbox.clock.now(), score: async () => ({ scored: 0, enqueued: 0 }) });
        daemon.addPortal({ portal: h.portal, connector: h.connector });
        await daemon.runOnce(h.portal, { writeBack: false });
        expect(await store.records.linkedToContact(h.portal, b)).toEqual([]);
        // a later note moves the incremental boundary past the first one
        await h.advance(60_000);
        await h.createNote([a], 'later');
        await h.advance(60_000);
        await daemon.runOnce(h.portal, { types: ['notes'], writeBack: false });
        h.sandbox.data.associate(h.hubId, 'notes', note, 'contacts', b);
        // a stream pass cannot see it: the search finds nothing modified
        await daemon.runOnce(h.portal, { types: ['notes'], writeBack: false });
        expect(await store.records.linkedToContact(h.portal, b)).toEqual([]);
        // what the association-change webhook triggers
        await daemon.refresh(h.portal, 'notes', [note]);
        expect((await store.records.linkedToContact(h.portal, b)).map((r) => r.id)).toEqual([note]);
        expect(await store.dirty.peek(h.portal, 10)).toContain(b);
        await daemon.stop();
      } finally {
        await store.close();
        dir.cleanup();
      }
    });

    it('a company with 1,000 contacts: inline lists stop at 100 and the v4 fallback fetches all of them', async () => {
      h = await hubspotHarness({ pageSize: 100 });
      const { sandbox, hubId } = h;
      const co = sandbox.data.create(hubId, 'companies', { name: 'Big' }).id;
      const contacts: SandboxObject[] = Array.from({ length: 1000 }, (_, i) => ({
        type: 'contacts', id: String(3_000_000 + i), properties: { email: `p${i}@big.io` }, createdAt: T0, updatedAt: T0, archived: false,
      }));
      const calls: SandboxObject[] = Array.from({ length: 1000 }, (_, i) => ({
        type: 'calls', id: String(4_000_000 + i), properties: { hs_timestamp: new Date(T0).toISOString() }, createdAt: T0, updatedAt: T0, archived: false,
      }));
      sandbox.data.load(hubId, {
        objects: [...contacts, ...calls],
        associations: [
          ...contacts.map((c) => ({ fromType: 'contacts' as const, fromId: c.id, toType: 'companies' as const, toId: co, typeId: 279 })),
          // one contact with 1,000 calls
          ...calls.map((c) => ({ fromType: 'calls' as const, fromId: c.id, toType: 'contacts' as const, toId: '3000000', typeId: 194 })),
        ],
        truth: [],
      });
      const companies = await drain(h.connector, 'companies', null);
      expect(companies.records.find((r) => r.id === co)?.contactIds).toHaveLength(1000);
      const callRecords = await drain(h.connector, 'calls', null);
      expect(callRecords.records.filter((r) => r.contactIds?.includes('3000000'))).toHaveLength(1000);
    }, 60_000);
  });

  it('a backfill reports the total for progress bars (one search call, not the ten-secondly budget)', async () => {
    h = await hubspotHarness();
    for (let i = 0; i < 23; i++) await h.createContact({ email: `p${i}@example.com` });
    const totals: (number | undefined)[] = [];
    for await (const p of h.connector.changes('contacts', null, new AbortController().signal)) totals.push(p.total);
    // 3 list pages of 10 (the last one also ends the list) and the archived listing
    expect(totals.slice(0, 3)).toEqual([23, 23, 23]);
    expect(h.sandbox.stats(h.hubId).byRoute['POST /crm/v3/objects/contacts/search']).toBe(1);
  });

  it('cleans contacts on ingest: email, phone, duplicates flagged but kept', async () => {
    h = await hubspotHarness();
    const { sandbox, hubId, connector } = h;
    sandbox.data.create(hubId, 'contacts', { email: ' Dup@Example.com', phone: '+1 (555) 010-2345 ext. 7' });
    sandbox.data.create(hubId, 'contacts', { email: 'dup@example.COM ', phone: '12' });
    sandbox.data.create(hubId, 'contacts', { email: 'not-an-email', phone: '00 44 20 7946 0958' });
    const run = await drain(connector, 'contacts', null);
    expect(run.records).toHaveLength(3);
    const [one, two, three] = [...run.records].sort((x, y) => Number(x.id) - Number(y.id)) as [CrmRecord, CrmRecord, CrmRecord];
    expect(one.data as ContactData).toMatchObject({ email: 'dup@example.com', phone: '+15550102345', phoneRaw: '+1 (555) 010-2345 ext. 7' });
    expect((one.issues ?? []).map((i) => i.code)).not.toContain('duplicate_email');
    expect(two.issues).toEqual(expect.arrayContaining([{ code: 'duplicate_email', field: 'contacts.email' }, { code: 'invalid_phone', field: 'contacts.phone' }]));
    expect(three.data as ContactData).toMatchObject({ email: null, emailRaw: 'not-an-email', phone: '+442079460958' });
    expect(three.issues).toContainEqual({ code: 'invalid_email', field: 'contacts.email' });
  });

  it('writes scores as rapport_* properties after provisioning; unknown contacts fail alone', async () => {
    h = await hubspotHarness();
    const { sandbox, hubId, connector } = h;
    const signal = new AbortController().signal;
    await connector.provision(signal);
    const ids = [];
    for (let i = 0; i < 105; i++) ids.push(await h.createContact({ email: `w${i}@example.com` }));
    const res = await connector.writeScores(
      [
        ...ids.map((id, i) => ({ contactId: id, properties: { satisfaction: String(i % 100), health: 'yellow', reasons: '+ fast ticket closes' } })),
        { contactId: '77777777', properties: { satisfaction: '1' } },
        // a key that is no score field (an outbox row from an older version, read back as text)
        { contactId: ids[0]!, properties: fromStorage({ bogus: '1' }) },
        // a value HubSpot refuses fails that contact only, not its batch of 100
        { contactId: ids[50]!, properties: { health: 'purple' } },
      ],
      signal,
    );
    const failed = res.filter((r) => !r.ok);
    expect(failed.map((r) => r.contactId).sort()).toEqual([ids[0], ids[50], '77777777'].sort());
    expect(res.filter((r) => r.ok)).toHaveLength(104);
    expect(sandbox.data.get(hubId, 'contacts', ids[104]!)?.properties).toMatchObject({ rapport_satisfaction: '4', rapport_health: 'yellow' });
  });

  it('a merge reaches the cache: the loser becomes a tombstone pointing at the survivor, its calls move, and no score is written to it (issue 13)', async () => {
    h = await hubspotHarness();
    const dir = tempDir();
    const store = createStore({ path: join(dir.path, 'r.db') });
    try {
      const signal = new AbortController().signal;
      await h.connector.provision(signal);
      const survivor = await h.createContact({ email: 'keep@example.com' });
      const loser = await h.createContact({ email: 'dupe@example.com' });
      const call = h.sandbox.data.create(h.hubId, 'calls', { hs_timestamp: new Date(T0).toISOString() }, [{ type: 'contacts', id: loser }]).id;
      let written: string[] = [];
      const daemon = createDaemon({
        store, logger: silentLogger, intervalMs: 3_600_000, now: () => h!.sandbox.clock.now(),
        score: async (portal) => {
          // a stand-in scorer: every dirty live contact gets a score queued
          const dirty = await store.dirty.peek(portal, 100);
          for (const id of dirty) if ((await store.records.get(portal, 'contacts', id))?.deleted === false) await store.outbox.enqueue(portal, id, { health: 'green' });
          written = dirty;
          return { scored: dirty.length, enqueued: dirty.length };
        },
      });
      daemon.addPortal({ portal: h.portal, connector: h.connector });
      await daemon.runOnce(h.portal);
      expect((await store.records.linkedToContact(h.portal, loser)).map((r) => r.id)).toEqual([call]);
      await h.advance(60_000);
      h.sandbox.data.merge(h.hubId, 'contacts', survivor, loser);
      await store.outbox.enqueue(h.portal, loser, { health: 'red' }); // a write that was pending when the merge happened
      await h.advance(60_000);
      await daemon.runOnce(h.portal);
      expect(await store.records.get(h.portal, 'contacts', loser)).toMatchObject({ deleted: true, mergedInto: survivor });
      expect((await store.records.linkedToContact(h.portal, survivor)).map((r) => r.id)).toEqual([call]);
      expect(written).toContain(survivor);
      // the survivor got its score; the merged id none (HubSpot would have put it on the survivor)
      expect(h.sandbox.data.get(h.hubId, 'contacts', survivor)?.properties.rapport_health).toBe('green');
      expect(await store.outbox.due(h.portal, 100)).toEqual([]);
      await daemon.stop();
    } finally {
      await store.close();
      dir.cleanup();
    }
  });

  it('a GDPR-deleted contact, which leaves no archived entry, is tombstoned by the ids-only reconciliation at ~1 call per 100 contacts (issue 13)', async () => {
    h = await hubspotHarness({ pageSize: 100 });
    const dir = tempDir();
    const store = createStore({ path: join(dir.path, 'r.db') });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 250; i++) ids.push(await h.createContact({ email: `g${i}@example.com` }));
      const note = await h.createNote([ids[7]!], 'about to vanish');
      const daemon = createDaemon({ store, logger: silentLogger, intervalMs: 3_600_000, reconcileEveryMs: 0, now: () => h!.sandbox.clock.now(), score: async () => ({ scored: 0, enqueued: 0 }) });
      daemon.addPortal({ portal: h.portal, connector: h.connector });
      await daemon.runOnce(h.portal, { writeBack: false });
      await h.advance(60_000);
      h.sandbox.data.purge(h.hubId, 'contacts', ids[7]!);
      await daemon.runOnce(h.portal, { writeBack: false });
      // the incremental feed cannot see a purge
      expect((await store.records.get(h.portal, 'contacts', ids[7]!))?.deleted).toBe(false);
      const before = h.connector.stats().calls;
      const [contacts] = await daemon.reconcile(h.portal);
      const calls = h.connector.stats().calls - before;
      expect(contacts).toMatchObject({ type: 'contacts', live: 249, cached: 250, tombstoned: 1, pages: 3 });
      expect((await store.records.get(h.portal, 'contacts', ids[7]!))?.deleted).toBe(true);
      expect((await store.records.get(h.portal, 'notes', note))?.deleted).toBe(false);
      // contacts (3 pages) + companies (1 empty page)
      expect(calls).toBe(4);
      expect(calls / 250).toBeLessThan(0.02);
      await daemon.stop();
    } finally {
      await store.close();
      dir.cleanup();
    }
  });

  describe('search index lag (issue 13)', () => {
    /** changes a contact every `stepMs` while incremental passes run every `passMs`; returns what the passes delivered */
    async function follow(lagMs: number, opts: { sweepEveryMs?: number } = {}) {
      h = await hubspotHarness({ lookbackMs: 30_000, ...(opts.sweepEveryMs === undefined ? {} : { sweepEveryMs: opts.sweepEveryMs }) }, { searchLagMs: lagMs });
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push(await h.createContact({ email: `lag${i}@example.com` }));
      await h.advance(lagMs + 1_000);
      let { cursor } = await drain(h.connector, 'contacts', null);
      const seen = new Map<string, string | null>();
      // each contact changes once, 5 s apart; a pass runs between changes
      for (let round = 0; round < ids.length; round++) {
        await h.advance(5_000);
        await h.updateContact(ids[round]!, { firstname: `v${round}` });
        await h.advance(5_000);
        const inc = await drain(h.connector, 'contacts', cursor);
        cursor = inc.cursor;
        for (const r of inc.records) seen.set(r.id, (r.data as ContactData).firstName);
      }
      // quiet period: passes keep running, nothing changes
      for (let i = 0; i < 8; i++) {
        await h.advance(10_000);
        const inc = await drain(h.connector, 'contacts', cursor);
        cursor = inc.cursor;
        for (const r of inc.records) seen.set(r.id, (r.data as ContactData).firstName);
      }
      return { ids, seen, cursor };
    }

    it('with a lag up to the 30 s lookback no change is missed by the incremental search', async () => {
      const { ids, seen } = await follow(25_000);
      expect(ids.map((id) => seen.get(id))).toEqual(ids.map((_, i) => `v${i}`));
    }, 30_000);
  });

  describe('limits as each account has them (issue 13)', () => {
    it.each([
      ['starter', 100, '250000'],
      ['pro', 190, '625000'],
      ['enterprise', 190, '1000000'],
    ] as const)('%s private app: the connector learns %i / 10 s from the headers instead of assuming 110; daily headers are sent', async (tier, max, daily) => {
      const token = 'pat-tier-test';
      const started = await startHubspotSandbox({ tier, limits: { per10s: 110, searchPerSecond: 5 }, searchLagMs: 0 });
      try {
        const { hubId } = started.sandbox.portals.create({ privateAppToken: token });
        const limiter = createLimiter({ default: { limit: 110, intervalMs: 10_000 }, search: { limit: 5, intervalMs: 1_000 } });
        const connector = createHubspotConnector({ basePath: started.baseUrl, accessToken: async () => token, portal: `hubspot:${hubId}`, limiter });
        const res = await fetch(`${started.baseUrl}/crm/v3/objects/contacts?limit=1`, { headers: { authorization: `Bearer ${token}` } });
        expect(res.headers.get('x-hubspot-ratelimit-max')).toBe(String(max));
        expect(res.headers.get('x-hubspot-ratelimit-daily')).toBe(daily);
        expect(Number(res.headers.get('x-hubspot-ratelimit-daily-remaining'))).toBe(Number(daily) - 1);
        expect(res.headers.get('x-hubspot-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
        for await (const _page of connector.changes('companies', null, new AbortController().signal)) void _page;
        expect(limiter.lane('default')).toMatchObject({ limit: max, intervalMs: 10_000 });
      } finally {
        await started.close();
      }
    });

    it('OAuth tokens get 110 / 10 s and no daily headers, whatever the tier', async () => {
      const started = await startHubspotSandbox({ tier: 'starter', limits: { per10s: 110, searchPerSecond: 5 }, searchLagMs: 0, oauth: { clientId: 'c', clientSecret: 's', appId: 1 } });
      try {
        const { hubId } = started.sandbox.portals.create();
        const code = started.sandbox.portals.issueCode({ clientId: 'c', redirectUri: 'http://localhost/cb', hubId, scopes: ['crm.objects.contacts.read', 'oauth'] });
        const issued = started.sandbox.portals.redeemCode({ code, clientId: 'c', redirectUri: 'http://localhost/cb' });
        if ('error' in issued) throw new Error(issued.error);
        const res = await fetch(`${started.baseUrl}/crm/v3/objects/contacts?limit=1`, { headers: { authorization: `Bearer ${issued.accessToken}` } });
        expect(res.status).toBe(200);
        expect(res.headers.get('x-hubspot-ratelimit-max')).toBe('110');
        expect(res.headers.get('x-hubspot-ratelimit-daily')).toBeNull();
      } finally {
        await started.close();
      }
    });
  });

  describe('partial write failures (issue 13)', () => {
    it.each(['multi-status', 'reject-naming', 'reject-silent'] as const)(
      'batch update answering missing ids with %s: the bad inputs are isolated and the rest written in the same call',
      async (mode) => {
        h = await hubspotHarness();
        const { sandbox, hubId, connector } = h;
        const signal = new AbortController().signal;
        await connector.provision(signal);
        sandbox.setBatchUpdateMissing(mode);
        const ids: string[] = [];
        for (let i = 0; i < 97; i++) ids.push(await h.createContact({ email: `p${i}@example.com` }));
        const gone = ids.splice(10, 1)[0]!;
        sandbox.data.archive(hubId, 'contacts', gone);
        const bad = [gone, '88888881', '88888882'];
        const updates = [...ids.slice(0, 40), ...bad, ...ids.slice(40)].map((id) => ({ contactId: id, properties: { satisfaction: '42' } }));
        expect(updates).toHaveLength(99);
        const before = connector.stats().calls;
        const res = await connector.writeScores(updates, signal);
        const calls = connector.stats().calls - before;
        expect(res.filter((r) => !r.ok).map((r) => r.contactId).sort()).toEqual([...bad].sort());
        expect(res.filter((r) => r.ok)).toHaveLength(96);
        for (const id of ids) expect(sandbox.data.get(hubId, 'contacts', id)?.properties.rapport_satisfaction, id).toBe('42');
        // bounded cost: one call when HubSpot names the ids, a few halvings when it does not
        if (mode === 'multi-status') expect(calls).toBe(1);
        if (mode === 'reject-naming') expect(calls).toBe(2);
        if (mode === 'reject-silent') expect(calls).toBeLessThanOrEqual(1 + 2 * 3 * 7);
        if (mode !== 'multi-status') {
          // a refused batch carries HubSpot's correlation id, for support
          const f = res.find((r) => !r.ok && r.contactId === gone);
          expect(f !== undefined && !f.ok ? f.error.details.correlationId : undefined).toMatch(/^[0-9a-f-]{36}$/);
        }
      },
    );
  });

  it('reads the contact property an admin maps as the churn date into churnedAt, and nothing without a mapping (issue 17)', async () => {
    h = await hubspotHarness({ churnDateProperty: 'churn_date' });
    const { sandbox, hubId } = h;
    // a custom date property, created as an admin would (https://knowledge.hubspot.com/properties/create-and-edit-properties)
    const res = await fetch(`${h.baseUrl}/crm/v3/properties/contacts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.token}` },
      body: JSON.stringify({ name: 'churn_date', label: 'Churn date', type: 'date', fieldType: 'date', groupName: 'contactinformation' }),
    });
    expect(res.status).toBe(201);
    const left = sandbox.data.create(hubId, 'contacts', { email: 'left@example.com', churn_date: '2025-11-30' }).id;
    const stays = sandbox.data.create(hubId, 'contacts', { email: 'stays@example.com' }).id;
    const byId = (run: { records: CrmRecord[] }) => new Map(run.records.map((r) => [r.id, r]));
    const backfill = byId(await drain(h.connector, 'contacts', null));
    expect((backfill.get(left)?.data as ContactData).churnedAt).toBe(Date.UTC(2025, 10, 30));
    expect((backfill.get(stays)?.data as ContactData).churnedAt).toBeNull();
    // the incremental path (search) asks for it too
    h.sandbox.data.update(hubId, 'contacts', stays, { churn_date: '2025-12-15' });
    await h.advance(60_000);
    const read = await h.connector.records!('contacts', [stays], new AbortController().signal);
    expect((read[0]?.data as ContactData).churnedAt).toBe(Date.UTC(2025, 11, 15));
    // without a mapping the property is neither requested nor read
    const plain = createHubspotConnector({ basePath: h.baseUrl, accessToken: async () => h?.token ?? '', limits: false, now: () => T0 });
    const run = await drain(plain, 'contacts', null);
    for (const r of run.records) expect(r.data).not.toHaveProperty('churnedAt');
  });

  it('provision refuses a rapport_* property of the wrong type, naming it', async () => {
    h = await hubspotHarness();
    const signal = new AbortController().signal;
    // someone created rapport_health as free text before us
    const res = await fetch(`${h.baseUrl}/crm/v3/properties/contacts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.token}` },
      body: JSON.stringify({ name: 'rapport_health', label: 'Health', type: 'string', fieldType: 'text', groupName: 'contactinformation' }),
    });
    expect(res.status).toBe(201);
    const e = await h.connector.provision(signal).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CrmError);
    expect((e as CrmError).kind).toBe('invalid_request');
    expect((e as CrmError).message).toContain('rapport_health is string, expected enumeration');
  });

  it('retries 5xx with backoff and succeeds; counts the retries', async () => {
    h = await hubspotHarness({ retry: { retries: 30, baseMs: 1, maxMs: 2 } });
    for (let i = 0; i < 25; i++) await h.createContact({ email: `r${i}@example.com` });
    h.sandbox.setFaults({ '500': 0.4 });
    const run = await drain(h.connector, 'contacts', null);
    expect(new Set(run.records.map((r) => r.id)).size).toBe(25);
    expect(h.connector.stats().retries).toBeGreaterThan(0);
  });

  it('under random 429s and 500s a backfill and an incremental run deliver exactly the clean result', async () => {
    h = await hubspotHarness({ retry: { retries: 20, baseMs: 1, maxMs: 2 } });
    for (let i = 0; i < 35; i++) await h.createContact({ email: `f${i}@example.com` });
    const clean = await drain(h.connector, 'contacts', null);
    h.sandbox.setFaults({ '429': 0.2, '500': 0.1 });
    const faulty = await drain(h.connector, 'contacts', null);
    expect(faulty.records.map((r) => [r.id, r.updatedAt])).toEqual(clean.records.map((r) => [r.id, r.updatedAt]));
    await h.advance(60_000);
    const late = await h.createContact({ email: 'late@example.com' });
    const inc = await drain(h.connector, 'contacts', faulty.cursor);
    expect(inc.records.map((r) => r.id)).toContain(late);
    expect(h.connector.stats().rateLimited).toBeGreaterThan(0);
    expect(h.sandbox.stats(h.hubId).faults).toBeGreaterThan(0);
  });

  it('a hung request times out as unavailable', async () => {
    h = await hubspotHarness({ timeoutMs: 150, retry: { retries: 0 } });
    await h.createContact({ email: 't@example.com' });
    h.sandbox.setFaults({ timeout: 1 });
    const e = await drain(h.connector, 'contacts', null).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CrmError);
    expect((e as CrmError).kind).toBe('unavailable');
    expect((e as CrmError).details.code).toBe('timeout');
  });

  it('on a 401 asks for a fresh token once and carries on with it', async () => {
    h = await hubspotHarness();
    const { sandbox } = h;
    const fresh = sandbox.portals.create({ privateAppToken: 'pat-fresh', hubId: h.hubId + 1 });
    let asked = 0;
    const c = createHubspotConnector({
      basePath: h.baseUrl,
      portal: `hubspot:${fresh.hubId}`,
      accessToken: async () => 'pat-stale',
      onUnauthorized: async () => {
        asked++;
        return fresh.token;
      },
      limits: false,
      retry: { retries: 0 },
    });
    sandbox.data.create(fresh.hubId, 'contacts', { email: 'x@example.com' });
    const run = await drain(c as HubspotHarness['connector'], 'contacts', null);
    expect(run.records).toHaveLength(1);
    expect(asked).toBeGreaterThanOrEqual(1);
  });

  it('an undecodable cursor restarts the stream with a warning, delivering everything', async () => {
    const { logger, lines } = captureLogger();
    h = await hubspotHarness({ logger });
    const a = await h.createContact({ email: 'a@example.com' });
    const forged = Buffer.from(JSON.stringify({ v: 1, phase: 'search', since: 'yesterday' })).toString('base64url') as Cursor;
    const run = await drain(h.connector, 'contacts', forged);
    expect(run.records.map((r) => r.id)).toContain(a);
    expect(lines.some((l) => l.startsWith('warn undecodable cursor') && l.includes('"phase":"search"'))).toBe(true);
  });

  it('whoAmI: a rejected token is auth, and neither the error nor the logs contain it', async () => {
    h = await hubspotHarness();
    const { logger: capture, lines } = captureLogger();
    const secret = 'pat-very-secret-value';
    const c = createHubspotConnector({ basePath: h.baseUrl, accessToken: async () => secret, limits: false, logger: capture, retry: { retries: 1, baseMs: 1, maxMs: 2 } });
    const e = await c.whoAmI().catch((x: unknown) => x);
    expect((e as CrmError).kind).toBe('auth');
    expect((e as CrmError).message).not.toContain(secret);
    expect(lines.join('\n')).not.toContain(secret);
  });

  it('missing scopes are forbidden (naming the scope); an unreachable base URL is unavailable', async () => {
    h = await hubspotHarness();
    const narrow = h.sandbox.portals.create({ privateAppToken: 'pat-narrow', scopes: ['crm.objects.companies.read'] });
    const c = createHubspotConnector({ basePath: h.baseUrl, portal: `hubspot:${narrow.hubId}`, accessToken: async () => narrow.token, limits: false, retry: { retries: 0 } });
    const e = await drain(c as HubspotHarness['connector'], 'contacts', null).catch((x: unknown) => x);
    expect((e as CrmError).kind).toBe('forbidden');
    expect((e as CrmError).message).toMatch(/scope/i);
    const dead = createHubspotConnector({ basePath: 'http://127.0.0.1:9', portal: 'hubspot:1', accessToken: async () => 't', limits: false, retry: { retries: 1, baseMs: 1, maxMs: 2 } });
    const e2 = await drain(dead as HubspotHarness['connector'], 'contacts', null).catch((x: unknown) => x);
    expect((e2 as CrmError).kind).toBe('unavailable');
  });
});

function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (f: Record<string, unknown>, m: string) => void lines.push(`${level} ${m} ${JSON.stringify(f)}`);
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return { logger, lines };
}
