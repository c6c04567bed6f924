import { afterEach, describe, expect, it } from 'vitest';
import { readContacts } from '../../../src/scoring/features.ts';
import { loyaltyInputs, tryExpected } from '../../../src/scoring/loyalty.ts';
import { loadPortalModels, type PortalModels } from '../../../src/scoring/portal-models.ts';
import { scoreOne } from '../../../src/scoring/score-portal.ts';
import { computeFeatures } from '../../../src/scoring/features.ts';
import type { ContactScores } from '../../../src/store/scores.ts';
import { contact, load, NOW, openStore, PORTAL, purchase, survey } from './fixtures.ts';

/**
 * BG/NBD parameters a fit can produce (a tiny α: purchase rates spread over a huge range) under
 * which E[Y(t)] cannot be evaluated for a customer who first bought an hour ago: the ₂F₁ series
 * refuses a 90-day horizon against α + T of a few thousandths of a week (found by probing).
 */
const UNUSABLE = { r: 50, alpha: 1e-6, a: 5, b: 2.4 };

let env: ReturnType<typeof openStore> | undefined;
afterEach(async () => {
  await env?.cleanup();
  env = undefined;
});

async function scoredUnder(bgNbd: PortalModels['loyalty']['bgNbd'] | undefined): Promise<ContactScores> {
  env ??= openStore();
  // two purchases today (the second an hour ago), a detractor answer a month ago
  await load(env.store, [contact('new'), purchase('new', 0.05), purchase('new', 0.04), survey('new', 'NPS', 3, 30)]);
  const models = await loadPortalModels(env.store, PORTAL);
  const used = bgNbd === undefined ? models : { ...models, loyalty: { ...models.loyalty, bgNbd } };
  const [input] = await readContacts(env.store, PORTAL, ['new']);
  if (input === undefined) throw new Error('contact not loaded');
  return scoreOne(input, undefined, used, NOW);
}

describe('a purchase model that cannot be evaluated', () => {
  it('gives neutral purchase-pattern inputs, not P(alive) = 0, and says so', async () => {
    env = openStore();
    await load(env.store, [contact('new'), purchase('new', 0.05), purchase('new', 0.04)]);
    const [input] = await readContacts(env.store, PORTAL, ['new']);
    if (input === undefined) throw new Error('contact not loaded');
    const f = computeFeatures(input, NOW, undefined, NOW);
    const models = await loadPortalModels(env.store, PORTAL);
    expect(tryExpected(UNUSABLE, 52, { x: 1, tx: 0.0001, T: 0.0003 })).toBeNull();
    const l = loyaltyInputs(f, { ...models.loyalty, bgNbd: UNUSABLE });
    expect(l).toMatchObject({ pAlive: 0.5, pChurn90d: 0.5, purchaseModelFailed: true });
    expect(l.expected90d).toBeGreaterThan(0);
    // the cold-start parameters evaluate fine for the same history
    expect(loyaltyInputs(f, models.loyalty).purchaseModelFailed).toBeUndefined();
  });

  it('lowers the confidence of loyalty and churn risk, and no reason quotes the failed model', async () => {
    const ok = await scoredUnder(undefined);
    await env?.cleanup();
    env = undefined;
    const failed = await scoredUnder(UNUSABLE);

    expect(failed.loyalty.value).toBe(50);
    expect(failed.loyalty.confidence).toBeCloseTo(ok.loyalty.confidence / 2, 2);
    expect(failed.loyalty.reasons.map((r) => r.text)).toEqual(['purchase pattern could not be modelled: loyalty shown as neutral']);
    expect(failed.churnRisk.confidence).toBeCloseTo(ok.churnRisk.confidence / 2, 2);
    const churnTexts = failed.churnRisk.reasons.map((r) => r.text);
    expect(churnTexts).toContain('purchase pattern could not be modelled: left out of this estimate');
    expect(churnTexts.filter((t) => /buying pattern|purchases expected/.test(t))).toEqual([]);
    // the rest of the evidence still speaks
    expect(churnTexts).toContain('1 unhappy survey answer');
    expect(Number.isFinite(failed.churnRisk.value)).toBe(true);
  });
});
