import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ContactData, CrmConnector, CrmRecord, Cursor, ObjectType, Page } from '../../src/connectors/types.ts';
import { CrmError, type CrmErrorKind } from '../../src/errors.ts';

/**
 * THE connector contract (issue 3): every connector — the fake, HubSpot over the sandbox,
 * later Salesforce — must pass these cases. A harness adapts one CRM: it seeds data through the
 * CRM's own side (never through the connector), drives a frozen CRM clock, and injects faults.
 */
export type ContractHarness = {
  connector: CrmConnector;
  portal: string;
  /** the connector's list page size (small, so a few records span several pages) */
  pageSize: number;
  createContact(props: { email: string; firstname?: string }): Promise<string>;
  updateContact(id: string, props: { firstname?: string; email?: string }): Promise<void>;
  deleteContact(id: string): Promise<void>;
  /** an engagement linked to contacts (tests contactIds) */
  createNote(contactIds: readonly string[], body: string): Promise<string>;
  /** moves the CRM's (frozen) clock; the connector reads the same clock */
  advance(ms: number): Promise<void>;
  /** the next request(s) fail: 429 (beyond the connector's small retry budget), a rejected token, a malformed 200 */
  inject(fault: 'rate_limited' | 'auth' | 'bad_response'): Promise<void>;
  clearFaults(): Promise<void>;
  close(): Promise<void>;
};

type Run = { pages: { records: CrmRecord[]; next: Cursor }[]; cursor: Cursor | null };

async function drain(c: CrmConnector, type: ObjectType, cursor: Cursor | null): Promise<Run> {
  const pages: Page[] = [];
  let last = cursor;
  for await (const page of c.changes(type, cursor, new AbortController().signal)) {
    pages.push(page);
    last = page.next;
    if (pages.length > 500) throw new Error('connector did not stop paging (500 pages)');
  }
  return { pages, cursor: last };
}
const ids = (run: Run) => run.pages.flatMap((p) => p.records.map((r) => r.id));
const records = (run: Run) => run.pages.flatMap((p) => p.records);

async function expectKind(p: Promise<unknown>, kind: CrmErrorKind): Promise<CrmError> {
  const e = await p.then(
    () => {
      throw new Error(`expected a CrmError '${kind}', got success`);
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CrmError);
  expect((e as CrmError).kind).toBe(kind);
  return e as CrmError;
}

export function connectorContract(name: string, makeHarness: () => Promise<ContractHarness>): void {
  describe(`connector contract: ${name}`, () => {
    let h: ContractHarness;
    beforeEach(async () => {
      h = await makeHarness();
    });
    afterEach(async () => {
      await h.close();
    });

    const seedContacts = async (n: number, prefix = 'c') => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        out.push(await h.createContact({ email: `${prefix}${i}@example.com`, firstname: `${prefix}${i}` }));
        await h.advance(1_000);
      }
      return out;
    };

    it('a full sync yields every record exactly once, normalized, of the right portal and type', async () => {
      const created = await seedContacts(Math.floor(h.pageSize * 2.5));
      const special = await h.createContact({ email: '  Ada.Lovelace@Example.COM ', firstname: 'Ada' });
      const run = await drain(h.connector, 'contacts', null);
      const got = ids(run);
      expect(new Set(got).size).toBe(got.length);
      expect([...got].sort()).toEqual([...created, special].sort());
      expect(run.pages.length).toBeGreaterThanOrEqual(3);
      for (const p of run.pages) expect(p.records.length).toBeLessThanOrEqual(h.pageSize);
      const ada = records(run).find((r) => r.id === special)!;
      expect(ada).toMatchObject({ portal: h.portal, type: 'contacts', deleted: false });
      expect(ada.updatedAt).toBeGreaterThan(0);
      expect((ada.data as ContactData).email).toBe('ada.lovelace@example.com');
      expect((ada.data as ContactData).emailRaw).toBe('  Ada.Lovelace@Example.COM ');
    });

    it('resuming from any page cursor never skips a record', async () => {
      const created = await seedContacts(h.pageSize * 3 + 1);
      const full = await drain(h.connector, 'contacts', null);
      expect(full.pages.length).toBeGreaterThanOrEqual(4);
      for (let k = 0; k < full.pages.length; k++) {
        const before = full.pages.slice(0, k + 1).flatMap((p) => p.records.map((r) => r.id));
        const rest = await drain(h.connector, 'contacts', full.pages[k]!.next);
        const seen = new Set([...before, ...ids(rest)]);
        for (const id of created) expect(seen.has(id), `resume after page ${k + 1} skipped ${id}`).toBe(true);
      }
    });

    it('resuming from any page cursor of an INCREMENTAL run never skips a record', async () => {
      await seedContacts(2);
      const base = await drain(h.connector, 'contacts', null);
      await h.advance(120_000);
      // more changes than one incremental page, a few sharing a timestamp
      const changed: string[] = [];
      for (let i = 0; i < h.pageSize * 2 + 5; i++) {
        changed.push(await h.createContact({ email: `inc${i}@example.com` }));
        if (i % 3 === 0) await h.advance(1_000);
      }
      const inc = await drain(h.connector, 'contacts', base.cursor);
      expect(ids(inc)).toEqual(expect.arrayContaining(changed));
      for (let k = 0; k < inc.pages.length; k++) {
        const before = inc.pages.slice(0, k + 1).flatMap((p) => p.records.map((r) => r.id));
        const rest = await drain(h.connector, 'contacts', inc.pages[k]!.next);
        const seen = new Set([...before, ...ids(rest)]);
        for (const id of changed) expect(seen.has(id), `resume after incremental page ${k + 1} skipped ${id}`).toBe(true);
      }
    });

    it('a run of changes sharing one timestamp, longer than a page, is followed by the later changes in the SAME run', async () => {
      await seedContacts(1);
      const base = await drain(h.connector, 'contacts', null);
      await h.advance(120_000);
      const burst: string[] = [];
      // a bulk edit: more records than any page (list or search) with one timestamp
      for (let i = 0; i < Math.max(h.pageSize * 2, 10) + 5; i++) burst.push(await h.createContact({ email: `bulk${i}@example.com` }));
      await h.advance(1_000);
      const after = [await h.createContact({ email: 'after1@example.com' }), await h.createContact({ email: 'after2@example.com' })];
      const inc = await drain(h.connector, 'contacts', base.cursor);
      expect(ids(inc)).toEqual(expect.arrayContaining([...burst, ...after]));
    });

    it('an unreadable cursor restarts instead of crashing, and still delivers everything', async () => {
      const created = await seedContacts(3);
      const run = await drain(h.connector, 'contacts', 'definitely-not-a-cursor' as Cursor);
      for (const id of created) expect(ids(run)).toContain(id);
    });

    it('changes after a sync arrive on the next incremental run; a record updated AT the boundary timestamp is delivered', async () => {
      const a = await h.createContact({ email: 'a@example.com' });
      await h.advance(1_000);
      // the clock stays at b's timestamp from here on: the cursor's boundary is "now"
      const b = await h.createContact({ email: 'b@example.com' });
      const first = await drain(h.connector, 'contacts', null);
      const caughtUp = await drain(h.connector, 'contacts', first.cursor);
      // same CRM time as the cursor's boundary: the clock has not moved since the last change
      await h.updateContact(a, { firstname: 'Boundary' });
      const inc = await drain(h.connector, 'contacts', caughtUp.cursor);
      const got = records(inc).filter((r) => r.id === a);
      expect(got.length).toBeGreaterThanOrEqual(1);
      expect((got.at(-1)!.data as ContactData).firstName).toBe('Boundary');
      // later changes and new records too
      await h.advance(5_000);
      await h.updateContact(b, { firstname: 'Later' });
      const c = await h.createContact({ email: 'new@example.com' });
      const inc2 = await drain(h.connector, 'contacts', inc.cursor);
      expect(ids(inc2)).toEqual(expect.arrayContaining([b, c]));
      expect((records(inc2).filter((r) => r.id === b).at(-1)!.data as ContactData).firstName).toBe('Later');
    });

    it('deletes arrive as tombstones', async () => {
      const [a, b] = await seedContacts(2);
      const first = await drain(h.connector, 'contacts', null);
      await h.advance(60_000);
      await h.deleteContact(a!);
      const inc = await drain(h.connector, 'contacts', first.cursor);
      const tomb = records(inc).filter((r) => r.id === a);
      expect(tomb.length).toBeGreaterThanOrEqual(1);
      expect(tomb.at(-1)!.deleted).toBe(true);
      expect(records(inc).some((r) => r.id === b && r.deleted)).toBe(false);
      // a later backfill (e.g. after a reset) also knows the record is gone
      const again = await drain(h.connector, 'contacts', null);
      const latest = records(again).filter((r) => r.id === a).at(-1);
      expect(latest === undefined || latest.deleted).toBe(true);
    });

    it('page-size boundaries: exactly one page, then one more record', async () => {
      const created = await seedContacts(h.pageSize);
      const run = await drain(h.connector, 'contacts', null);
      expect(ids(run).sort()).toEqual([...created].sort());
      await h.advance(1_000);
      const extra = await h.createContact({ email: 'extra@example.com' });
      const inc = await drain(h.connector, 'contacts', run.cursor);
      expect(ids(inc)).toContain(extra);
      for (const p of inc.pages) expect(p.records.length).toBeLessThanOrEqual(Math.max(h.pageSize * 2, 200));
    });

    it('engagements carry the contacts they are associated with', async () => {
      const [a, b] = await seedContacts(2);
      const note = await h.createNote([a!, b!], 'Called about the renewal');
      const run = await drain(h.connector, 'notes', null);
      const r = records(run).find((x) => x.id === note)!;
      expect(r.type).toBe('notes');
      expect([...(r.contactIds ?? [])].sort()).toEqual([a, b].sort());
    });

    it('an injected 429 beyond the retry budget surfaces as rate_limited; nothing is yielded for the failed page', async () => {
      await seedContacts(2);
      await h.inject('rate_limited');
      const e = await expectKind(drain(h.connector, 'contacts', null), 'rate_limited');
      expect(e.details.crm).toBeDefined();
    });

    it('a rejected (expired) token surfaces as auth', async () => {
      await seedContacts(1);
      await h.inject('auth');
      await expectKind(drain(h.connector, 'contacts', null), 'auth');
    });

    it('a malformed 200 surfaces as bad_response', async () => {
      await seedContacts(1);
      await h.inject('bad_response');
      await expectKind(drain(h.connector, 'contacts', null), 'bad_response');
      await h.clearFaults();
      // and the connector recovers once the CRM behaves
      const run = await drain(h.connector, 'contacts', null);
      expect(ids(run).length).toBe(1);
    });

    it('provision is idempotent and writeScores reports per record', async () => {
      const [a] = await seedContacts(1);
      const signal = new AbortController().signal;
      await h.connector.provision(signal);
      await h.connector.provision(signal);
      const res = await h.connector.writeScores(
        [
          { contactId: a!, properties: { satisfaction: '72', health: 'green', scored_at: '2026-01-01T00:00:00.000Z' } },
          { contactId: '999999999', properties: { satisfaction: '10' } },
        ],
        signal,
      );
      expect(res.find((r) => r.contactId === a)).toEqual({ contactId: a, ok: true });
      const bad = res.find((r) => r.contactId === '999999999');
      expect(bad?.ok).toBe(false);
    });

    it('writeScores throws auth on a rejected token instead of failing record by record (nothing else in the run can succeed)', async () => {
      const [a] = await seedContacts(1);
      await h.inject('auth');
      await expectKind(h.connector.writeScores([{ contactId: a!, properties: { satisfaction: '50' } }], new AbortController().signal), 'auth');
    });

    it('whoAmI names the portal', async () => {
      expect(await h.connector.whoAmI()).toEqual({ portal: h.portal });
    });
  });
}
