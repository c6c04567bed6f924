/**
 * BG/NBD customer-base model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").
 *
 * While active a customer buys at Poisson rate λ ~ Gamma(r, α); after each repeat purchase they
 * drop out with probability p ~ Beta(a, b). Data per customer, all measured from the first
 * purchase: x = repeat purchases, tx = time of the last one, T = age. Time unit is the caller's
 * (CDNOW uses weeks); α carries it, r, a, b are unit-free.
 *
 * The scoring functions (`pAlive`, `expectedPurchases`, `probNoPurchases`, positional; and the
 * same as `bgNbdPAlive`, `bgNbdConditionalExpected`, `bgNbdExpectedPurchases` taking a summary
 * object) are allocation-free scalar code: the daemon calls them once per contact. Invalid
 * parameters or customer data throw a RangeError; no function returns NaN.
 */
import { logAddExp, logBeta, logGamma } from './special.ts';
import { nelderMead } from './optimize.ts';

export type BgNbdParams = { r: number; alpha: number; a: number; b: number };

/** One customer's calibration summary: repeat purchases, time of the last, age. */
export type RfmSummary = { x: number; tx: number; T: number };

/** Throws a RangeError unless r, α, a, b are finite and positive. */
export function assertBgNbdParams(params: BgNbdParams): void {
  const { r, alpha, a, b } = params;
  if (!(r > 0 && alpha > 0 && a > 0 && b > 0 && r < Infinity && alpha < Infinity && a < Infinity && b < Infinity)) {
    throw new RangeError(`BG/NBD parameters must be finite and positive, got r=${r}, alpha=${alpha}, a=${a}, b=${b}`);
  }
}

// Cheap enough for the per-contact path; garbage in must be an error, not a NaN score.
function assertCustomer(x: number, tx: number, T: number): void {
  if (!(x >= 0 && T >= 0 && T < Infinity && x < Infinity) || (x > 0 && !(tx >= 0 && tx <= T))) {
    throw new RangeError(`BG/NBD customer needs x ≥ 0, T ≥ 0 and 0 ≤ tx ≤ T when x > 0; got x=${x}, tx=${tx}, T=${T}`);
  }
}

export type BgNbdFit = BgNbdParams & {
  /** total log-likelihood at the fitted parameters, on the caller's time unit, without the penalty */
  logLikelihood: number;
  /**
   * false when the optimiser stopped on its budget or a parameter ran off to an extreme
   * (log-parameter beyond ±15): the data do not pin the model down; do not trust the parameters
   */
  converged: boolean;
  iterations: number;
};

export type BgNbdFitOptions = {
  /** Nelder–Mead iteration budget (default 20,000) */
  maxIterations?: number;
  /**
   * L2 penalty on the log-parameters (after time is rescaled to max T = 10), added to the negative
   * log-likelihood as penalty · Σ log(θ)² (as lifetimes' penalizer_coef, but on the log scale so it
   * pulls toward 1, not 0). Default 0, the plain MLE; a small value (0.001–0.1) keeps fits on
   * a few hundred customers from running off to extreme parameters.
   */
  penalty?: number;
};

/**
 * Per-customer BG/NBD log-likelihood (FHL 2005 eq. 6), computed with log Γ and log-sum-exp: the raw
 * products overflow for large x (Hardie's note 027), this form does not (pymc-marketing's
 * test_numerically_stable_logp values are reproduced in the tests).
 */
export function bgNbdLogLikelihood(params: BgNbdParams, customer: RfmSummary): number {
  assertBgNbdParams(params);
  const { r, alpha, a, b } = params;
  const { x, tx, T } = customer;
  assertCustomer(x, tx, T);
  const common = logGamma(r + x) - logGamma(r) + r * Math.log(alpha) - logBeta(a, b);
  const lgAbx = logGamma(a + b + x);
  const first = common + logGamma(a) + logGamma(b + x) - lgAbx - (r + x) * Math.log(alpha + T);
  if (x <= 0) return first;
  const second = common + logGamma(a + 1) + logGamma(b + x - 1) - lgAbx - (r + x) * Math.log(alpha + tx);
  return logAddExp(first, second);
}

/** Sum of the per-customer BG/NBD log-likelihoods (FHL 2005 eq. 6; CDNOW: −9582.43 at the MLE). */
export function bgNbdTotalLogLikelihood(params: BgNbdParams, data: readonly RfmSummary[]): number {
  let total = 0;
  for (const c of data) total += bgNbdLogLikelihood(params, c);
  return total;
}

/**
 * Fits BG/NBD by maximum likelihood (FHL 2005; CDNOW reference r, α, a, b = 0.2426, 4.4136, 0.7929,
 * 2.4259, LL −9582.43): Nelder–Mead on log-parameters from (1, 1, 1, 1), after rescaling time
 * so that max T = 10 (as lifetimes does); α is scaled back, and the reported log-likelihood is
 * evaluated on the caller's time unit.
 */
export function fitBgNbd(data: readonly RfmSummary[], options: BgNbdFitOptions = {}): BgNbdFit {
  if (data.length === 0) throw new RangeError('fitBgNbd needs at least one customer');
  let maxT = 0;
  let repeatBuyers = 0;
  data.forEach((c, i) => {
    if (!(Number.isFinite(c.x) && c.x >= 0 && Number.isFinite(c.T) && c.T > 0 && Number.isFinite(c.tx))) {
      throw new RangeError(`customer ${i}: expected x ≥ 0 and T > 0, got x=${c.x}, tx=${c.tx}, T=${c.T}`);
    }
    if (c.x > 0 && !(c.tx >= 0 && c.tx <= c.T)) {
      throw new RangeError(`customer ${i}: expected 0 ≤ tx ≤ T, got tx=${c.tx}, T=${c.T}`);
    }
    if (c.x > 0) repeatBuyers++;
    maxT = Math.max(maxT, c.T);
  });
  // Without a single repeat purchase the likelihood rises without bound as r → 0: no MLE exists.
  if (repeatBuyers === 0) throw new RangeError('fitBgNbd needs at least one customer with a repeat purchase (x > 0)');
  const penalty = options.penalty ?? 0;
  if (!(penalty >= 0 && penalty < Infinity)) throw new RangeError(`fitBgNbd: penalty must be ≥ 0, got ${penalty}`);
  const scale = 10 / maxT;

  // Identical summaries are common (every x = 0 customer of one cohort week), and the terms that
  // depend only on x are shared by all customers with that x: precompute both once per fit.
  const rows = new Map<string, { x: number; tx: number; T: number; weight: number }>();
  for (const c of data) {
    const tx = c.x > 0 ? c.tx : 0;
    const key = `${c.x}|${tx}|${c.T}`;
    const row = rows.get(key);
    if (row) row.weight++;
    else rows.set(key, { x: c.x, tx: tx * scale, T: c.T * scale, weight: 1 });
  }
  const distinctX = [...new Set([...rows.values()].map((r) => r.x))];
  const xIndexOf = new Map(distinctX.map((x, i) => [x, i]));
  const m = rows.size;
  const xs = new Float64Array(m);
  const txs = new Float64Array(m);
  const Ts = new Float64Array(m);
  const weights = new Float64Array(m);
  const xIndex = new Int32Array(m);
  [...rows.values()].forEach((row, i) => {
    xs[i] = row.x;
    txs[i] = row.tx;
    Ts[i] = row.T;
    weights[i] = row.weight;
    xIndex[i] = xIndexOf.get(row.x) as number;
  });
  const first = new Float64Array(distinctX.length);
  const second = new Float64Array(distinctX.length);

  const negLogLikelihood = (theta: readonly number[]): number => {
    const r = Math.exp(theta[0] as number);
    const alpha = Math.exp(theta[1] as number);
    const a = Math.exp(theta[2] as number);
    const b = Math.exp(theta[3] as number);
    const c0 = -logGamma(r) + r * Math.log(alpha) - logBeta(a, b);
    const lgA = logGamma(a);
    const lgA1 = logGamma(a + 1);
    for (let k = 0; k < distinctX.length; k++) {
      const x = distinctX[k] as number;
      const common = c0 + logGamma(r + x) - logGamma(a + b + x);
      first[k] = common + lgA + logGamma(b + x);
      second[k] = x > 0 ? common + lgA1 + logGamma(b + x - 1) : Number.NEGATIVE_INFINITY;
    }
    let ll = 0;
    for (let i = 0; i < m; i++) {
      const k = xIndex[i] as number;
      const rx = r + (xs[i] as number);
      const l1 = (first[k] as number) - rx * Math.log(alpha + (Ts[i] as number));
      const l2 = (second[k] as number) - rx * Math.log(alpha + (txs[i] as number));
      ll += (weights[i] as number) * logAddExp(l1, l2);
    }
    let pen = 0;
    for (const v of theta) pen += v * v;
    return -ll + penalty * pen;
  };

  const opt = nelderMead(negLogLikelihood, [0, 0, 0, 0], {
    maxIterations: options.maxIterations ?? 20_000,
  });
  const params: BgNbdParams = {
    r: Math.exp(opt.x[0] as number),
    alpha: Math.exp(opt.x[1] as number) / scale,
    a: Math.exp(opt.x[2] as number),
    b: Math.exp(opt.x[3] as number),
  };
  const extreme = opt.x.some((v) => !(Math.abs(v) <= 15));
  if (!Number.isFinite(opt.fx) || opt.x.some((v) => !Number.isFinite(v))) {
    throw new Error('fitBgNbd: the likelihood is not finite anywhere the optimiser looked; check the data');
  }
  return {
    ...params,
    logLikelihood: bgNbdTotalLogLikelihood(params, data),
    converged: opt.converged && !extreme,
    iterations: opt.iterations,
  };
}

/**
 * P(alive | x, tx, T) = 1 / (1 + 1{x>0} · a/(b+x−1) · ((α+T)/(α+tx))^(r+x)).
 * Exactly 1 when x = 0, a known quirk of BG/NBD (dropout only happens after a repeat purchase).
 * Computed via the log-odds so large x or T give 0, never NaN.
 */
export function bgNbdPAlive(params: BgNbdParams, customer: RfmSummary): number {
  return pAlive(params, customer.x, customer.tx, customer.T);
}

/** P(alive | x, tx, T) (FHL 2005 eq. 11), positional form of `bgNbdPAlive`; 1 when x = 0. */
export function pAlive(params: BgNbdParams, x: number, tx: number, T: number): number {
  assertBgNbdParams(params);
  assertCustomer(x, tx, T);
  if (x === 0) return 1;
  const { r, alpha, a, b } = params;
  const logOdds = Math.log(a / (b + x - 1)) + (r + x) * Math.log((alpha + T) / (alpha + tx));
  return 1 / (1 + Math.exp(logOdds));
}

/**
 * E[X(t)] (FHL 2005 eq. 9): expected repeat purchases in (0, t] for a customer who just made their
 * first purchase (CDNOW: 1.8576 at t = 78 weeks, lifetimes' test).
 */
export function bgNbdExpectedPurchases(params: BgNbdParams, t: number): number {
  return expectedPurchases(params, t, 0, 0, 0);
}

/**
 * E[Y(t) | x, tx, T] (FHL 2005 eq. 10): expected repeat purchases in the next t time units for this
 * customer (CDNOW customer 1: 1.226 for t = 39 weeks).
 */
export function bgNbdConditionalExpected(params: BgNbdParams, t: number, customer: RfmSummary): number {
  return expectedPurchases(params, t, customer.x, customer.tx, customer.T);
}

/**
 * E[Y(t) | x, tx, T] (FHL 2005 eq. 10), positional form; with the history left at (0, 0, 0) it is
 * the new-customer E[X(t)] (eq. 9), of which it is the special case.
 */
export function expectedPurchases(params: BgNbdParams, t: number, x = 0, tx = 0, T = 0): number {
  assertBgNbdParams(params);
  assertCustomer(x, tx, T);
  if (!(t >= 0 && t < Infinity)) throw new RangeError(`BG/NBD horizon t must be finite and ≥ 0, got ${t}`);
  return expectedWhileAlive(params, t, x, params.alpha + T) * pAlive(params, x, tx, T);
}

/**
 * P(no repeat purchase in the next t | x, tx, T) = 1 − P(alive) + P(alive) · ((α+T)/(α+T+t))^(r+x):
 * a customer alive at T has λ ~ Gamma(r+x, α+T) and can only drop out after a purchase (FHL 2005
 * §3). With the history left at (0, 0, 0) it is the new-customer P(X(t) = 0) = (α/(α+t))^r
 * (CDNOW at 0.243/4.414/0.793/2.426: 0.5737864 for t = 39, R BTYD via lifetimes).
 */
export function probNoPurchases(params: BgNbdParams, t: number, x = 0, tx = 0, T = 0): number {
  assertBgNbdParams(params);
  if (!(t >= 0 && t < Infinity)) throw new RangeError(`BG/NBD horizon t must be finite and ≥ 0, got ${t}`);
  const alive = pAlive(params, x, tx, T);
  const { r, alpha } = params;
  const quiet = Math.exp((r + x) * Math.log((alpha + T) / (alpha + T + t)));
  return 1 - alive + alive * quiet;
}

// The hypergeometric series needs about 36 / (1 − z) terms; the cap only stops pathological
// inputs (t ≫ α + T by many orders of magnitude) from spinning, at a precision cost there.
const MAX_SERIES_TERMS = 200_000;

function seriesDidNotConverge(t: number, alphaPlusT: number): never {
  throw new RangeError(
    `BG/NBD: horizon t=${t} is too long against α+T=${alphaPlusT} for the hypergeometric series; use a coarser time unit or a shorter horizon`,
  );
}

/**
 * (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · ₂F₁(r+x, b+x; a+b+x−1; z)], z = t/(α+T+t),
 * i.e. the paper's conditional expectation without the P(alive) factor.
 *
 * Two equivalent forms, chosen for numerical behaviour:
 * - a ≤ 2: Euler's transformation ₂F₁(A,B;C;z) = (1−z)^(C−A−B) ₂F₁(C−A, C−B; C; z) turns the
 *   bracket's product into (1−z)^ε · ₂F₁(a+b−1−r, ε; a+b+x−1; z) with ε = a−1. Its upper
 *   parameters no longer grow with x, so nothing overflows for large x, and writing
 *   ₂F₁(A, ε; C; z) = 1 + ε·S removes the 1/(a−1) singularity:
 *     [1 − (1−z)^ε (1 + εS)] / ε = −expm1(ε·log(1−z))/ε − (1−z)^ε · S,
 *   which is finite and continuous through a = 1. Here the terms of S shrink geometrically.
 * - a > 2: no singularity; the product (1−z)^k · ₂F₁ lies in [0, 1] but its factors can
 *   under/overflow (large a in the Euler form, large x in the direct one), so it is summed with
 *   the prefactor folded in and rescaled as it goes (`scaledHyp2f1`), using whichever form has
 *   the smaller upper parameters and so needs fewer terms.
 */
function expectedWhileAlive(params: BgNbdParams, t: number, x: number, alphaPlusT: number): number {
  if (!(t > 0)) return 0;
  const { r, a, b } = params;
  const z = t / (alphaPlusT + t);
  const logOneMinusZ = Math.log(alphaPlusT / (alphaPlusT + t));
  const eps = a - 1;
  const A = a + b - 1 - r;
  const C = a + b + x - 1;
  if (eps > 1) {
    const direct = (r + x) * (b + x) <= Math.abs(A) * eps;
    const product = direct
      ? scaledHyp2f1(r + x, b + x, C, z, (r + x) * logOneMinusZ, t, alphaPlusT)
      : scaledHyp2f1(A, eps, C, z, eps * logOneMinusZ, t, alphaPlusT);
    return (C / eps) * (1 - product);
  }
  // S = Σ_{n≥1} (A)_n (1+ε)_{n−1} / ((C)_n n!) · zⁿ
  let term = (A / C) * z;
  let sum = term;
  let done = false;
  for (let n = 1; n < MAX_SERIES_TERMS; n++) {
    const ratio = (((A + n) * (eps + n)) / ((C + n) * (n + 1))) * z;
    term *= ratio;
    sum += term;
    if (!(Math.abs(term) > 1e-17 * Math.abs(sum)) && Math.abs(ratio) < 1) {
      done = true;
      break;
    }
  }
  if (!done) seriesDidNotConverge(t, alphaPlusT);
  const head = eps === 0 ? -logOneMinusZ : -Math.expm1(eps * logOneMinusZ) / eps;
  return C * (head - Math.exp(eps * logOneMinusZ) * sum);
}

const RESCALE = 1e250;
const LOG_RESCALE = Math.log(RESCALE);

/**
 * exp(logScale) · ₂F₁(A, B; C; z) for 0 ≤ z < 1 by the power series, keeping the running sum
 * below 1e250 by moving powers into the log scale, so a huge series times a tiny prefactor
 * (both beyond double range) still gives their moderate product.
 */
function scaledHyp2f1(A: number, B: number, C: number, z: number, logScale: number, t: number, alphaPlusT: number): number {
  let shift = logScale;
  let term = 1;
  let sum = 1;
  let done = false;
  for (let n = 0; n < MAX_SERIES_TERMS; n++) {
    const ratio = (((A + n) * (B + n)) / ((C + n) * (n + 1))) * z;
    term *= ratio;
    sum += term;
    if (Math.abs(sum) > RESCALE) {
      sum /= RESCALE;
      term /= RESCALE;
      shift += LOG_RESCALE;
    }
    if (!(Math.abs(term) > 1e-17 * Math.abs(sum)) && Math.abs(ratio) < 1) {
      done = true;
      break;
    }
  }
  if (!done) seriesDidNotConverge(t, alphaPlusT);
  if (sum === 0) return 0;
  return Math.sign(sum) * Math.exp(shift + Math.log(Math.abs(sum)));
}

/**
 * P(X(t) = n) for a new customer (FHL 2005 eq. 8; CDNOW at 0.243/4.414/0.793/2.426: P(X(2) = 10) =
 * 1.07869e-7, P(X(39) = 0) = 0.5737864, R BTYD via lifetimes):
 * B(a, b+n)/B(a, b) · NB(n; r, α/(α+t)) + 1{n>0} · B(a+1, b+n−1)/B(a, b) · P(NB ≥ n),
 * where NB is the negative binomial count of a customer who never drops out.
 */
export function bgNbdProbabilityOfPurchases(params: BgNbdParams, t: number, n: number): number {
  assertBgNbdParams(params);
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`purchase count n must be an integer ≥ 0, got ${n}`);
  if (!(t >= 0 && t < Infinity)) throw new RangeError(`BG/NBD horizon t must be finite and ≥ 0, got ${t}`);
  if (t === 0) return n === 0 ? 1 : 0;
  const { r, alpha, a, b } = params;
  const logP = Math.log(alpha / (alpha + t));
  const logQ = Math.log(t / (alpha + t));
  const q = t / (alpha + t);
  const lbAB = logBeta(a, b);
  const logPmfN = logGamma(r + n) - logGamma(r) - logGamma(n + 1) + r * logP + n * logQ;
  let prob = Math.exp(logBeta(a, b + n) - lbAB + logPmfN);
  if (n > 0) {
    // P(NB ≥ n): 1 − head when the head is small, else sum the tail directly, so neither
    // branch subtracts two nearly equal numbers.
    let pmf = Math.exp(r * logP);
    let head = 0;
    for (let j = 0; j < n; j++) {
      head += pmf;
      pmf *= ((r + j) / (j + 1)) * q;
    }
    let tail: number;
    if (head <= 0.5) {
      tail = 1 - head;
    } else {
      tail = 0;
      let term = Math.exp(logPmfN);
      let done = false;
      for (let j = n; j < n + MAX_SERIES_TERMS; j++) {
        tail += term;
        const ratio = ((r + j) / (j + 1)) * q;
        term *= ratio;
        if (!(term > 1e-17 * tail) && ratio < 1) {
          done = true;
          break;
        }
      }
      if (!done) seriesDidNotConverge(t, alpha);
    }
    prob += Math.exp(logBeta(a + 1, b + n - 1) - lbAB) * tail;
  }
  return prob;
}
