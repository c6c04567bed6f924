import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CrmRecord, Cursor, RecordData } from '../../src/connectors/types.ts';
import type { Band, ContactScores, Store, StoreLocation } from '../../src/store/index.ts';
import type { ScoreField, ScoreValues } from '../../src/scores.ts';
import { scoreRow } from '../../src/store/scores.ts';

/**
 * THE store contract (issue 12): every implementation of the store port (src/store/port.ts) —
 * SQLite today, Postgres next — must pass these cases. Driver-neutral: everything goes through
 * the port, no SQL. Failure paths included: an intent operation that throws leaves nothing
 * half-written.
 */
export type StoreOpenOptions = { encryptionKey?: Buffer; previousEncryptionKey?: Buffer; now?: () => number };
export type StoreContext = {
  /** a store over this context's data (every call sees the same data: reopen with other keys) */
  open(opts?: StoreOpenOptions): Promise<Store>;
  cleanup(): Promise<void>;
};

const P = 'hubspot:1';
const KEY_A = Buffer.alloc(32, 7);
const KEY_B = Buffer.alloc(32, 9);

function contact(id: string, updatedAt: number, extra: Partial<CrmRecord> = {}, data: Partial<Record<string, unknown>> = {}): CrmRecord {
  return {
    portal: P,
    type: 'contacts',
    id,
    contactIds: undefined,
    companyId: null,
    updatedAt,
    deleted: false,
    data: { email: `${id}@x.io`, emailRaw: `${id}@x.io`, phone: null, phoneRaw: null, firstName: 'A', lastName: 'B', createdAt: 1, lifecycleStage: null, ...data } as RecordData,
    ...extra,
  };
}

function call(id: string, contactIds: string[], updatedAt = 1, extra: Partial<CrmRecord> = {}): CrmRecord {
  return {
    portal: P,
    type: 'calls',
    id,
    contactIds,
    companyId: null,
    updatedAt,
    deleted: false,
    data: { at: 1, direction: 'inbound', durationMs: 1000, outcome: null, text: null, priority: null } as RecordData,
    ...extra,
  };
}

function company(id: string, employees: number): CrmRecord {
  return {
    portal: P,
    type: 'companies',
    id,
    contactIds: undefined,
    companyId: null,
    updatedAt: 1,
    deleted: false,
    data: { name: id, domain: null, industry: null, employees, annualRevenue: null, createdAt: 1 } as RecordData,
  };
}

function scores(contactId: string, v: number, scoredAt: number, opts: { health?: Band; churnBand?: Band; extra?: Record<string, unknown> } = {}): ContactScores {
  const sv = (value: number, band: Band = 'green') => ({ value, band, confidence: 0.5, reasons: [{ text: `because ${value}`, impact: 3 }] });
  return {
    contactId,
    satisfaction: sv(v),
    loyalty: sv(v),
    churnRisk: sv(v, opts.churnBand ?? 'green'),
    serviceNeed: sv(v),
    health: opts.health ?? 'green',
    confidence: 0.5,
    modelVersion: 'm1',
    scoredAt,
    extra: opts.extra ?? {},
  };
}

const props = (s: ContactScores, scoredAt = String(s.scoredAt)): ScoreValues => ({ health: s.health, churnRisk: String(Math.round(s.churnRisk.value)), scoredAt });
const VOLATILE: readonly ScoreField[] = ['scoredAt'];

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export function storeContract(name: string, createContext: () => Promise<StoreContext>): void {
  describe(`store contract: ${name}`, () => {
    let ctx: StoreContext;
    let t: number;
    let store: Store;
    const opened: Store[] = [];
    const open = async (opts: StoreOpenOptions = {}) => {
      const s = await ctx.open({ now: () => t, ...opts });
      opened.push(s);
      return s;
    };
    beforeEach(async () => {
      t = 1_000_000;
      ctx = await createContext();
      store = await open({ encryptionKey: KEY_A });
    });
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close().catch(() => {});
      await ctx.cleanup();
    });

    describe('location and lifecycle', () => {
      it('has a serializable location and answers ping', async () => {
        const loc: StoreLocation = JSON.parse(JSON.stringify(store.location)) as StoreLocation;
        expect(loc).toEqual(store.location);
        await expect(store.ping()).resolves.toBeUndefined();
        await expect(store.setLockTimeout(100)).resolves.toBeUndefined();
        expect(store.now()).toBe(t);
      });
    });

    describe('records', () => {
      it('upserts idempotently: older or identical records are ignored, newer ones win', async () => {
        expect(await store.records.upsertPage([contact('1', 100), contact('2', 100)])).toBe(2);
        expect(await store.records.upsertPage([contact('1', 100)])).toBe(0);
        expect(await store.records.upsertPage([contact('1', 50, { deleted: true })])).toBe(0);
        expect((await store.records.get(P, 'contacts', '1'))?.deleted).toBe(false);
        expect(await store.records.upsertPage([contact('1', 200, { deleted: true })])).toBe(1);
        expect(await store.records.get(P, 'contacts', '1')).toMatchObject({ id: '1', type: 'contacts', deleted: true, updatedAt: 200, mergedInto: null });
        expect(await store.records.counts(P)).toEqual({ contacts: { live: 1, deleted: 1 } });
        expect(await store.records.get(P, 'contacts', 'nope')).toBeUndefined();
      });

      it('keeps data issues with the record, as data', async () => {
        await store.records.upsertPage([contact('1', 100, { issues: [{ code: 'invalid_phone', field: 'contacts.phone' }] })]);
        expect((await store.records.get(P, 'contacts', '1'))?.issues).toEqual([{ code: 'invalid_phone', field: 'contacts.phone' }]);
      });

      it('a re-listed record with the same modification time and a new primary company takes the new company', async () => {
        await store.records.upsertPage([contact('1', 100, { companyId: 'co-1' })]);
        await store.dirty.clear(P, '1', t);
        expect(await store.records.upsertPage([contact('1', 100, { companyId: 'co-2' })])).toBe(1);
        expect((await store.records.get(P, 'contacts', '1'))?.companyId).toBe('co-2');
        expect(await store.dirty.peek(P, 10)).toEqual(['1']);
        expect(await store.records.upsertPage([contact('1', 100, { companyId: null })])).toBe(1);
        expect(await store.records.upsertPage([contact('1', 100, { companyId: null })])).toBe(0);
      });

      it('links records to contacts and marks every affected contact dirty', async () => {
        await store.records.upsertPage([contact('10', 100), contact('11', 100)]);
        for (const id of ['10', '11']) await store.dirty.clear(P, id, t);
        await store.records.upsertPage([call('c1', ['10'])]);
        expect(await store.dirty.peek(P, 10)).toEqual(['10']);
        expect((await store.records.linkedToContact(P, '10')).map((r) => r.id)).toEqual(['c1']);
        await store.dirty.clear(P, '10', t);
        // association moved without a modification-time bump (HubSpot does this): both contacts dirty
        await store.records.upsertPage([call('c1', ['11'])]);
        expect((await store.dirty.peek(P, 10)).sort()).toEqual(['10', '11']);
        expect(await store.records.linkedToContact(P, '10')).toEqual([]);
        expect((await store.records.linkedToContact(P, '11')).map((r) => r.id)).toEqual(['c1']);
      });

      it('a link to a contact not cached yet marks nothing; the contact marks itself when it comes, with the link in place', async () => {
        await store.records.upsertPage([call('c1', ['10', '11']), contact('11', 100)]);
        expect(await store.dirty.peek(P, 10)).toEqual(['11']);
        t += 10;
        await store.records.upsertPage([contact('10', 100)]);
        expect(await store.dirty.peek(P, 10)).toEqual(['11', '10']);
        expect((await store.contacts.byIds(P, ['10'])).map((c) => c.linked.map((l) => l.id))).toEqual([['c1']]);
      });

      it('a newer modification time with the same content (our own write-back) does not make a contact dirty', async () => {
        await store.records.upsertPage([contact('1', 100)]);
        await store.dirty.clear(P, '1', t);
        expect(await store.records.upsertPage([contact('1', 200)])).toBe(1);
        expect((await store.records.get(P, 'contacts', '1'))?.updatedAt).toBe(200);
        expect(await store.dirty.count(P)).toBe(0);
        await store.records.upsertPage([contact('1', 300, {}, { firstName: 'Changed' })]);
        expect(await store.dirty.peek(P, 10)).toEqual(['1']);
      });

      it('a deleted contact loses its links', async () => {
        await store.records.upsertPage([contact('1', 100), call('c1', ['1'])]);
        await store.records.upsertPage([contact('1', 200, { deleted: true })]);
        expect(await store.records.linkedToContact(P, '1')).toEqual([]);
      });

      it('a merge tombstones the loser pointing at the survivor and moves its links and history; pending writes to the loser are dropped', async () => {
        await store.records.upsertPage([contact('10', 100), contact('20', 100), call('c1', ['20']), call('c2', ['10', '20'])]);
        await store.saveScores(P, [{ scores: scores('20', 40, 50), properties: { health: 'green' } }], { clearIds: [], readAt: t, volatile: VOLATILE });
        await store.outbox.enqueue(P, '20', { health: 'red' });
        await store.dirty.clear(P, '10', t);
        await store.dirty.clear(P, '20', t);
        expect(await store.records.upsertPage([contact('10', 200, { mergedIds: ['20'] })])).toBeGreaterThan(0);
        expect(await store.records.get(P, 'contacts', '20')).toMatchObject({ deleted: true, mergedInto: '10' });
        expect((await store.records.linkedToContact(P, '10')).map((r) => r.id).sort()).toEqual(['c1', 'c2']);
        expect(await store.records.linkedToContact(P, '20')).toEqual([]);
        expect((await store.scores.history(P, '10', 0)).map((h) => h.scoredAt)).toEqual([50]);
        expect(await store.scores.history(P, '20', 0)).toEqual([]);
        expect(await store.scores.get(P, '20')).toBeUndefined();
        expect((await store.outbox.due(P, 10)).map((i) => i.contactId)).toEqual([]);
        expect(await store.dirty.peek(P, 10)).toEqual(['10']);
        // idempotent
        expect(await store.records.upsertPage([contact('10', 200, { mergedIds: ['20'] })])).toBe(0);
      });

      it('lists ids, iterates page by page in id order, tells whether a portal has records, and lists companies', async () => {
        const many = Array.from({ length: 1205 }, (_, i) => contact(`c${String(i).padStart(5, '0')}`, 1, { deleted: i === 3 }));
        await store.records.upsertPage(many);
        await store.records.upsertPage([company('co1', 12), { ...company('co2', 5), deleted: true }]);
        const ids = await store.records.ids(P, 'contacts');
        expect(ids).toHaveLength(1204);
        expect(ids).toEqual([...ids].sort());
        expect(ids).not.toContain('c00003');
        const live = await collect(store.records.iterate(P, 'contacts'));
        expect(live.map((r) => r.id)).toEqual(ids);
        expect(await collect(store.records.iterate(P, 'contacts', true))).toHaveLength(1205);
        expect(await store.records.hasAny(P)).toBe(true);
        expect(await store.records.hasAny('hubspot:2')).toBe(false);
        expect(await store.records.companies(P)).toEqual([{ id: 'co1', data: expect.objectContaining({ employees: 12 }) }]);
      });

      it('applies a record listed twice in one page in order, as two pages would', async () => {
        expect(await store.records.upsertPage([contact('1', 100), contact('1', 200, {}, { firstName: 'Later' }), contact('1', 150, {}, { firstName: 'Stale' })])).toBe(2);
        expect(await store.records.get(P, 'contacts', '1')).toMatchObject({ updatedAt: 200, data: expect.objectContaining({ firstName: 'Later' }) });
        await store.records.upsertPage([call('k', ['1']), call('k', ['2'])]);
        expect((await store.records.linkedToContact(P, '2')).map((r) => r.id)).toEqual(['k']);
        expect(await store.records.linkedToContact(P, '1')).toEqual([]);
      });

      it('a record that lists one contact twice (two association labels) links it once, new or updated', async () => {
        await store.records.upsertPage([call('k', ['1', '2', '1'])]);
        expect((await store.records.linkedToContact(P, '1')).map((r) => r.id)).toEqual(['k']);
        await store.records.upsertPage([call('k', ['2', '2', '3'], 2)]);
        expect(await store.records.linkedToContact(P, '1')).toEqual([]);
        expect((await store.records.linkedToContact(P, '2')).map((r) => r.id)).toEqual(['k']);
        expect((await store.records.linkedToContact(P, '3')).map((r) => r.id)).toEqual(['k']);
      });

      it('orders ids bytewise: upper case before lower case, digits by character', async () => {
        await store.records.upsertPage(['b', 'B', 'a10', 'a-2', 'a2', '_x'].map((id) => contact(id, 1)));
        const sorted = ['B', '_x', 'a-2', 'a10', 'a2', 'b'];
        expect(await store.records.ids(P, 'contacts')).toEqual(sorted);
        expect((await store.contacts.chunk(P, { after: 'B', through: 'a2' }, 10)).map((c) => c.id)).toEqual(['_x', 'a-2', 'a10', 'a2']);
      });

      it('a page that fails part-way leaves nothing written', async () => {
        const bad = contact('2', 100, {}, { firstName: 10n as unknown as string }); // not serializable
        await expect(store.records.upsertPage([contact('1', 100), bad])).rejects.toThrow();
        expect(await store.records.get(P, 'contacts', '1')).toBeUndefined();
        expect(await store.dirty.count(P)).toBe(0);
      });
    });

    describe('contacts', () => {
      beforeEach(async () => {
        await store.records.upsertPage([
          contact('a', 1, {}, { createdAt: 10 }),
          contact('b', 1, {}, { createdAt: 20 }),
          contact('c', 1, { deleted: true }),
          contact('d', 1, { companyId: 'co1' }, { createdAt: null }),
          contact('e', 1),
          call('k1', ['a', 'd']),
          call('k2', ['d'], 1, { deleted: true }),
        ]);
      });

      it('reads keyset chunks of live contacts with their live linked records, within an id range', async () => {
        const first = await store.contacts.chunk(P, {}, 2);
        expect(first.map((c) => c.id)).toEqual(['a', 'b']);
        expect(first[0]?.linked.map((l) => l.id)).toEqual(['k1']);
        expect(first[0]?.data).toMatchObject({ email: 'a@x.io' });
        const next = await store.contacts.chunk(P, { after: 'b' }, 2);
        expect(next.map((c) => c.id)).toEqual(['d', 'e']);
        expect(next[0]).toMatchObject({ companyId: 'co1', issues: [] });
        expect(next[0]?.linked.map((l) => l.id)).toEqual(['k1']);
        expect((await store.contacts.chunk(P, { after: 'a', through: 'd' }, 10)).map((c) => c.id)).toEqual(['b', 'd']);
        expect(await store.contacts.chunk(P, { after: 'e' }, 10)).toEqual([]);
      });

      it('reads given contacts, skipping unknown and deleted ones', async () => {
        const got = await store.contacts.byIds(P, ['d', 'c', 'zz', 'd']);
        expect(got.map((c) => c.id)).toEqual(['d']);
        expect(got[0]?.linked.map((l) => l.id)).toEqual(['k1']);
      });

      it('counts live contacts, tombstones too, or those created by a time', async () => {
        expect(await store.contacts.count(P)).toBe(4);
        expect(await store.contacts.count(P, { includeDeleted: true })).toBe(5);
        // no creation time counts as created
        expect(await store.contacts.count(P, { createdBy: 15 })).toBe(3);
      });

      it('splits contact ids into equal shares whose union is every contact', async () => {
        const ends = await store.contacts.shareEnds(P, 2);
        expect(ends).toHaveLength(2);
        expect(ends[1]).toBeUndefined();
        const first = await store.contacts.chunk(P, { ...(ends[0] === undefined ? {} : { through: ends[0] }) }, 100);
        const second = await store.contacts.chunk(P, { ...(ends[0] === undefined ? {} : { after: ends[0] }) }, 100);
        expect([...first, ...second].map((c) => c.id)).toEqual(['a', 'b', 'd', 'e']);
        expect(await store.contacts.shareEnds(P, 1)).toEqual([undefined]);
      });
    });

    describe('commitPage', () => {
      it('writes records, cursor and run progress together', async () => {
        const run = await store.syncRuns.start(P, 'contacts');
        const n = await store.commitPage({ portal: P, stream: 'contacts', records: [contact('1', 1), contact('2', 1)], cursor: 'cur-1' as Cursor, run: { id: run, pages: 1, records: 2 } });
        expect(n).toBe(2);
        expect(await store.cursors.get(P, 'contacts')).toBe('cur-1');
        await store.syncRuns.finish(run, 'ok');
        expect(await store.syncRuns.latestPerStream(P)).toEqual([
          expect.objectContaining({ id: run, stream: 'contacts', status: 'ok', pages: 1, records: 2, startedAt: t, finishedAt: t, error: null, errorKind: null }),
        ]);
      });

      it('tombstones cached live records missing from a sweep (liveIds)', async () => {
        const run = await store.syncRuns.start(P, 'contacts');
        await store.commitPage({ portal: P, stream: 'contacts', records: [contact('1', 1), contact('2', 1), contact('3', 1)], cursor: 'c1' as Cursor, run: { id: run, pages: 1, records: 3 } });
        const n = await store.commitPage({ portal: P, stream: 'contacts', records: [], liveIds: ['1', '3'], cursor: 'c2' as Cursor, run: { id: run, pages: 2, records: 3 }, at: 5000 });
        expect(n).toBe(1);
        expect(await store.records.get(P, 'contacts', '2')).toMatchObject({ deleted: true, updatedAt: 5000 });
        expect(await store.records.ids(P, 'contacts')).toEqual(['1', '3']);
        // the cursor and progress go with the tombstones, and with a page of nothing at all
        expect(await store.cursors.get(P, 'contacts')).toBe('c2');
        expect(await store.commitPage({ portal: P, stream: 'contacts', records: [], cursor: 'c3' as Cursor, run: { id: run, pages: 3, records: 3 } })).toBe(0);
        expect(await store.cursors.get(P, 'contacts')).toBe('c3');
        expect((await store.syncRuns.latestPerStream(P))[0]).toMatchObject({ pages: 3, records: 3 });
      });

      it("a stream's first pass over a portal lands whole when a record of its page is already stored (written meanwhile, or read twice)", async () => {
        // Postgres inserts the pages of a run that began with no record of its type without
        // ON CONFLICT, and must fall back to the upsert when that does not hold
        const run = await store.syncRuns.start(P, 'contacts');
        expect(await store.commitPage({ portal: P, stream: 'contacts', records: [contact('1', 1), contact('2', 1)], cursor: 'c1' as Cursor, run: { id: run, pages: 1, records: 2 } })).toBe(2);
        expect(await store.records.upsertPage([contact('3', 5, {}, { firstName: 'Meanwhile' })])).toBe(1);
        expect(await store.commitPage({ portal: P, stream: 'contacts', records: [contact('3', 1), contact('4', 1)], cursor: 'c2' as Cursor, run: { id: run, pages: 2, records: 4 } })).toBe(1);
        expect(await store.commitPage({ portal: P, stream: 'contacts', records: [contact('2', 9, {}, { firstName: 'Again' }), contact('5', 1)], cursor: 'c3' as Cursor, run: { id: run, pages: 3, records: 6 } })).toBe(2);
        expect(await store.records.get(P, 'contacts', '3')).toMatchObject({ updatedAt: 5, data: { firstName: 'Meanwhile' } });
        expect(await store.records.get(P, 'contacts', '2')).toMatchObject({ updatedAt: 9, data: { firstName: 'Again' } });
        expect(await store.records.ids(P, 'contacts')).toEqual(['1', '2', '3', '4', '5']);
        expect(await store.cursors.get(P, 'contacts')).toBe('c3');
        expect((await store.syncRuns.latestPerStream(P))[0]).toMatchObject({ pages: 3, records: 6 });

        // pages of several portals at once (Postgres commits them together), one of them meeting a stored record
        const portals = ['hubspot:21', 'hubspot:22', 'hubspot:23', 'hubspot:24'];
        const mine = (portal: string, id: string, updatedAt: number) => ({ ...contact(id, updatedAt, {}, { firstName: portal }), portal });
        await store.records.upsertPage([mine('hubspot:23', '7', 5)]);
        const runs = await Promise.all(portals.map((portal) => store.syncRuns.start(portal, 'contacts')));
        const written = await Promise.all(
          portals.map((portal, i) =>
            store.commitPage({ portal, stream: 'contacts', records: [mine(portal, '6', 1), mine(portal, '7', 1)], cursor: `p${i}` as Cursor, run: { id: runs[i]!, pages: 1, records: 2 } }),
          ),
        );
        expect(written).toEqual([2, 2, 1, 2]);
        for (const [i, portal] of portals.entries()) {
          expect(await store.records.ids(portal, 'contacts')).toEqual(['6', '7']);
          expect(await store.records.get(portal, 'contacts', '7')).toMatchObject({ updatedAt: portal === 'hubspot:23' ? 5 : 1 });
          expect(await store.cursors.get(portal, 'contacts')).toBe(`p${i}`);
        }
      });

      it('a page that throws leaves nothing half-written: no records, no cursor move', async () => {
        const run = await store.syncRuns.start(P, 'contacts');
        await store.commitPage({ portal: P, stream: 'contacts', records: [contact('1', 1)], cursor: 'good' as Cursor, run: { id: run, pages: 1, records: 1 } });
        const bad = contact('3', 1, {}, { firstName: 1n as unknown as string });
        await expect(store.commitPage({ portal: P, stream: 'contacts', records: [contact('2', 1), bad], cursor: 'bad' as Cursor, run: { id: run, pages: 2, records: 3 } })).rejects.toThrow();
        expect(await store.cursors.get(P, 'contacts')).toBe('good');
        expect(await store.records.get(P, 'contacts', '2')).toBeUndefined();
        expect((await store.syncRuns.latestPerStream(P))[0]).toMatchObject({ pages: 1, records: 1, status: 'running' });
      });
    });

    describe('scores', () => {
      it('saves scores with history only when a rounded value or the band moved, enqueues news, clears dirty marks', async () => {
        await store.records.upsertPage([contact('1', 1), contact('2', 1)]);
        const s1 = scores('1', 40, 100);
        const enq = await store.saveScores(P, [{ scores: s1, properties: props(s1) }, { scores: scores('2', 70, 100), properties: props(scores('2', 70, 100)) }], { clearIds: ['1', '2'], readAt: t, volatile: VOLATILE });
        expect(enq).toBe(2);
        expect(await store.scores.get(P, '1')).toEqual(s1);
        expect(await store.scores.count(P)).toBe(2);
        expect(await store.dirty.count(P)).toBe(0);
        // same rounded values later: no new history row, and a fresh timestamp alone is no news
        await store.outbox.settle(P, { written: await store.outbox.due(P, 10), failed: [] }, { maxAttempts: 3 });
        const again = scores('1', 40.2, 200);
        expect(await store.saveScores(P, [{ scores: again, properties: props(again) }], { clearIds: [], readAt: t, volatile: VOLATILE })).toBe(0);
        expect(await store.outbox.due(P, 10)).toEqual([]);
        expect((await store.scores.history(P, '1', 0)).map((h) => h.scoredAt)).toEqual([100]);
        expect((await store.scores.get(P, '1'))?.scoredAt).toBe(200);
        // a moved value: history row and a write
        const moved = scores('1', 60, 300, { health: 'red' });
        expect(await store.saveScores(P, [{ scores: moved, properties: props(moved) }], { clearIds: [], readAt: t, volatile: VOLATILE })).toBe(1);
        expect(await store.scores.history(P, '1', 0)).toEqual([
          expect.objectContaining({ scoredAt: 100, churnRisk: 40, health: 'green', modelVersion: 'm1' }),
          expect.objectContaining({ scoredAt: 300, churnRisk: 60, health: 'red' }),
        ]);
        expect(await store.scores.history(P, '1', 200)).toHaveLength(1);
        expect((await store.outbox.due(P, 10))[0]?.properties).toEqual({ health: 'red', churnRisk: '60', scoredAt: '300' });
      });

      it('a batch naming a contact twice saves both in order: the later scores win, history has both', async () => {
        const first = scores('1', 40, 100);
        const second = scores('1', 60, 200, { health: 'red' });
        expect(await store.saveScores(P, [first, second].map((s) => ({ scores: s, properties: props(s) })), { clearIds: [], readAt: t, volatile: VOLATILE })).toBe(2);
        expect((await store.scores.get(P, '1'))?.scoredAt).toBe(200);
        expect((await store.scores.history(P, '1', 0)).map((h) => h.scoredAt)).toEqual([100, 200]);
        expect((await store.outbox.due(P, 10))[0]?.properties).toEqual({ health: 'red', churnRisk: '60', scoredAt: '200' });
      });

      it('keeps a dirty mark set again after the read', async () => {
        await store.dirty.mark(P, '1', t + 10);
        await store.dirty.mark(P, '1', t - 10); // an older mark (another process's clock) does not move it back
        const s = scores('1', 40, 100);
        await store.saveScores(P, [{ scores: s, properties: props(s) }], { clearIds: ['1'], readAt: t, volatile: VOLATILE });
        expect(await store.dirty.peek(P, 10)).toEqual(['1']);
      });

      it('keeps a contact dirty when a page touches it again while it is being scored', async () => {
        // contact 1 marked by its own page; a scorer reads it; then a call linking it and a
        // new version of contact 2 (already dirty) land before the scorer saves: neither the
        // scorer's read nor its save saw them, so both contacts must stay dirty
        await store.records.upsertPage([contact('1', 100), contact('2', 100)]);
        const readAt = t;
        t += 10;
        await store.records.upsertPage([call('c1', ['1']), contact('2', 200, {}, { firstName: 'Z' })]);
        const s = [scores('1', 40, 100), scores('2', 40, 100)];
        await store.saveScores(P, s.map((x) => ({ scores: x, properties: props(x) })), { clearIds: ['1', '2'], readAt, volatile: VOLATILE });
        expect((await store.dirty.peek(P, 10)).sort()).toEqual(['1', '2']);
        // a later pass that reads after them clears them
        await store.saveScores(P, s.map((x) => ({ scores: x, properties: props(x) })), { clearIds: ['1', '2'], readAt: t, volatile: VOLATILE });
        expect(await store.dirty.count(P)).toBe(0);
      });

      it('a portal installed anew writes no marks until its first full pass starts; every live contact waits until one ends', async () => {
        const info = { portal: P, crm: 'hubspot' as const, externalId: '1', baseUrl: 'http://x', scopes: [] };
        await store.portals.upsert(info);
        await store.records.upsertPage([contact('1', 100), contact('2', 100), contact('3', 100, { deleted: true })]);
        await store.records.upsertPage([call('c1', ['1'])]);
        expect(await store.dirty.peek(P, 10)).toEqual([]);
        expect(await store.dirty.count(P)).toBe(2);
        const started = await store.dirty.startFirstPass(P);
        expect(started).toBeTypeOf('number');
        // from the pass's start on, pages mark again (the pass may have read these contacts already)
        await store.records.upsertPage([contact('2', 200, {}, { firstName: 'Z' })]);
        expect(await store.dirty.peek(P, 10)).toEqual(['2']);
        expect(await store.dirty.count(P)).toBe(2);
        // a pass that died: the next one starts again; the first one's end then ends nothing
        const again = await store.dirty.startFirstPass(P);
        t += 10;
        const last = await store.dirty.startFirstPass(P);
        expect(last).toBeGreaterThan(again!);
        await store.dirty.endFirstPass(P, again!);
        expect(await store.dirty.count(P)).toBe(2);
        await store.dirty.endFirstPass(P, last!);
        expect(await store.dirty.count(P)).toBe(1);
        expect(await store.dirty.startFirstPass(P)).toBeUndefined();
        // installed again: nothing is due
        await store.portals.upsert({ ...info, scopes: ['crm.objects.contacts.read'] });
        expect(await store.dirty.startFirstPass(P)).toBeUndefined();
        await store.records.upsertPage([contact('1', 300, {}, { firstName: 'Y' })]);
        expect((await store.dirty.peek(P, 10)).sort()).toEqual(['1', '2']);
      });

      it('a portal with no install record marks as before (no first pass is due)', async () => {
        await store.records.upsertPage([contact('1', 100)]);
        expect(await store.dirty.startFirstPass(P)).toBeUndefined();
        expect(await store.dirty.peek(P, 10)).toEqual(['1']);
      });

      it('a batch that throws leaves nothing saved and the dirty marks in place', async () => {
        await store.dirty.mark(P, '1', t);
        const ok = scores('1', 40, 100);
        const bad = scores('2', 40, 100, { extra: { x: 1n } });
        await expect(
          store.saveScores(P, [{ scores: ok, properties: props(ok) }, { scores: bad, properties: props(bad) }], { clearIds: ['1', '2'], readAt: t, volatile: VOLATILE }),
        ).rejects.toThrow();
        expect(await store.scores.get(P, '1')).toBeUndefined();
        expect(await store.outbox.stats(P)).toEqual({ pending: 0, parked: 0 });
        expect(await store.dirty.peek(P, 10)).toEqual(['1']);
      });

      it('a score that is not a finite number fails its batch, with nothing saved and the dirty marks in place', async () => {
        await store.dirty.mark(P, '1', t);
        const ok = scores('1', 40, 100);
        const nan = scores('2', 40, 100);
        const bad = { ...nan, churnRisk: { ...nan.churnRisk, value: Number.NaN } };
        await expect(
          store.saveScores(P, [{ scores: ok, properties: props(ok) }, { scores: bad, properties: props(ok) }], { clearIds: ['1', '2'], readAt: t, volatile: VOLATILE }),
        ).rejects.toThrow();
        expect(await store.scores.count(P)).toBe(0);
        expect(await store.outbox.stats(P)).toEqual({ pending: 0, parked: 0 });
        expect(await store.dirty.peek(P, 10)).toEqual(['1']);
      });

      it('saves rows a scoring worker thread made (detail already JSON text) as it saves scores', async () => {
        const s = scores('1', 40, 100, { extra: { clv: 12 } });
        expect(await store.saveScores(P, [{ row: scoreRow(s), properties: props(s) }], { clearIds: [], readAt: t, volatile: VOLATILE })).toBe(1);
        expect(await store.scores.get(P, '1')).toEqual(s);
        expect(await store.scores.history(P, '1', 0)).toHaveLength(1);
        expect(await store.outbox.due(P, 10)).toEqual([{ contactId: '1', properties: props(s), attempts: 0 }]);
      });

      it('keeps ids, versions, reasons and values holding tabs, newlines, quotes and backslashes as they are', async () => {
        const odd = 'a\tb\nc"d\\e';
        const s = { ...scores(`1${odd}`, 40, 100, { extra: { note: odd } }), modelVersion: `m${odd}` };
        s.churnRisk = { ...s.churnRisk, reasons: [{ text: odd, impact: 2 }] };
        // a row's detail may be any JSON text: here with whitespace (tabs, newlines) between its tokens
        const row = { ...scoreRow(s), detail: JSON.stringify(JSON.parse(scoreRow(s).detail), null, '\t') };
        const properties = { ...props(s), reasons: odd };
        expect(await store.saveScores(P, [{ row, properties }], { clearIds: [], readAt: t, volatile: VOLATILE })).toBe(1);
        expect(await store.scores.get(P, s.contactId)).toEqual(s);
        expect(await store.scores.history(P, s.contactId, 0)).toEqual([expect.objectContaining({ scoredAt: 100, modelVersion: s.modelVersion })]);
        expect(await store.outbox.due(P, 10)).toEqual([{ contactId: s.contactId, properties, attempts: 0 }]);
        await store.outbox.settle(P, { written: await store.outbox.due(P, 10), failed: [] }, { maxAttempts: 3 });
        expect(await store.outbox.lastWritten(P, s.contactId)).toEqual(properties);
      });

      it('answers the aggregates the report reads', async () => {
        await store.records.upsertPage([contact('1', 1, {}, { firstName: 'Ann', lastName: 'Lee' }), contact('2', 1)]);
        const a = scores('1', 95, 100, { health: 'red', churnBand: 'red', extra: { rfm: { r: 1 }, clv: 30 } });
        const b = scores('2', 12, 200, { extra: { rfm: null, clv: 99 } });
        await store.saveScores(P, [a, b].map((s) => ({ scores: s, properties: props(s) })), { clearIds: [], readAt: t, volatile: VOLATILE });
        await store.models.saveAll(P, [{ kind: 'churn', version: 'v1', trainedAt: 50, params: {}, metrics: {} }]);
        expect(await store.scores.lastScoredAt(P)).toBe(200);
        expect(await store.scores.lastScoredAt('hubspot:2')).toBeNull();
        expect(await store.scores.portals()).toEqual([P]);
        expect(await store.scores.state(P)).toEqual({ count: 2, lastScoredAt: 200, lastTrainedAt: 50 });
        const bands = await store.scores.bandCounts(P);
        expect(bands.health).toEqual({ green: 1, yellow: 0, red: 1 });
        expect(bands.scores.churnRisk).toEqual({ green: 1, yellow: 0, red: 1 });
        expect(bands.scores.satisfaction).toEqual({ green: 2, yellow: 0, red: 0 });
        expect(await store.scores.healthAsOf(P, 150)).toEqual({ green: 0, yellow: 0, red: 1 });
        const h = await store.scores.histograms(P, 5);
        expect(h.churnRisk).toHaveLength(20);
        expect(h.churnRisk[19]).toBe(1);
        expect(h.churnRisk[2]).toBe(1);
        const top = await store.scores.topChurnRisk(P, 1);
        expect(top).toEqual([{ contactId: '1', churnRisk: 95, churnDetail: a.churnRisk, firstName: 'Ann', lastName: 'Lee' }]);
        expect(await store.scores.clv(P)).toEqual({ n: 1, mean: 30 });
      });
    });

    describe('portals and tokens', () => {
      const info = { portal: 'hubspot:42', crm: 'hubspot' as const, externalId: '42', baseUrl: 'http://x', scopes: ['crm.objects.contacts.read'] };
      const tokens = { accessToken: 'pat-na1-secret', refreshToken: 'refresh-secret', expiresAt: 123 };

      it('upserts, lists and marks portals', async () => {
        await store.portals.upsert(info);
        await store.portals.upsert({ ...info, portal: 'hubspot:7', externalId: '7' });
        expect((await store.portals.list()).map((p) => p.portal)).toEqual(['hubspot:42', 'hubspot:7']);
        expect(await store.portals.get('hubspot:42')).toEqual({ ...info, status: 'connected', statusReason: null, installedAt: t });
        await store.portals.markDisconnected('hubspot:42', 'auth: revoked');
        expect(await store.portals.get('hubspot:42')).toMatchObject({ status: 'disconnected', statusReason: 'auth: revoked' });
        await store.portals.markConnected('hubspot:42');
        expect(await store.portals.get('hubspot:42')).toMatchObject({ status: 'connected', statusReason: null });
        expect(await store.portals.get('hubspot:0')).toBeUndefined();
      });

      it('installs a portal with its tokens, encrypted and readable only with the key', async () => {
        expect(await store.portals.hasTokens()).toBe(false);
        await store.portals.install(info, tokens);
        expect(await store.portals.tokens('hubspot:42')).toEqual(tokens);
        expect(await store.portals.hasTokens()).toBe(true);
        expect(await store.portals.tokens('hubspot:0')).toBeUndefined();
        await store.portals.saveTokens('hubspot:42', { ...tokens, refreshToken: null, expiresAt: null });
        expect(await store.portals.tokens('hubspot:42')).toEqual({ ...tokens, refreshToken: null, expiresAt: null });
        const wrong = await open({ encryptionKey: KEY_B });
        await expect(wrong.portals.tokens('hubspot:42')).rejects.toMatchObject({ code: 'token_unreadable', portal: 'hubspot:42' });
      });

      it('without a key, an install fails with a clear code and leaves no portal behind', async () => {
        const keyless = await open();
        await expect(keyless.portals.install(info, tokens)).rejects.toMatchObject({ code: 'encryption_key_missing', message: expect.stringMatching(/RAPPORT_ENCRYPTION_KEY/) });
        expect(await keyless.portals.get('hubspot:42')).toBeUndefined();
        expect(await keyless.portals.keyCheck()).toBe('no_key');
      });

      it('checks the configured keys and rotates tokens to the new key', async () => {
        await store.portals.install(info, tokens);
        expect(await store.portals.keyCheck()).toBe('current');
        const rotating = await open({ encryptionKey: KEY_B, previousEncryptionKey: KEY_A });
        expect(await rotating.portals.keyCheck()).toBe('previous');
        expect(await rotating.portals.tokens('hubspot:42')).toEqual(tokens);
        expect(await rotating.portals.resealAll()).toEqual({ resealed: ['hubspot:42'], unreadable: [] });
        expect(await rotating.portals.keyCheck()).toBe('current');
        const newOnly = await open({ encryptionKey: KEY_B });
        expect(await newOnly.portals.tokens('hubspot:42')).toEqual(tokens);
        const oldOnly = await open({ encryptionKey: KEY_A });
        expect(await oldOnly.portals.keyCheck()).toBe('mismatch');
        await expect(oldOnly.portals.tokens('hubspot:42')).rejects.toMatchObject({ code: 'token_unreadable' });
      });
    });

    describe('cursors, dirty marks, sync runs, API usage', () => {
      it('keeps cursors per stream', async () => {
        await store.cursors.set(P, 'contacts', 'a' as Cursor);
        await store.cursors.set(P, 'deals', 'b' as Cursor);
        await store.cursors.set(P, 'contacts', 'c' as Cursor);
        expect(await store.cursors.get(P, 'contacts')).toBe('c');
        expect(await store.cursors.list(P)).toEqual([
          { stream: 'contacts', cursor: 'c' as Cursor, updatedAt: t },
          { stream: 'deals', cursor: 'b' as Cursor, updatedAt: t },
        ]);
        await store.cursors.clear(P, 'contacts');
        expect(await store.cursors.get(P, 'contacts')).toBeNull();
      });

      it('peeks dirty contacts oldest mark first', async () => {
        await store.dirty.mark(P, 'b', 2);
        await store.dirty.mark(P, 'a', 3);
        await store.dirty.mark(P, 'c', 1);
        expect(await store.dirty.peek(P, 2)).toEqual(['c', 'b']);
        expect(await store.dirty.count(P)).toBe(3);
        await store.dirty.clear(P, 'a', 2); // marked after the read: stays
        await store.dirty.clear(P, 'b', 2);
        expect((await store.dirty.peek(P, 10)).sort()).toEqual(['a', 'c']);
      });

      it('records failed runs with their error', async () => {
        const id = await store.syncRuns.start(P, 'deals');
        await store.syncRuns.finish(id, 'failed', { kind: 'auth', message: 'revoked' });
        expect((await store.syncRuns.latestPerStream(P))[0]).toMatchObject({ stream: 'deals', status: 'failed', errorKind: 'auth', error: 'revoked' });
      });

      it('sums API usage by minute and prunes after a week', async () => {
        await store.apiUsage.record(P, 7, 1);
        await store.apiUsage.record(P, 3, 0);
        await store.apiUsage.record(P, 0, 0);
        t += 60_000;
        await store.apiUsage.record(P, 2, 0);
        expect(await store.apiUsage.since(P, 600_000)).toEqual({ calls: 12, rateLimited: 1, peakPerMinute: 10 });
        t += 8 * 86_400_000;
        expect(await store.apiUsage.prune()).toBe(2);
        expect(await store.apiUsage.since(P, 600_000)).toEqual({ calls: 0, rateLimited: 0, peakPerMinute: 0 });
      });
    });

    describe('outbox', () => {
      it('keeps a sending mark per portal until cleared, out of the cursors a reader lists', async () => {
        expect(await store.outbox.sending(P)).toBe(false);
        await store.outbox.setSending(P, true);
        await store.outbox.setSending(P, true);
        expect(await store.outbox.sending(P)).toBe(true);
        expect(await store.outbox.sending('hubspot:2')).toBe(false);
        expect(await store.cursors.list(P)).toEqual([]);
        await store.outbox.setSending(P, false);
        expect(await store.outbox.sending(P)).toBe(false);
      });

      it('keeps only values that differ from what was last written', async () => {
        expect(await store.outbox.enqueue(P, 'c', { satisfaction: '1', loyalty: '2' })).toBe(2);
        const [item] = await store.outbox.due(P, 10);
        expect(item).toEqual({ contactId: 'c', properties: { satisfaction: '1', loyalty: '2' }, attempts: 0 });
        await store.outbox.settle(P, { written: [item!], failed: [] }, { maxAttempts: 3 });
        expect(await store.outbox.due(P, 10)).toEqual([]);
        expect(await store.outbox.lastWritten(P, 'c')).toEqual({ satisfaction: '1', loyalty: '2' });
        expect(await store.outbox.writtenCount(P)).toBe(1);
        expect(await store.outbox.enqueue(P, 'c', { satisfaction: '1', loyalty: '3' })).toBe(1);
        expect((await store.outbox.due(P, 10))[0]?.properties).toEqual({ loyalty: '3' });
        // going back to the written value cancels the pending write
        expect(await store.outbox.enqueue(P, 'c', { loyalty: '2' })).toBe(0);
        expect(await store.outbox.stats(P)).toEqual({ pending: 0, parked: 0 });
      });

      it('a write settled after a newer enqueue keeps the newer values pending', async () => {
        await store.outbox.enqueue(P, 'c', { satisfaction: '1' });
        const [item] = await store.outbox.due(P, 10);
        await store.outbox.enqueue(P, 'c', { satisfaction: '2' });
        await store.outbox.settle(P, { written: [item!], failed: [] }, { maxAttempts: 3 });
        expect((await store.outbox.due(P, 10))[0]?.properties).toEqual({ satisfaction: '2' });
      });

      it('backs off retryable failures, parks the others with their reason, and re-queues parked ones', async () => {
        await store.outbox.enqueue(P, 'c1', { satisfaction: '1' });
        await store.outbox.enqueue(P, 'c2', { satisfaction: '2' });
        const due = await store.outbox.due(P, 10);
        await store.outbox.settle(
          P,
          {
            written: [],
            failed: [
              { item: due[0]!, error: 'unavailable: down', retryable: true },
              { item: due[1]!, error: 'invalid_request PROPERTY_DOESNT_EXIST: no such property', retryable: false },
            ],
          },
          { maxAttempts: 5 },
        );
        expect(await store.outbox.stats(P)).toEqual({ pending: 1, parked: 1 });
        expect(await store.outbox.due(P, 10)).toEqual([]); // backing off
        t += 60_000;
        expect(await store.outbox.due(P, 10)).toEqual([{ contactId: 'c1', properties: { satisfaction: '1' }, attempts: 1 }]);
        expect(await store.outbox.parked(P)).toEqual([
          { contactId: 'c2', properties: { satisfaction: '2' }, attempts: 1, lastError: 'invalid_request PROPERTY_DOESNT_EXIST: no such property' },
        ]);
        expect(await store.outbox.parkedReasons(P)).toEqual([{ reason: 'invalid_request PROPERTY_DOESNT_EXIST', count: 1 }]);
        expect(await store.outbox.requeueParked(P)).toBe(1);
        expect(await store.outbox.stats(P)).toEqual({ pending: 2, parked: 0 });
      });

      it('parks an item after maxAttempts retryable failures', async () => {
        await store.outbox.enqueue(P, 'c', { satisfaction: '1' });
        for (let i = 0; i < 2; i++) {
          t += 3_600_000;
          const [item] = await store.outbox.due(P, 10);
          await store.outbox.settle(P, { written: [], failed: [{ item: item!, error: 'unavailable: down', retryable: true }] }, { maxAttempts: 2 });
        }
        expect(await store.outbox.stats(P)).toEqual({ pending: 0, parked: 1 });
      });
    });

    describe('webhook events', () => {
      it('remembers event ids so a replay (even within one batch) is recognised, and prunes old ones', async () => {
        expect(await store.webhookEvents.rememberAll([{ portal: 'p', eventId: 'e1' }, { portal: 'p', eventId: 'e1' }, { portal: 'q', eventId: 'e1' }])).toEqual([true, false, true]);
        expect(await store.webhookEvents.rememberAll([{ portal: 'p', eventId: 'e1' }])).toEqual([false]);
        t += 4 * 86_400_000;
        expect(await store.webhookEvents.prune()).toBe(2);
        expect(await store.webhookEvents.rememberAll([{ portal: 'p', eventId: 'e1' }])).toEqual([true]);
      });

      it('a backlog larger than one statement or transaction (SQLite 500 events, Postgres 10,000) answers every event, repeats in later parts too', async () => {
        const events = Array.from({ length: 12_000 }, (_, i) => ({ portal: `p${i % 3}`, eventId: `b${i}` }));
        // repeats right after SQLite's first part, after Postgres's first statement, and at the end of everything
        const repeats = [501, 10_001, 12_000].map((at) => ({ at, event: events[at - 10]! }));
        const batch = [...events];
        for (const r of [...repeats].reverse()) batch.splice(r.at, 0, r.event);
        const answers = await store.webhookEvents.rememberAll(batch);
        expect(answers).toHaveLength(batch.length);
        expect(answers.flatMap((a, i) => (a ? [] : [i]))).toEqual(repeats.map((r, k) => r.at + k));
        expect(await store.webhookEvents.rememberAll([events[0]!, events[11_999]!, { portal: 'p0', eventId: 'new' }])).toEqual([false, false, true]);
      });
    });

    describe('models', () => {
      const model = (version: string, trainedAt: number, auc: number, kind = 'churn') => ({ kind, version, trainedAt, params: { v: version }, metrics: { auc } });

      it('keeps every version with its metrics; latest is the newest, ties broken by insertion', async () => {
        await store.models.saveAll(P, [model('m1', 1000, 0.7), model('m1', 1000, 0.7, 'loyalty')]);
        expect(await store.models.unusedVersion(P, 'm1')).toBe('m1-2');
        await store.models.saveAll(P, [model('m1-2', 1000, 0.75)]);
        await store.models.saveAll(P, [model('m2', 2000, 0.8)]);
        expect(await store.models.unusedVersion(P, 'm3')).toBe('m3');
        expect((await store.models.latest(P, 'churn'))?.version).toBe('m2');
        expect((await store.models.latest(P, 'loyalty'))?.version).toBe('m1');
        expect((await store.models.versions(P, 'churn')).map((m) => [m.version, (m.metrics as { auc: number }).auc])).toEqual([
          ['m2', 0.8],
          ['m1-2', 0.75],
          ['m1', 0.7],
        ]);
        expect((await store.models.get(P, 'churn', 'm1'))?.params).toEqual({ v: 'm1' });
        expect(await store.models.get(P, 'churn', 'nope')).toBeUndefined();
      });

      it('never overwrites a version; a failing training run saves none of its models', async () => {
        await store.models.saveAll(P, [model('m1', 1000, 0.7)]);
        await expect(store.models.saveAll(P, [model('m9', 3000, 0.9, 'loyalty'), model('m1', 3000, 0.1)])).rejects.toThrow();
        expect((await store.models.get(P, 'churn', 'm1'))?.metrics).toEqual({ auc: 0.7 });
        expect(await store.models.latest(P, 'loyalty')).toBeUndefined();
      });
    });
  });
}
