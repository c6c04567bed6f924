import { afterEach, describe, expect, it } from 'vitest';
import { toRecord as hubspotRecord } from '../../src/connectors/hubspot/mapping.ts';
import { toRecord as salesforceRecord } from '../../src/connectors/salesforce/mapping.ts';
import type { DealData } from '../../src/connectors/types.ts';
import { computeFeatures, readContacts } from '../../src/scoring/features.ts';
import { scoreContacts } from '../../src/scoring/score-portal.ts';
import type { Store } from '../../src/store/index.ts';
import { contact, load, NOW, openStore, PORTAL, purchase } from '../unit/scoring/fixtures.ts';

/**
 * Issue 15 item 11 (bounds): a deal amount of 1e21 and a close date at −8.64e15 (the smallest
 * JS date) flowed into reasons written back to the CRM ("no purchase in 100020790 days",
 * "expected value next year 794,466,592,522,648"). They are data issues now, and lower confidence.
 */
let env: { store: Store; cleanup: () => void } | undefined;
afterEach(() => env?.cleanup());

describe('implausible CRM values', () => {
  it('are dropped at cleaning with a named data issue (HubSpot and Salesforce)', () => {
    const hs = hubspotRecord(
      'hubspot:1',
      'deals',
      { id: '9', updatedAt: '2026-01-01T00:00:00Z', properties: { amount: '1e21', closedate: '-8640000000000000', createdate: '2025-01-01T00:00:00Z', dealstage: 'closedwon', hs_is_closed_won: 'true' } },
      { contacts: ['1'] },
      NOW,
    );
    expect(hs.issues).toEqual(expect.arrayContaining([{ code: 'implausible_amount', field: 'deals.amount' }, { code: 'implausible_date', field: 'deals.closedAt' }]));
    expect(hs.data as DealData).toMatchObject({ amount: null, amountRaw: '1e21', closedAt: null });

    const plausible = hubspotRecord('hubspot:1', 'deals', { id: '10', updatedAt: '2026-01-01T00:00:00Z', properties: { amount: '250000000', closedate: '2025-06-01T00:00:00Z' } }, {}, NOW);
    expect(plausible.issues ?? []).toEqual([]);
    expect((plausible.data as DealData).amount).toBe(250_000_000);

    const sf = salesforceRecord(
      'salesforce:00D1',
      'deals',
      { attributes: { type: 'Opportunity' }, Id: '0061', SystemModstamp: '2026-01-01T00:00:00.000+0000', Amount: 1e21, CloseDate: '9999-12-31', IsClosed: true, IsWon: true, StageName: 'Closed Won' } as never,
      NOW,
    );
    expect(sf.issues).toEqual(expect.arrayContaining([{ code: 'implausible_amount', field: 'deals.amount' }, { code: 'implausible_date', field: 'deals.closedAt' }]));
  });

  it('already in the cache: ignored at feature time, named, and lower confidence; no absurd reason', async () => {
    env = openStore();
    const { store } = env;
    const sane = purchase('c1', 30, 1200);
    const huge = purchase('c1', 60, 1e21);
    const ancient = purchase('c1', 90, 500);
    (ancient.data as DealData).closedAt = -8.64e15;
    await load(store, [contact('c1'), sane, huge, ancient, contact('c2'), purchase('c2', 30, 1200)]);

    const [input] = await readContacts(store, PORTAL, ['c1']);
    const f = computeFeatures(input!, NOW, undefined, NOW);
    expect(f.monetaryTotal).toBe(1200);
    expect(f.recencyDays).toBeLessThan(31);
    expect(f.dataIssues).toEqual(expect.arrayContaining([{ code: 'implausible_amount', field: 'deals.amount' }, { code: 'implausible_date', field: 'deals.date' }]));
    const [clean] = await readContacts(store, PORTAL, ['c2']);
    expect(f.dataQuality).toBeLessThan(computeFeatures(clean!, NOW, undefined, NOW).dataQuality);

    await scoreContacts(store, PORTAL, { contactIds: ['c1'], now: NOW });
    const scores = await store.scores.get(PORTAL, 'c1');
    expect(scores).toBeDefined();
    const reasons = [scores!.satisfaction, scores!.loyalty, scores!.churnRisk, scores!.serviceNeed]
      .flatMap((s) => s.reasons.map((r) => r.text))
      .join(' | ');
    // data problems are named once, beside the confidence (issue 17), never as a reason
    expect(scores!.extra['dataIssues']).toEqual(expect.arrayContaining([{ code: 'implausible_amount', field: 'deals.amount' }]));
    expect(reasons).not.toContain('implausible');
    // no reason built from the absurd values: no 9+ digit day counts or amounts, no exponent
    expect(reasons).not.toMatch(/\d{9}|e\+?21|1e21|\d{1,3}(,\d{3}){4}/i);
  });
});
