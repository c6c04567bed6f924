import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClock } from '../../../src/sandbox/hubspot/clock.ts';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';

/** The emulator answers as a customised, real org does (issue 14): each switch over real HTTP. */

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
let started: Awaited<ReturnType<typeof startSalesforceSandbox>>;
let sandbox: SalesforceSandbox;
let token: string;

beforeEach(async () => {
  started = await startSalesforceSandbox({ clock: createClock({ frozenAt: T0 }) });
  sandbox = started.sandbox;
  ({ accessToken: token } = sandbox.sessions.issue());
});
afterEach(() => started.close());

const call = (path: string, init: RequestInit = {}) =>
  fetch(`${started.baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) } });
const patch = (records: Record<string, unknown>[]) => call('/services/data/v62.0/composite/sobjects', { method: 'PATCH', body: JSON.stringify({ allOrNone: false, records }) });
type SaveResult = { id?: string; success: boolean; errors: { statusCode: string; message: string }[] };
const contacts = (n: number) => Array.from({ length: n }, (_, i) => sandbox.data.create('Contact', { LastName: `c${i}` }).Id as string);
const score = (id: string, v = 50) => ({ attributes: { type: 'Contact' }, id, Rapport_Satisfaction__c: v });

describe('Salesforce emulator org switches', () => {
  it('answers an API version the org does not serve with 404 NOT_FOUND; served versions work', async () => {
    for (const v of ['v20.0', 'v30.0', 'v99.0', 'v62.5']) {
      const res = await call(`/services/data/${v}/limits`);
      expect(res.status, v).toBe(404);
      expect(await res.json()).toEqual([{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
    }
    expect((await call('/services/data/v31.0/limits')).status).toBe(200);
    expect((await call('/services/data/v66.0/limits')).status).toBe(200);
    sandbox.configure({ apiVersions: { min: 31, max: 60 } });
    expect((await call('/services/data/v62.0/limits')).status).toBe(404);
  });

  it('rejects every occurrence of an id named twice in one collection, and updates neither', async () => {
    const [a, b] = contacts(2) as [string, string];
    const res = await patch([score(a, 10), score(b, 20), score(a, 30)]);
    expect(res.status).toBe(200);
    const results = (await res.json()) as SaveResult[];
    expect(results.map((r) => [r.success, r.errors[0]?.statusCode])).toEqual([
      [false, 'DUPLICATE_VALUE'],
      [true, undefined],
      [false, 'DUPLICATE_VALUE'],
    ]);
    expect(sandbox.data.get('Contact', a)!.Rapport_Satisfaction__c).toBeUndefined();
    expect(sandbox.data.get('Contact', b)!.Rapport_Satisfaction__c).toBe(20);
    // the 15-character form names the same record
    const dup15 = (await (await patch([score(a), score(a.slice(0, 15))])).json()) as SaveResult[];
    expect(dup15.map((r) => r.errors[0]?.statusCode)).toEqual(['DUPLICATE_VALUE', 'DUPLICATE_VALUE']);
  });

  it('a validation rule rejects its share of Contact updates per record with the admin message; the others are written', async () => {
    const ids = contacts(400);
    sandbox.configure({ validationRule: { share: 0.05, message: 'Scores may only change on active customers' } });
    const results = [
      ...((await (await patch(ids.slice(0, 200).map((id) => score(id)))).json()) as SaveResult[]),
      ...((await (await patch(ids.slice(200).map((id) => score(id)))).json()) as SaveResult[]),
    ];
    const rejected = results.filter((r) => !r.success);
    expect(rejected.length).toBeGreaterThan(5);
    expect(rejected.length).toBeLessThan(40);
    expect(rejected.every((r) => r.errors[0]?.statusCode === 'FIELD_CUSTOM_VALIDATION_EXCEPTION' && r.errors[0].message === 'Scores may only change on active customers')).toBe(true);
    ids.forEach((id, i) => expect(sandbox.data.get('Contact', id)!.Rapport_Satisfaction__c ?? null).toBe(results[i]!.success ? 50 : null));
    // deterministic: the same records are rejected again
    const again = (await (await patch(ids.slice(0, 200).map((id) => score(id, 60)))).json()) as SaveResult[];
    expect(again.map((r) => r.success)).toEqual(results.slice(0, 200).map((r) => r.success));
  });

  it('a trigger over an Apex governor limit fails the whole call with the exception, and writes nothing', async () => {
    const ids = contacts(60);
    sandbox.configure({ apexRecordLimit: 50 });
    const whole = (await (await patch(ids.map((id) => score(id)))).json()) as SaveResult[];
    expect(whole).toHaveLength(60);
    expect(whole.every((r) => !r.success && r.errors[0]?.statusCode === 'CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY' && r.errors[0].message.includes('System.LimitException'))).toBe(true);
    expect(ids.every((id) => sandbox.data.get('Contact', id)!.Rapport_Satisfaction__c === undefined)).toBe(true);
    const small = (await (await patch(ids.slice(0, 50).map((id) => score(id)))).json()) as SaveResult[];
    expect(small.every((r) => r.success)).toBe(true);
  });

  it('field-level security hides fields from describe, SOQL and updates; read-only fields are not updateable', async () => {
    const [a] = contacts(1) as [string];
    sandbox.configure({ hiddenFields: ['Contact.MobilePhone'], readOnlyFields: ['Contact.Rapport_Health__c'] });
    const d = (await (await call('/services/data/v62.0/sobjects/Contact/describe')).json()) as { fields: { name: string; updateable: boolean }[] };
    expect(d.fields.some((f) => f.name === 'MobilePhone')).toBe(false);
    expect(d.fields.find((f) => f.name === 'Rapport_Health__c')?.updateable).toBe(false);
    const q = await call(`/services/data/v62.0/query?q=${encodeURIComponent('SELECT Id, MobilePhone FROM Contact')}`);
    expect(q.status).toBe(400);
    expect(await q.json()).toEqual([{ errorCode: 'INVALID_FIELD', message: "No such column 'MobilePhone' on entity 'Contact'." }]);
    const w = (await (await patch([{ attributes: { type: 'Contact' }, id: a, Rapport_Health__c: 'red' }])).json()) as SaveResult[];
    expect(w[0]!.errors[0]?.statusCode).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');
  });

  it('without Shared Activities the relation objects and relationships do not exist; a missing object is 404 / INVALID_TYPE', async () => {
    sandbox.configure({ sharedActivities: false, missingObjects: ['EmailMessage'] });
    expect((await call('/services/data/v62.0/sobjects/TaskWhoRelation/describe')).status).toBe(404);
    const task = (await (await call('/services/data/v62.0/sobjects/Task/describe')).json()) as { childRelationships: { relationshipName: string }[] };
    expect(task.childRelationships.map((r) => r.relationshipName)).not.toContain('TaskWhoRelations');
    const sub = await call(`/services/data/v62.0/query?q=${encodeURIComponent('SELECT Id, (SELECT RelationId FROM TaskWhoRelations) FROM Task')}`);
    expect(sub.status).toBe(400);
    expect(((await sub.json()) as { errorCode: string }[])[0]!.errorCode).toBe('INVALID_TYPE');
    const email = await call(`/services/data/v62.0/query?q=${encodeURIComponent('SELECT Id FROM EmailMessage')}`);
    expect(((await email.json()) as { errorCode: string }[])[0]!.errorCode).toBe('INVALID_TYPE');
    expect((await call('/services/data/v62.0/sobjects/EmailMessage/describe')).status).toBe(404);
  });

  it('pages children through nested locators, counts child rows toward the batch, and queryAll shows deleted children', async () => {
    const big = sandbox.data.create('Account', { Name: 'Big' }).Id as string;
    const other = sandbox.data.create('Account', { Name: 'Other' }).Id as string;
    for (let i = 0; i < 450; i++) sandbox.data.create('Contact', { LastName: `c${i}`, AccountId: big });
    const gone = sandbox.data.create('Contact', { LastName: 'gone', AccountId: other }).Id as string;
    sandbox.data.create('Contact', { LastName: 'kept', AccountId: other });
    sandbox.data.remove('Contact', gone);
    const soql = encodeURIComponent('SELECT Id, (SELECT Id, IsDeleted FROM Contacts) FROM Account ORDER BY Id');
    type Nested = { totalSize: number; done: boolean; nextRecordsUrl?: string; records: { Id: string; IsDeleted: boolean }[] };
    type Page = { done: boolean; nextRecordsUrl?: string; records: { Id: string; Contacts: Nested | null }[] };
    const first = (await (await call(`/services/data/v62.0/query?q=${soql}`, { headers: { 'Sforce-Query-Options': 'batchSize=200' } })).json()) as Page;
    // 1 parent + 200 inline children fill the batch of 200: one parent per page
    expect(first.records.map((r) => r.Id)).toEqual([big]);
    const nested = first.records[0]!.Contacts!;
    expect([nested.totalSize, nested.done, nested.records.length]).toEqual([450, false, 200]);
    expect(nested.nextRecordsUrl).toMatch(/^\/services\/data\/v62\.0\/query\/01g\w+-200$/);
    const second = (await (await call(nested.nextRecordsUrl!)).json()) as Nested;
    expect([second.done, second.records.length]).toEqual([false, 200]);
    const third = (await (await call(second.nextRecordsUrl!)).json()) as Nested;
    expect([third.done, third.records.length, third.nextRecordsUrl]).toEqual([true, 50, undefined]);
    const rest = (await (await call(first.nextRecordsUrl!)).json()) as Page;
    expect(rest.records.map((r) => [r.Id, r.Contacts?.records.length])).toEqual([[other, 1]]);
    // a made-up offset is not a locator
    expect((await call(nested.nextRecordsUrl!.replace(/-200$/, '-7'))).status).toBe(400);
    const all = (await (await call(`/services/data/v62.0/queryAll?q=${encodeURIComponent(`SELECT Id, (SELECT Id, IsDeleted FROM Contacts) FROM Account WHERE Id = '${other}'`)}`)).json()) as Page;
    expect(all.records[0]!.Contacts!.records.map((r) => r.IsDeleted).sort()).toEqual([false, true]);
  });

  it('a query matching more rows than the org can scan in time answers 400 QUERY_TIMEOUT; a narrower one passes', async () => {
    contacts(30);
    sandbox.configure({ queryTimeoutRows: 20 });
    const wide = await call(`/services/data/v62.0/queryAll?q=${encodeURIComponent('SELECT Id FROM Contact LIMIT 5')}`);
    expect(wide.status).toBe(400);
    expect(await wide.json()).toEqual([{ errorCode: 'QUERY_TIMEOUT', message: 'Your query request was running for too long.' }]);
    const narrow = await call(`/services/data/v62.0/queryAll?q=${encodeURIComponent("SELECT Id FROM Contact WHERE LastName = 'c1'")}`);
    expect(narrow.status).toBe(200);
  });
});
