import { afterEach, describe, expect, it } from 'vitest';
import type { SandboxChange } from '../../../src/sandbox/hubspot/index.ts';
import { userLabelKey } from '../../../src/sandbox/hubspot/association-types.ts';
import { createClock } from '../../../src/sandbox/hubspot/clock.ts';
import { objects, servedSandbox, T0 } from './hubspot-fixtures.ts';

type Served = Awaited<ReturnType<typeof servedSandbox>>;
let current: Served | undefined;
async function setup(opts: Parameters<typeof servedSandbox>[0] = {}): Promise<Served> {
  current = await servedSandbox(opts);
  return current;
}
afterEach(async () => {
  await current?.close();
  current = undefined;
});

/** The client rejects with ApiException {code, body}; this returns it (or fails the test). */
async function rejection(p: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown>; headers: Record<string, string> }> {
  try {
    await p;
  } catch (e) {
    return e as { code: number; body: Record<string, unknown>; headers: Record<string, string> };
  }
  throw new Error('expected the call to fail');
}

describe('HubSpot sandbox: objects v3 through the real @hubspot/api-client', () => {
  it('pages a list to the end with getPage and the client getAll, ids ascending, no repeats', async () => {
    const s = await setup();
    s.sandbox.data.load(s.hubId, { objects: objects('contacts', 250, 1, (i) => ({ email: `c${i}@example.com` })), associations: [], truth: [] });
    const hs = s.client();
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await hs.crm.contacts.basicApi.getPage(100, after, ['email']);
      pages++;
      for (const r of page.results) seen.push(r.id);
      after = page.paging?.next?.after;
    } while (after !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => String(i + 1)));
    const all = await hs.crm.contacts.getAll(100);
    expect(all.map((r) => r.id)).toEqual(seen);
    expect(all[0]?.properties).toMatchObject({ email: 'c1@example.com', hs_object_id: '1' });
    expect(all[0]?.createdAt).toEqual(new Date(T0 + 60_000));
  });

  it('accepts repeated and comma-separated properties, plural / singular / 0-x names, and limit ≤ 100', async () => {
    const s = await setup();
    s.sandbox.data.load(s.hubId, { objects: objects('contacts', 3, 1, (i) => ({ email: `c${i}@x.io`, firstname: `F${i}` })), associations: [], truth: [] });
    for (const name of ['contacts', 'contact', '0-1']) {
      const r = await s.call('GET', `/crm/v3/objects/${name}?limit=2&properties=email,firstname`);
      expect(r.status).toBe(200);
      const body = (await r.json()) as { results: Array<{ properties: Record<string, string> }>; paging: { next: { after: string } } };
      expect(body.results).toHaveLength(2);
      expect(body.results[0]?.properties).toMatchObject({ email: 'c1@x.io', firstname: 'F1' });
      expect(body.paging.next.after).toBeTruthy();
    }
    const repeated = (await (await s.call('GET', '/crm/v3/objects/contacts?properties=email&properties=firstname')).json()) as { results: Array<{ properties: Record<string, string> }> };
    expect(repeated.results[2]?.properties).toMatchObject({ email: 'c3@x.io', firstname: 'F3' });
    const tooBig = await s.call('GET', '/crm/v3/objects/contacts?limit=101');
    expect(tooBig.status).toBe(400);
    expect(tooBig.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await tooBig.json()) as { category: string }).category).toBe('VALIDATION_ERROR');
  });

  it('embeds associations on list and get, and archived=true lists only archived records', async () => {
    const s = await setup();
    const { data } = s.sandbox;
    const company = data.create(s.hubId, 'companies', { name: 'Acme' });
    const contact = data.create(s.hubId, 'contacts', { email: 'a@acme.io' }, [{ type: 'companies', id: company.id }]);
    const gone = data.create(s.hubId, 'contacts', { email: 'gone@acme.io' });
    data.archive(s.hubId, 'contacts', gone.id);
    const hs = s.client();
    const page = await hs.crm.contacts.basicApi.getPage(10, undefined, ['email'], undefined, ['companies']);
    expect(page.results.map((r) => r.id)).toEqual([contact.id]);
    expect(page.results[0]?.associations?.companies?.results).toEqual([{ id: company.id, type: 'contact_to_company_unlabeled' }]);
    const archived = await hs.crm.contacts.basicApi.getPage(10, undefined, ['email'], undefined, undefined, true);
    expect(archived.results.map((r) => [r.id, r.archived])).toEqual([[gone.id, true]]);
    const one = await hs.crm.companies.basicApi.getById(company.id, ['name'], undefined, ['contacts']);
    expect(one.properties.name).toBe('Acme');
    expect(one.associations?.contacts?.results.map((r) => r.id)).toEqual([contact.id]);
    const missing = await rejection(hs.crm.contacts.basicApi.getById('999'));
    expect(missing.code).toBe(404);
    expect(missing.body.category).toBe('OBJECT_NOT_FOUND');
  });

  it('batch read returns 207 listing ids that do not exist', async () => {
    const s = await setup();
    s.sandbox.data.load(s.hubId, { objects: objects('deals', 2, 1, (i) => ({ amount: `${i}00.00` })), associations: [], truth: [] });
    const res = await s.client().crm.deals.batchApi.read({ inputs: [{ id: '1' }, { id: '2' }, { id: '77' }], properties: ['amount'], propertiesWithHistory: [] });
    expect(res.results.map((r) => r.properties.amount).sort()).toEqual(['100.00', '200.00']);
    const withErrors = res as unknown as { numErrors: number; errors: Array<{ category: string; context: { ids: string[] } }> };
    expect(withErrors.numErrors).toBe(1);
    expect(withErrors.errors[0]).toMatchObject({ category: 'OBJECT_NOT_FOUND', context: { ids: ['77'] } });
  });

  it('batch update applies valid inputs, answers 207 for unknown ids, and emits propertyChange events', async () => {
    const s = await setup();
    const { data } = s.sandbox;
    const group = await s.client().crm.properties.groupsApi.create('contacts', { name: 'rapport', label: 'Rapport' });
    expect(group.name).toBe('rapport');
    await s.client().crm.properties.coreApi.create('contacts', { name: 'rapport_churn_risk', label: 'Churn risk', type: 'number' as never, fieldType: 'number' as never, groupName: 'rapport' });
    const a = data.create(s.hubId, 'contacts', { email: 'a@x.io' });
    const events: SandboxChange[] = [];
    data.onChange((e) => events.push(e));
    const res = await s.client().crm.contacts.batchApi.update({
      inputs: [
        { id: a.id, properties: { rapport_churn_risk: '42' } },
        { id: '123456789', properties: { rapport_churn_risk: '7' } },
      ],
    });
    const multi = res as unknown as { numErrors: number; errors: Array<{ category: string; context: { ids: string[] } }> };
    expect(multi.numErrors).toBe(1);
    expect(multi.errors[0]).toMatchObject({ category: 'OBJECT_NOT_FOUND', context: { ids: ['123456789'] } });
    expect(res.results[0]?.properties.rapport_churn_risk).toBe('42');
    expect(data.get(s.hubId, 'contacts', a.id)?.properties.rapport_churn_risk).toBe('42');
    expect(events).toEqual([expect.objectContaining({ kind: 'propertyChange', id: a.id, propertyName: 'rapport_churn_risk', propertyValue: '42', source: 'api' })]);

    // a bad value fails the whole request with HubSpot's 400 and changes nothing
    const bad = await rejection(
      s.client().crm.contacts.batchApi.update({ inputs: [{ id: a.id, properties: { rapport_churn_risk: 'high' } }, { id: a.id, properties: {} }] }),
    );
    expect(bad.code).toBe(400);
    const bad2 = await rejection(s.client().crm.contacts.batchApi.update({ inputs: [{ id: a.id, properties: { rapport_churn_risk: 'high', nope: 'x' } }] }));
    expect(bad2.code).toBe(400);
    expect(String(bad2.body.message)).toMatch(/^Property values were not valid: .*INVALID_INTEGER.*PROPERTY_DOESNT_EXIST/);
    expect(data.get(s.hubId, 'contacts', a.id)?.properties.rapport_churn_risk).toBe('42');
    const tooMany = await rejection(
      s.client().crm.contacts.batchApi.update({ inputs: Array.from({ length: 101 }, (_, i) => ({ id: String(i + 1), properties: {} })) }),
    );
    expect(tooMany.code).toBe(400);
  });

  it('property and group creation answer 409 when the name exists', async () => {
    const s = await setup();
    const props = s.client().crm.properties;
    await props.groupsApi.create('contacts', { name: 'rapport', label: 'Rapport' });
    const dupGroup = await rejection(props.groupsApi.create('contacts', { name: 'rapport', label: 'Again' }));
    expect(dupGroup.code).toBe(409);
    const input = {
      name: 'rapport_health',
      label: 'Health',
      type: 'enumeration' as never,
      fieldType: 'select' as never,
      groupName: 'rapport',
      options: ['green', 'yellow', 'red'].map((v, i) => ({ label: v, value: v, hidden: false, displayOrder: i })),
    };
    const created = await props.coreApi.create('contacts', input);
    expect(created).toMatchObject({ name: 'rapport_health', type: 'enumeration', groupName: 'rapport', hubspotDefined: false });
    const dup = await rejection(props.coreApi.create('contacts', input));
    expect(dup.code).toBe(409);
    expect(dup.body).toMatchObject({ status: 'error', category: 'OBJECT_ALREADY_EXISTS' });
    expect(dup.headers['content-type']).toMatch(/^application\/json/);
    const builtIn = await rejection(props.coreApi.create('contacts', { ...input, name: 'email', type: 'string' as never, fieldType: 'text' as never }));
    expect(builtIn.code).toBe(409);
    const all = await props.coreApi.getAll('contacts');
    expect(all.results.map((p) => p.name)).toEqual(expect.arrayContaining(['email', 'lastmodifieddate', 'rapport_health']));
    expect((await props.coreApi.getByName('contacts', 'rapport_health')).options.map((o) => o.value)).toEqual(['green', 'yellow', 'red']);
    const badField = await rejection(props.coreApi.create('contacts', { ...input, name: 'x_score', type: 'number' as never, fieldType: 'select' as never }));
    expect(badField.code).toBe(400);
  });

  it('refuses unknown requests with 501 naming the method and path, and feedback submissions are read-only', async () => {
    const s = await setup();
    const hs = s.client();
    const r = await hs.apiRequest({ method: 'GET', path: '/crm/v3/pipelines/deals' }).catch((e: unknown) => e);
    const res = r as Response;
    expect(res.status).toBe(501);
    expect(await res.json()).toMatchObject({ status: 'error', message: expect.stringContaining('GET /crm/v3/pipelines/deals') });
    const other = await fetch(`${s.baseUrl}/no/such/thing`, { method: 'DELETE' });
    expect(other.status).toBe(501);
    expect(((await other.json()) as { message: string }).message).toContain('DELETE /no/such/thing');
    const write = await s.call('POST', '/crm/v3/objects/feedback_submissions/batch/update', { inputs: [{ id: '1', properties: {} }] });
    expect(write.status).toBe(501);
    const lineItems = await s.call('GET', '/crm/v3/objects/line_items');
    expect(lineItems.status).toBe(501);
  });

  it('answers 401 with HubSpot’s body for a missing or unknown token', async () => {
    const s = await setup();
    const none = await fetch(`${s.baseUrl}/crm/v3/objects/contacts`);
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await none.json()).toMatchObject({ status: 'error', category: 'INVALID_AUTHENTICATION', message: expect.stringMatching(/^Authentication credentials not found/) });
    const wrong = await s.call('GET', '/crm/v3/objects/contacts', undefined, { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
  });
});

describe('HubSpot sandbox: single-record writes', () => {
  it('creates with inline associations (201), updates (200) and archives (204), emitting api events', async () => {
    const s = await setup();
    const hs = s.client();
    const company = s.sandbox.data.create(s.hubId, 'companies', { name: 'Acme' });
    const events: SandboxChange[] = [];
    s.sandbox.data.onChange((e) => events.push(e));
    const created = await hs.crm.contacts.basicApi.create({
      properties: { email: 'new@acme.io', lifecyclestage: 'lead' },
      associations: [{ to: { id: company.id }, types: [{ associationCategory: 'HUBSPOT_DEFINED' as never, associationTypeId: 279 }] }],
    });
    expect(created.properties).toMatchObject({ email: 'new@acme.io', lifecyclestage: 'lead', hs_object_id: created.id });
    expect(s.sandbox.data.associationsOf(s.hubId, 'companies', company.id, 'contacts')).toEqual([created.id]);
    const updated = await hs.crm.contacts.basicApi.update(created.id, { properties: { lifecyclestage: 'customer' } });
    expect(updated.properties.lifecyclestage).toBe('customer');
    const bad = await rejection(hs.crm.contacts.basicApi.update(created.id, { properties: { lifecyclestage: 'royalty' } }));
    expect(bad.code).toBe(400);
    expect(String(bad.body.message)).toContain('INVALID_OPTION');
    await hs.crm.contacts.basicApi.archive(created.id);
    expect(s.sandbox.data.get(s.hubId, 'contacts', created.id)?.archived).toBe(true);
    expect(events.map((e) => [e.kind, e.source])).toEqual([
      ['creation', 'api'],
      // one per direction, as HubSpot sends them
      ['associationChange', 'api'],
      ['associationChange', 'api'],
      ['propertyChange', 'api'],
      ['deletion', 'api'],
    ]);
    const missing = await rejection(hs.crm.contacts.basicApi.update('424242', { properties: { firstname: 'x' } }));
    expect(missing.code).toBe(404);
  });
});

describe('HubSpot sandbox: search', () => {
  const people = (i: number): Record<string, string | null> => ({
    email: `p${i}@Example.com`,
    firstname: i % 3 === 0 ? null : `Name${i}`,
    lifecyclestage: i <= 5 ? 'customer' : 'lead',
    num_associated_deals: String(i % 4),
  });

  it('filters with EQ NEQ GT GTE LT LTE IN HAS_PROPERTY NOT_HAS_PROPERTY BETWEEN, OR across groups, and sorts', async () => {
    const s = await setup();
    s.sandbox.data.load(s.hubId, { objects: objects('contacts', 12, 1, people), associations: [], truth: [] });
    const search = s.client().crm.contacts.searchApi;
    const ids = async (filterGroups: unknown[], sorts: unknown[] = [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }]) => {
      const r = await search.doSearch({ filterGroups, sorts, limit: 200, properties: ['email'] } as never);
      expect(r.total).toBe(r.results.length);
      return r.results.map((x) => Number(x.id));
    };
    const f = (propertyName: string, operator: string, extra: Record<string, unknown> = {}) => ({ filters: [{ propertyName, operator, ...extra }] });
    expect(await ids([f('email', 'EQ', { value: 'P3@EXAMPLE.COM' })])).toEqual([3]); // strings: case-insensitive
    expect(await ids([f('lifecyclestage', 'EQ', { value: 'customer' })])).toEqual([1, 2, 3, 4, 5]);
    expect(await ids([f('lifecyclestage', 'NEQ', { value: 'customer' })])).toEqual([6, 7, 8, 9, 10, 11, 12]);
    expect(await ids([f('num_associated_deals', 'GT', { value: '2' })])).toEqual([3, 7, 11]);
    expect(await ids([f('num_associated_deals', 'GTE', { value: '3' })])).toEqual([3, 7, 11]);
    expect(await ids([f('num_associated_deals', 'LT', { value: '1' })])).toEqual([4, 8, 12]);
    expect(await ids([f('num_associated_deals', 'LTE', { value: '0' })])).toEqual([4, 8, 12]);
    expect(await ids([f('hs_object_id', 'IN', { values: ['2', '9', '44'] })])).toEqual([2, 9]);
    expect(await ids([f('firstname', 'NOT_HAS_PROPERTY')])).toEqual([3, 6, 9, 12]);
    expect((await ids([f('firstname', 'HAS_PROPERTY')])).length).toBe(8);
    // modified-time window in epoch ms, as sync tools send it
    expect(await ids([f('lastmodifieddate', 'BETWEEN', { value: String(T0 + 4 * 60_000), highValue: String(T0 + 6 * 60_000) })])).toEqual([4, 5, 6]);
    expect(await ids([f('lastmodifieddate', 'GTE', { value: String(T0 + 11 * 60_000) })])).toEqual([11, 12]);
    // contacts: filtering on hs_lastmodifieddate silently matches nothing (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm)
    expect(await ids([f('hs_lastmodifieddate', 'GTE', { value: '0' })])).toEqual([]);
    // groups are OR, filters inside a group AND
    expect(
      await ids([
        { filters: [{ propertyName: 'lifecyclestage', operator: 'EQ', value: 'customer' }, { propertyName: 'num_associated_deals', operator: 'EQ', value: '1' }] },
        f('hs_object_id', 'EQ', { value: '12' }),
      ]),
    ).toEqual([1, 5, 12]);
    // sorts: object form and the client's "-prop" string form
    expect(await ids([f('lifecyclestage', 'EQ', { value: 'customer' })], [{ propertyName: 'lastmodifieddate', direction: 'DESCENDING' }])).toEqual([5, 4, 3, 2, 1]);
    expect(await ids([f('lifecyclestage', 'EQ', { value: 'customer' })], ['-email'])).toEqual([5, 4, 3, 2, 1]);
    expect(await ids([], ['num_associated_deals'])).toEqual([4, 8, 12, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  });

  it('matches free-text query and the associations.<type> pseudo-property', async () => {
    const s = await setup();
    const { data } = s.sandbox;
    const co = data.create(s.hubId, 'companies', { name: 'Acme' });
    const a = data.create(s.hubId, 'contacts', { firstname: 'Grace', email: 'grace@navy.mil' }, [{ type: 'companies', id: co.id }]);
    data.create(s.hubId, 'contacts', { firstname: 'Alan', email: 'alan@bletchley.uk' });
    const search = s.client().crm.contacts.searchApi;
    const byQuery = await search.doSearch({ query: 'navy', filterGroups: [], sorts: [], properties: [], limit: 10 } as never);
    expect(byQuery.results.map((r) => r.id)).toEqual([a.id]);
    const byCompany = await search.doSearch({ filterGroups: [{ filters: [{ propertyName: 'associations.company', operator: 'EQ', value: co.id }] }], sorts: [], properties: [], limit: 10 } as never);
    expect(byCompany.results.map((r) => r.id)).toEqual([a.id]);
  });

  it('pages with a numeric after and total, and rejects limit > 200', async () => {
    const s = await setup();
    s.sandbox.data.load(s.hubId, { objects: objects('contacts', 25, 1, people), associations: [], truth: [] });
    const search = s.client().crm.contacts.searchApi;
    const first = await search.doSearch({ limit: 10, after: '0', filterGroups: [], sorts: ['hs_object_id'], properties: [] } as never);
    expect(first.total).toBe(25);
    expect(first.paging?.next?.after).toBe('10');
    const last = await search.doSearch({ limit: 10, after: '20', filterGroups: [], sorts: ['hs_object_id'], properties: [] } as never);
    expect(last.results.map((r) => r.id)).toEqual(['21', '22', '23', '24', '25']);
    expect(last.paging).toBeUndefined();
    const big = await rejection(search.doSearch({ limit: 201, filterGroups: [], sorts: [], properties: [] } as never));
    expect(big.code).toBe(400);
  });

  it('answers 400 when paging past 10,000 results, as HubSpot does', async () => {
    const s = await setup();
    const { data } = s.sandbox;
    for (let first = 1; first <= 10_100; first += 2_000) {
      data.load(s.hubId, { objects: objects('contacts', Math.min(2_000, 10_101 - first), first), associations: [], truth: [] });
    }
    expect(data.count(s.hubId, 'contacts')).toBe(10_100);
    const search = s.client().crm.contacts.searchApi;
    const body = (after: string) => ({ limit: 200, after, filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: String(T0) }] }], sorts: ['hs_object_id'], properties: [] }) as never;
    const page = await search.doSearch(body('9800'));
    expect(page.total).toBe(10_100);
    expect(page.results).toHaveLength(200);
    expect(page.paging?.next?.after).toBe('10000');
    const past = await rejection(search.doSearch(body('10000')));
    expect(past.code).toBe(400);
    expect(past.body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
    // the documented way round it: a keyset filter restarts the window
    const keyset = await search.doSearch({ limit: 200, after: '0', filterGroups: [{ filters: [{ propertyName: 'hs_object_id', operator: 'GT', value: '10000' }] }], sorts: ['hs_object_id'], properties: [] } as never);
    expect(keyset.total).toBe(100);
    expect(keyset.results[0]?.id).toBe('10001');
  });
});

describe('HubSpot sandbox: associations v4', () => {
  it('batch reads associations with numeric toObjectId and reports ids without any', async () => {
    const s = await setup();
    const { data } = s.sandbox;
    const co = data.create(s.hubId, 'companies', { name: 'Acme' });
    const c1 = data.create(s.hubId, 'contacts', { email: 'a@x.io' }, [{ type: 'companies', id: co.id }]);
    const c2 = data.create(s.hubId, 'contacts', { email: 'b@x.io' });
    const res = await s.client().crm.associations.v4.batchApi.getPage('contacts', 'companies', { inputs: [{ id: c1.id }, { id: c2.id }] });
    expect(res.results).toHaveLength(1);
    const r0 = res.results[0] as unknown as { _from: { id: string }; to: Array<{ toObjectId: unknown; associationTypes: Array<{ typeId: number; category: string }> }> };
    expect(r0._from.id).toBe(c1.id);
    expect(r0.to[0]?.toObjectId).toBe(Number(co.id));
    expect(r0.to[0]?.associationTypes).toEqual([{ category: 'HUBSPOT_DEFINED', typeId: 279, label: null }]);
    expect((res as unknown as { numErrors: number }).numErrors).toBe(1);
    expect(data.associationsOf(s.hubId, 'companies', co.id, 'contacts')).toEqual([c1.id]);
    const tooMany = await s.call('POST', '/crm/v4/associations/contacts/companies/batch/read', { inputs: Array.from({ length: 1001 }, (_, i) => ({ id: String(i) })) });
    expect(tooMany.status).toBe(400);
  });
});

describe('HubSpot sandbox: associations as HubSpot models them (issue 13)', () => {
  it('v4 reports an input without associations with subCategory NO_ASSOCIATIONS_FOUND and singular names', async () => {
    const s = await setup();
    const c2 = s.sandbox.data.create(s.hubId, 'contacts', { email: 'b@x.io' });
    const res = await s.call('POST', '/crm/v4/associations/contacts/companies/batch/read', { inputs: [{ id: c2.id }] });
    expect(res.status).toBe(207);
    const body = (await res.json()) as { results: unknown[]; errors: Array<{ category: string; subCategory: string; message: string; context: Record<string, string[]> }> };
    expect(body.results).toEqual([]);
    expect(body.errors[0]?.category).toBe('OBJECT_NOT_FOUND');
    expect(body.errors[0]?.subCategory).toBe('crm.associations.NO_ASSOCIATIONS_FOUND');
    expect(body.errors[0]?.message).toBe(`No company is associated with contact ${c2.id}.`);
    expect(body.errors[0]?.context).toEqual({ fromObjectId: [c2.id], fromObjectType: ['contact'], toObjectType: ['company'] });
    // a real per-input failure is told apart by its subCategory (none)
    s.sandbox.setAssociationReadFailures([c2.id]);
    const failed = await s.call('POST', '/crm/v4/associations/contacts/companies/batch/read', { inputs: [{ id: c2.id }] });
    const failedBody = (await failed.json()) as { errors: Array<{ subCategory?: string; category: string }> };
    expect(failedBody.errors[0]).toMatchObject({ category: 'INTERNAL_ERROR' });
    expect(failedBody.errors[0]?.subCategory).toBeUndefined();
  });

  it('user-defined labels come with category USER_DEFINED and typeIds that collide with other pairs’ primary ids', async () => {
    const s = await setup();
    const { data } = s.sandbox;
    const billing = data.create(s.hubId, 'companies', { name: 'Billing Co' });
    const employer = data.create(s.hubId, 'companies', { name: 'Employer' });
    const contact = data.create(s.hubId, 'contacts', { email: 'a@x.io' });
    data.associate(s.hubId, 'contacts', contact.id, 'companies', employer.id, 1);
    data.associate(s.hubId, 'contacts', contact.id, 'companies', billing.id, 5); // "Billing contact"
    const res = await s.call('POST', '/crm/v4/associations/contacts/companies/batch/read', { inputs: [{ id: contact.id }] });
    const to = ((await res.json()) as { results: Array<{ to: Array<{ toObjectId: number; associationTypes: unknown[] }> }> }).results[0]?.to ?? [];
    expect(to.find((t) => t.toObjectId === Number(billing.id))?.associationTypes).toEqual([
      { category: 'USER_DEFINED', typeId: 5, label: 'Billing contact' },
      { category: 'HUBSPOT_DEFINED', typeId: 279, label: null },
    ]);
    expect(to.find((t) => t.toObjectId === Number(employer.id))?.associationTypes).toEqual([
      { category: 'HUBSPOT_DEFINED', typeId: 1, label: 'Primary' },
      { category: 'HUBSPOT_DEFINED', typeId: 279, label: null },
    ]);
    // v3 inline: the label under its own name, the primary under contact_to_company
    const one = await s.client().crm.contacts.basicApi.getById(contact.id, ['email'], undefined, ['companies']);
    expect(one.associations?.companies?.results).toEqual([
      { id: billing.id, type: 'billing_contact' },
      { id: billing.id, type: 'contact_to_company_unlabeled' },
      { id: employer.id, type: 'contact_to_company' },
      { id: employer.id, type: 'contact_to_company_unlabeled' },
    ]);
    // a new primary replaces the old one (one primary company per record)
    data.associate(s.hubId, 'contacts', contact.id, 'companies', billing.id, 1);
    const again = await s.client().crm.contacts.basicApi.getById(contact.id, ['email'], undefined, ['companies']);
    expect(again.associations?.companies?.results.filter((r) => r.type === 'contact_to_company').map((r) => r.id)).toEqual([billing.id]);
  });

  it('a user label may share the typeId of its own pair’s primary: only category tells them apart (v4 reads both ways, inline create)', async () => {
    const s = await setup();
    const { data } = s.sandbox;
    const maker = data.create(s.hubId, 'companies', { name: 'Maker Co' });
    const employer = data.create(s.hubId, 'companies', { name: 'Employer' });
    const contact = data.create(s.hubId, 'contacts', { email: 'a@x.io' });
    data.associate(s.hubId, 'contacts', contact.id, 'companies', employer.id, 1);
    data.associate(s.hubId, 'contacts', contact.id, 'companies', maker.id, userLabelKey('contacts', 'companies', 'Decision maker'));
    type Read = { results: Array<{ to: Array<{ toObjectId: number; associationTypes: unknown[] }> }> };
    const to = ((await (await s.call('POST', '/crm/v4/associations/contacts/companies/batch/read', { inputs: [{ id: contact.id }] })).json()) as Read).results[0]?.to ?? [];
    expect(to.find((t) => t.toObjectId === Number(maker.id))?.associationTypes).toEqual([
      { category: 'USER_DEFINED', typeId: 1, label: 'Decision maker' },
      { category: 'HUBSPOT_DEFINED', typeId: 279, label: null },
    ]);
    // the label did not take the primary's place
    expect(to.find((t) => t.toObjectId === Number(employer.id))?.associationTypes).toContainEqual({ category: 'HUBSPOT_DEFINED', typeId: 1, label: 'Primary' });
    const back = ((await (await s.call('POST', '/crm/v4/associations/companies/contacts/batch/read', { inputs: [{ id: maker.id }] })).json()) as Read).results[0]?.to ?? [];
    expect(back[0]?.associationTypes).toEqual([
      { category: 'USER_DEFINED', typeId: 2, label: 'Decision maker' },
      { category: 'HUBSPOT_DEFINED', typeId: 280, label: null },
    ]);
    // inline associations on create name the type by category + typeId
    const created = await s.call('POST', '/crm/v3/objects/contacts', {
      properties: { email: 'b@x.io' },
      associations: [{ to: { id: maker.id }, types: [{ associationCategory: 'USER_DEFINED', associationTypeId: 1 }] }],
    });
    expect(created.status).toBe(201);
    const newId = ((await created.json()) as { id: string }).id;
    const made = ((await (await s.call('POST', '/crm/v4/associations/contacts/companies/batch/read', { inputs: [{ id: newId }] })).json()) as Read).results[0]?.to ?? [];
    expect(made[0]?.associationTypes).toEqual([
      { category: 'USER_DEFINED', typeId: 1, label: 'Decision maker' },
      { category: 'HUBSPOT_DEFINED', typeId: 279, label: null },
    ]);
    // HUBSPOT_DEFINED 5 is no contact→company type (5 is deal→company's primary); USER_DEFINED 5 is "Billing contact"
    const wrong = await s.call('POST', '/crm/v3/objects/contacts', {
      properties: { email: 'c@x.io' },
      associations: [{ to: { id: maker.id }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 5 }] }],
    });
    expect(wrong.status).toBe(400);
  });

  it('associations to archived records are not returned, on v3 inline or v4', async () => {
    const s = await setup();
    const { data } = s.sandbox;
    const company = data.create(s.hubId, 'companies', { name: 'Gone' });
    const contact = data.create(s.hubId, 'contacts', { email: 'a@x.io' }, [{ type: 'companies', id: company.id }]);
    data.archive(s.hubId, 'companies', company.id);
    const one = await s.client().crm.contacts.basicApi.getById(contact.id, ['email'], undefined, ['companies']);
    expect(one.associations).toBeUndefined();
    const v4 = await s.call('POST', '/crm/v4/associations/contacts/companies/batch/read', { inputs: [{ id: contact.id }] });
    expect(((await v4.json()) as { results: unknown[] }).results).toEqual([]);
    const list = await s.client().crm.contacts.basicApi.getPage(10, undefined, ['email'], undefined, ['companies']);
    expect(list.results.find((r) => r.id === contact.id)?.associations).toBeUndefined();
    const single = await s.call('GET', `/crm/v4/objects/contacts/${contact.id}/associations/companies`);
    expect(((await single.json()) as { results: unknown[] }).results).toEqual([]);
  });

  it('inline associations page at 100 per record; v4 pages give all 1,000 calls of a contact', async () => {
    const s = await setup();
    const { data } = s.sandbox;
    const contact = data.create(s.hubId, 'contacts', { email: 'busy@x.io' });
    data.load(s.hubId, {
      objects: objects('calls', 1000, 5_000_000, () => ({ hs_timestamp: '2026-01-01T00:00:00.000Z' })),
      associations: Array.from({ length: 1000 }, (_, i) => ({ fromType: 'calls' as const, fromId: String(5_000_000 + i), toType: 'contacts' as const, toId: contact.id, typeId: 194 })),
      truth: [],
    });
    const one = await s.client().crm.contacts.basicApi.getById(contact.id, ['email'], undefined, ['calls']);
    const inline = one.associations?.calls as unknown as { results: unknown[]; paging?: { next?: { after?: string } } };
    expect(inline.results).toHaveLength(100);
    expect(inline.paging?.next?.after).toBeTruthy();
    const seen = new Set<number>();
    let after: string | undefined;
    for (let i = 0; i < 10; i++) {
      const res = await s.call('POST', '/crm/v4/associations/contacts/calls/batch/read', { inputs: [{ id: contact.id, ...(after === undefined ? {} : { after }) }] });
      const r = ((await res.json()) as { results: Array<{ to: Array<{ toObjectId: number }>; paging?: { next: { after: string } } }> }).results[0];
      for (const t of r?.to ?? []) seen.add(t.toObjectId);
      after = r?.paging?.next.after;
      if (after === undefined) break;
    }
    expect(seen.size).toBe(1000);
  });

  it("a list page's inline associations (read for the whole page at once) are what a read of each record gives", async () => {
    const s = await setup();
    const { data } = s.sandbox;
    const [acme, billing, gone] = ['acme', 'billing', 'gone'].map((n) => data.create(s.hubId, 'companies', { name: n }));
    const contacts = Array.from({ length: 6 }, (_, i) => data.create(s.hubId, 'contacts', { email: `c${i}@x.io` }));
    // two labels on one pair, two companies, a company archived later, none at all; and a
    // company with more contacts than an inline page holds
    data.associate(s.hubId, 'contacts', contacts[0]!.id, 'companies', acme!.id, 1);
    data.associate(s.hubId, 'contacts', contacts[0]!.id, 'companies', acme!.id, 5);
    data.associate(s.hubId, 'contacts', contacts[1]!.id, 'companies', billing!.id, 1);
    data.associate(s.hubId, 'contacts', contacts[1]!.id, 'companies', acme!.id, 279);
    data.associate(s.hubId, 'contacts', contacts[2]!.id, 'companies', gone!.id, 1);
    data.load(s.hubId, {
      objects: objects('contacts', 120, 7_000_000, () => ({})),
      associations: Array.from({ length: 120 }, (_, i) => ({ fromType: 'companies' as const, fromId: billing!.id, toType: 'contacts' as const, toId: String(7_000_000 + i), typeId: 280 })),
      truth: [],
    });
    data.archive(s.hubId, 'companies', gone!.id);
    for (const [type, wanted] of [['contacts', 'companies,nonsense'], ['companies', 'contacts']] as const) {
      const list = (await (await s.call('GET', `/crm/v3/objects/${type}?limit=100&associations=${wanted}`)).json()) as { results: Array<{ id: string; associations?: unknown }> };
      expect(list.results.length).toBeGreaterThan(1);
      for (const r of list.results) {
        const one = (await (await s.call('GET', `/crm/v3/objects/${type}/${r.id}?associations=${wanted}`)).json()) as { associations?: unknown };
        expect(r.associations).toEqual(one.associations);
      }
      const linked = new Set(list.results.filter((r) => r.associations !== undefined).map((r) => r.id));
      // (associations are stored both ways: the loaded contacts list billing too)
      const expected: Array<[string, boolean]> =
        type === 'contacts'
          ? [[contacts[0]!.id, true], [contacts[1]!.id, true], [contacts[2]!.id, false], [contacts[5]!.id, false]]
          : [[acme!.id, true], [billing!.id, true], [gone!.id, false]];
      expect(expected.map(([id]) => [id, linked.has(id)])).toEqual(expected);
      if (type === 'companies') {
        // 100 records a page (a record with two labels is listed once per label)
        const b = list.results.find((r) => r.id === billing!.id)?.associations as { contacts: { results: Array<{ id: string }>; paging?: unknown } };
        expect(new Set(b.contacts.results.map((r) => r.id)).size).toBe(100);
        expect(b.contacts.paging).toBeDefined();
      }
    }
  });

  it('a load refuses an association to a record that is not stored, and keeps nothing of the batch', async () => {
    const s = await setup();
    const { data } = s.sandbox;
    const company = data.create(s.hubId, 'companies', { name: 'Acme' });
    const batch = {
      objects: objects('contacts', 2, 8_000_000, () => ({})),
      associations: [
        { fromType: 'contacts' as const, fromId: '8000000', toType: 'companies' as const, toId: company.id, typeId: 1 },
        { fromType: 'contacts' as const, fromId: '8000001', toType: 'companies' as const, toId: '99999999', typeId: 1 },
      ],
      truth: [],
    };
    expect(() => data.load(s.hubId, batch)).toThrow('load association: no companies with id 99999999');
    expect(data.get(s.hubId, 'contacts', '8000000')).toBeUndefined();
    expect(data.associationsOf(s.hubId, 'companies', company.id, 'contacts')).toEqual([]);
  });

  it('an unknown object type in ?associations= is ignored, not a 400', async () => {
    const s = await setup();
    const contact = s.sandbox.data.create(s.hubId, 'contacts', { email: 'a@x.io' });
    const res = await s.call('GET', `/crm/v3/objects/contacts/${contact.id}?associations=nonsense,companies`);
    expect(res.status).toBe(200);
    const list = await s.call('GET', '/crm/v3/objects/contacts?associations=nonsense');
    expect(list.status).toBe(200);
  });
});

describe('HubSpot sandbox: merges and GDPR deletes (issue 13)', () => {
  it('a merged contact leaves the list without an archived entry; the survivor lists it; reads of its id answer with the survivor', async () => {
    const s = await setup();
    const { data } = s.sandbox;
    const events: SandboxChange[] = [];
    const survivor = data.create(s.hubId, 'contacts', { email: 'keep@x.io' });
    const loser = data.create(s.hubId, 'contacts', { email: 'dupe@x.io', firstname: 'Lo' });
    const call = data.create(s.hubId, 'calls', { hs_timestamp: '2026-01-01T00:00:00.000Z' }, [{ type: 'contacts', id: loser.id }]);
    data.onChange((e) => events.push(e));
    data.merge(s.hubId, 'contacts', survivor.id, loser.id);
    const hs = s.client();
    const live = await hs.crm.contacts.basicApi.getPage(10, undefined, ['email', 'hs_merged_object_ids']);
    expect(live.results.map((r) => r.id)).toEqual([survivor.id]);
    expect(live.results[0]?.properties.hs_merged_object_ids).toBe(loser.id);
    // the survivor kept its email and took the loser's first name
    expect(live.results[0]?.properties).toMatchObject({ email: 'keep@x.io' });
    const archived = await hs.crm.contacts.basicApi.getPage(10, undefined, ['email'], undefined, undefined, true);
    expect(archived.results).toEqual([]);
    const read = await hs.crm.contacts.basicApi.getById(loser.id, ['email']);
    expect(read.id).toBe(survivor.id);
    const batch = await hs.crm.contacts.batchApi.read({ inputs: [{ id: loser.id }], properties: ['email'], propertiesWithHistory: [] });
    expect(batch.results.map((r) => r.id)).toEqual([survivor.id]);
    // its associations moved to the survivor
    expect(data.associationsOf(s.hubId, 'calls', call.id, 'contacts')).toEqual([survivor.id]);
    expect(events).toEqual([expect.objectContaining({ kind: 'merge', type: 'contacts', id: survivor.id, mergedIds: [loser.id] })]);
  });

  it('a GDPR-deleted contact is gone from both lists and every read', async () => {
    const s = await setup();
    const { data } = s.sandbox;
    const gone = data.create(s.hubId, 'contacts', { email: 'gdpr@x.io' });
    const events: SandboxChange[] = [];
    data.onChange((e) => events.push(e));
    data.purge(s.hubId, 'contacts', gone.id);
    const hs = s.client();
    expect((await hs.crm.contacts.basicApi.getPage(10)).results).toEqual([]);
    expect((await hs.crm.contacts.basicApi.getPage(10, undefined, undefined, undefined, undefined, true)).results).toEqual([]);
    expect((await rejection(hs.crm.contacts.basicApi.getById(gone.id))).code).toBe(404);
    expect(events.map((e) => e.kind)).toEqual(['privacyDeletion']);
  });
});

describe('HubSpot sandbox: rate limits and faults', () => {
  it('429s past the ten-secondly window with HubSpot’s body and headers, which the client’s retry logic acts on', async () => {
    const clock = createClock({ frozenAt: T0 });
    const s = await setup({ clock, limits: { per10s: 2, searchPerSecond: 5 } });
    const hs = s.client();
    const ok = await s.call('GET', '/crm/v3/objects/contacts');
    expect(ok.headers.get('x-hubspot-ratelimit-max')).toBe('2');
    expect(ok.headers.get('x-hubspot-ratelimit-remaining')).toBe('1');
    expect(ok.headers.get('x-hubspot-ratelimit-interval-milliseconds')).toBe('10000');
    await hs.crm.contacts.basicApi.getPage(1);
    const limited = await rejection(hs.crm.contacts.basicApi.getPage(1));
    expect(limited.code).toBe(429);
    expect(limited.body).toMatchObject({
      status: 'error',
      message: 'You have reached your ten_secondly_rolling limit.',
      errorType: 'RATE_LIMIT',
      policyName: 'TEN_SECONDLY_ROLLING',
      correlationId: expect.any(String),
      groupName: expect.any(String),
    });
    expect(s.sandbox.stats(s.hubId).rateLimited).toBe(1);
    // The client's own RetryDecorator (what numberOfApiCallRetries switches on), with its sleep
    // replaced by a move of the sandbox clock so the test does not wait 10 s.
    const { default: RetryDecorator } = (await import('@hubspot/api-client/lib/src/services/decorators/RetryDecorator.js')) as unknown as {
      default: new (n: number) => { decorate<T>(f: () => Promise<T>): () => Promise<T>; _waitAfterRequestFailure: (status: number, n: number, ms: number) => Promise<void> };
    };
    const retry = new RetryDecorator(2);
    const waits: number[] = [];
    retry._waitAfterRequestFailure = async (_status, n, ms) => {
      waits.push(ms * n);
      clock.advance(ms * n);
    };
    const page = await retry.decorate(() => hs.crm.contacts.basicApi.getPage(1))();
    expect(page.results).toEqual([]);
    expect(waits).toEqual([10_000]);
  });

  it('search has its own 5/s lane with the SECONDLY body; the client configured with retries recovers by itself', async () => {
    const s = await setup({ limits: { per10s: 110, searchPerSecond: 1 } });
    const search = s.client({ numberOfApiCallRetries: 2 }).crm.contacts.searchApi;
    const req = { filterGroups: [], sorts: [], properties: [], limit: 1 } as never;
    await search.doSearch(req);
    const raw = await s.call('POST', '/crm/v3/objects/contacts/search', {});
    expect(raw.status).toBe(429);
    expect(raw.headers.get('x-hubspot-ratelimit-max')).toBeNull();
    expect(await raw.json()).toMatchObject({ message: 'You have reached your secondly limit.', policyName: 'SECONDLY', errorType: 'RATE_LIMIT' });
    const before = s.sandbox.stats(s.hubId).rateLimited;
    const res = await search.doSearch(req); // 429 first, then the client's 1 s wait and a retry
    expect(res.total).toBe(0);
    expect(s.sandbox.stats(s.hubId).rateLimited).toBeGreaterThan(before);
    // search does not use the ten-secondly window
    expect(s.sandbox.stats(s.hubId).requests).toBeGreaterThanOrEqual(4);
  });

  it('injects 500, malformed and timeout faults, seeded, and can switch them off', async () => {
    const s = await setup({ faults: { '500': 1 } });
    const r500 = await s.call('GET', '/crm/v3/objects/contacts');
    expect(r500.status).toBe(500);
    expect(r500.headers.get('content-type')).toMatch(/^application\/json/);
    s.sandbox.setFaults({ malformed: 1 });
    const bad = await s.call('GET', '/crm/v3/objects/contacts');
    expect(bad.status).toBe(200);
    await expect(bad.json()).rejects.toThrow();
    s.sandbox.setFaults({ timeout: 1 });
    const hung = fetch(`${s.baseUrl}/crm/v3/objects/contacts`, { headers: { authorization: `Bearer ${s.token}` }, signal: AbortSignal.timeout(150) });
    await expect(hung).rejects.toThrow();
    s.sandbox.setFaults({});
    expect((await s.call('GET', '/crm/v3/objects/contacts')).status).toBe(200);
    expect(s.sandbox.stats(s.hubId).faults).toBeGreaterThanOrEqual(3);
    expect(() => s.sandbox.setFaults({ '500': 2 })).toThrow(/probability/);
  });

  it('replays the same fault sequence for the same seed', async () => {
    const statuses = async (seed: number) => {
      const s = await servedSandbox({ seed, faults: { '500': 0.3, '429': 0.2 } });
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await s.call('GET', '/crm/v3/objects/contacts')).status);
      await s.close();
      return out;
    };
    const a = await statuses(7);
    expect(await statuses(7)).toEqual(a);
    expect(new Set(a)).toEqual(new Set([200, 429, 500]));
    expect(await statuses(8)).not.toEqual(a);
  });

  it('a hung (timeout) request does not keep close() waiting', async () => {
    const s = await servedSandbox({ faults: { timeout: 1 } });
    const hung = s.call('GET', '/crm/v3/objects/contacts').then(
      (r) => r.status,
      () => 'connection closed',
    );
    await new Promise((r) => setTimeout(r, 50));
    await s.close();
    expect(await hung).toBeDefined();
  });
});
