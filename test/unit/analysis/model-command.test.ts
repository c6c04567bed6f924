import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli.ts';
import { EXIT } from '../../../src/errors.ts';
import { referenceDataDir } from '../../support/reference-data.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { createRandom } from '../../../src/stats/random.ts';
import { messyChurnCsv } from './messy-export.ts';

async function rapport(...args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    isTTY: false,
    env: { RAPPORT_LOG_LEVEL: 'silent' },
    signal: new AbortController().signal,
  });
  return { code, out, err };
}

let dir: { path: string; cleanup: () => void };
const file = (name: string, content: string | Buffer) => {
  const path = join(dir.path, name);
  writeFileSync(path, content);
  return path;
};
beforeAll(() => {
  dir = tempDir('rapport-model-');
});
afterAll(() => dir.cleanup());

const CDNOW = join(referenceDataDir, 'cdnow', 'cdnow_customers_summary.csv');
const CDNOW_SPEND = join(referenceDataDir, 'cdnow', 'cdnow_customers_summary_with_transactions.csv');

describe('rapport model eval', () => {
  it('evaluates a messy export: every cleaning step reported, high AUC on a real signal, calibrated', async () => {
    const { text, churned } = messyChurnCsv({ seed: 11, rows: 800 });
    const r = await rapport('model', 'eval', '--data', file('messy.csv', text), '--label', 'Churned', '--id', 'customer_id', '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT.ok);
    const out = JSON.parse(r.out) as Record<string, unknown> & {
      notices: string[];
      perFold: { n: number; positives: number }[];
      spread: { rocAuc: { sd: number } };
      signals: { feature: string; standardized: number }[];
    };
    expect(out['n']).toBe(800);
    expect(out['positives']).toBe(churned);
    expect(out['folds']).toBe(5);
    expect(out.perFold.map((f) => f.n)).toEqual([160, 160, 160, 160, 160]);
    // stratified: every fold's positives within one of the others
    const pos = out.perFold.map((f) => f.positives);
    expect(Math.max(...pos) - Math.min(...pos)).toBeLessThanOrEqual(1);
    expect(out['rocAuc']).toBeGreaterThan(0.8);
    expect(out['ece']).toBeLessThan(0.08);
    expect(out['brierSkill']).toBeGreaterThan(0.15);
    expect(out.notices).toEqual(
      expect.arrayContaining([
        '"customer_id" is the row identifier, not a feature',
        'dropped "account_number": looks like an identifier (800 distinct integers in 800 rows)',
        'dropped "region": constant (every row is "EU")',
        expect.stringMatching(/^dropped "notes": free text/),
        '"plan": text, one-hot with reference "Basic" (3 dummies); 2 rare values (11 rows) pooled into "(other)"',
        expect.stringMatching(/^"monthly_spend": 73 blank values filled with the mean \([\d.]+\), plus a "monthly_spend_missing" indicator$/),
        expect.stringMatching(/^"support_tickets": 6 integer values, so also one-hot/),
      ]),
    );
    // the non-linear ticket effect (3+ tickets) and tenure are the strongest signals
    const top = out.signals.slice(0, 4).map((s) => s.feature);
    expect(top).toContain('tenure_months');
    expect(top.some((f) => f.startsWith('support_tickets'))).toBe(true);
  });

  it('gets AUC ≈ 0.5 when the labels are shuffled (no leak between folds)', async () => {
    const { text } = messyChurnCsv({ seed: 11, rows: 800, shuffleLabels: true });
    const r = await rapport('model', 'eval', '--data', file('shuffled.csv', text), '--label', 'Churned', '--json', '--seed', '3');
    expect(r.code).toBe(EXIT.ok);
    const auc = (JSON.parse(r.out) as { rocAuc: number }).rocAuc;
    expect(auc).toBeGreaterThan(0.4);
    expect(auc).toBeLessThan(0.6);
  });

  it('says a data set with no signal at all does no better than chance, and lists no signals', async () => {
    // 1,000 customers, six columns of pure noise (numbers, a category, a date), a label drawn independently
    const random = createRandom(42);
    const rows = Array.from({ length: 1000 }, (_, i) =>
      [
        `C-${i}`,
        (random() * 100).toFixed(2),
        String(Math.floor(random() * 8)),
        ['Basic', 'Pro', 'Enterprise'][Math.floor(random() * 3)],
        `${String(1 + Math.floor(random() * 28)).padStart(2, '0')}-${String(1 + Math.floor(random() * 12)).padStart(2, '0')}-2024`,
        (random() * 5000).toFixed(0),
        (random() * 2 - 1).toFixed(3),
        random() < 0.3 ? 'yes' : 'no',
      ].join(','),
    );
    const path = file('noise.csv', ['id,spend,seats,plan,signup,visits,nps_delta,churn', ...rows].join('\n'));
    const json = await rapport('model', 'eval', '--data', path, '--label', 'churn', '--id', 'id', '--json');
    expect(json.code).toBe(EXIT.ok);
    const out = JSON.parse(json.out) as { rocAuc: number; rocAucInterval: { low: number; high: number }; betterThanChance: boolean; signals: unknown[]; leakWarnings: string[] };
    expect(Math.abs(out.rocAuc - 0.5)).toBeLessThan(0.06);
    expect(out.rocAucInterval.low).toBeLessThan(0.5);
    expect(out.betterThanChance).toBe(false);
    expect(out.signals).toEqual([]);
    expect(out.leakWarnings).toEqual([]);
    const text = await rapport('model', 'eval', '--data', path, '--label', 'churn', '--id', 'id');
    expect(text.out).toContain('The model does no better than chance on rows it did not see');
    expect(text.out).not.toContain('Strongest signals');
    expect(text.out).toContain('"signup": dates written DD-MM-YYYY');
    // the same columns with a real signal in them are better than chance and list their signals
    const signal = await rapport('model', 'eval', '--data', file('signal.csv', messyChurnCsv({ seed: 5, rows: 300 }).text), '--label', 'Churned', '--json');
    const s = JSON.parse(signal.out) as { betterThanChance: boolean; signals: unknown[] };
    expect(s.betterThanChance).toBe(true);
    expect(s.signals.length).toBeGreaterThan(0);
  });

  it('prints a readable report with n, positives, the four metrics and the fold spread', async () => {
    const { text } = messyChurnCsv({ seed: 5, rows: 300 });
    const r = await rapport('model', 'eval', '--data', file('report.csv', text), '--label', 'churned', '--folds', '3');
    expect(r.code).toBe(EXIT.ok);
    for (const want of [
      /Cleaning:\n {2}- /,
      /label "Churned": \d+ positive/,
      /Stratified 3-fold cross-validation \(seed 1\)/,
      /^ {2}n {10}300$/m,
      /^ {2}positives {2}\d+$/m,
      /^ {2}ROC AUC {4}0\.\d{3} {3}\(folds 0\.\d{3}–0\.\d{3}, sd 0\.\d{3}; 95 % interval 0\.\d{3}–0\.\d{3}\)$/m,
      /^ {2}PR AUC {5}0\.\d{3}/m,
      /^ {2}Brier {6}0\.\d{3}/m,
      /^ {2}ECE {8}0\.\d{3}/m,
      /Strongest signals/,
    ]) {
      expect(r.out).toMatch(want);
    }
  });

  it('warns about a column that leaks the outcome', async () => {
    const rows = Array.from({ length: 60 }, (_, i) => {
      const churn = i % 3 === 0;
      return `${(i * 37) % 11},${churn ? `2024-0${1 + (i % 9)}-15` : ''},${churn ? 'yes' : 'no'}`;
    });
    const r = await rapport('model', 'eval', '--data', file('leak.csv', ['seats,cancel_date,churn', ...rows].join('\n')), '--label', 'churn');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain(
      'warning: "cancel_date_missing" alone predicts the label almost perfectly (AUC 1.000): if it is recorded after the outcome',
    );
    expect(r.out).not.toMatch(/warning: "seats/);
  });

  it('warns when the classes are separable and no penalty keeps the fit finite', async () => {
    const rows = Array.from({ length: 60 }, (_, i) => `${(i % 2) * 10 + ((i * 7) % 10) / 10},${(i * 13) % 7},${i % 2 ? 'yes' : 'no'}`);
    const path = file('separable.csv', ['x,z,churn', ...rows].join('\n'));
    const r = await rapport('model', 'eval', '--data', path, '--label', 'churn', '--l2', '0');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('warning: in all 5 folds the classes are (nearly) separable, so coefficients run off to infinity; use --l2 > 0');
    const penalised = await rapport('model', 'eval', '--data', path, '--label', 'churn');
    expect(penalised.out).not.toContain('(nearly) separable');
  });

  it('is deterministic for a seed', async () => {
    const { text } = messyChurnCsv({ seed: 5, rows: 300 });
    const path = file('det.csv', text);
    const a = await rapport('model', 'eval', '--data', path, '--label', 'Churned', '--json', '--seed', '9');
    const b = await rapport('model', 'eval', '--data', path, '--label', 'Churned', '--json', '--seed', '9');
    expect(a.out).toBe(b.out);
  });

  it('exits 2 on usage errors', async () => {
    const cases: [string[], RegExp][] = [
      [['model'], /Usage: rapport model/],
      [['model', 'evaluate'], /unknown subcommand "evaluate"/],
      [['model', 'eval', '--label', 'x'], /--data FILE\.csv is required/],
      [['model', 'eval', '--data', 'x.csv'], /--label COLUMN is required/],
      [['model', 'eval', '--data', 'x.csv', '--label', 'c', '--folds', '1'], /--folds must be at least 2/],
      [['model', 'eval', '--data', 'x.csv', '--label', 'c', '--folds', 'five'], /--folds must be a number/],
      [['model', 'eval', '--data', 'x.csv', '--label', 'c', '--bogus'], /Unknown option '--bogus'/],
      [['model', 'fit-bgnbd'], /--data FILE\.csv is required/],
    ];
    for (const [args, message] of cases) {
      const r = await rapport(...args);
      expect(r.code, args.join(' ')).toBe(EXIT.usage);
      expect(r.err + r.out).toMatch(message);
    }
    const help = await rapport('model', 'eval', '--help');
    expect(help.code).toBe(EXIT.ok);
    expect(help.out).toContain('rapport model eval --data FILE.csv --label COLUMN');
  });

  it('exits 1 with a clear message on bad data', async () => {
    const ok = 'x,churn\n' + Array.from({ length: 40 }, (_, i) => `${i % 7},${i % 2 ? 'yes' : 'no'}`).join('\n');
    const cases: [string, string | Buffer, string[], string][] = [
      ['empty.csv', '', [], 'rapport model eval: the file is empty (expected a header row and data rows)\n'],
      ['header.csv', 'x,churn\n', [], 'rapport model eval: the file has a header but no data rows\n'],
      ['ragged.csv', 'x,churn\n1,yes\n2\n', [], 'rapport model eval: line 3: 1 fields, but the header has 2 columns\n'],
      ['quote.csv', 'x,churn\n1,"yes\n', [], 'rapport model eval: line 2: a quoted field (column 2) is never closed\n'],
      ['nolabel.csv', ok, ['--label', 'churned'], 'rapport model eval: no label column "churned"; the columns are "x", "churn"\n'],
      ['oneclass.csv', 'x,churn\n1,no\n2,no\n', [], expect.stringContaining('has one class only') as unknown as string],
      ['badlabel.csv', 'x,churn\n1,yes\n2,perhaps\n', [], expect.stringContaining('"perhaps" (1 row, first on line 3)') as unknown as string],
      ['few.csv', 'x,churn\n' + Array.from({ length: 12 }, (_, i) => `${i},${i < 3 ? 'yes' : 'no'}`).join('\n'), [], expect.stringContaining('5-fold cross-validation needs at least 5 rows of each class; the data have 3 positive and 9 negative') as unknown as string],
    ];
    for (const [name, content, extra, message] of cases) {
      const r = await rapport('model', 'eval', '--data', file(name, content), '--label', 'churn', ...extra);
      expect(r.code, name).toBe(EXIT.failure);
      expect(r.err, name).toEqual(message);
      expect(r.out, name).toBe('');
    }
    const missing = await rapport('model', 'eval', '--data', join(dir.path, 'nope.csv'), '--label', 'churn');
    expect(missing.code).toBe(EXIT.failure);
    expect(missing.err).toBe(`rapport model eval: ${join(dir.path, 'nope.csv')}: no such file\n`);
  });
});

describe('rapport model fit-bgnbd / fit-gamma-gamma', () => {
  it('reproduces the published BG/NBD fit on the CDNOW summary within 0.1 %', async () => {
    const r = await rapport('model', 'fit-bgnbd', '--data', CDNOW, '--json');
    expect(r.code).toBe(EXIT.ok);
    const fit = JSON.parse(r.out) as { r: number; alpha: number; a: number; b: number; logLikelihood: number; converged: boolean; customers: number; repeatBuyers: number };
    const published = { r: 0.2425945, alpha: 4.4136019, a: 0.7929199, b: 2.4258881 };
    for (const [k, v] of Object.entries(published)) expect(Math.abs(fit[k as keyof typeof published] / v - 1), k).toBeLessThan(0.001);
    expect(fit.logLikelihood).toBeCloseTo(-9582.43, 1);
    expect(fit.converged).toBe(true);
    expect(fit.customers).toBe(2357);
    expect(fit.repeatBuyers).toBe(946);
    const text = await rapport('model', 'fit-bgnbd', '--data', CDNOW);
    expect(text.out).toMatch(/^ {2}r {15}0\.24259/m);
    expect(text.out).toMatch(/log-likelihood {2}-9582\.4/);
    expect(text.out).toMatch(/converged {7}yes/);
  });

  it('takes other column names (the paper’s x, t_x, T)', async () => {
    const r = await rapport('model', 'fit-bgnbd', '--data', CDNOW_SPEND, '--frequency', 'x', '--recency', 't_x', '--T', 'T', '--json');
    expect(r.code).toBe(EXIT.ok);
    expect((JSON.parse(r.out) as { r: number }).r).toBeCloseTo(0.2426, 3);
  });

  it('reproduces the published Gamma-Gamma fit on the 946 CDNOW repeat buyers', async () => {
    const r = await rapport('model', 'fit-gamma-gamma', '--data', CDNOW_SPEND, '--json');
    expect(r.code).toBe(EXIT.ok);
    const fit = JSON.parse(r.out) as { p: number; q: number; gamma: number; logLikelihood: number; repeatBuyers: number; skipped: number };
    expect(Math.abs(fit.p - 6.25)).toBeLessThan(0.015);
    expect(Math.abs(fit.q - 3.74)).toBeLessThan(0.015);
    expect(Math.abs(fit.gamma - 15.44)).toBeLessThan(0.015);
    expect(fit.logLikelihood).toBeCloseTo(-4055.92, 1);
    expect(fit.repeatBuyers).toBe(946);
    expect(fit.skipped).toBe(1411);
    const text = await rapport('model', 'fit-gamma-gamma', '--data', CDNOW_SPEND);
    expect(text.out).toContain('fitted on 946 repeat buyers (frequency > 0) of 2357 customers');
  });

  it('exits 1 naming the line and column of bad summary data', async () => {
    const cases: [string, string[], string, string][] = [
      ['fit-bgnbd', [], 'frequency,recency,T\n1,2,10\n2,abc,10\n', 'rapport model fit-bgnbd: line 3: column "recency" is "abc", not a number\n'],
      ['fit-bgnbd', [], 'frequency,recency,T\n1,2,10\n2,12,10\n', 'rapport model fit-bgnbd: line 3: recency 12 is outside [0, T = 10]; recency is the age at the last purchase\n'],
      ['fit-bgnbd', [], 'frequency,recency,T\n0,0,10\n0,0,5\n', 'rapport model fit-bgnbd: no customer has a repeat purchase (frequency > 0): BG/NBD has no maximum-likelihood fit\n'],
      ['fit-bgnbd', [], 'freq,rec,T\n1,2,10\n', expect.stringContaining('no frequency column (looked for "frequency", "x")') as unknown as string],
      ['fit-bgnbd', ['--T', 'age'], 'frequency,recency,T\n1,2,10\n', 'rapport model fit-bgnbd: no T column "age"; the columns are "frequency", "recency", "T"\n'],
      ['fit-gamma-gamma', [], 'frequency,monetary_value\n0,0\n2,\n', 'rapport model fit-gamma-gamma: line 3: column "monetary_value" is blank\n'],
      ['fit-gamma-gamma', [], 'frequency,monetary_value\n0,0\n2,-5\n', 'rapport model fit-gamma-gamma: line 3: mean spend is -5 for a repeat buyer; Gamma-Gamma needs positive amounts\n'],
      ['fit-gamma-gamma', [], 'frequency,monetary_value\n0,0\n0,0\n', 'rapport model fit-gamma-gamma: no repeat buyers (frequency > 0): Gamma-Gamma has nothing to fit\n'],
    ];
    for (const [sub, extra, content, message] of cases) {
      const r = await rapport('model', sub, '--data', file('summary.csv', content), ...extra);
      expect(r.code, content).toBe(EXIT.failure);
      expect(r.err, content).toEqual(message);
    }
  });
});
