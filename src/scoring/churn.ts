/**
 * Churn risk 0–100 = 100 · P(churn in the next `horizonDays`), from a logistic model trained on
 * the portal's own history with a time split (train.ts), over the columns of vector.ts.
 *
 * The churn label is configurable per portal (churn-definition.ts; docs/scores.md "The churn definition": in
 * non-contractual CRM data churn is latent and must be defined operationally). Churn means the
 * customer LEFT: an explicit signal where the CRM has one (a closed deal in a stage the admin
 * names as a lost renewal, a lifecycle stage meaning "former customer"), otherwise the purchase
 * process stopped (no closed-won deal). Inbound messages, tickets and survey answers are
 * features, never the label: counting them as "stayed" taught the model that any complaint
 * means safety (issue 17).
 */
import { sigmoid } from '../stats/special.ts';
import { bandOf } from './bands.ts';
import type { Scorer } from './scorer.ts';
import { topReasons } from './explain.ts';
import { clamp, round3 } from './satisfaction.ts';
import { COLUMN_NAMES, logisticReasons, type LinearModel } from './vector.ts';

export type ChurnSignals = {
  /**
   * deal stages (stage ids, as the CRM stores them) that mean "renewal lost": a deal closed in
   * one of them marks the customer as churned at its close date unless they buy again after it
   */
  lostDealStages: string[];
  /**
   * contact lifecycle stages that mean "no longer a customer" (a CRM's built-in
   * "other" stage, or a custom "former customer" stage; each connector's mapping cites its CRM's):
   * a past buyer in one of them counts as churned after their last purchase
   */
  lostLifecycleStages: string[];
  /**
   * the contact property (HubSpot) or field (Salesforce API name) holding the date the customer
   * left, when the CRM keeps one: the connector reads it into `churnedAt`, and a past date there
   * marks the customer as churned at that date unless they buy again after it
   */
  churnDateProperty?: string | undefined;
};

export type ChurnDefinition = {
  horizonDays: number;
  /**
   * 0: churned at t₀ + H = no purchase throughout (t₀, t₀ + H] (a plain window).
   * > 0: churned at t₀ + H = no purchase throughout (t₀ + H, t₀ + H + confirmDays], i.e. gone BY
   * the end of the horizon and not back since. This is the "not alive at t₀ + H" event of BG/NBD;
   * a plain window also labels slow-but-loyal customers who simply had nothing to buy that
   * quarter, and over-predicts. Quiet customers get BG/NBD-weighted soft labels (churn-label.ts).
   */
  confirmDays: number;
  signals: ChurnSignals;
};
/** The documented default (docs/scores.md "The churn definition"): purchase-based, no explicit signals mapped. */
export const DEFAULT_CHURN_DEFINITION: ChurnDefinition = {
  horizonDays: 90,
  confirmDays: 270,
  signals: { lostDealStages: [], lostLifecycleStages: [] },
};

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
 * e-fold of days without a purchase adds 0.9 to the logit; BG/NBD P(alive) (the purchase
 * pattern) subtracts 2.5 per unit; negative messages, unhappy survey answers and open
 * high-priority tickets add risk, very happy answers remove some. Uses only columns the trained
 * model may use, with the same signs (vector.ts CHURN_SIGNS): a friendly email does not swing it.
 * Chosen to agree in sign with the churn drivers docs/scores.md "Sanity the model cannot break" lists; not fitted.
 */
export const PRIOR_CHURN: ProbabilityModel = namedModel(-1.4, {
  'recency': [0.9, Math.log1p(45)],
  'P(alive)': [-2.5, 0.7],
  'negative messages': [0.5, 0],
  'detractor answers': [0.5, 0],
  'promoter answers': [-0.3, 0],
  'open high-priority': [0.4, 0],
  'purchases': [-0.3, Math.log1p(2)],
});

export function predictProbability(model: LinearModel, row: readonly number[]): number {
  let eta = model.intercept;
  const beta = model.coefficients;
  for (let j = 0; j < beta.length; j++) eta += (beta[j] as number) * (row[j] ?? 0);
  return sigmoid(eta);
}

export const scoreChurn: Scorer = ({ features: f, loyalty: l, row, models, bands }) => {
  const model = models.churn;
  const p = predictProbability(model, row);
  const value = 100 * p;
  const reasons = topReasons(logisticReasons(model, row, p, f, l), 4);
  const base = model.source === 'trained' ? 0.9 : 0.5;
  if (model.source === 'prior') reasons.push({ text: 'not enough history to train on: using the default model', impact: 0 });
  // neutral purchase-pattern inputs (loyaltyInputs) are no evidence: half the confidence
  const failed = l.purchaseModelFailed === true;
  if (failed) reasons.push({ text: 'purchase pattern could not be modelled: left out of this estimate', impact: 0 });
  return { score: { value: clamp(value), band: bandOf('churnRisk', value, bands), confidence: round3(base * (failed ? 0.5 : 1) * f.dataQuality), reasons } };
};
