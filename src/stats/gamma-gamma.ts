/**
 * Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"; Hardie's note 025), and the
 * customer-lifetime-value helper that combines it with BG/NBD.
 *
 * A customer's transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers. The
 * model assumes spend is independent of purchase frequency; check corr(x, zbar) on your data
 * (CDNOW: 0.11). Fit it on repeat buyers only (x > 0), with zbar = the mean value of the repeat
 * purchases, leaving the first purchase out.
 */
import { logGamma } from './special.ts';
import { nelderMead } from './optimize.ts';
import { bgNbdConditionalExpected, type BgNbdParams } from './bg-nbd.ts';

export type GammaGammaParams = { p: number; q: number; gamma: number };

/** A repeat buyer's spend summary: x repeat purchases with mean value zbar. */
export type SpendSummary = { x: number; zbar: number };

export type GammaGammaFit = GammaGammaParams & {
  /** total log-likelihood with the constant terms, without the penalty */
  logLikelihood: number;
  /** false when the optimiser stopped on its budget or a parameter ran off (log-parameter beyond ±15) */
  converged: boolean;
  iterations: number;
};

/** Throws a RangeError unless p, q, γ are finite and positive. */
export function assertGammaGammaParams(params: GammaGammaParams): void {
  const { p, q, gamma } = params;
  if (!(p > 0 && q > 0 && gamma > 0 && p < Infinity && q < Infinity && gamma < Infinity)) {
    throw new RangeError(`Gamma-Gamma parameters must be finite and positive, got p=${p}, q=${q}, gamma=${gamma}`);
  }
}

/**
 * Per-customer Gamma-Gamma log-likelihood (Hardie note 025), with the constant terms (comparable with CLVTools):
 * log Γ(px+q) − log Γ(px) − log Γ(q) + q log γ + (px−1) log zbar + px log x − (px+q) log(γ + x·zbar).
 */
export function gammaGammaLogLikelihood(params: GammaGammaParams, customer: SpendSummary): number {
  assertGammaGammaParams(params);
  const { p, q, gamma } = params;
  const { x, zbar } = customer;
  if (!(x > 0 && zbar > 0 && x < Infinity && zbar < Infinity)) {
    throw new RangeError(`Gamma-Gamma likelihood needs a repeat buyer (x > 0, zbar > 0), got x=${x}, zbar=${zbar}`);
  }
  const px = p * x;
  return (
    logGamma(px + q) -
    logGamma(px) -
    logGamma(q) +
    q * Math.log(gamma) +
    (px - 1) * Math.log(zbar) +
    px * Math.log(x) -
    (px + q) * Math.log(gamma + x * zbar)
  );
}

/** Sum of the per-customer Gamma-Gamma log-likelihoods (CDNOW repeat buyers: −4055.92 at the MLE, CLVTools). */
export function gammaGammaTotalLogLikelihood(params: GammaGammaParams, data: readonly SpendSummary[]): number {
  let total = 0;
  for (const c of data) total += gammaGammaLogLikelihood(params, c);
  return total;
}

/**
 * Fits Gamma-Gamma by maximum likelihood (CDNOW's 946 repeat buyers: p, q, γ = 6.25, 3.74, 15.44,
 * LL −4055.92; FHL 2005 "RFM and CLV"), Nelder–Mead on log-parameters from (1, 1, 1). Every
 * customer must be a repeat buyer (x > 0) with a positive mean spend: filter the x = 0 rows out
 * first. Spend is rescaled to mean zbar = 10 for the optimiser (γ carries the unit, p and q do not).
 * `penalty` adds penalty · Σ log(θ)² on the rescaled log-parameters (default 0: plain MLE).
 */
export function fitGammaGamma(
  data: readonly SpendSummary[],
  options: { maxIterations?: number; penalty?: number } = {},
): GammaGammaFit {
  if (data.length === 0) throw new RangeError('fitGammaGamma needs at least one repeat buyer');
  data.forEach((c, i) => {
    if (!(Number.isFinite(c.x) && c.x > 0 && Number.isFinite(c.zbar) && c.zbar > 0)) {
      throw new RangeError(`customer ${i}: expected x > 0 and zbar > 0, got x=${c.x}, zbar=${c.zbar}`);
    }
  });
  const penalty = options.penalty ?? 0;
  if (!(penalty >= 0 && penalty < Infinity)) throw new RangeError(`fitGammaGamma: penalty must be ≥ 0, got ${penalty}`);
  const meanSpend = data.reduce((s, c) => s + c.zbar, 0) / data.length;
  const unit = 10 / meanSpend;
  const xs = Float64Array.from(data, (c) => c.x);
  const logX = xs.map(Math.log);
  const zbars = Float64Array.from(data, (c) => c.zbar * unit);
  const logZ = zbars.map(Math.log);
  const negLogLikelihood = (theta: readonly number[]): number => {
    const p = Math.exp(theta[0] as number);
    const q = Math.exp(theta[1] as number);
    const gamma = Math.exp(theta[2] as number);
    const constant = -logGamma(q) + q * Math.log(gamma);
    let ll = 0;
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i] as number;
      const px = p * x;
      ll +=
        constant +
        logGamma(px + q) -
        logGamma(px) +
        (px - 1) * (logZ[i] as number) +
        px * (logX[i] as number) -
        (px + q) * Math.log(gamma + x * (zbars[i] as number));
    }
    let pen = 0;
    for (const v of theta) pen += v * v;
    return -ll + penalty * pen;
  };
  const opt = nelderMead(negLogLikelihood, [0, 0, 0], { maxIterations: options.maxIterations ?? 20_000 });
  if (!Number.isFinite(opt.fx) || opt.x.some((v) => !Number.isFinite(v))) {
    throw new Error('fitGammaGamma: the likelihood is not finite anywhere the optimiser looked; check the data');
  }
  const params: GammaGammaParams = {
    p: Math.exp(opt.x[0] as number),
    q: Math.exp(opt.x[1] as number),
    gamma: Math.exp(opt.x[2] as number) / unit,
  };
  return {
    ...params,
    logLikelihood: gammaGammaTotalLogLikelihood(params, data),
    converged: opt.converged && opt.x.every((v) => Math.abs(v) <= 15),
    iterations: opt.iterations,
  };
}

/**
 * E[M | x, zbar] = (γ + x·zbar)·p / (px + q − 1) (Hardie note 025 eq. 5; CDNOW customer 1: 24.65):
 * a weighted average of the population mean pγ/(q−1) and the customer's own zbar. With x = 0 it is
 * the population mean. Needs q > 1 (otherwise the mean spend is infinite): throws a RangeError.
 */
export function conditionalExpectedSpend(params: GammaGammaParams, customer: SpendSummary): number {
  assertGammaGammaParams(params);
  const { p, q, gamma } = params;
  if (!(q > 1)) throw new RangeError(`Gamma-Gamma expected spend needs q > 1 (finite mean), got q=${q}`);
  if (!(customer.x >= 0 && customer.x < Infinity)) throw new RangeError(`x must be finite and ≥ 0, got ${customer.x}`);
  const x = customer.x;
  if (x > 0 && !(customer.zbar >= 0 && customer.zbar < Infinity)) {
    throw new RangeError(`zbar must be finite and ≥ 0 for a repeat buyer, got ${customer.zbar}`);
  }
  const zbar = x > 0 ? customer.zbar : 0;
  return ((gamma + x * zbar) * p) / (p * x + q - 1);
}

export type ClvOptions = {
  /** number of periods to sum (e.g. 12 months) */
  periods: number;
  /** length of one period in the BG/NBD time unit (e.g. 4.345 for months when fitted in weeks) */
  periodLength: number;
  /** discount rate per period (e.g. 0.01 per month) */
  discountRate: number;
};

/**
 * Discounted CLV (lifetimes' customer_lifetime_value; FHL 2005 "RFM and CLV"): the expected value of the customer's future repeat purchases:
 *
 *   CLV = Σ_{k=1..K} E[M] · (E[Y(kΔ)] − E[Y((k−1)Δ)]) / (1 + d)^k
 *
 * with E[Y(t)] the BG/NBD conditional expectation for this customer, E[M] the Gamma-Gamma
 * conditional mean spend, Δ = periodLength, K = periods, d = discountRate. This is lifetimes'
 * `customer_lifetime_value`: each period's expected purchases are discounted at the end of the
 * period. With d = 0 the sum telescopes to E[M] · E[Y(KΔ)]. Multiply by a margin for profit.
 */
export function customerLifetimeValue(
  models: { bgNbd: BgNbdParams; gammaGamma: GammaGammaParams },
  customer: { x: number; tx: number; T: number; zbar: number },
  options: ClvOptions,
): number {
  const { periods, periodLength, discountRate } = options;
  if (!(Number.isInteger(periods) && periods >= 0 && periodLength > 0 && periodLength < Infinity && discountRate > -1 && discountRate < Infinity)) {
    throw new RangeError(
      `CLV needs an integer periods ≥ 0, periodLength > 0 and discountRate > −1; got ${periods}, ${periodLength}, ${discountRate}`,
    );
  }
  const spend = conditionalExpectedSpend(models.gammaGamma, customer);
  let value = 0;
  let previous = 0;
  let discount = 1;
  for (let k = 1; k <= options.periods; k++) {
    const cumulative = bgNbdConditionalExpected(models.bgNbd, k * options.periodLength, customer);
    discount /= 1 + options.discountRate;
    value += (spend * (cumulative - previous)) * discount;
    previous = cumulative;
  }
  return value;
}
