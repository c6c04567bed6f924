import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClock } from '../../../src/sandbox/hubspot/clock.ts';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const APP = { clientId: 'cid', clientSecret: 'secret' };

let started: Awaited<ReturnType<typeof startSalesforceSandbox>>;
let sandbox: SalesforceSandbox;
let base: string;
let token: string;
let refreshToken: string;
const clock = createClock({ frozenAt: T0 });

beforeEach(async () => {
  clock.set(T0);
  started = await startSalesforceSandbox({ clock, oauth: APP, dailyLimit: 1_000 });
  sandbox = started.sandbox;
  base = started.baseUrl;
  ({ accessToken: token, refreshToken } = sandbox.sessions.issue());
});
afterEach(() => started.close());

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
const q = (soql: string, all = false) => `/services/data/v62.0/${all ? 'queryAll' : 'query'}?q=${encodeURIComponent(soql)}`;
const form = (body: Record<string, string>) =>
  fetch(`${base}/services/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });

describe('Salesforce emulator over HTTP', () => {
  it('answers an unknown request with 501 naming it, as a Salesforce error array', async () => {
    const res = await get('/services/data/v62.0/sobjects/Contact/listviews');
    expect(res.status).toBe(501);
    expect(await res.json()).toEqual([{ errorCode: 'NOT_IMPLEMENTED', message: expect.stringContaining('GET /services/data/v62.0/sobjects/Contact/listviews') }]);
  });

  it('rejects a missing or expired token with 401 INVALID_SESSION_ID; JSON content type and the usage header on answers', async () => {
    const anon = await fetch(`${base}${q('SELECT Id FROM Contact')}`);
    expect(anon.status).toBe(401);
    expect(await anon.json()).toEqual([{ errorCode: 'INVALID_SESSION_ID', message: 'Session expired or invalid' }]);
    const ok = await get(q('SELECT Id FROM Contact'));
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/json;charset=UTF-8');
    expect(ok.headers.get('sforce-limit-info')).toMatch(/^api-usage=\d+\/1000$/);
    sandbox.sessions.expireAccessTokens();
    expect((await get(q('SELECT Id FROM Contact'))).status).toBe(401);
  });

  it('refreshes a token; a revoked refresh token is invalid_grant; token answers carry id and instance_url', async () => {
    const res = await form({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: APP.clientId, client_secret: APP.clientSecret });
    const body = (await res.json()) as Record<string, string>;
    expect(body).toMatchObject({ instance_url: base, id: `${base}/id/${sandbox.orgId}/${sandbox.sessions.userId}`, token_type: 'Bearer' });
    token = body.access_token!;
    expect((await get(q('SELECT Id FROM Contact'))).status).toBe(200);
    const identity = (await (await get(`/id/${sandbox.orgId}/${sandbox.sessions.userId}`)).json()) as Record<string, string>;
    expect(identity.organization_id).toBe(sandbox.orgId);
    sandbox.sessions.revokeAll();
    const again = await form({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: APP.clientId });
    expect(again.status).toBe(400);
    expect(await again.json()).toEqual({ error: 'invalid_grant', error_description: 'expired access/refresh token' });
    const wrongClient = await form({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'nope' });
    expect(((await wrongClient.json()) as { error: string }).error).toBe('invalid_client_id');
  });

  it('pages a query through nextRecordsUrl (batchSize clamped to 200…2000); queryAll alone shows deleted rows', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 450; i++) ids.push(sandbox.data.create('Contact', { LastName: `n${i}` }).Id as string);
    sandbox.data.remove('Contact', ids[0]!);
    const first = (await (await get(q('SELECT Id, IsDeleted FROM Contact ORDER BY Id', true), { 'Sforce-Query-Options': 'batchSize=10' })).json()) as {
      totalSize: number;
      done: boolean;
      nextRecordsUrl: string;
      records: { Id: string; IsDeleted: boolean; attributes: { type: string } }[];
    };
    expect(first).toMatchObject({ totalSize: 450, done: false });
    expect(first.records).toHaveLength(200);
    expect(first.records[0]).toMatchObject({ Id: ids[0], IsDeleted: true, attributes: { type: 'Contact' } });
    expect(first.nextRecordsUrl).toMatch(/^\/services\/data\/v62\.0\/query\/01g\w+-200$/);
    const second = (await (await get(first.nextRecordsUrl)).json()) as { done: boolean; nextRecordsUrl: string; records: unknown[] };
    const third = (await (await get(second.nextRecordsUrl)).json()) as { done: boolean; nextRecordsUrl?: string; records: unknown[] };
    expect([second.records.length, third.records.length, third.done, third.nextRecordsUrl]).toEqual([200, 50, true, undefined]);
    // the locator is gone once read to the end
    expect((await get(second.nextRecordsUrl)).status).toBe(400);
    const live = (await (await get(q('SELECT Id FROM Contact'))).json()) as { totalSize: number; done: boolean; records: unknown[] };
    expect([live.totalSize, live.done, live.records.length]).toEqual([449, true, 449]);
  });

  it('serializes datetimes the Salesforce way, whole seconds, and an empty child relationship as null', async () => {
    clock.set(T0 + 1_234);
    const c = sandbox.data.create('Contact', { LastName: 'x' });
    const body = (await (await get(q(`SELECT Id, SystemModstamp, (SELECT Id FROM Contacts) FROM Account`))).json()) as { records: unknown[] };
    expect(body.records).toEqual([]);
    const res = (await (await get(q(`SELECT Id, SystemModstamp FROM Contact WHERE Id = '${String(c.Id)}'`))).json()) as { records: { SystemModstamp: string }[] };
    expect(res.records[0]!.SystemModstamp).toBe('2026-01-05T09:00:01.000+0000');
    const acct = sandbox.data.create('Account', { Name: 'A' });
    const withKids = (await (await get(q('SELECT Id, (SELECT Id FROM Contacts) FROM Account'))).json()) as { records: { Contacts: unknown }[] };
    expect(withKids.records[0]!.Contacts).toBeNull();
    sandbox.data.update('Contact', c.Id as string, { AccountId: acct.Id as string });
    const after = (await (await get(q('SELECT Id, (SELECT Id FROM Contacts) FROM Account'))).json()) as { records: { Contacts: { totalSize: number } }[] };
    expect(after.records[0]!.Contacts.totalSize).toBe(1);
  });

  it('rejects bad SOQL with 400 and the Salesforce error code', async () => {
    const res = await get(q('SELECT Id, Nope FROM Contact'));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual([{ errorCode: 'INVALID_FIELD', message: "No such column 'Nope' on entity 'Contact'." }]);
  });

  it('updates a collection per record; more than 200 records is refused whole; allOrNone rolls back', async () => {
    const c = sandbox.data.create('Contact', { LastName: 'x' });
    const c2 = sandbox.data.create('Contact', { LastName: 'y' });
    const patch = (body: unknown) =>
      fetch(`${base}/services/data/v62.0/composite/sobjects`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const res = await patch({
      allOrNone: false,
      records: [
        { attributes: { type: 'Contact' }, id: c.Id, Rapport_Satisfaction__c: 72, Rapport_Health__c: 'green', Rapport_Scored_At__c: '2026-01-01T00:00:00.000Z' },
        { attributes: { type: 'Contact' }, id: '999999999', Rapport_Satisfaction__c: 10 },
        { attributes: { type: 'Contact' }, id: c2.Id, Rapport_Health__c: 'purple' },
      ],
    });
    expect(res.status).toBe(200);
    const results = (await res.json()) as { success: boolean; errors: { statusCode: string }[] }[];
    expect(results.map((r) => [r.success, r.errors[0]?.statusCode])).toEqual([
      [true, undefined],
      [false, 'MALFORMED_ID'],
      [false, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST'],
    ]);
    expect(sandbox.data.get('Contact', c.Id as string)).toMatchObject({ Rapport_Satisfaction__c: 72, Rapport_Health__c: 'green', Rapport_Scored_At__c: Date.UTC(2026, 0, 1) });
    const rolled = (await (await patch({ allOrNone: true, records: [{ attributes: { type: 'Contact' }, id: c.Id, Rapport_Loyalty__c: 5 }, { attributes: { type: 'Contact' }, id: c2.Id, Bogus__c: 1 }] })).json()) as {
      errors: { statusCode: string }[];
    }[];
    expect(rolled.map((r) => r.errors[0]?.statusCode)).toEqual(['ALL_OR_NONE_OPERATION_ROLLED_BACK', 'INVALID_FIELD']);
    expect(sandbox.data.get('Contact', c.Id as string)!.Rapport_Loyalty__c).toBeUndefined();
    const tooMany = await patch({ records: Array.from({ length: 201 }, () => ({ attributes: { type: 'Contact' }, id: c.Id, Rapport_Loyalty__c: 1 })) });
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { errorCode: string }[])[0]!.errorCode).toBe('EXCEEDED_ID_LIMIT');
  });

  it('hides the Rapport fields until they are deployed', async () => {
    sandbox.setRapportFields(false);
    const d = (await (await get('/services/data/v62.0/sobjects/Contact/describe')).json()) as { fields: { name: string }[] };
    expect(d.fields.some((f) => f.name.startsWith('Rapport_'))).toBe(false);
    expect((await get(q('SELECT Id, Rapport_Health__c FROM Contact'))).status).toBe(400);
    sandbox.setRapportFields(true);
    const d2 = (await (await get('/services/data/v62.0/sobjects/Contact/describe')).json()) as { fields: { name: string }[] };
    expect(d2.fields.filter((f) => f.name.startsWith('Rapport_'))).toHaveLength(8);
  });

  it('answers 403 REQUEST_LIMIT_EXCEEDED past the daily limit, and again the next day works', async () => {
    let last: Response | undefined;
    for (let i = 0; i < 1_001; i++) last = await get('/services/data/v62.0/limits');
    expect(last!.status).toBe(403);
    expect(await last!.json()).toEqual([{ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'TotalRequests Limit exceeded.' }]);
    clock.advance(86_400_000);
    // (the session timed out meanwhile: a new one)
    token = sandbox.sessions.issue().accessToken;
    const next = await get('/services/data/v62.0/limits');
    expect(next.status).toBe(200);
    expect(await next.json()).toEqual({ DailyApiRequests: { Max: 1000, Remaining: 999 } });
  });
});
