/**
 * Property-based audit of the whole `rapport model eval` cleaning path (issue 11): random CRM
 * exports mixing ids, names, e-mails, free text, dates in DD-MM-YYYY, MM/DD/YYYY and ISO, currency,
 * numbers, categories and blanks, with a label in any accepted spelling. Whatever the mix,
 * `model eval` either succeeds and accounts for every column (used as a feature or named in a
 * notice), or exits 1 with a one-line message about the data; never an unexpected error.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli.ts';
import { EXIT } from '../../../src/errors.ts';
import { createRandom } from '../../../src/stats/random.ts';
import { tempDir } from '../../support/temp-dir.ts';

const KINDS = ['text-id', 'int-id', 'name', 'email', 'free-text', 'dmy', 'mdy', 'iso', 'ambiguous-date', 'currency', 'number', 'small-int', 'category', 'empty', 'constant'] as const;
type Kind = (typeof KINDS)[number];
type ColumnSpec = { kind: Kind; blankRate: number; pool: number; strayWord: boolean };
type Export = { rows: number; seed: number; columns: ColumnSpec[]; labelBlankRate: number; badLabel: boolean };

const YES = ['Yes', 'yes', ' YES ', 'Y', 'y', 'true', 'TRUE', 't', '1', '1.0', 'churned', 'Churn', 'lost', 'inactive', 'cancelled', 'canceled'];
const NO = ['No', 'no', 'N', 'false', 'F', '0', '0.0', 'active', 'Retained', 'stayed', 'current'];
const FIRST = ['Anna', 'Bruno', 'Chloé', 'Dmitri', 'Eve', 'Fatima', 'Gus', "O'Neil", 'Zoë', 'Jean-Luc'];
const WORDS = ['called', 'about', 'billing', 'renewal', 'discount', '"urgent"', 'again,', 'follow-up', 'manager', 'happy', 'ticket'];

const columnSpec: fc.Arbitrary<ColumnSpec> = fc.record({
  kind: fc.constantFrom(...KINDS),
  blankRate: fc.constantFrom(0, 0, 0.05, 0.3, 0.9),
  // how many distinct values a name / e-mail / category column draws from, relative to the rows
  pool: fc.constantFrom(0.02, 0.2, 0.5, 1, 3),
  strayWord: fc.boolean(),
});

const exportSpec: fc.Arbitrary<Export> = fc.record({
  rows: fc.integer({ min: 1, max: 400 }),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  columns: fc.array(columnSpec, { minLength: 0, maxLength: 8 }),
  labelBlankRate: fc.constantFrom(0, 0, 0.1),
  badLabel: fc.integer({ min: 0, max: 9 }).map((v) => v < 2),
});

const pad = (v: number) => String(v).padStart(2, '0');

function cell(spec: ColumnSpec, i: number, rows: number, random: () => number): string {
  if (random() < spec.blankRate) return random() < 0.5 ? '' : 'NA';
  const pool = Math.max(1, Math.round(spec.pool * rows));
  const k = Math.floor(random() * pool);
  const day = 1 + Math.floor(random() * 28);
  const month = 1 + Math.floor(random() * 12);
  const year = 2019 + Math.floor(random() * 6);
  if (spec.strayWord && i === rows - 1) return 'unknown';
  switch (spec.kind) {
    case 'text-id':
      return `C-${100000 + i}`;
    case 'int-id':
      return String(500000 + i);
    case 'name':
      return `${FIRST[k % FIRST.length]} Surname${k}`;
    case 'email':
      return `user${k}@example${k % 7}.com`;
    case 'free-text':
      return Array.from({ length: 6 + Math.floor(random() * 10) }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ') + (i % 9 === 0 ? '\nsecond line' : '');
    case 'dmy':
      // day 13+ in some rows makes the order recognisable; the rest could be either
      return `${pad(i % 5 === 0 ? 13 + (day % 16) : day)}-${pad(month)}-${year}`;
    case 'mdy':
      return `${pad(month)}/${pad(i % 5 === 0 ? 13 + (day % 16) : day)}/${year}`;
    case 'iso':
      return `${year}-${pad(month)}-${pad(day)}${random() < 0.2 ? 'T10:30:00Z' : ''}`;
    case 'ambiguous-date':
      return `${pad(1 + (day % 12))}/${pad(month)}/${year}`;
    case 'currency': {
      const amount = random() * 20000;
      const text = amount.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      return random() < 0.5 ? `$${text}` : random() < 0.5 ? `€${text}` : `${amount.toFixed(2)}`;
    }
    case 'number':
      return (random() * 100 - 20).toFixed(random() < 0.5 ? 0 : 3);
    case 'small-int':
      return String(k % 6);
    case 'category':
      return ['Basic', 'basic ', 'PRO', 'Pro', 'Enterprise', 'Legacy', 'Starter'][k % 7] as string;
    case 'empty':
      return '';
    case 'constant':
      return 'EU';
  }
}

function quote(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

function render(e: Export): { text: string; header: string[] } {
  const random = createRandom(e.seed);
  const header = [...e.columns.map((c, j) => `${c.kind}_${j}`), 'Churned'];
  const lines = [header.join(',')];
  for (let i = 0; i < e.rows; i++) {
    const label =
      e.badLabel && i === e.rows - 1
        ? 'maybe'
        : random() < e.labelBlankRate
          ? ''
          : random() < 0.35
            ? (YES[Math.floor(random() * YES.length)] as string)
            : (NO[Math.floor(random() * NO.length)] as string);
    lines.push([...e.columns.map((c) => quote(cell(c, i, e.rows, random))), quote(label)].join(','));
  }
  return { text: lines.join(random() < 0.5 ? '\n' : '\r\n') + '\n', header };
}

/** Messages about the file as a whole, which have no single column or line to name. */
const WHOLE_FILE = [
  /has one class only/,
  /-fold cross-validation needs at least \d+ rows of each class/,
  /no usable feature columns remain after cleaning/,
];

let dir: { path: string; cleanup: () => void };
beforeAll(() => {
  dir = tempDir('rapport-generated-');
});
afterAll(() => dir.cleanup());

async function modelEval(path: string) {
  let out = '';
  let err = '';
  const code = await runCli(['model', 'eval', '--data', path, '--label', 'churned', '--folds', '3', '--json'], {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    isTTY: false,
    env: { RAPPORT_LOG_LEVEL: 'silent' },
    signal: new AbortController().signal,
  });
  return { code, out, err };
}

describe('model eval on generated exports', () => {
  it('succeeds accounting for every column, or exits 1 naming what is wrong; never an unexpected error', async () => {
    const outcomes = { ok: 0, failed: 0 };
    await fc.assert(
      fc.asyncProperty(exportSpec, async (e) => {
        const { text, header } = render(e);
        const path = join(dir.path, 'export.csv');
        writeFileSync(path, text);
        const r = await modelEval(path); // an unexpected error throws out of runCli and fails the property
        if (r.code === EXIT.ok) {
          outcomes.ok++;
          expect(r.err).toBe('');
          const out = JSON.parse(r.out) as { features: string[]; notices: string[]; rocAuc: number; brier: number; ece: number };
          for (const column of header.slice(0, -1)) {
            // every column is used as a feature or named in a notice (dropped, and why)
            const used = out.features.some((f) => f === column || f === `${column}_missing` || f.startsWith(`${column}=`));
            const named = out.notices.some((n) => n.includes(`"${column}"`));
            expect(used || named, `column ${column} is not accounted for\n${r.out}`).toBe(true);
          }
          // dates are read as dates (or dropped as ambiguous), never one-hot encoded
          for (const column of header.filter((h) => /^(dmy|mdy|iso|ambiguous-date)_/.test(h))) {
            expect(out.features.filter((f) => f.startsWith(`${column}=`))).toEqual([]);
          }
          for (const metric of [out.rocAuc, out.brier, out.ece]) {
            expect(metric).toBeGreaterThanOrEqual(0);
            expect(metric).toBeLessThanOrEqual(1);
          }
        } else {
          outcomes.failed++;
          expect(r.code, r.err).toBe(EXIT.failure);
          expect(r.out).toBe('');
          expect(r.err).toMatch(/^rapport model eval: [^\n]+\n$/);
          expect(r.err).not.toMatch(/could not be fitted|TypeError|undefined|NaN/);
          const namesColumnAndLine = /column "[^"]+"/.test(r.err) && /line \d+/.test(r.err);
          expect(namesColumnAndLine || WHOLE_FILE.some((p) => p.test(r.err)), r.err).toBe(true);
        }
      }),
      { numRuns: 80, seed: 20261203, endOnFailure: true },
    );
    // the generator reaches both outcomes, so the property is not vacuous
    expect(outcomes.ok).toBeGreaterThan(10);
    expect(outcomes.failed).toBeGreaterThan(5);
  }, 120_000);
});
