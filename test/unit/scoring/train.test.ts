import { afterEach, describe, expect, it } from 'vitest';
import type { CrmRecord } from '../../../src/connectors/types.ts';
import { createRandom } from '../../../src/stats/random.ts';
import { loadPortalModels } from '../../../src/scoring/portal-models.ts';
import { scoreContacts } from '../../../src/scoring/score-portal.ts';
import { churnLabel, trainPortal } from '../../../src/scoring/train.ts';
import { DEFAULT_CHURN_DEFINITION } from '../../../src/scoring/churn.ts';
import type { Store } from '../../../src/store/index.ts';
import { contact, engagement, load, NOW, openStore, PORTAL, purchase, ticket } from './fixtures.ts';

let env: { store: Store; cleanup: () => void } | undefined;
afterEach(() => env?.cleanup());

/**
 * A small synthetic portal: every customer buys about monthly and writes in about every three
 * weeks while alive; 45 % stop at a random day in the last 400 days. Churn is then visible in
 * the data, so a time-split model must find it.
 */
function simulate(n: number, seed: number): CrmRecord[] {
  const rnd = createRandom(seed);
  const exp = (mean: number) => -Math.log(1 - rnd()) * mean;
  const recs: CrmRecord[] = [];
  for (let i = 0; i < n; i++) {
    const id = `s${String(i).padStart(4, '0')}`;
    const start = 200 + Math.floor(rnd() * 500); // days ago
    const stop = rnd() < 0.45 ? Math.floor(rnd() * 400) : -1; // days ago it went quiet (−1: never)
    recs.push(contact(id, { createdAt: NOW - start * 86_400_000 }));
    const buyEvery = 20 + rnd() * 40;
    for (let d = start - exp(buyEvery); d > stop && d > 0; d -= exp(buyEvery)) recs.push(purchase(id, d, 200 + Math.round(rnd() * 2000)));
    for (let d = start - exp(21); d > stop && d > 0; d -= exp(21)) recs.push(engagement('emails', id, d, 'inbound', rnd() < 0.2 ? 'thanks, great' : null));
    const ticketEvery = rnd() < 0.3 ? 25 : 150;
    for (let d = start - exp(ticketEvery); d > stop && d > 0; d -= exp(ticketEvery)) recs.push(ticket(id, d));
    recs.push(engagement('calls', id, Math.floor(rnd() * 300), 'outbound'));
  }
  return recs;
}

describe('trainPortal', () => {
  it('trains churn and service-need models on a time split, stores versioned models with metrics', async () => {
    env = openStore();
    const { store } = env;
    await load(store, simulate(400, 7));
    // plain 90-day no-purchase label (no confirmation window): the simulation's quiet customers are gone
    const res = await trainPortal(store, PORTAL, { now: NOW, churnDefinition: { ...DEFAULT_CHURN_DEFINITION, confirmDays: 0 } });
    expect(res.version).toBe('m20260601T000000000');
    expect(res.metrics['churn_trained']).toBe(1);
    expect(res.metrics['churn_test_n']).toBeGreaterThan(300);
    expect(res.metrics['churn_test_positives']).toBeGreaterThan(30);
    expect(res.metrics['churn_auc']).toBeGreaterThan(0.8);
    expect(res.metrics['churn_ece']).toBeLessThan(0.12);
    expect(res.metrics['churn_lift_top10']).toBeGreaterThan(1.3);
    for (const k of ['churn_pr_auc', 'churn_brier', 'service_auc', 'service_brier', 'service_ece']) expect(Number.isFinite(res.metrics[k])).toBe(true);
    expect(res.metrics['service_auc']).toBeGreaterThan(0.6);

    const stored = await store.models.latest(PORTAL, 'churn');
    expect(stored?.version).toBe(res.version);
    expect((stored?.metrics as Record<string, number>)['auc']).toBe(res.metrics['churn_auc']);
    const models = await loadPortalModels(store, PORTAL);
    expect(models.version).toBe(res.version);
    expect(models.churn.source).toBe('trained');
    expect(models.loyalty.expectedRef).toBeGreaterThan(0);

    await scoreContacts(store, PORTAL, { contactIds: 'all', now: NOW });
    const s = await store.scores.get(PORTAL, 's0000');
    expect(s?.modelVersion).toBe(res.version);
    expect(s?.churnRisk.reasons.some((r) => r.text.includes('default model'))).toBe(false);
  });

  it('a retrain keeps the earlier versions with their metrics, even within the same second; each score names the model that made it', async () => {
    env = openStore();
    const { store } = env;
    await load(store, simulate(200, 3));
    const first = await trainPortal(store, PORTAL, { now: NOW });
    await scoreContacts(store, PORTAL, { contactIds: 'all', now: NOW });
    const before = await store.scores.history(PORTAL, 's0000', 0);
    // two more trainings in the same second, one of them in the same millisecond
    await load(store, simulate(260, 4));
    const second = await trainPortal(store, PORTAL, { now: NOW + 400 });
    const third = await trainPortal(store, PORTAL, { now: NOW + 400 });
    expect([first.version, second.version, third.version]).toEqual(['m20260601T000000000', 'm20260601T000000400', 'm20260601T000000400-2']);
    for (const kind of ['churn', 'service_need', 'loyalty', 'satisfaction']) {
      expect((await store.models.versions(PORTAL, kind)).map((m) => m.version)).toEqual([third.version, second.version, first.version]);
    }
    // the first model is still there with its own metrics, not the retrain's
    const churn1 = await store.models.get(PORTAL, 'churn', first.version);
    expect((churn1?.metrics as Record<string, number>)['test_n']).toBe(first.metrics['churn_test_n']);
    expect(((await store.models.get(PORTAL, 'churn', second.version))?.metrics as Record<string, number>)['test_n']).toBe(second.metrics['churn_test_n']);
    expect(first.metrics['churn_test_n']).not.toBe(second.metrics['churn_test_n']);
    // the current model is the newest; the score made before the retrain traces to the first
    expect((await store.models.latest(PORTAL, 'churn'))?.version).toBe(third.version);
    expect(before.at(-1)?.modelVersion).toBe(first.version);
    expect((await store.scores.get(PORTAL, 's0000'))?.modelVersion).toBe(first.version);
    await scoreContacts(store, PORTAL, { contactIds: 'all', now: NOW + 1000 });
    expect((await store.scores.get(PORTAL, 's0000'))?.modelVersion).toBe(third.version);
  });

  it('the default label confirms a loss over 270 days and weighs quiet slow buyers by BG/NBD', async () => {
    const bg = { r: 0.35, alpha: 6, a: 0.8, b: 2.5 };
    expect(churnLabel({ quiet: false, explicit: false, atHorizon: { x: 5, tx: 30, T: 40 } }, bg, 26)).toBe(0);
    // never repeated: under BG/NBD they cannot have dropped out, so quiet means slow, not gone
    expect(churnLabel({ quiet: true, explicit: false, atHorizon: { x: 0, tx: 0, T: 40 } }, bg, 26)).toBe(0);
    // a frequent buyer silent since week 10 of 60, and for 26 more weeks: almost surely gone
    const gone = churnLabel({ quiet: true, explicit: false, atHorizon: { x: 12, tx: 10, T: 60 } }, bg, 26);
    expect(gone).toBeGreaterThan(0.95);
    // a frequent buyer who bought last week and then went quiet: less sure
    const recent = churnLabel({ quiet: true, explicit: false, atHorizon: { x: 12, tx: 59, T: 60 } }, bg, 26);
    expect(recent).toBeLessThan(gone);
    expect(recent).toBeGreaterThan(0);
    expect(churnLabel({ quiet: true, explicit: false, atHorizon: null }, bg, 26)).toBe(1);

    env = openStore();
    const res = await trainPortal(env.store, PORTAL, { now: NOW });
    expect(res.metrics['churn_trained']).toBe(0);
    const stored = (await env.store.models.latest(PORTAL, 'churn'))?.params as { definition: unknown };
    expect(stored.definition).toEqual({ horizonDays: 90, confirmDays: 270, signals: { lostDealStages: [], lostLifecycleStages: [] } });
  });

  it('keeps the documented cold-start prior when there is too little labelled history', async () => {
    env = openStore();
    const { store } = env;
    await load(store, simulate(12, 3));
    const res = await trainPortal(store, PORTAL, { now: NOW });
    expect(res.metrics['churn_trained']).toBe(0);
    expect(res.metrics['service_trained']).toBe(0);
    const models = await loadPortalModels(store, PORTAL);
    expect(models.churn.source).toBe('prior');
    expect(models.loyalty.bgNbd).toEqual({ r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 });
  });

  it('an empty portal trains nothing and does not throw', async () => {
    env = openStore();
    const res = await trainPortal(env.store, PORTAL, { now: NOW });
    expect(res.metrics['contacts']).toBe(0);
    expect((await loadPortalModels(env.store, PORTAL)).churn.source).toBe('prior');
  });
});
