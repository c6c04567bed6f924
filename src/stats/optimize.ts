/**
 * Derivative-free minimisation for the small maximum-likelihood fits (BG/NBD: 4 parameters,
 * Gamma-Gamma: 3). Nelder–Mead is robust on these smooth, cheap objectives when run on
 * log-parameters; restarting from the best vertex guards against the simplex collapsing early,
 * which a single Nelder–Mead run is known to do.
 */

export type MinimizeOptions = {
  /** iteration budget across all restarts (default 20,000) */
  maxIterations?: number;
  /** stop when every vertex is within this distance of the best, per coordinate (default 1e-10) */
  xTolerance?: number;
  /** …and every vertex value within this of the best value (default 1e-12) */
  fTolerance?: number;
  /** edge length of the starting simplex (default 0.5, i.e. ×1.65 on log-parameters) */
  initialStep?: number;
  /** maximum number of restarts from the best point (default 10) */
  maxRestarts?: number;
};

export type MinimizeResult = {
  x: number[];
  fx: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
};

/** Minimises `f` from `x0` with restarted Nelder–Mead (Nelder & Mead 1965, standard coefficients 1, 2, ½, ½); non-finite values count as +Infinity. */
export function nelderMead(
  f: (x: readonly number[]) => number,
  x0: readonly number[],
  options: MinimizeOptions = {},
): MinimizeResult {
  const maxIterations = options.maxIterations ?? 20_000;
  const xTol = options.xTolerance ?? 1e-10;
  const fTol = options.fTolerance ?? 1e-12;
  const step = options.initialStep ?? 0.5;
  const maxRestarts = options.maxRestarts ?? 10;
  let evaluations = 0;
  const evaluate = (x: readonly number[]): number => {
    evaluations++;
    const v = f(x);
    return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY;
  };

  let best = [...x0];
  let bestF = evaluate(best);
  let iterations = 0;
  let converged = false;
  for (let restart = 0; restart <= maxRestarts && iterations < maxIterations; restart++) {
    const run = nelderMeadOnce(evaluate, best, bestF, step, maxIterations - iterations, xTol, fTol);
    iterations += run.iterations;
    const improvement = bestF - run.fx;
    best = run.x;
    bestF = run.fx;
    // A restart that converges without improving means the optimum is genuine, not a collapse.
    if (run.converged && restart > 0 && !(improvement > fTol * Math.max(1, Math.abs(bestF)))) {
      converged = true;
      break;
    }
  }
  return { x: best, fx: bestF, iterations, evaluations, converged };
}

function nelderMeadOnce(
  evaluate: (x: readonly number[]) => number,
  start: readonly number[],
  startF: number,
  step: number,
  budget: number,
  xTol: number,
  fTol: number,
): { x: number[]; fx: number; iterations: number; converged: boolean } {
  const n = start.length;
  const simplex: number[][] = [[...start]];
  const values: number[] = [startF];
  for (let i = 0; i < n; i++) {
    const v = [...start];
    v[i] = (v[i] as number) + step;
    simplex.push(v);
    values.push(evaluate(v));
  }
  const order = Array.from({ length: n + 1 }, (_, i) => i);
  const centroid = new Array<number>(n).fill(0);
  const point = (alpha: number, worst: readonly number[]): number[] =>
    centroid.map((c, j) => c + alpha * (c - (worst[j] as number)));

  let iterations = 0;
  let converged = false;
  while (iterations < budget) {
    order.sort((i, j) => (values[i] as number) - (values[j] as number));
    const bestIdx = order[0] as number;
    const worstIdx = order[n] as number;
    const secondWorstIdx = order[n - 1] as number;
    const bestX = simplex[bestIdx] as number[];
    const fBest = values[bestIdx] as number;

    let spread = 0;
    let fSpread = 0;
    for (let i = 0; i <= n; i++) {
      fSpread = Math.max(fSpread, Math.abs((values[i] as number) - fBest));
      const v = simplex[i] as number[];
      for (let j = 0; j < n; j++) spread = Math.max(spread, Math.abs((v[j] as number) - (bestX[j] as number)));
    }
    if (spread <= xTol && fSpread <= fTol * Math.max(1, Math.abs(fBest))) {
      converged = true;
      break;
    }
    iterations++;

    centroid.fill(0);
    for (let i = 0; i < n; i++) {
      const v = simplex[order[i] as number] as number[];
      for (let j = 0; j < n; j++) centroid[j] = (centroid[j] as number) + (v[j] as number) / n;
    }
    const worst = simplex[worstIdx] as number[];
    const fWorst = values[worstIdx] as number;
    const fSecondWorst = values[secondWorstIdx] as number;

    const reflected = point(1, worst);
    const fr = evaluate(reflected);
    if (fr < fBest) {
      const expanded = point(2, worst);
      const fe = evaluate(expanded);
      if (fe < fr) replace(worstIdx, expanded, fe);
      else replace(worstIdx, reflected, fr);
      continue;
    }
    if (fr < fSecondWorst) {
      replace(worstIdx, reflected, fr);
      continue;
    }
    // Contract outside when the reflection helped a little, inside otherwise.
    const outside = fr < fWorst;
    const contracted = point(outside ? 0.5 : -0.5, worst);
    const fc = evaluate(contracted);
    if (fc < (outside ? fr : fWorst)) {
      replace(worstIdx, contracted, fc);
      continue;
    }
    for (let i = 0; i <= n; i++) {
      if (i === bestIdx) continue;
      const v = (simplex[i] as number[]).map((x, j) => (bestX[j] as number) + 0.5 * (x - (bestX[j] as number)));
      replace(i, v, evaluate(v));
    }
  }
  order.sort((i, j) => (values[i] as number) - (values[j] as number));
  const b = order[0] as number;
  return { x: simplex[b] as number[], fx: values[b] as number, iterations, converged };

  function replace(i: number, x: number[], fx: number): void {
    simplex[i] = x;
    values[i] = fx;
  }
}
