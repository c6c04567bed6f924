import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHubspotConnector } from '../../../src/connectors/hubspot/index.ts';
import type { Page, WriteResult } from '../../../src/connectors/types.ts';
import { CrmError } from '../../../src/errors.ts';

/**
 * Rare HubSpot answers that the emulator does not stage, served by msw at the HTTP edge to the
 * real @hubspot/api-client inside the connector: a whole batch refused with 400, a merged contact
 * answered with its survivor's id, a body cut short. Every other request is an error (nothing
 * reaches the network).
 */
const BASE = 'https://api.hubapi.example';
const BATCH_UPDATE = `${BASE}/crm/v3/objects/contacts/batch/update`;
const server = setupServer();
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const connector = () =>
  createHubspotConnector({
    basePath: BASE,
    accessToken: async () => 'pat-wire-test',
    portal: 'hubspot:1',
    limits: false,
    pageSize: 10,
    retry: { retries: 2, baseMs: 1, maxMs: 5 },
    timeoutMs: 2_000,
  });
const signal = new AbortController().signal;
const updates = (ids: readonly string[]) => ids.map((contactId) => ({ contactId, properties: { satisfaction: '70', health: 'green' } }));
const outcome = (rs: readonly WriteResult[]) =>
  Object.fromEntries(rs.map((r) => [r.contactId, r.ok ? 'ok' : `${r.error.kind}:${r.error.details.code ?? ''}`]));

type Input = { id: string; properties: Record<string, string> };
/** the ids of every batch update HubSpot received, in order */
function recordBatches(answer: (inputs: Input[]) => Response | Promise<Response>) {
  const seen: string[][] = [];
  server.use(
    http.post(BATCH_UPDATE, async ({ request }) => {
      const { inputs } = (await request.json()) as { inputs: Input[] };
      seen.push(inputs.map((i) => i.id));
      return answer(inputs);
    }),
  );
  return seen;
}
const updated = (inputs: readonly Input[]) =>
  HttpResponse.json({
    status: 'COMPLETE',
    results: inputs.map((i) => ({ id: i.id, properties: i.properties, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', archived: false })),
    startedAt: '2026-01-01T00:00:00Z',
    completedAt: '2026-01-01T00:00:00Z',
  });
const validation400 = (message: string, context?: Record<string, string[]>) =>
  HttpResponse.json(
    { status: 'error', message, correlationId: '00000000-0000-4000-8000-000000000000', category: 'VALIDATION_ERROR', ...(context === undefined ? {} : { context }) },
    { status: 400 },
  );

describe('HubSpot connector on rare wire answers (msw)', () => {
  it('a whole batch refused with 400 naming no id: the bad contact is isolated by halving, every other one written', async () => {
    const ids = ['11', '12', '13', '14', '15', '16', '17', '18'];
    const seen = recordBatches((inputs) => (inputs.some((i) => i.id === '13') ? validation400('Object 13 could not be updated') : updated(inputs)));
    const res = await connector().writeScores(updates(ids), signal);
    expect(outcome(res)).toEqual({ '11': 'ok', '12': 'ok', '13': 'invalid_request:VALIDATION_ERROR', '14': 'ok', '15': 'ok', '16': 'ok', '17': 'ok', '18': 'ok' });
    // every written contact went out in a successful batch exactly once, with the rapport_* names
    const okBatches = seen.filter((b) => !b.includes('13'));
    expect(okBatches.flat().sort()).toEqual(ids.filter((id) => id !== '13'));
    // halving: 8 → 4 → 2 → 1, at most 2·log2(8) extra calls
    expect(seen.length).toBeLessThanOrEqual(1 + 2 * 3);
  });

  it('a whole batch refused with 400 whose context names the ids: those fail, the rest go out in ONE more call', async () => {
    const seen = recordBatches((inputs) =>
      inputs.some((i) => i.id === '22' || i.id === '24') ? validation400('2 contacts could not be updated', { ids: ['22', '24'] }) : updated(inputs),
    );
    const res = await connector().writeScores(updates(['21', '22', '23', '24']), signal);
    expect(outcome(res)).toEqual({ '21': 'ok', '22': 'invalid_request:VALIDATION_ERROR', '23': 'ok', '24': 'invalid_request:VALIDATION_ERROR' });
    expect(seen).toEqual([
      ['21', '22', '23', '24'],
      ['21', '23'],
    ]);
  });

  it('a merged contact answered with its survivor id: reported as MERGED, never as written, and not retried', async () => {
    const seen = recordBatches((inputs) => updated(inputs.map((i) => (i.id === '31' ? { ...i, id: '99' } : i))));
    const res = await connector().writeScores(updates(['31']), signal);
    expect(outcome(res)).toEqual({ '31': 'invalid_request:MERGED' });
    const merged = res[0];
    expect(merged?.ok === false && merged.error.message).toMatch(/merged/);
    expect(seen).toHaveLength(1);
  });

  it('a 200 whose body is cut short: bad_response on a page (nothing yielded, not retried) and per record on a write', async () => {
    let pages = 0;
    server.use(
      http.get(`${BASE}/crm/v3/objects/contacts`, () => {
        pages += 1;
        return new HttpResponse('{"results":[{"id":"1","properties":{"email":', { status: 200, headers: { 'content-type': 'application/json;charset=utf-8' } });
      }),
    );
    const c = connector();
    const got: Page[] = [];
    const e = await (async () => {
      for await (const p of c.changes('contacts', null, signal)) got.push(p);
    })().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CrmError);
    expect((e as CrmError).kind).toBe('bad_response');
    expect(got).toEqual([]);
    // a malformed body is not a transient failure: retrying would read the same bytes
    expect(pages).toBe(1);

    const seen = recordBatches(() => new HttpResponse('{"status":"COMPLETE","results":[{"id":"4', { status: 200, headers: { 'content-type': 'application/json' } }));
    const res = await c.writeScores(updates(['41', '42']), signal);
    expect(outcome(res)).toEqual({ '41': expect.stringMatching(/^bad_response:/), '42': expect.stringMatching(/^bad_response:/) });
    expect(seen).toHaveLength(1);
  });

  it("a backfill's first list page goes out beside the count, not after its answer; the page carries the count", async () => {
    let listed!: () => void;
    const listSeen = new Promise<void>((resolve) => (listed = resolve));
    let countAnsweredAfterList: boolean | undefined;
    server.use(
      http.post(`${BASE}/crm/v3/objects/contacts/search`, async () => {
        // answers once the list page was asked for, or after 1 s if it never is before this answer
        countAnsweredAfterList = await Promise.race([listSeen.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1_000))]);
        return HttpResponse.json({ total: 2, results: [] });
      }),
      http.get(`${BASE}/crm/v3/objects/contacts`, ({ request }) => {
        if (new URL(request.url).searchParams.get('archived') === 'true') return HttpResponse.json({ results: [] });
        listed();
        return HttpResponse.json({
          results: ['1', '2'].map((id) => ({ id, properties: { email: `${id}@y.z` }, updatedAt: '2026-01-01T00:00:00Z' })),
        });
      }),
    );
    const pages: Page[] = [];
    for await (const p of connector().changes('contacts', null, signal)) pages.push(p);
    expect(countAnsweredAfterList).toBe(true);
    expect(pages[0]?.records.map((r) => r.id)).toEqual(['1', '2']);
    expect(pages[0]?.total).toBe(2);
  });

  it('inline associations: a numeric id is read as its string, a malformed entry is a bad_response naming where', async () => {
    const page = (companies: unknown[]) => {
      server.use(
        http.post(`${BASE}/crm/v3/objects/contacts/search`, () => HttpResponse.json({ total: 1, results: [] })),
        http.get(`${BASE}/crm/v3/objects/contacts`, () =>
          HttpResponse.json({
            results: [{ id: '1', properties: { email: 'x@y.z' }, updatedAt: '2026-01-01T00:00:00Z', associations: { companies: { results: companies } } }],
          }),
        ),
      );
    };
    page([
      { id: 70, type: 'contact_to_company_unlabeled' },
      { id: 70, type: 'contact_to_company' },
      { id: '80', type: 'contact_to_company_unlabeled' },
    ]);
    const records = [];
    for await (const p of connector().changes('contacts', null, signal)) records.push(...p.records);
    expect(records.map((r) => [r.id, r.companyId])).toEqual([['1', '70']]);

    for (const bad of [[{ id: null, type: 'contact_to_company' }], [{ id: '70', type: 1 }], [{ type: 'contact_to_company' }], ['70'], { id: '70' }]) {
      page(bad as unknown[]);
      const e = await (async () => {
        for await (const p of connector().changes('contacts', null, signal)) expect(p).toBeUndefined();
      })().catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CrmError);
      expect((e as CrmError).kind).toBe('bad_response');
      expect((e as CrmError).message).toContain('results.0.associations.companies.results: results is not a list of { id, type }');
    }
  });

  it('a record whose property is not a string or null: bad_response naming the record and the property', async () => {
    for (const [properties, said] of [
      [{ email: 'a@b.c', num_notes: 3 }, 'results.1.properties: property "num_notes" is neither a string nor null'],
      [['a@b.c'], 'results.1.properties: properties is not an object'],
    ] as const) {
      server.use(
        http.post(`${BASE}/crm/v3/objects/contacts/search`, () => HttpResponse.json({ total: 2, results: [] })),
        http.get(`${BASE}/crm/v3/objects/contacts`, () =>
          HttpResponse.json({
            results: [
              { id: '1', properties: { email: 'x@y.z', firstname: null }, updatedAt: '2026-01-01T00:00:00Z' },
              { id: '2', properties, updatedAt: '2026-01-01T00:00:00Z' },
            ],
          }),
        ),
      );
      const e = await (async () => {
        for await (const p of connector().changes('contacts', null, signal)) expect(p).toBeUndefined();
      })().catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CrmError);
      expect((e as CrmError).kind).toBe('bad_response');
      expect((e as CrmError).message).toContain(said);
    }
  });
});
