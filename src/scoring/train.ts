/**
 * Time-split training on the portal's own cache (ARCHITECTURE §5, docs/scores.md "Features (as of a date)").
 *
 * Churn (horizon H, default 90 days, confirmation window Q, default 270 days; churn.ts, the label
 * in churn-label.ts; the model's coefficients are sign-constrained, vector.ts CHURN_SIGNS): features
 * as of c₁ = t₀ − 2H − Q with labels from what happened after c₁ train a model that is tested on
 * features as of c₂ = t₀ − H − Q with labels from after c₂ — the test cut-off strictly follows
 * the training one, and every label window ends by t₀. Those held-out figures are stored as the metrics;
 * the model actually used is then refitted on both windows (more, and more recent, data).
 * Service need (H = 30 days) does the same with t₀ − 60 d / t₀ − 30 d. Loyalty (BG/NBD,
 * Gamma-Gamma, RFM edges) and the satisfaction prior are fitted as of t₀. BG/NBD P(alive), a
 * model input, is always taken from a fit made with data up to the cut-off in use (no leakage).
 *
 * Memory is bounded: one pass over the cache, keeping features only for a deterministic hash
 * sample of at most `sampleSize` contacts (models of ~27 coefficients need far fewer rows).
 */
import type { Logger } from '../log.ts';
import type { Store, StoredModel } from '../store/index.ts';
import { fitBgNbd, bgNbdConditionalExpected, type BgNbdParams, type RfmSummary } from '../stats/bg-nbd.ts';
import { fitGammaGamma } from '../stats/gamma-gamma.ts';
import { fitLogistic } from '../stats/logistic.ts';
import { sigmoid } from '../stats/special.ts';
import {
  averagePrecision,
  brierScore,
  expectedCalibrationError,
  liftAtTop,
  rocAuc,
} from '../stats/metrics.ts';
import { DEFAULT_CHURN_DEFINITION, PRIOR_CHURN, predictProbability, type ChurnDefinition, type ProbabilityModel } from './churn.ts';
import { churnEvidence, churnLabel, type ChurnEvidence } from './churn-label.ts';
import { CHANNELS, DAY_MS, computeFeatures, loadCompanies, outcomesBetween, readContactChunks, type Channel, type ContactFeatures } from './features.ts';
import { DEFAULT_LOYALTY, loyaltyInputs, rfmSummary, tryExpected, type LoyaltyParams } from './loyalty.ts';
import { DEFAULT_SATISFACTION } from './satisfaction.ts';
import { DEFAULT_CHANNEL_MIX, PRIOR_SERVICE, SERVICE_HORIZON_DAYS } from './service-need.ts';
import { COLUMN_NAMES, churnSignVector, modelRow } from './vector.ts';

export { churnLabel } from './churn-label.ts';

export type TrainOptions = {
  now: number;
  logger?: Logger;
  churnDefinition?: ChurnDefinition;
  /** contacts kept for fitting (default 50,000) */
  sampleSize?: number;
  /** L2 penalty on standardised coefficients (default 1) */
  l2?: number;
};

export type TrainResult = { version: string; metrics: Record<string, number> };

/** What a training computed, before it is saved: plain data, so a worker thread can post it. */
export type FittedModels = {
  trainedAt: number;
  models: Array<Omit<StoredModel, 'version' | 'trainedAt'>>;
  metrics: Record<string, number>;
};

/** Below this many positives or negatives a model is not trained: the cold-start prior stays. */
export const MIN_CLASS = 30;
const MIN_BUYERS = 50;
/**
 * BG/NBD and Gamma-Gamma fits use at most this many customers and Nelder–Mead iterations: the
 * parameters are population-level (four and three numbers), and when the optimum lies on the
 * boundary (e.g. no dropout: a, b → ∞) the optimiser would otherwise spend its whole budget.
 */
const FIT_ROWS = 8000;
const FIT_ITERATIONS = 6000;

function thin<T>(xs: readonly T[], max: number): T[] {
  if (xs.length <= max) return [...xs];
  const step = xs.length / max;
  return Array.from({ length: max }, (_, i) => xs[Math.floor(i * step)] as T);
}

/** FNV-1a of the id → [0, 1): a stable sample that does not depend on read order. */
export function hashUnit(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 4294967296;
}

/** Fits and saves a portal's models (the CLI's `rapport train`; the daemon fits off-thread, src/scoring/portal-scoring.ts). */
export async function trainPortal(store: Pick<Store, 'contacts' | 'records' | 'models'>, portal: string, opts: TrainOptions): Promise<TrainResult> {
  return saveFitted(store, portal, await fitPortal(store, portal, opts), opts.logger);
}

/** Saves a training's models under a fresh version (the only write of a training). */
export async function saveFitted(store: Pick<Store, 'models'>, portal: string, fitted: FittedModels, logger?: Logger): Promise<TrainResult> {
  const version = await store.models.unusedVersion(portal, versionFor(fitted.trainedAt));
  await store.models.saveAll(
    portal,
    fitted.models.map((m) => ({ ...m, version, trainedAt: fitted.trainedAt })),
  );
  logger?.info({ portal, version, contacts: fitted.metrics['contacts'], sampled: fitted.metrics['sampled'] }, 'models trained');
  return { version, metrics: fitted.metrics };
}

/** Reads the portal's cache and fits every model; writes nothing. */
export async function fitPortal(store: Pick<Store, 'contacts' | 'records'>, portal: string, opts: Omit<TrainOptions, 'logger'>): Promise<FittedModels> {
  const now = opts.now;
  const def = opts.churnDefinition ?? DEFAULT_CHURN_DEFINITION;
  const H = def.horizonDays * DAY_MS;
  const S = SERVICE_HORIZON_DAYS * DAY_MS;
  const l2 = opts.l2 ?? 1;
  const sampleSize = opts.sampleSize ?? 50_000;
  const total = await store.contacts.count(portal);
  const rate = total === 0 ? 1 : Math.min(1, sampleSize / total);
  const companies = await loadCompanies(store, portal);

  // Cut-offs: churn train/test, service train/test, and now.
  const Q = def.confirmDays * DAY_MS;
  const cuts = { churnTrain: now - 2 * H - Q, churnTest: now - H - Q, serviceTrain: now - 2 * S, serviceTest: now - S, now };
  type Kept = Record<keyof typeof cuts, ContactFeatures> & {
    churnTrainY: ChurnEvidence;
    churnTestY: ChurnEvidence;
    serviceTrainY: number;
    serviceTestY: number;
  };
  const kept: Kept[] = [];
  for await (const chunk of readContactChunks(store, portal)) {
    for (const input of chunk) {
      if (rate < 1 && hashUnit(input.id) >= rate) continue;
      const company = input.companyId === null ? undefined : companies.get(input.companyId);
      const f = (t: number) => computeFeatures(input, t, company, now);
      kept.push({
        churnTrain: f(cuts.churnTrain),
        churnTest: f(cuts.churnTest),
        serviceTrain: f(cuts.serviceTrain),
        serviceTest: f(cuts.serviceTest),
        now: f(now),
        churnTrainY: churnEvidence(input, cuts.churnTrain, def, company, now),
        churnTestY: churnEvidence(input, cuts.churnTest, def, company, now),
        serviceTrainY: outcomesBetween(input, cuts.serviceTrain, cuts.serviceTrain + S).newTicket ? 1 : 0,
        serviceTestY: outcomesBetween(input, cuts.serviceTest, cuts.serviceTest + S).newTicket ? 1 : 0,
      });
    }
  }

  const metrics: Record<string, number> = { contacts: total, sampled: kept.length };

  // BG/NBD as of each cut-off that feeds a model input.
  // Two fits (each costs a Nelder–Mead run): as of the earliest cut-off, used for every
  // historical window (never newer than the features it feeds), and as of now, for scoring.
  const bgChurnTrain = fitBuyers(kept.map((k) => k.churnTrain));
  const bgChurnTest = bgChurnTrain;
  const bgNow = fitBuyers(kept.map((k) => k.now));

  // Loyalty as of now.
  const loyalty = fitLoyalty(kept.map((k) => k.now), bgNow);
  metrics['loyalty_buyers'] = kept.filter((k) => k.now.purchases > 0).length;

  // Satisfaction prior: the mean survey component, shrunk to the default with 20 pseudo-answers.
  let surveySum = 0;
  let surveyN = 0;
  for (const k of kept) {
    if (k.now.surveyScore !== null) {
      surveySum += k.now.surveyScore;
      surveyN++;
    }
  }
  const satisfactionPrior = (surveySum + 20 * DEFAULT_SATISFACTION.prior) / (surveyN + 20);
  metrics['satisfaction_prior'] = round(satisfactionPrior);

  // Churn. Labels: P(gone by the horizon | everything seen up to now), see churnLabel.
  const label = (e: ChurnEvidence) => churnLabel(e, bgNow, def.confirmDays / 7);
  const rowsAt = (fs: ContactFeatures[], bg: BgNbdParams) => fs.map((f) => modelRow(f, loyaltyInputs(f, { ...loyalty, bgNbd: bg })));
  const churnTrain = kept.filter((k) => k.churnTrain.exists);
  const churnTest = kept.filter((k) => k.churnTest.exists);
  const churnResult = fitWithTimeSplit(
    rowsAt(churnTrain.map((k) => k.churnTrain), bgChurnTrain),
    churnTrain.map((k) => label(k.churnTrainY)),
    rowsAt(churnTest.map((k) => k.churnTest), bgChurnTest),
    churnTest.map((k) => label(k.churnTestY)),
    l2,
    PRIOR_CHURN,
    churnSignVector(),
  );
  for (const [k, v] of Object.entries(churnResult.metrics)) metrics[`churn_${k}`] = v;

  // Service need: P(alive) from the fit as of the churn test cut-off (older than both service cut-offs).
  const svcTrain = kept.filter((k) => k.serviceTrain.exists);
  const svcTest = kept.filter((k) => k.serviceTest.exists);
  const serviceResult = fitWithTimeSplit(
    rowsAt(svcTrain.map((k) => k.serviceTrain), bgChurnTest),
    svcTrain.map((k) => k.serviceTrainY),
    rowsAt(svcTest.map((k) => k.serviceTest), bgChurnTest),
    svcTest.map((k) => k.serviceTestY),
    l2,
    PRIOR_SERVICE,
  );
  for (const [k, v] of Object.entries(serviceResult.metrics)) metrics[`service_${k}`] = v;

  const channelTotals: Record<Channel, number> = { emails: 1, calls: 1, meetings: 1, tickets: 1 };
  for (const k of kept) for (const c of CHANNELS) channelTotals[c] += k.now.channelCounts[c];
  const channelSum = CHANNELS.reduce((s, c) => s + channelTotals[c], 0);
  const channelMix =
    channelSum > 40
      ? (Object.fromEntries(CHANNELS.map((c) => [c, round(channelTotals[c] / channelSum)])) as Record<Channel, number>)
      : DEFAULT_CHANNEL_MIX;

  return {
    trainedAt: now,
    metrics,
    models: [
      {
        kind: 'churn',
        params: { model: churnResult.model, definition: def },
        metrics: pick(metrics, 'churn_'),
      },
      {
        kind: 'service_need',
        params: { model: serviceResult.model, channelMix },
        metrics: pick(metrics, 'service_'),
      },
      { kind: 'loyalty', params: loyalty, metrics: { buyers: metrics['loyalty_buyers'] ?? 0 } },
      {
        kind: 'satisfaction',
        params: { prior: satisfactionPrior },
        metrics: { surveyed: surveyN, prior: metrics['satisfaction_prior'] ?? 0 },
      },
    ],
  };
}


function versionFor(now: number): string {
  // e.g. "m20261123T093012345": the training time to the millisecond; sortable, readable on the
  // card. Two trainings in the same millisecond get "-2", "-3" (store.models.unusedVersion).
  return 'm' + new Date(now).toISOString().slice(0, 23).replace(/[-:.]/g, '');
}

function pick(m: Record<string, number>, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

/** BG/NBD on the buyers among these features (weeks); the CDNOW prior when there are too few. */
function fitBuyers(fs: readonly ContactFeatures[]): BgNbdParams {
  const data: RfmSummary[] = [];
  for (const f of fs) {
    const s = f.exists ? rfmSummary(f) : null;
    if (s !== null && s.T > 0) data.push(s);
  }
  if (data.length < MIN_BUYERS) return DEFAULT_LOYALTY.bgNbd;
  const fit = fitBgNbd(thin(data, FIT_ROWS), { maxIterations: FIT_ITERATIONS });
  const params = { r: fit.r, alpha: fit.alpha, a: fit.a, b: fit.b };
  // A fit on the boundary (no dropout: a, b → ∞) can leave the ₂F₁ series unusable: probe it.
  const ok =
    [fit.r, fit.alpha, fit.a, fit.b].every((v) => Number.isFinite(v) && v > 0) &&
    probe(() => bgNbdConditionalExpected(params, 52, { x: 3, tx: 20, T: 40 })) &&
    probe(() => bgNbdConditionalExpected(params, 52, { x: 0, tx: 0, T: 100 }));
  return ok ? params : DEFAULT_LOYALTY.bgNbd;
}

function probe(f: () => number): boolean {
  try {
    return Number.isFinite(f());
  } catch {
    return false;
  }
}

function quantiles(sorted: readonly number[], ps: readonly number[]): number[] {
  return ps.map((p) => {
    const h = (sorted.length - 1) * p;
    const lo = Math.floor(h);
    const a = sorted[lo] as number;
    const b = sorted[Math.min(sorted.length - 1, lo + 1)] as number;
    return a + (h - lo) * (b - a);
  });
}

function fitLoyalty(fs: readonly ContactFeatures[], bgNbd: BgNbdParams): LoyaltyParams {
  const buyers = fs.filter((f) => f.exists && f.purchases > 0);
  if (buyers.length < MIN_BUYERS) return { ...DEFAULT_LOYALTY, bgNbd };
  const spend = buyers.filter((f) => f.amountCount > 0 && f.monetaryMean > 0).map((f) => ({ x: f.amountCount, zbar: f.monetaryMean }));
  let gammaGamma = DEFAULT_LOYALTY.gammaGamma;
  if (spend.length >= MIN_BUYERS) {
    const meanSpend = spend.reduce((s, c) => s + c.zbar, 0) / spend.length;
    // Gamma-Gamma is fitted on customers with more than one transaction (Fader, Hardie & Lee 2005, "RFM and CLV", Journal of Marketing Research 42(4)).
    const repeat = spend.filter((c) => c.x > 1);
    const fit = repeat.length >= MIN_BUYERS ? fitGammaGamma(thin(repeat, FIT_ROWS), { maxIterations: FIT_ITERATIONS }) : null;
    gammaGamma =
      fit !== null && fit.q > 1 && [fit.p, fit.q, fit.gamma].every(Number.isFinite)
        ? { p: fit.p, q: fit.q, gamma: fit.gamma }
        : { p: DEFAULT_LOYALTY.gammaGamma.p, q: DEFAULT_LOYALTY.gammaGamma.q, gamma: (meanSpend * (DEFAULT_LOYALTY.gammaGamma.q - 1)) / DEFAULT_LOYALTY.gammaGamma.p };
  }
  const e52 = buyers
    .map((f) => {
      const s = rfmSummary(f);
      return s === null ? 0 : tryExpected(bgNbd, 52, s);
    })
    .filter((v): v is number => v !== null) // a history the model cannot weigh says nothing of the typical pace
    .sort((a, b) => a - b);
  const ps = [0.2, 0.4, 0.6, 0.8];
  const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
  return {
    bgNbd,
    gammaGamma,
    expectedRef: e52.length > 0 ? Math.max(0.05, quantiles(e52, [0.5])[0] ?? 0.5) : DEFAULT_LOYALTY.expectedRef,
    rfmEdges: {
      recency: quantiles(sorted(buyers.map((f) => f.recencyDays)), ps),
      frequency: quantiles(sorted(buyers.map((f) => f.purchases)), ps),
      monetary: quantiles(sorted(buyers.map((f) => f.monetaryMean)), ps),
    },
  };
}

function columnMeans(rows: readonly (readonly number[])[]): number[] {
  const m = new Array<number>(COLUMN_NAMES.length).fill(0);
  for (const r of rows) for (let j = 0; j < m.length; j++) m[j] = (m[j] as number) + (r[j] ?? 0);
  return m.map((v) => (rows.length > 0 ? v / rows.length : 0));
}

function evaluate(soft: readonly number[], p: readonly number[]): Record<string, number> {
  // Soft (probabilistic) labels are scored against their rounding: the metrics need 0/1 events.
  const y: number[] = soft.map((v) => (v >= 0.5 ? 1 : 0));
  const positives = y.reduce((s: number, v: number) => s + v, 0);
  const base = positives / y.length;
  return {
    test_n: y.length,
    test_positives: positives,
    auc: round(rocAuc(y, p)),
    pr_auc: round(averagePrecision(y, p)),
    brier: round(brierScore(y, p)),
    brier_skill: round(1 - brierScore(y, p) / Math.max(1e-12, base * (1 - base))),
    ece: round(expectedCalibrationError(y, p)),
    lift_top10: round(liftAtTop(y, p, 0.1).lift),
  };
}

function hasBothClasses(y: readonly number[]): boolean {
  const pos = y.reduce((s, v) => s + (v >= 0.5 ? 1 : 0), 0);
  return pos >= MIN_CLASS && y.length - pos >= MIN_CLASS;
}

/**
 * Fit on the earlier window, evaluate on the later one, refit on both. When the earlier window
 * alone is too small, the metrics are those of the prior on the later window; when both
 * together are too small, the prior stays.
 */
function fitWithTimeSplit(
  trainX: number[][],
  trainY: number[],
  testX: number[][],
  testY: number[],
  l2: number,
  prior: ProbabilityModel,
  signs?: readonly (1 | -1 | 0 | null)[],
): { model: ProbabilityModel; metrics: Record<string, number> } {
  const fit = (X: number[][], y: number[]): ProbabilityModel => {
    const m = fitLogistic(X, y, signs === undefined ? { l2, standardize: true } : { l2, standardize: true, signs });
    return { source: 'trained', columns: COLUMN_NAMES, intercept: m.intercept, coefficients: m.coefficients, means: columnMeans(X) };
  };
  const metrics: Record<string, number> = { train_n: trainY.length, train_positives: Math.round(trainY.reduce((s, v) => s + v, 0)) };
  const testable = testY.some((v) => v >= 0.5) && testY.some((v) => v < 0.5);
  // Platt scaling σ(a·logit p + b), fitted on the later window's predictions of the model trained
  // on the earlier one (held out, as calibration must be; calibration.ts). The model is linear in
  // the logit, so the scaling folds into its coefficients: the stored model stays one logistic.
  let platt: { a: number; b: number } | null = null;
  if (hasBothClasses(trainY)) {
    const m = fit(trainX, trainY);
    if (testable) {
      const logits = testX.map((r) => logitOf(predictProbability(m, r)));
      Object.assign(metrics, evaluate(testY, logits.map(sigmoid)));
      const cal = fitLogistic(logits.map((z) => [z]), testY, { standardize: false });
      if (Number.isFinite(cal.coefficients[0]) && (cal.coefficients[0] as number) > 0 && Number.isFinite(cal.intercept)) {
        platt = { a: cal.coefficients[0] as number, b: cal.intercept };
        metrics['platt_a'] = round(platt.a);
        metrics['platt_b'] = round(platt.b);
      }
    }
  } else if (testable) {
    Object.assign(metrics, evaluate(testY, testX.map((r) => predictProbability(prior, r))));
    metrics['prior_only'] = 1;
  }
  const allY = [...trainY, ...testY];
  if (!hasBothClasses(allY)) return { model: prior, metrics: { ...metrics, trained: 0 } };
  const final = fit([...trainX, ...testX], allY);
  if (platt === null) return { model: final, metrics: { ...metrics, trained: 1 } };
  const { a, b } = platt;
  return {
    model: { ...final, intercept: a * final.intercept + b, coefficients: final.coefficients.map((c) => a * c) },
    metrics: { ...metrics, trained: 1 },
  };
}

function logitOf(p: number): number {
  const q = Math.min(1 - 1e-9, Math.max(1e-9, p));
  return Math.log(q / (1 - q));
}
