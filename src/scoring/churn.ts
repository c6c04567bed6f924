/**
 * Churn risk 0–100 = 100 · P(churn in the next `horizonDays`), from a logistic model trained on
 * the portal's own history with a time split (train.ts), over the columns of vector.ts.
 *
 * The churn label is configurable (scoring.md §5.4: in non-contractual CRM data churn is
 * latent and must be defined operationally): by default a customer has churned by t₀ + 90 d
 * when they neither bought nor reached out (inbound message, ticket, survey answer) at any time
 * in the 270 days after t₀ + 90 d (see `confirmDays`).
 */
import type { ScoreValue } from '../store/scores.ts';
import { sigmoid } from './models/special.ts';
import { bandHigherIsWorse, type BandThresholds } from './bands.ts';
import { dataQualityReason, topReasons } from './explain.ts';
import type { ContactFeatures } from './features.ts';
import { clamp, round3 } from './satisfaction.ts';
import { COLUMN_NAMES, logisticReasons, type LinearModel, type LoyaltyInputs } from './vector.ts';

export type ChurnDefinition = {
  horizonDays: number;
  /** what counts as still being a customer */
  activity: 'purchase' | 'purchase_or_inbound';
  /**
   * 0: churned at t₀ + H = quiet throughout (t₀, t₀ + H] (a plain inactivity window).
   * > 0: churned at t₀ + H = quiet throughout (t₀ + H, t₀ + H + confirmDays], i.e. gone BY the end
   * of the horizon and not back since. This is the "not alive at t₀ + H" event of BG/NBD; a
   * plain window also labels slow-but-loyal customers who simply had nothing to buy that
   * quarter, and over-predicts (measured on the synthetic account: ECE 0.12 against the
   * truth, against 0.029 with a 270-day confirmation and BG/NBD-weighted soft labels; bench/models.ts).
   */
  confirmDays: number;
};
export const DEFAULT_CHURN_DEFINITION: ChurnDefinition = { horizonDays: 90, activity: 'purchase_or_inbound', confirmDays: 270 };

export type ProbabilityModel = LinearModel & {
  /** 'trained' from the portal's history, or the documented 'prior' (cold start) */
  source: 'trained' | 'prior';
};

/** Builds a model over COLUMNS from named coefficients (the cold-start priors below). */
export function namedModel(intercept: number, named: Record<string, [beta: number, mean: number]>): ProbabilityModel {
  for (const k of Object.keys(named)) if (!COLUMN_NAMES.includes(k)) throw new Error(`unknown model column ${k}`);
  return {
    source: 'prior',
    columns: COLUMN_NAMES,
    intercept: intercept - Object.values(named).reduce((s, [b, m]) => s + b * m, 0),
    coefficients: COLUMN_NAMES.map((c) => named[c]?.[0] ?? 0),
    means: COLUMN_NAMES.map((c) => named[c]?.[1] ?? 0),
  };
}

/**
 * Cold-start churn model, used until the portal has enough labelled history (train.ts:
 * MIN_CLASS). Centred on a typical customer (logit −1.4 ≈ 20 % 90-day churn), then: each
 * e-fold of days without any touch adds 0.9 to the logit; BG/NBD P(alive) (the purchase
 * pattern) subtracts 2.5 per unit; negative messages and open high-priority tickets add risk.
 * Chosen to agree in sign with every published churn driver in scoring.md §4.5; not fitted.
 */
export const PRIOR_CHURN: ProbabilityModel = namedModel(-1.4, {
  'days since touch': [0.9, Math.log1p(45)],
  'P(alive)': [-2.5, 0.7],
  'negative messages': [0.5, 0],
  'open high-priority': [0.4, 0],
  'purchases': [-0.3, Math.log1p(2)],
});

export function predictProbability(model: LinearModel, row: readonly number[]): number {
  let eta = model.intercept;
  const beta = model.coefficients;
  for (let j = 0; j < beta.length; j++) eta += (beta[j] as number) * (row[j] ?? 0);
  return sigmoid(eta);
}

export function scoreChurn(
  f: ContactFeatures,
  l: LoyaltyInputs,
  row: readonly number[],
  model: ProbabilityModel,
  bands: BandThresholds['churnRisk'],
): ScoreValue {
  const p = predictProbability(model, row);
  const value = 100 * p;
  const reasons = topReasons(logisticReasons(model, row, p, f, l), 4);
  const base = model.source === 'trained' ? 0.9 : 0.5;
  const dq = dataQualityReason(f.dataIssues, base * (1 - f.dataQuality));
  if (model.source === 'prior') reasons.push({ text: 'not enough history to train on: using the default model', impact: 0 });
  if (dq !== null) reasons.push(dq);
  return { value: clamp(value), band: bandHigherIsWorse(value, bands), confidence: round3(base * f.dataQuality), reasons };
}
