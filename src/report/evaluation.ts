/**
 * The held-out predictions behind the report's ROC, calibration and lift charts, recomputed on a
 * bounded sample of contacts with the same time split as training (src/scoring/train.ts,
 * docs/scores.md "Features (as of a date)"): a model fitted on features as of the earlier cut-off (labels from after it)
 * predicts contacts as of the later cut-off, whose outcomes are known by the as-of date.
 * Training stores only summary metrics, and the stored model was refitted on both windows (so
 * scoring it on the later window would leak); hence this recomputation. The predictions are
 * those of the earlier-window fit before the Platt step, as the metrics `rapport train` stores.
 */
import { fitBgNbd, bgNbdConditionalExpected, type BgNbdParams, type RfmSummary } from '../stats/bg-nbd.ts';
import { fitLogistic } from '../stats/logistic.ts';
import { predictProbability, type ChurnDefinition, type ProbabilityModel } from '../scoring/churn.ts';
import { computeFeatures, outcomesBetween, DAY_MS, type CompanyContext, type ContactFeatures, type ContactInput } from '../scoring/features.ts';
import { DEFAULT_LOYALTY, loyaltyInputs, rfmSummary, type LoyaltyParams } from '../scoring/loyalty.ts';
import { SERVICE_HORIZON_DAYS } from '../scoring/service-need.ts';
import { MIN_CLASS } from '../scoring/train.ts';
import { churnEvidence, churnLabel } from '../scoring/churn-label.ts';
import { churnSignVector, COLUMN_NAMES, modelRow } from '../scoring/vector.ts';

export type HeldOut = {
  /** 0/1 outcomes of the later window (soft churn labels rounded at ½, as train.ts evaluates) */
  y: number[];
  /** predicted probabilities */
  p: number[];
  /** 'trained' on the earlier window, or the cold-start prior when that window had too few labels */
  source: 'trained' | 'prior';
  trainN: number;
  /** the cut-offs, epoch ms */
  trainCut: number;
  testCut: number;
  horizonDays: number;
};

export type Evaluation = { churn: HeldOut | { unavailable: string }; service: HeldOut | { unavailable: string } };

export type EvaluationInputs = {
  sample: readonly ContactInput[];
  companies: ReadonlyMap<string, CompanyContext>;
  asOf: number;
  definition: ChurnDefinition;
  /** the portal's stored loyalty params (BG/NBD as of the training time labels the churn evidence) */
  loyalty: LoyaltyParams;
  priorChurn: ProbabilityModel;
  priorService: ProbabilityModel;
};

const MIN_BUYERS = 50;
/** Fewer outcomes of either kind than this and the curves would be noise. */
export const MIN_OUTCOMES = 10;

/** BG/NBD on the sample's buyers as of a cut-off; the stored/default params when too few or unusable (as train.ts). */
function fitBuyers(fs: readonly ContactFeatures[], fallback: BgNbdParams): BgNbdParams {
  const data: RfmSummary[] = [];
  for (const f of fs) {
    const s = f.exists ? rfmSummary(f) : null;
    if (s !== null && s.T > 0) data.push(s);
  }
  if (data.length < MIN_BUYERS) return fallback;
  try {
    const fit = fitBgNbd(data, { maxIterations: 4000 });
    const params = { r: fit.r, alpha: fit.alpha, a: fit.a, b: fit.b };
    const ok =
      [fit.r, fit.alpha, fit.a, fit.b].every((v) => Number.isFinite(v) && v > 0) &&
      Number.isFinite(bgNbdConditionalExpected(params, 52, { x: 3, tx: 20, T: 40 })) &&
      Number.isFinite(bgNbdConditionalExpected(params, 52, { x: 0, tx: 0, T: 100 }));
    return ok ? params : fallback;
  } catch {
    return fallback;
  }
}

function columnMeans(rows: readonly (readonly number[])[]): number[] {
  const m = new Array<number>(COLUMN_NAMES.length).fill(0);
  for (const r of rows) for (let j = 0; j < m.length; j++) m[j] = (m[j] as number) + (r[j] ?? 0);
  return m.map((v) => (rows.length > 0 ? v / rows.length : 0));
}

function heldOut(
  trainX: number[][],
  trainY: number[],
  testX: number[][],
  testY: number[],
  prior: ProbabilityModel,
  meta: Omit<HeldOut, 'y' | 'p' | 'source' | 'trainN'>,
  signs?: readonly (1 | -1 | 0 | null)[],
): HeldOut | { unavailable: string } {
  const y = testY.map((v) => (v >= 0.5 ? 1 : 0));
  const pos = y.reduce((s: number, v) => s + v, 0);
  if (pos < MIN_OUTCOMES || y.length - pos < MIN_OUTCOMES) {
    return {
      unavailable: `the later window has ${pos} positive and ${y.length - pos} negative outcomes among the sampled contacts; the curves need at least ${MIN_OUTCOMES} of each: not enough labelled history yet`,
    };
  }
  const trainPos = trainY.reduce((s, v) => s + (v >= 0.5 ? 1 : 0), 0);
  let model = prior;
  let source: HeldOut['source'] = 'prior';
  if (trainPos >= MIN_CLASS && trainY.length - trainPos >= MIN_CLASS) {
    const m = fitLogistic(trainX, trainY, signs === undefined ? { l2: 1, standardize: true } : { l2: 1, standardize: true, signs });
    model = { source: 'trained', columns: COLUMN_NAMES, intercept: m.intercept, coefficients: m.coefficients, means: columnMeans(trainX) };
    source = 'trained';
  }
  const p = testX.map((r) => predictProbability(model, r));
  return { y, p, source, trainN: trainY.length, ...meta };
}

/** Time-split held-out predictions of the churn and service-need models on the sample. */
export function evaluateSample(inp: EvaluationInputs): Evaluation {
  const { asOf: now, definition: def } = inp;
  const H = def.horizonDays * DAY_MS;
  const Q = def.confirmDays * DAY_MS;
  const S = SERVICE_HORIZON_DAYS * DAY_MS;
  const cuts = { churnTrain: now - 2 * H - Q, churnTest: now - H - Q, serviceTrain: now - 2 * S, serviceTest: now - S };
  const bgNow = inp.loyalty.bgNbd;


  type Row = { f: Record<keyof typeof cuts, ContactFeatures>; churnTrainY: number; churnTestY: number; svcTrainY: number; svcTestY: number };
  const rows: Row[] = [];
  for (const input of inp.sample) {
    const company = input.companyId === null ? undefined : inp.companies.get(input.companyId);
    const f = (t: number) => computeFeatures(input, t, company, now);
    // The churn evidence after a cut-off, exactly as train.ts labels it.
    const label = (cut: number) => churnLabel(churnEvidence(input, cut, def, company, now), bgNow, def.confirmDays / 7);
    rows.push({
      f: { churnTrain: f(cuts.churnTrain), churnTest: f(cuts.churnTest), serviceTrain: f(cuts.serviceTrain), serviceTest: f(cuts.serviceTest) },
      churnTrainY: label(cuts.churnTrain),
      churnTestY: label(cuts.churnTest),
      svcTrainY: outcomesBetween(input, cuts.serviceTrain, cuts.serviceTrain + S).newTicket ? 1 : 0,
      svcTestY: outcomesBetween(input, cuts.serviceTest, cuts.serviceTest + S).newTicket ? 1 : 0,
    });
  }
  // P(alive) inputs come from a BG/NBD fit no newer than the features it feeds (train.ts).
  const bgEarly = fitBuyers(rows.map((r) => r.f.churnTrain), DEFAULT_LOYALTY.bgNbd);
  const toRow = (f: ContactFeatures) => modelRow(f, loyaltyInputs(f, { ...inp.loyalty, bgNbd: bgEarly }));
  const split = (key: 'churnTrain' | 'churnTest' | 'serviceTrain' | 'serviceTest', y: (r: Row) => number) => {
    const kept = rows.filter((r) => r.f[key].exists);
    return { X: kept.map((r) => toRow(r.f[key])), y: kept.map(y) };
  };
  const ct = split('churnTrain', (r) => r.churnTrainY);
  const cv = split('churnTest', (r) => r.churnTestY);
  const st = split('serviceTrain', (r) => r.svcTrainY);
  const sv = split('serviceTest', (r) => r.svcTestY);
  return {
    // the churn model is trained with its sign constraints (vector.ts CHURN_SIGNS), as train.ts does
    churn: heldOut(ct.X, ct.y, cv.X, cv.y, inp.priorChurn, { trainCut: cuts.churnTrain, testCut: cuts.churnTest, horizonDays: def.horizonDays }, churnSignVector()),
    service: heldOut(st.X, st.y, sv.X, sv.y, inp.priorService, { trainCut: cuts.serviceTrain, testCut: cuts.serviceTest, horizonDays: SERVICE_HORIZON_DAYS }),
  };
}
