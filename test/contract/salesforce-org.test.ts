import { afterEach, describe, expect, it } from 'vitest';
import type { ContactData, CrmRecord, Cursor, EngagementData, ObjectType } from '../../src/connectors/types.ts';
import { CrmError } from '../../src/errors.ts';
import { silentLogger, type Logger } from '../../src/log.ts';
import { salesforceHarness, type SalesforceHarness } from './salesforce-harness.ts';

/**
 * The connector on orgs that differ from a fresh one (issue 14): field-level security, Shared
 * Activities off, objects the org lacks, and how orgs log calls, group meetings and emails.
 * jsforce against the emulator over HTTP.
 */
let h: SalesforceHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});
const signal = new AbortController().signal;

async function drain(type: ObjectType, cursor: Cursor | null = null) {
  const records: CrmRecord[] = [];
  for await (const p of h!.connector.changes(type, cursor, signal)) records.push(...p.records);
  return records;
}
const contact = (email: string) => h!.sandbox.data.create('Contact', { LastName: 'x', Email: email, MobilePhone: '+1 415 555 0100', LeadSource: 'Web' }).Id as string;
const task = (fields: Record<string, string | number | boolean | null>) => h!.sandbox.data.create('Task', { Status: 'Completed', IsClosed: true, ...fields }).Id as string;

describe('salesforce field-level security and optional features', () => {
  it('fields the integration user cannot see are read as empty, not a failed stream', async () => {
    h = await salesforceHarness({}, { org: { hiddenFields: ['Contact.MobilePhone', 'Contact.LeadSource', 'Task.CallDisposition'] } });
    const c = contact('a@example.com');
    task({ TaskSubtype: 'Call', Type: 'Call', WhoId: c, CallDisposition: 'Left voicemail', CallDurationInSeconds: 60 });
    const contacts = await drain('contacts');
    expect(contacts.map((r) => r.id)).toEqual([c]);
    expect(contacts[0]!.data).toMatchObject({ email: 'a@example.com', phone: null });
    const calls = await drain('calls');
    expect(calls).toHaveLength(1);
    // the disposition is hidden: the call's outcome falls back to its Status
    expect((calls[0]!.data as EngagementData).outcome).toBe('Completed');
  });

  it('a Contact date field an admin maps as the churn date is read into churnedAt; one the org lacks is left out with a warning, not a failed stream (issue 17)', async () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (o: unknown) => void warnings.push(JSON.stringify(o)), child: () => logger } as Logger;
    h = await salesforceHarness({ churnDateField: 'Churn_Date__c', logger }, { org: { customFields: ['Contact.Churn_Date__c'] } });
    const left = h.sandbox.data.create('Contact', { LastName: 'x', Email: 'left@example.com', Churn_Date__c: '2025-11-30' }).Id as string;
    const stays = contact('stays@example.com');
    const byId = new Map((await drain('contacts')).map((r) => [r.id, r.data as ContactData]));
    expect(byId.get(left)?.churnedAt).toBe(Date.UTC(2025, 10, 30));
    expect(byId.get(stays)?.churnedAt).toBeNull();
    expect(warnings).toEqual([]);
    await h.close();
    // an org without the field: every contact still arrives, none with a churn date, and the admin is told
    h = await salesforceHarness({ churnDateField: 'Churn_Date__c', logger });
    const c = contact('a@example.com');
    const records = await drain('contacts');
    expect(records.map((r) => r.id)).toEqual([c]);
    expect((records[0]!.data as ContactData).churnedAt).toBeNull();
    expect(warnings.join('\n')).toContain('CHURN_DATE_FIELD_MISSING');
  });

  it('an object the org lacks is an empty stream; without Shared Activities contacts come from WhoId', async () => {
    h = await salesforceHarness({}, { org: { missingObjects: ['Survey_Response__c'], sharedActivities: false } });
    const c = contact('b@example.com');
    const t = task({ TaskSubtype: 'Call', Type: 'Call', WhoId: c });
    h.sandbox.data.create('TaskWhoRelation', { TaskId: t, RelationId: c, Type: 'Contact' });
    const e = h.sandbox.data.create('Event', { Subject: 'QBR', StartDateTime: Date.UTC(2026, 0, 2), DurationInMinutes: 30, WhoId: c, IsChild: false }).Id as string;
    expect(await drain('feedback_submissions')).toEqual([]);
    const calls = await drain('calls');
    expect(calls.map((r) => [r.id, r.contactIds])).toEqual([[t, [c]]]);
    expect((await drain('meetings')).map((r) => [r.id, r.contactIds])).toEqual([[e, [c]]]);
  });

  it('a field hidden after it was described: the query answers INVALID_FIELD, the connector describes again and continues', async () => {
    h = await salesforceHarness();
    contact('c@example.com');
    expect((await drain('contacts'))[0]!.data).toMatchObject({ email: 'c@example.com' });
    h.sandbox.configure({ hiddenFields: ['Contact.Email'] });
    const again = await drain('contacts');
    expect(again).toHaveLength(1);
    expect(again[0]!.data).toMatchObject({ email: null });
    expect(h.sandbox.stats().byRoute['GET /services/data/vXX.X/sobjects/Contact/describe']).toBe(2);
  });

  it('provision refuses score fields the integration user can read but not edit', async () => {
    h = await salesforceHarness({}, { org: { readOnlyFields: ['Contact.Rapport_Health__c'] } });
    const e = await h.connector.provision(signal).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CrmError);
    expect(e).toMatchObject({ kind: 'forbidden', details: { code: 'FIELDS_READ_ONLY' } });
    expect((e as CrmError).message).toContain('Rapport_Health__c');
    h.sandbox.configure({ readOnlyFields: [] });
    await expect(h.connector.provision(signal)).resolves.toBeUndefined();
  });
});

describe('salesforce activity mapping', () => {
  it('a dialer call logged as a completed Task of Type Call counts as a call; an open one is a task', async () => {
    h = await salesforceHarness();
    const c = contact('d@example.com');
    const native = task({ TaskSubtype: 'Call', Type: 'Call', WhoId: c, CallDurationInSeconds: 90 });
    const dialer = task({ TaskSubtype: 'Task', Type: 'Call', WhoId: c, Subject: 'Call logged by dialer' });
    const todo = task({ TaskSubtype: 'Task', Type: 'Call', WhoId: c, Status: 'Not Started', IsClosed: false });
    const other = task({ TaskSubtype: 'Task', Type: 'Other', WhoId: c, Status: 'Not Started', IsClosed: false });
    expect((await drain('calls')).map((r) => r.id).sort()).toEqual([native, dialer].sort());
    expect((await drain('tasks')).map((r) => r.id).sort()).toEqual([todo, other].sort());
  });

  it("an invitee's copy of a group event (IsChild) is not counted again", async () => {
    h = await salesforceHarness();
    const c = contact('e@example.com');
    const parent = h.sandbox.data.create('Event', { Subject: 'Kick-off', StartDateTime: Date.UTC(2026, 0, 2), WhoId: c, IsChild: false }).Id as string;
    h.sandbox.data.create('Event', { Subject: 'Kick-off', StartDateTime: Date.UTC(2026, 0, 2), WhoId: c, IsChild: true });
    expect((await drain('meetings')).map((r) => r.id)).toEqual([parent]);
  });

  it('without Enhanced Email (no EmailMessage), emails logged as Tasks count as emails', async () => {
    h = await salesforceHarness({}, { org: { missingObjects: ['EmailMessage'] } });
    const c = contact('f@example.com');
    const mail = task({ TaskSubtype: 'Email', Type: 'Email', WhoId: c, Subject: 'Email: Renewal', Description: 'Hi, about the renewal', CompletedDateTime: Date.UTC(2026, 0, 3) });
    task({ TaskSubtype: 'Task', Type: 'Other', WhoId: c });
    const emails = await drain('emails');
    expect(emails.map((r) => [r.id, r.contactIds])).toEqual([[mail, [c]]]);
    expect(emails[0]!.data).toMatchObject({ at: Date.UTC(2026, 0, 3), text: 'Email: Renewal\nHi, about the renewal' });
  });
});

describe('salesforce child subqueries', () => {
  it('an Account with 300 contacts keeps all of them: the nested result is paged through its own nextRecordsUrl', async () => {
    h = await salesforceHarness();
    const account = h.sandbox.data.create('Account', { Name: 'Big Co' }).Id as string;
    const small = h.sandbox.data.create('Account', { Name: 'Small Co' }).Id as string;
    const ids = Array.from({ length: 300 }, (_, i) => h!.sandbox.data.create('Contact', { LastName: `c${i}`, AccountId: account }).Id as string);
    const one = h.sandbox.data.create('Contact', { LastName: 'solo', AccountId: small }).Id as string;
    const companies = await drain('companies');
    expect(companies.find((r) => r.id === account)!.contactIds).toEqual([...ids].sort());
    expect(companies.find((r) => r.id === small)!.contactIds).toEqual([one]);
    expect(h.sandbox.stats().byRoute['GET /services/data/vXX.X/query/{locator}']).toBeGreaterThanOrEqual(1);
  });

  it('child rows count toward the batch: pages hold fewer parents, and every parent arrives whole', async () => {
    h = await salesforceHarness();
    const accounts = Array.from({ length: 4 }, (_, i) => h!.sandbox.data.create('Account', { Name: `A${i}` }).Id as string);
    for (const a of accounts) for (let i = 0; i < 150; i++) h.sandbox.data.create('Contact', { LastName: `c${i}`, AccountId: a });
    const pages: number[] = [];
    for await (const p of h.connector.changes('companies', null, signal)) pages.push(p.records.length);
    expect(pages.reduce((a, b) => a + b, 0)).toBe(4);
    expect(pages.length).toBeGreaterThan(1);
    const companies = await drain('companies');
    expect(companies.map((r) => r.contactIds?.length)).toEqual([150, 150, 150, 150]);
  });

  it('a deleted contact role that queryAll still lists does not link the contact to the deal', async () => {
    h = await salesforceHarness();
    const [a, b] = [contact('g@example.com'), contact('h@example.com')];
    const opp = h.sandbox.data.create('Opportunity', { Name: 'Renewal', StageName: 'Prospecting', IsClosed: false, IsWon: false }).Id as string;
    h.sandbox.data.create('OpportunityContactRole', { OpportunityId: opp, ContactId: a, IsPrimary: true });
    const gone = h.sandbox.data.create('OpportunityContactRole', { OpportunityId: opp, ContactId: b, IsPrimary: false }).Id as string;
    h.sandbox.data.remove('OpportunityContactRole', gone);
    expect((await drain('deals')).map((r) => [r.id, r.contactIds])).toEqual([[opp, [a]]]);
  });
});

describe('salesforce query timeouts', () => {
  it('QUERY_TIMEOUT narrows the SystemModstamp window instead of failing the run: backfill and incremental read everything', async () => {
    h = await salesforceHarness({ queryLimit: 2000 }, { org: { queryTimeoutRows: 60 } });
    const now = h.sandbox.clock.now();
    const ids = Array.from({ length: 250 }, (_, i) => h!.sandbox.data.create('Contact', { LastName: `c${i}` }, { at: now - (i + 1) * 3_600_000 * 7 }).Id as string);
    const records: CrmRecord[] = [];
    let cursor: Cursor | null = null;
    for await (const p of h.connector.changes('contacts', null, signal)) {
      records.push(...p.records);
      cursor = p.next;
    }
    expect(new Set(records.map((r) => r.id))).toEqual(new Set(ids));
    // 100 changes in one minute: the incremental pass (with its lookback) times out as a whole, then reads them in windows
    await h.advance(3_600_000);
    const changed = ids.slice(0, 100);
    for (const [i, id] of changed.entries()) {
      h.sandbox.data.update('Contact', id, { FirstName: `n${i}` });
      if (i % 10 === 9) await h.advance(1_000);
    }
    const again = await drain('contacts', cursor);
    expect(new Set(again.map((r) => r.id))).toEqual(new Set(changed));
  });

  it('a query that times out even for one second of changes fails the stream as unavailable', async () => {
    // REST windowing is the point here: a COUNT() timing out would send the backfill through bulk
    h = await salesforceHarness({ queryLimit: 2000, bulkThreshold: null }, { org: { queryTimeoutRows: 5 } });
    for (let i = 0; i < 10; i++) h.sandbox.data.create('Contact', { LastName: `same-second-${i}` });
    await expect(drain('contacts')).rejects.toMatchObject({ kind: 'unavailable', details: { code: 'QUERY_TIMEOUT' } });
  });
});

describe('salesforce deletes beyond the recycle bin', () => {
  it('a record purged past the recycle bin is tombstoned by the periodic ids-only sweep; its links go too', async () => {
    const { join } = await import('node:path');
    const { createStore } = await import('../../src/store/index.ts');
    const { syncStream } = await import('../../src/sync/sync-stream.ts');
    const { silentLogger } = await import('../../src/log.ts');
    const { tempDir } = await import('../support/temp-dir.ts');
    h = await salesforceHarness({ sweepEveryMs: 24 * 3_600_000 }, { sessionTimeoutMs: 30 * 86_400_000 });
    const dir = tempDir();
    const store = createStore({ path: join(dir.path, 'r.db'), now: () => h!.sandbox.clock.now() });
    try {
      const [keep, purged] = [contact('keep@example.com'), contact('purged@example.com')];
      const call = task({ TaskSubtype: 'Call', Type: 'Call', WhoId: purged });
      const deps = { store, connector: h.connector, portal: h.portal, logger: silentLogger, now: () => h!.sandbox.clock.now() };
      for (const type of ['contacts', 'calls'] as const) expect((await syncStream(deps, type, { signal })).status).toBe('ok');
      expect((await store.records.counts(h.portal)).contacts).toEqual({ live: 2, deleted: 0 });
      // deleted, and the recycle bin emptied (or a hard delete): queryAll never shows it
      await h.advance(3_600_000);
      h.sandbox.data.remove('Contact', purged);
      h.sandbox.data.remove('Task', call);
      h.sandbox.data.purge('Contact', purged);
      h.sandbox.data.purge('Task', call);
      await h.advance(3_600_000);
      await syncStream(deps, 'contacts', { signal });
      expect((await store.records.get(h.portal, 'contacts', purged))?.deleted).toBe(false); // no sweep yet: not due
      const queryAlls = () => h!.sandbox.stats().byRoute['GET /services/data/vXX.X/queryAll'] ?? 0;
      let before = queryAlls();
      // one queryAll per stream run; a sweep adds one more
      const idsQueries = () => queryAlls() - before;
      await h.advance(24 * 3_600_000);
      for (const type of ['contacts', 'calls'] as const) expect((await syncStream(deps, type, { signal })).status).toBe('ok');
      // contacts: the pass and the ids sweep; calls: the pass, the relation-drift read (TaskWhoRelation), the ids sweep
      expect(idsQueries()).toBe(2 + 3);
      expect((await store.records.get(h.portal, 'contacts', purged))?.deleted).toBe(true);
      expect((await store.records.get(h.portal, 'contacts', keep))?.deleted).toBe(false);
      expect((await store.records.get(h.portal, 'calls', call))?.deleted).toBe(true);
      expect(await store.records.linkedToContact(h.portal, purged)).toEqual([]);
      // the cache equals the org
      expect((await store.records.counts(h.portal)).contacts).toEqual({ live: h.sandbox.data.count('Contact'), deleted: 1 });
      // the next run does not sweep again the same day
      before = queryAlls();
      await syncStream(deps, 'contacts', { signal });
      expect(idsQueries()).toBe(1);
    } finally {
      await store.close();
      dir.cleanup();
    }
  });
});

describe('salesforce delete sweep on a big org', () => {
  it('a sweep the org times out is skipped for a day, not a failed stream every pass', async () => {
    h = await salesforceHarness({ sweepEveryMs: 3_600_000, queryLimit: 2000 }, { sessionTimeoutMs: 30 * 86_400_000 });
    for (let i = 0; i < 30; i++) h.sandbox.data.create('Contact', { LastName: `c${i}` }, { at: h.sandbox.clock.now() - (i + 1) * 86_400_000 });
    let cursor: Cursor | null = null;
    for await (const p of h.connector.changes('contacts', null, signal)) cursor = p.next;
    // incremental passes read few rows; listing every id is too much for this org
    h.sandbox.configure({ queryTimeoutRows: 10 });
    await h.advance(2 * 3_600_000);
    const pages: { liveIds?: readonly string[]; next: Cursor }[] = [];
    for await (const p of h.connector.changes('contacts', cursor, signal)) pages.push(p);
    expect(pages.at(-1)?.liveIds).toBeUndefined();
    // the sweep is not attempted again within the next hour
    const sweptCursor = pages.at(-1)!.next;
    const before = h.sandbox.stats().byRoute['GET /services/data/vXX.X/queryAll'] ?? 0;
    await h.advance(10 * 60_000);
    for await (const p of h.connector.changes('contacts', sweptCursor, signal)) void p;
    expect((h.sandbox.stats().byRoute['GET /services/data/vXX.X/queryAll'] ?? 0) - before).toBe(1);
  });
});

describe('salesforce relation drift', () => {
  it('a contact role added or removed later (the deal itself unchanged) is picked up by the daily sweep', async () => {
    const { join } = await import('node:path');
    const { createStore } = await import('../../src/store/index.ts');
    const { syncStream } = await import('../../src/sync/sync-stream.ts');
    const { silentLogger } = await import('../../src/log.ts');
    const { tempDir } = await import('../support/temp-dir.ts');
    h = await salesforceHarness({}, { sessionTimeoutMs: 30 * 86_400_000 });
    const dir = tempDir();
    const store = createStore({ path: join(dir.path, 'r.db'), now: () => h!.sandbox.clock.now() });
    try {
      const [a, b] = [contact('i@example.com'), contact('j@example.com')];
      const opp = h.sandbox.data.create('Opportunity', { Name: 'Expansion', StageName: 'Prospecting', IsClosed: false, IsWon: false }).Id as string;
      const roleA = h.sandbox.data.create('OpportunityContactRole', { OpportunityId: opp, ContactId: a, IsPrimary: true }).Id as string;
      const deps = { store, connector: h.connector, portal: h.portal, logger: silentLogger, now: () => h!.sandbox.clock.now() };
      await syncStream(deps, 'deals', { signal });
      const linked = async (c: string) => (await store.records.linkedToContact(h!.portal, c)).some((r) => r.id === opp);
      expect([await linked(a), await linked(b)]).toEqual([true, false]);
      // another deal changes: the cursor moves past this one
      const other = h.sandbox.data.create('Opportunity', { Name: 'Other', StageName: 'Prospecting', IsClosed: false, IsWon: false }).Id as string;
      await h.advance(3_600_000);
      h.sandbox.data.update('Opportunity', other, { Name: 'Other (renamed)' });
      await syncStream(deps, 'deals', { signal });
      await h.advance(3_600_000);
      const stamp = h.sandbox.data.get('Opportunity', opp)!.SystemModstamp;
      h.sandbox.data.create('OpportunityContactRole', { OpportunityId: opp, ContactId: b, IsPrimary: false });
      h.sandbox.data.remove('OpportunityContactRole', roleA);
      expect(h.sandbox.data.get('Opportunity', opp)!.SystemModstamp).toBe(stamp);
      await syncStream(deps, 'deals', { signal });
      expect([await linked(a), await linked(b)]).toEqual([true, false]); // incremental passes cannot see it
      await h.advance(24 * 3_600_000);
      expect((await syncStream(deps, 'deals', { signal })).status).toBe('ok');
      expect([await linked(a), await linked(b)]).toEqual([false, true]);
    } finally {
      await store.close();
      dir.cleanup();
    }
  });
});

describe('salesforce late commits: getUpdated latestDateCovered', () => {
  async function run(type: ObjectType, cursor: Cursor | null) {
    const records: CrmRecord[] = [];
    let next = cursor;
    for await (const p of h!.connector.changes(type, cursor, signal)) {
      records.push(...p.records);
      next = p.next;
    }
    return { ids: records.map((r) => r.id), next };
  }

  it('a row a long transaction commits minutes after its stamp is read by the next pass (a fixed 60 s lookback missed it)', async () => {
    h = await salesforceHarness();
    const first = contact('first@example.com');
    const backfill = await run('contacts', null);
    expect(backfill.ids).toEqual([first]);

    // a bulk load starts; its rows are stamped now but commit 10 minutes later
    await h.advance(60_000);
    const tx = h.sandbox.beginLongTransaction();
    await h.advance(5 * 60_000);
    const meanwhile = contact('meanwhile@example.com');
    const pass1 = await run('contacts', backfill.next);
    expect(pass1.ids).toContain(meanwhile);
    await h.advance(5 * 60_000);
    const late = h.sandbox.data.create('Contact', { LastName: 'late', Email: 'late@example.com' }, { at: tx.at }).Id as string;
    tx.commit();
    await h.advance(60_000);

    const pass2 = await run('contacts', pass1.next);
    expect(pass2.ids).toContain(late);
    expect(h.sandbox.stats().byRoute['GET /services/data/vXX.X/sobjects/Contact/updated']).toBe(3);

    // once nothing is open the mark follows the clock: a quiet pass re-reads only the cursor's own second
    await h.advance(10 * 60_000);
    const pass3 = await run('contacts', pass2.next);
    expect(pass3.ids).toEqual([meanwhile]);
  });

  it('the streams of one pass share one Get Updated call (the mark is the instance\'s): a quiet pass costs one call more, not one per stream', async () => {
    h = await salesforceHarness();
    const types: ObjectType[] = ['contacts', 'companies', 'deals', 'tickets', 'meetings', 'calls'];
    const cursors = new Map<ObjectType, Cursor | null>();
    for (const t of types) cursors.set(t, (await run(t, null)).next);
    const updatedCalls = () => Object.entries(h!.sandbox.stats().byRoute).filter(([k]) => /\/updated$/.test(k)).reduce((n, [, v]) => n + v, 0);
    expect(updatedCalls()).toBe(1);
    await h.advance(60_000);
    for (const t of types) await run(t, cursors.get(t) ?? null);
    expect(updatedCalls()).toBe(2);
  });

  it('the emulator answers latestDateCovered as Salesforce does: at most end, the open transaction start, whole minutes; bad windows refused', async () => {
    h = await salesforceHarness();
    const now = h.sandbox.clock.now();
    const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
    const token = { access_token: h.sandbox.sessions.issue().accessToken };
    const get = async (what: string, start: number, end: number) => {
      const res = await fetch(`${h!.baseUrl}/services/data/v62.0/sobjects/Contact/${what}?start=${encodeURIComponent(iso(start))}&end=${encodeURIComponent(iso(end))}`, { headers: { authorization: `Bearer ${token.access_token}` } });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const c = contact('x@example.com');
    await h.advance(90_000);
    const end = h.sandbox.clock.now();
    expect(await get('updated', now - 60_000, end)).toEqual({ status: 200, body: { ids: [c], latestDateCovered: new Date(Math.floor(end / 60_000) * 60_000).toISOString().replace('Z', '+0000') } });
    const tx = h.sandbox.beginLongTransaction();
    await h.advance(180_000);
    const open = await get('updated', now, h.sandbox.clock.now());
    expect(Date.parse(String(open.body.latestDateCovered).replace('+0000', 'Z'))).toBe(Math.floor(tx.at / 60_000) * 60_000);
    tx.commit();
    const deleted = await get('deleted', now, h.sandbox.clock.now());
    expect(deleted.body).toMatchObject({ deletedRecords: [] });
    expect((await get('updated', now, now - 1_000)).body).toEqual([expect.objectContaining({ errorCode: 'INVALID_REPLICATION_DATE' })]);
    expect((await get('updated', now - 31 * 86_400_000, now)).status).toBe(400);
    expect((await get('deleted', now - 16 * 86_400_000, now)).status).toBe(400);
  });
});

describe('salesforce long-running requests', () => {
  it('the emulator refuses a request while the org runs its limit of long requests (REQUEST_LIMIT_EXCEEDED ConcurrentPerOrgLongTxn); short ones are unlimited', async () => {
    h = await salesforceHarness({}, { org: { responseDelayMs: 400, longRequests: { max: 2, afterMs: 100 } } });
    const { accessToken } = h.sandbox.sessions.issue();
    const call = () => fetch(`${h!.baseUrl}/services/data/v62.0/limits`, { headers: { authorization: `Bearer ${accessToken}` } });
    const first = [call(), call()];
    await new Promise((r) => setTimeout(r, 200)); // both now run past 100 ms: long
    const third = await call();
    expect(third.status).toBe(403);
    expect(await third.json()).toEqual([{ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'ConcurrentPerOrgLongTxn Limit exceeded.' }]);
    expect((await Promise.all(first)).map((r) => r.status)).toEqual([200, 200]);
    // short requests run side by side without limit
    h.sandbox.configure({ responseDelayMs: 0 });
    expect((await Promise.all(Array.from({ length: 10 }, call))).map((r) => r.status)).toEqual(Array(10).fill(200));
  });

  it('the connector rides out the limit: parallel streams over a slow org all complete, refused calls retried', async () => {
    // every request counts as long from its start (afterMs 0), so the third of the connector's four
    // concurrent calls is refused whatever the machine's load; retries as the product configures
    // them (backoff, several attempts), not the harness's 2 × 1 ms
    h = await salesforceHarness({ concurrency: 4, retry: { retries: 10, baseMs: 50, maxMs: 400 } }, { org: { responseDelayMs: 150, longRequests: { max: 2, afterMs: 0 } } });
    for (let i = 0; i < 5; i++) contact(`p${i}@example.com`);
    const types: ObjectType[] = ['contacts', 'companies', 'deals', 'tickets', 'meetings', 'calls'];
    const runs = await Promise.all(types.map((t) => drain(t)));
    expect(runs[0]!).toHaveLength(5);
    expect(h.sandbox.stats().rateLimited).toBeGreaterThan(0);
    expect(h.connector.stats().rateLimited).toBe(h.sandbox.stats().rateLimited);
  });

  it('a cancelled run closes its HTTP request at the org at once, not when the answer would come', async () => {
    h = await salesforceHarness({ timeoutMs: 30_000 });
    contact('slow@example.com');
    await h.connector.whoAmI(); // the org id is known: the run's first call is its own (describe)
    h.sandbox.configure({ responseDelayMs: 3_000 });
    const ac = new AbortController();
    const run = (async () => {
      for await (const p of h!.connector.changes('contacts', null, ac.signal)) void p;
    })();
    for (let i = 0; i < 100 && h.sandbox.stats().inFlight === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(h.sandbox.stats().inFlight).toBe(1);
    const abortedAt = Date.now();
    ac.abort(new Error('shutdown'));
    await expect(run).rejects.toThrow('shutdown');
    for (let i = 0; i < 100 && h.sandbox.stats().inFlight > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(h.sandbox.stats().inFlight).toBe(0);
    expect(Date.now() - abortedAt).toBeLessThan(1_000);
  });
});
