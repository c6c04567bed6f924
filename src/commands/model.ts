import { z } from 'zod';
import { EXIT } from '../errors.ts';
import { DataError, readCsvFile } from '../analysis/csv.ts';
import { evaluateChurnModel, leakSuspects, strongestSignals } from '../analysis/evaluate.ts';
import { DEFAULT_COLUMNS, pickColumn, readRfm, readSpend } from '../analysis/summaries.ts';
import { buildDesign } from '../analysis/tabular.ts';
import { fitBgNbd } from '../stats/bg-nbd.ts';
import { fitGammaGamma } from '../stats/gamma-gamma.ts';
import { parseFlags, type CliIo, type Command } from './command.ts';

const USAGE = `Usage: rapport model <eval | fit-bgnbd | fit-gamma-gamma> [options]

Analyst tools that run the scoring models on a CSV file (no CRM or database needed).

  rapport model eval --data FILE.csv --label COLUMN [--id COLUMN] [--folds 5] [--seed 1] [--l2 1] [--json]
      Evaluates the churn model (logistic regression, IRLS + L2 on standardized columns,
      Platt-calibrated inside each training fold) on any customer export by stratified k-fold
      cross-validation: n, positives, ROC AUC, PR AUC, Brier, ECE (10 bins), lift in the top
      decile, and their spread over the folds; when the AUC's 95 % interval reaches 0.5 it says
      the model does no better than chance instead of listing signals. The label may be yes/no,
      y/n, true/false, 1/0 or churned/active. Columns are cleaned and encoded automatically
      (dates in ISO, DD-MM-YYYY or MM/DD/YYYY are read as dates); every step is reported.

  rapport model fit-bgnbd --data FILE.csv [--frequency C] [--recency C] [--T C] [--json]
      Fits the BG/NBD purchase model (r, alpha, a, b, log-likelihood) to one row per customer:
      repeat purchases, age at the last purchase, age now (any one time unit). Default columns:
      frequency (or x), recency (or t_x), T.

  rapport model fit-gamma-gamma --data FILE.csv [--frequency C] [--monetary C] [--json]
      Fits the Gamma-Gamma spend model (p, q, gamma, log-likelihood) on the repeat buyers
      (frequency > 0) with their mean repeat-purchase value. Default columns: frequency (or x),
      monetary_value (or monetary, zbar).

Exit codes: 0 ok, 1 unusable data (the message says what and where), 2 usage error.
`;

const positiveInt = (flag: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${flag} must be a number` })
    .int(`${flag} must be a whole number`)
    .min(min, `${flag} must be at least ${min}`)
    .max(max, `${flag} must be at most ${max}`);

export const command: Command = {
  name: 'model',
  summary: 'Evaluate the churn model on a CSV export; fit BG/NBD or Gamma-Gamma',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      io.stdout(USAGE);
      return sub === undefined ? EXIT.usage : EXIT.ok;
    }
    const run = SUBCOMMANDS[sub];
    if (run === undefined) {
      io.stderr(`rapport model: unknown subcommand "${sub}" (expected eval, fit-bgnbd or fit-gamma-gamma)\n\n${USAGE}`);
      return EXIT.usage;
    }
    try {
      return await run(rest, io);
    } catch (e) {
      if (e instanceof DataError) {
        io.stderr(`rapport model ${sub}: ${e.message}\n`);
        return EXIT.failure;
      }
      // The models validate their input with RangeErrors and report hopeless likelihoods as
      // Errors: both are about the data, so they get the data exit code, not a stack trace.
      if (e instanceof RangeError || (e instanceof Error && e.constructor === Error)) {
        io.stderr(`rapport model ${sub}: the model could not be fitted to these data: ${e.message}\n`);
        return EXIT.failure;
      }
      throw e;
    }
  },
};

type Sub = (args: string[], io: CliIo) => Promise<number>;

function usageError(sub: string, message: string, io: CliIo): number {
  io.stderr(`rapport model ${sub}: ${message}\n\n${USAGE}`);
  return EXIT.usage;
}

const SUBCOMMANDS: Record<string, Sub> = {
  async eval(args, io) {
    const values = parseFlags(
      { name: 'model eval', usage: USAGE },
      args,
      {
        data: { type: 'string' },
        label: { type: 'string' },
        id: { type: 'string' },
        folds: { type: 'string' },
        seed: { type: 'string' },
        l2: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      io,
    );
    if (typeof values === 'number') return values;
    if (values.data === undefined) return usageError('eval', '--data FILE.csv is required', io);
    if (values.label === undefined) return usageError('eval', '--label COLUMN is required (the churn outcome column)', io);
    const options = z
      .object({
        folds: positiveInt('--folds', 2, 20).default(5),
        seed: z.coerce.number({ error: '--seed must be a number' }).int('--seed must be a whole number').default(1),
        l2: z.coerce.number({ error: '--l2 must be a number' }).min(0, '--l2 must be ≥ 0').max(1e6, '--l2 must be at most 1e6').default(1),
      })
      .safeParse({ folds: values.folds, seed: values.seed, l2: values.l2 });
    if (!options.success) return usageError('eval', options.error.issues.map((i) => i.message).join('; '), io);
    const { folds, seed, l2 } = options.data;

    const table = readCsvFile(values.data);
    const design = buildDesign(table, values.id === undefined ? { label: values.label } : { label: values.label, id: values.id });
    const notices = [...table.notices, ...design.notices];
    const evaluation = evaluateChurnModel(design.X, design.y, { folds, seed, l2 });
    // A model no better than chance has no signals worth naming: its largest coefficients are noise.
    const signals = evaluation.betterThanChance ? strongestSignals(design.X, design.y, design.features, { l2 }) : [];
    const columnsUsed = new Set(design.sources).size;
    const leaks = leakSuspects(design.X, design.y, design.features).map(
      (l) =>
        `"${l.feature}" alone predicts the label almost perfectly (AUC ${l.auc.toFixed(3)}): if it is recorded after the outcome ` +
        '(a cancellation date, a churn reason), it leaks the answer; remove the column and run again',
    );

    if (values.json === true) {
      const { probabilities: _p, ...metrics } = evaluation;
      io.stdout(
        JSON.stringify(
          {
            file: values.data,
            label: { column: design.label, positive: design.labelValues.positive, negative: design.labelValues.negative },
            rows: table.rows.length,
            features: design.features,
            columnsUsed,
            notices,
            ...metrics,
            signals,
            leakWarnings: leaks,
          },
          null,
          2,
        ) + '\n',
      );
      return EXIT.ok;
    }
    const e = evaluation;
    const f3 = (v: number) => v.toFixed(3);
    const spread = (k: 'rocAuc' | 'prAuc' | 'brier' | 'ece') =>
      `folds ${f3(e.spread[k].min)}–${f3(e.spread[k].max)}, sd ${f3(e.spread[k].sd)}`;
    const lines = [
      `${values.data}: ${e.n} rows used of ${table.rows.length}; label "${design.label}": ${e.positives} positive (${design.labelValues.positive.join('/')}), ${e.n - e.positives} negative (${design.labelValues.negative.join('/')}), base rate ${f3(e.baseRate)}`,
      `${design.features.length} features from ${columnsUsed} column${columnsUsed === 1 ? '' : 's'}`,
      '',
      'Cleaning:',
      ...(notices.length === 0 ? ['  (nothing to clean)'] : notices.map((n) => `  - ${n}`)),
      '',
      `Churn model: logistic regression (IRLS, L2 λ=${l2}, standardized), Platt-calibrated inside each training fold`,
      `Stratified ${e.folds}-fold cross-validation (seed ${e.seed}), pooled out-of-fold predictions:`,
      `  n          ${e.n}`,
      `  positives  ${e.positives}`,
      `  ROC AUC    ${f3(e.rocAuc)}   (${spread('rocAuc')}; 95 % interval ${f3(e.rocAucInterval.low)}–${f3(e.rocAucInterval.high)})`,
      `  PR AUC     ${f3(e.prAuc)}   (${spread('prAuc')}; a random score gets ${f3(e.baseRate)})`,
      `  Brier      ${f3(e.brier)}   (${spread('brier')}; skill over the base rate ${f3(e.brierSkill)})`,
      `  ECE        ${f3(e.ece)}   (${spread('ece')}; 10 equal-width bins)`,
      `  lift@10%   ${e.liftTop10.toFixed(2)}`,
      ...e.warnings.map((w) => `  warning: ${w}`),
      ...leaks.map((w) => `  warning: ${w}`),
      '',
      ...(e.betterThanChance
        ? [
            'Strongest signals (fit on all rows; log-odds per standard deviation, + makes a positive label more likely):',
            ...signals.map((s) => `  ${s.standardized >= 0 ? '+' : '−'}${Math.abs(s.standardized).toFixed(2)}  ${s.feature}`),
          ]
        : [
            `The model does no better than chance on rows it did not see (ROC AUC ${f3(e.rocAuc)}, 95 % interval down to ${f3(e.rocAucInterval.low)}):`,
            '  these columns carry no usable signal about the label, so no signals are listed.',
          ]),
    ];
    io.stdout(lines.join('\n') + '\n');
    return EXIT.ok;
  },

  async 'fit-bgnbd'(args, io) {
    const values = parseFlags(
      { name: 'model fit-bgnbd', usage: USAGE },
      args,
      {
        data: { type: 'string' },
        frequency: { type: 'string' },
        recency: { type: 'string' },
        T: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      io,
    );
    if (typeof values === 'number') return values;
    if (values.data === undefined) return usageError('fit-bgnbd', '--data FILE.csv is required', io);
    const table = readCsvFile(values.data);
    const cols = {
      frequency: pickColumn(table, values.frequency, DEFAULT_COLUMNS.frequency, 'frequency'),
      recency: pickColumn(table, values.recency, DEFAULT_COLUMNS.recency, 'recency'),
      T: pickColumn(table, values.T, DEFAULT_COLUMNS.T, 'T'),
    };
    const data = readRfm(table, cols);
    const repeatBuyers = data.filter((c) => c.x > 0).length;
    if (repeatBuyers === 0) throw new DataError('no customer has a repeat purchase (frequency > 0): BG/NBD has no maximum-likelihood fit');
    const fit = fitBgNbd(data);
    const columns = { frequency: table.header[cols.frequency], recency: table.header[cols.recency], T: table.header[cols.T] };
    if (values.json === true) {
      io.stdout(JSON.stringify({ file: values.data, columns, customers: data.length, repeatBuyers, ...fit }, null, 2) + '\n');
      return EXIT.ok;
    }
    io.stdout(
      [
        `${values.data}: ${data.length} customers (${repeatBuyers} with repeat purchases); columns ${columns.frequency}, ${columns.recency}, ${columns.T}`,
        'BG/NBD (Fader, Hardie & Lee 2005), maximum likelihood:',
        `  r               ${fit.r.toPrecision(7)}`,
        `  alpha           ${fit.alpha.toPrecision(7)}   (in the file's time unit)`,
        `  a               ${fit.a.toPrecision(7)}`,
        `  b               ${fit.b.toPrecision(7)}`,
        `  log-likelihood  ${fit.logLikelihood.toFixed(4)}`,
        `  converged       ${fit.converged ? 'yes' : 'NO: the data do not pin the model down; do not trust these parameters'} (${fit.iterations} iterations)`,
      ].join('\n') + '\n',
    );
    return EXIT.ok;
  },

  async 'fit-gamma-gamma'(args, io) {
    const values = parseFlags(
      { name: 'model fit-gamma-gamma', usage: USAGE },
      args,
      {
        data: { type: 'string' },
        frequency: { type: 'string' },
        monetary: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      io,
    );
    if (typeof values === 'number') return values;
    if (values.data === undefined) return usageError('fit-gamma-gamma', '--data FILE.csv is required', io);
    const table = readCsvFile(values.data);
    const cols = {
      frequency: pickColumn(table, values.frequency, DEFAULT_COLUMNS.frequency, 'frequency'),
      monetary: pickColumn(table, values.monetary, DEFAULT_COLUMNS.monetary, 'monetary'),
    };
    const { buyers, skipped } = readSpend(table, cols);
    const fit = fitGammaGamma(buyers);
    const columns = { frequency: table.header[cols.frequency], monetary: table.header[cols.monetary] };
    if (values.json === true) {
      io.stdout(
        JSON.stringify({ file: values.data, columns, customers: table.rows.length, repeatBuyers: buyers.length, skipped, ...fit }, null, 2) + '\n',
      );
      return EXIT.ok;
    }
    io.stdout(
      [
        `${values.data}: fitted on ${buyers.length} repeat buyers (frequency > 0) of ${table.rows.length} customers; ${skipped} without repeat purchases left out`,
        `Gamma-Gamma spend model (Fader, Hardie & Lee 2005), columns ${columns.frequency}, ${columns.monetary}:`,
        `  p               ${fit.p.toPrecision(6)}`,
        `  q               ${fit.q.toPrecision(6)}`,
        `  gamma           ${fit.gamma.toPrecision(6)}`,
        `  log-likelihood  ${fit.logLikelihood.toFixed(4)}`,
        `  converged       ${fit.converged ? 'yes' : 'NO: do not trust these parameters'} (${fit.iterations} iterations)`,
        `  mean spend implied for a new buyer: ${fit.q > 1 ? ((fit.p * fit.gamma) / (fit.q - 1)).toFixed(2) : 'infinite (q ≤ 1)'}`,
      ].join('\n') + '\n',
    );
    return EXIT.ok;
  },
};
