/** A small Rapport store with contacts in two portals and saved scores, for the card API, preview and browser tests. */
import type { CrmRecord } from '../../../src/connectors/types.ts';
import { createStore, type Store } from '../../../src/store/index.ts';
import type { Band, ContactScores } from '../../../src/store/scores.ts';
import { bandHigherIsBetter, bandHigherIsWorse, DEFAULT_BANDS } from '../../../src/scoring/bands.ts';

export const PORTAL_A = 'hubspot:62515';
export const PORTAL_B = 'hubspot:99999';
export const DAY = 24 * 60 * 60 * 1000;
export const NOW = Date.UTC(2026, 10, 23, 9, 30);

export function contact(portal: string, id: string, deleted = false): CrmRecord {
  return {
    portal,
    type: 'contacts',
    id,
    contactIds: undefined,
    companyId: null,
    updatedAt: NOW - 50 * DAY,
    deleted,
    data: { email: `${id}@x.io`, emailRaw: `${id}@x.io`, phone: null, phoneRaw: null, firstName: 'Ada', lastName: 'L', createdAt: 1, lifecycleStage: null },
  };
}

export function scores(contactId: string, at: number, over: { sat?: number; loy?: number; churn?: number; need?: number; health?: Band } = {}): ContactScores {
  // each tile's band follows its value, as the scorers decide it (bands.ts)
  const v = (value: number, band: (x: number) => Band, reasons: { text: string; impact: number }[]) => ({ value, band: band(value), confidence: 0.7, reasons });
  const better = (t: { green: number; red: number }) => (x: number) => bandHigherIsBetter(x, t);
  const worse = (t: { green: number; red: number }) => (x: number) => bandHigherIsWorse(x, t);
  return {
    contactId,
    satisfaction: v(over.sat ?? 72.4, better(DEFAULT_BANDS.satisfaction), [
      { text: 'Two promoter NPS answers', impact: 9.5 },
      { text: 'Tickets closed within a day', impact: 3 },
    ]),
    loyalty: v(over.loy ?? 41, better(DEFAULT_BANDS.loyalty), [{ text: 'Spend below portal median', impact: -4 }]),
    churnRisk: v(over.churn ?? 63, worse(DEFAULT_BANDS.churnRisk), [
      { text: 'No purchase in 200 days', impact: 14 },
      { text: 'Fewer meetings than last quarter', impact: 2 },
    ]),
    serviceNeed: v(over.need ?? 20, worse(DEFAULT_BANDS.serviceNeed), [{ text: 'One open ticket', impact: 1.5 }]),
    health: over.health ?? 'yellow',
    confidence: 0.66,
    modelVersion: 'hubspot-62515-v3',
    scoredAt: at,
    extra: {},
  };
}

/**
 * Portal A: contact 101 scored 40 days ago and again 2 days ago (history → 30-day change),
 * 102 known but never scored, 103 deleted (tombstone). Portal B: contact 201 scored.
 */
export async function seedStore(path = ':memory:'): Promise<Store> {
  const store = createStore({ path, now: () => NOW });
  await store.portals.upsert({ portal: PORTAL_A, crm: 'hubspot', externalId: '62515', baseUrl: 'https://api.hubapi.com', scopes: ['oauth'] });
  await store.portals.upsert({ portal: PORTAL_B, crm: 'hubspot', externalId: '99999', baseUrl: 'https://api.hubapi.com', scopes: ['oauth'] });
  await store.records.upsertPage([contact(PORTAL_A, '101'), contact(PORTAL_A, '102'), contact(PORTAL_A, '103', true), contact(PORTAL_B, '201')]);
  await store.saveScores(PORTAL_A, [{ properties: {}, scores: scores('101', NOW - 40 * DAY, { sat: 60, loy: 45, churn: 50, need: 20, health: 'green' }) }], { clearIds: [], readAt: 0, volatile: [] });
  await store.saveScores(PORTAL_A, [{ properties: {}, scores: scores('101', NOW - 2 * DAY) }], { clearIds: [], readAt: 0, volatile: [] });
  await store.saveScores(PORTAL_B, [{ properties: {}, scores: scores('201', NOW - 1 * DAY, { sat: 11, health: 'red' }) }], { clearIds: [], readAt: 0, volatile: [] });
  return store;
}
