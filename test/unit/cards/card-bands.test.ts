/**
 * Issue 17: the band a rep sees agrees with the number they see, at every band edge, from the
 * scorer through the card API to the rendered card; and a contact whose only story is bad data
 * shows it once, on the confidence line, never as a reason.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createElement, createRenderer, StatisticsItem, Tag, Text } from '../../../ui-extension/hubspot/src/app/cards/test-kit.ts';
import { ScoreCard, type CardFetch } from '../../../ui-extension/hubspot/src/app/cards/ScoreCard.tsx';
import { bandHigherIsBetter, bandHigherIsWorse, DEFAULT_BANDS } from '../../../src/scoring/bands.ts';
import type { ContactInput } from '../../../src/scoring/features.ts';
import { loadPortalModels } from '../../../src/scoring/portal-models.ts';
import { scoreOne } from '../../../src/scoring/score-portal.ts';
import { buildCardResponse } from '../../../src/server/cards.ts';
import type { Store } from '../../../src/store/index.ts';
import { SCORE_KEYS } from '../../../src/store/scores.ts';
import { contact, NOW, PORTAL_A, scores, seedStore } from './fixtures.ts';

let store: Store | undefined;
afterEach(() => store?.close());

async function renderFor(s: Store, id: string) {
  const body = await buildCardResponse(s, PORTAL_A, id, NOW);
  const fetch: CardFetch = async () => ({ ok: true, status: 200, json: async () => body });
  const r = createRenderer('crm.record.tab');
  r.render(createElement(ScoreCard, { contactId: id, portalId: 62515, backendUrl: 'https://rapport.example.com', fetch }));
  await r.waitFor(() => expect(r.maybeFind(StatisticsItem)).not.toBeNull());
  return r;
}

describe('card at the band edges', () => {
  // [stored value, what the tile shows, the band a rep must see]
  const satisfaction = [
    [69.94, '70', 'green'],
    [70, '70', 'green'],
    [69.4, '69', 'yellow'],
    [39.99, '40', 'yellow'],
    [40, '40', 'yellow'],
    [39.4, '39', 'red'],
  ] as const;
  const churn = [
    [49.5, '50%', 'red'],
    [49.4, '49%', 'yellow'],
    [19.99, '20%', 'yellow'],
    [19.4, '19%', 'green'],
  ] as const;
  const LABEL = { green: 'Healthy', yellow: 'Needs attention', red: 'At risk' } as const;

  it.each(satisfaction)('satisfaction %s shows %s with the %s band', async (value, shown, band) => {
    expect(bandHigherIsBetter(value, DEFAULT_BANDS.satisfaction)).toBe(band);
    store = await seedStore();
    await store?.records.upsertPage([contact(PORTAL_A, '500')]);
    await store.saveScores(PORTAL_A, [{ properties: {}, scores: scores('500', NOW, { sat: value }) }], { clearIds: [], readAt: 0, volatile: [] });
    const r = await renderFor(store, '500');
    expect(r.findByTestId(StatisticsItem, 'score-satisfaction').props.number).toBe(shown);
    expect(r.findByTestId(Tag, 'band-satisfaction').text).toBe(LABEL[band]);
    expect(r.findByTestId(Text, 'hint-satisfaction').text).toBe('out of 100 · green ≥ 70, red < 40');
  });

  it.each(churn)('churn risk %s shows %s with the %s band', async (value, shown, band) => {
    expect(bandHigherIsWorse(value, DEFAULT_BANDS.churnRisk)).toBe(band);
    store = await seedStore();
    await store?.records.upsertPage([contact(PORTAL_A, '501')]);
    await store.saveScores(PORTAL_A, [{ properties: {}, scores: scores('501', NOW, { churn: value }) }], { clearIds: [], readAt: 0, volatile: [] });
    const r = await renderFor(store, '501');
    expect(r.findByTestId(StatisticsItem, 'score-churnRisk').props.number).toBe(shown);
    expect(r.findByTestId(Tag, 'band-churnRisk').text).toBe(LABEL[band]);
    expect(r.findByTestId(Text, 'hint-churnRisk').text).toBe('chance of leaving in 90 days · green < 20%, red ≥ 50%');
  });
});

describe('a contact whose only story is bad data', () => {
  it('names the problems once, on the confidence line, and no reason mentions them', async () => {
    store = await seedStore();
    const record = contact(PORTAL_A, '502');
    await store?.records.upsertPage([{ ...record, issues: [{ code: 'invalid_phone', field: 'contacts.phone' }, { code: 'future_date', field: 'deals.closedAt' }] }]);
    const input: ContactInput = { id: '502', companyId: null, data: record.data as ContactInput['data'], issues: [{ code: 'invalid_phone', field: 'contacts.phone' }, { code: 'future_date', field: 'deals.closedAt' }], linked: [] };
    const s = scoreOne(input, undefined, await loadPortalModels(store, PORTAL_A), NOW);
    await store.saveScores(PORTAL_A, [{ properties: {}, scores: s }], { clearIds: [], readAt: 0, volatile: [] });
    for (const k of SCORE_KEYS) for (const reason of s[k].reasons) expect(reason.text).not.toMatch(/phone|close date|data problem|confidence/);

    const r = await renderFor(store, '502');
    const confidence = r.findByTestId(Text, 'confidence').text;
    expect(confidence).toMatch(/^\d+% — /);
    expect(confidence).toContain('invalid phone number');
    expect(confidence).toContain('date in the future (deal close date)');
    expect(confidence).not.toContain('closedate');
    const reasons = r.findAll(Text).filter((t) => (t.props as { testId?: string }).testId?.startsWith('reason-') === true);
    for (const t of reasons) expect(t.text).not.toMatch(/phone|date in the future/);
  });

  it('scores stored by an older Rapport (words) still show; one entry of an unknown shape drops alone', async () => {
    store = await seedStore();
    const record = contact(PORTAL_A, '503');
    await store?.records.upsertPage([record]);
    const input: ContactInput = { id: '503', companyId: null, data: record.data as ContactInput['data'], issues: [], linked: [] };
    const s = scoreOne(input, undefined, await loadPortalModels(store, PORTAL_A), NOW);
    const extra = { ...s.extra, dataIssues: ['possible duplicate of contact 9', { code: 'retired_code', field: 'x' }, { code: 'invalid_phone', field: 'contacts.phone' }] };
    await store.saveScores(PORTAL_A, [{ properties: {}, scores: { ...s, extra } }], { clearIds: [], readAt: 0, volatile: [] });
    const confidence = (await renderFor(store, '503')).findByTestId(Text, 'confidence').text;
    expect(confidence).toMatch(/^\d+% — possible duplicate of contact 9, invalid phone number$/);
  });
});
