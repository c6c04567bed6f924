/**
 * Loyalty 0–100 from purchase history (closed-won deals): BG/NBD P(alive) and expected
 * purchases, Gamma-Gamma expected spend → CLV, and RFM quintiles (ARCHITECTURE §5,
 * Fader, Hardie & Lee 2005, https://doi.org/10.1287/mksc.1040.0098 and Fader, Hardie & Lee 2005, "RFM and CLV", Journal of Marketing Research 42(4)). Time unit: weeks.
 *
 *   loyalty = 100 · (½ · P(alive) + ½ · E/(E + E_ref))
 *
 * with E = E[Y(52 weeks) | x, tₓ, T] and E_ref the portal's median among buyers: a customer who is
 * surely active and expected to buy as often as the median buyer scores 75. Non-buyers score 0
 * (loyalty is about purchases; their engagement shows in the other scores).
 */
import {
  bgNbdConditionalExpected,
  bgNbdPAlive,
  type BgNbdParams,
  type RfmSummary,
} from '../stats/bg-nbd.ts';
import { conditionalExpectedSpend, type GammaGammaParams } from '../stats/gamma-gamma.ts';
import type { Reason } from '../store/scores.ts';
import { bandOf } from './bands.ts';
import type { Scorer } from './scorer.ts';
import { agoText, daysText, plural, topReasons } from './explain.ts';
import type { ContactFeatures } from './features.ts';
import type { LoyaltyInputs } from './vector.ts';
import { clamp, round3 } from './satisfaction.ts';

export type LoyaltyParams = {
  bgNbd: BgNbdParams;
  gammaGamma: GammaGammaParams;
  /** median E[Y(52w)] among buyers */
  expectedRef: number;
  /** RFM quintile edges (4 each), from buyers: recency in days, frequency in purchases, monetary mean */
  rfmEdges: { recency: number[]; frequency: number[]; monetary: number[] };
};

/**
 * Cold start: CDNOW's published BG/NBD parameters (Fader, Hardie & Lee 2005, https://doi.org/10.1287/mksc.1040.0098)
 * and a Gamma-Gamma with CDNOW's shape (p 6.25, q 3.74) and a scale γ that puts the population
 * mean spend at 1,000; replaced by the portal's own fit once `rapport train` has run.
 */
export const DEFAULT_LOYALTY: LoyaltyParams = {
  bgNbd: { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 },
  gammaGamma: { p: 6.25, q: 3.74, gamma: (1000 * (3.74 - 1)) / 6.25 },
  expectedRef: 0.5,
  rfmEdges: { recency: [30, 90, 180, 365], frequency: [1, 2, 3, 5], monetary: [250, 500, 1000, 2500] },
};

const WEEK_DAYS = 7;

/**
 * BG/NBD values, or null where the model cannot be evaluated: the ₂F₁ series refuses some
 * (parameter, horizon) corners with a RangeError, and extreme histories overflow to NaN or ∞.
 * A scorer must never crash on one contact, and must not read a failure as a fact: P(alive) = 0
 * would be the strongest churn signal there is. Callers fall back to neutral values and say so
 * (`purchaseModelFailed`), which lowers the confidence of the scores that use them.
 */
export function tryPAlive(params: BgNbdParams, s: RfmSummary): number | null {
  try {
    const v = bgNbdPAlive(params, s);
    return Number.isFinite(v) && v >= 0 && v <= 1 ? v : null;
  } catch {
    return null;
  }
}

export function tryExpected(params: BgNbdParams, weeks: number, s: RfmSummary): number | null {
  try {
    const v = bgNbdConditionalExpected(params, weeks, s);
    return Number.isFinite(v) && v >= 0 ? v : null;
  } catch {
    return null;
  }
}

/** BG/NBD summary of a contact: x repeat purchases, tₓ and T in weeks from the first purchase. */
export function rfmSummary(f: ContactFeatures): RfmSummary | null {
  if (f.purchases === 0) return null;
  const T = f.daysSinceFirstPurchase / WEEK_DAYS;
  const tx = Math.max(0, Math.min(T, (f.daysSinceFirstPurchase - f.recencyDays) / WEEK_DAYS));
  return { x: f.purchases - 1, tx, T };
}

export function loyaltyInputs(f: ContactFeatures, params: LoyaltyParams): LoyaltyInputs {
  const s = rfmSummary(f);
  if (s === null) return { pAlive: 0, expected90d: 0, pChurn90d: 0.5 };
  const weeks = 90 / WEEK_DAYS;
  const pAlive = tryPAlive(params.bgNbd, s);
  const expected90d = tryExpected(params.bgNbd, weeks, s);
  const pChurn90d = pAlive === null ? null : bgNbdChurn(params.bgNbd, s, pAlive, weeks);
  if (pAlive === null || expected90d === null || pChurn90d === null) {
    // neutral: even odds, and the account's typical buyer's pace (expectedRef is E[Y(52 w)])
    return { pAlive: 0.5, expected90d: (params.expectedRef * weeks) / 52, pChurn90d: 0.5, purchaseModelFailed: true };
  }
  return { pAlive, expected90d, pChurn90d };
}

/**
 * P(not alive in t weeks | x, tₓ, T) under BG/NBD: 1 − P(alive)·E[e^{−λpt}]. Alive, the
 * customer drops out at rate λp (a purchase at rate λ, dropout with probability p after it);
 * the posterior λ is Gamma(r+x, α+T), so E[e^{−λpt}] = (1 + p·t/(α+T))^{−(r+x)}, taken at the
 * posterior mean p̄ = a/(a+b+x). The churn model uses it as an input (it knows the purchase
 * rhythm; the logistic model adds tickets, tone and engagement).
 */
export function bgNbdChurn(params: BgNbdParams, s: RfmSummary, pAlive: number, weeks: number): number | null {
  const { r, alpha, a, b } = params;
  const pBar = a / (a + b + s.x);
  const survive = Math.pow(1 + (pBar * weeks) / (alpha + s.T), -(r + s.x));
  const v = 1 - pAlive * survive;
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : null;
}

/** RFM cell "545": R reversed (recent = 5), each 1–5 by the stored quintile edges. */
export function rfmCell(f: ContactFeatures, edges: LoyaltyParams['rfmEdges']): string {
  return `${6 - quintile(f.recencyDays, edges.recency)}${quintile(f.purchases, edges.frequency)}${quintile(f.monetaryMean, edges.monetary)}`;
}

/** 1 + the number of edges below v (a module function, not a closure: it runs per contact). */
function quintile(v: number, edges: readonly number[]): number {
  let q = 1;
  for (const x of edges) if (v > x) q++;
  return q;
}

/** `inputs.loyalty`: this contact's `loyaltyInputs(f, params)`, computed once for every model. */
export const scoreLoyalty: Scorer = ({ features: f, loyalty: inputs, models, bands }) => {
  const params = models.loyalty;
  const s = rfmSummary(f);
  if (s === null) {
    const reasons: Reason[] = [{ text: 'no purchases yet', impact: 0 }];
    return {
      score: { value: 0, band: bandOf('loyalty', 0, bands), confidence: round3(0.5 * f.dataQuality), reasons },
      extra: { clv: 0, pAlive: 0, expectedPurchases52w: 0, rfm: null },
    };
  }
  const spend = f.amountCount > 0 ? conditionalExpectedSpend(params.gammaGamma, { x: f.amountCount, zbar: f.monetaryMean }) : conditionalExpectedSpend(params.gammaGamma, { x: 0, zbar: 0 });
  const e52Modelled = inputs.purchaseModelFailed === true ? null : tryExpected(params.bgNbd, 52, s);
  if (e52Modelled === null) {
    // The purchase model cannot be evaluated for this history: a neutral score at half the
    // confidence, no purchase-pattern reason (it would state what the model could not compute).
    const value = 50;
    const reasons: Reason[] = [{ text: 'purchase pattern could not be modelled: loyalty shown as neutral', impact: 0 }];
    return {
      score: { value, band: bandOf('loyalty', value, bands), confidence: round3(0.5 * (1 - Math.exp(-(s.x + 1) / 2)) * f.dataQuality), reasons },
      extra: { clv: Math.round(spend * params.expectedRef * 100) / 100, pAlive: null, expectedPurchases52w: null, rfm: rfmCell(f, params.rfmEdges), purchaseModelFailed: true },
    };
  }
  const pAlive = inputs.pAlive;
  const e52 = e52Modelled;
  const eShare = e52 / (e52 + params.expectedRef);
  const value = 100 * (0.5 * pAlive + 0.5 * eShare);
  // CLV over the next year, undiscounted: E[M]·E[Y(52)] (customerLifetimeValue with d = 0
  // telescopes to this; one series evaluation instead of twelve keeps scoring fast).
  const clv = spend * e52;
  // Each reason reads in the direction it pushes (issue 11: "9 purchases in 714 days (−20.7)" read
  // as praise while it lowered the score). The expected value next year is an extra, not score points.
  const recencyImpact = 50 * (pAlive - 0.5);
  const bought = f.recencyDays >= 60 ? `no purchase in ${daysText(f.recencyDays)}` : `bought ${agoText(f.recencyDays)}`;
  const paceImpact = 50 * (eShare - 0.5);
  const pace = `${plural(f.purchases, 'purchase')} in ${daysText(f.daysSinceFirstPurchase)}`;
  const reasons: Reason[] = [
    { text: recencyImpact < 0 ? `${bought}: may have stopped buying` : `${bought}: still buying`, impact: recencyImpact },
    { text: `${pace}: ${paceImpact < 0 ? 'below' : 'above'} this account's usual pace`, impact: paceImpact },
  ];
  const shown = topReasons(reasons, 3);
  // Evidence grows with repeat purchases: one purchase says little about a rate.
  const evidence = 1 - Math.exp(-(s.x + 1) / 2);
  return {
    score: { value: clamp(value), band: bandOf('loyalty', value, bands), confidence: round3(evidence * f.dataQuality), reasons: shown },
    extra: { clv: Math.round(clv * 100) / 100, pAlive: round3(pAlive), expectedPurchases52w: round3(e52), rfm: rfmCell(f, params.rfmEdges) },
  };
};
