import { describe, expect, it } from 'vitest';
import { DataError, parseCsv } from '../../../src/analysis/csv.ts';
import { buildDesign, parseIsoDate, parseNumber } from '../../../src/analysis/tabular.ts';
import { messyChurnCsv } from './messy-export.ts';

function errorOf(fn: () => unknown): DataError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DataError) return e;
    throw e;
  }
  throw new Error('expected a DataError');
}

const design = (csv: string, label = 'churn', id?: string) =>
  buildDesign(parseCsv(csv), id === undefined ? { label } : { label, id });

describe('buildDesign: the cleaning rules on a messy export', () => {
  const { text, churned } = messyChurnCsv({ seed: 7, rows: 400 });
  const d = buildDesign(parseCsv(text), { label: 'churned' }); // case-insensitive column match

  it('reads every label spelling and keeps every row', () => {
    expect(d.y.length).toBe(400);
    expect(d.y.reduce((s, v) => s + v, 0)).toBe(churned);
    expect(new Set(d.labelValues.positive)).toEqual(new Set(['Yes', 'YES', 'yes', 'Y']));
    expect(new Set(d.labelValues.negative)).toEqual(new Set(['No', 'no', 'N', 'NO']));
  });

  it('drops identifiers, free text and constant columns, each with a notice naming it', () => {
    expect(d.notices).toContain('dropped "customer_id": looks like an identifier or free text (400 distinct values in 400 rows)');
    expect(d.notices).toContain('dropped "account_number": looks like an identifier (400 distinct integers in 400 rows)');
    expect(d.notices.find((n) => n.startsWith('dropped "notes": free text (values average'))).toBeDefined();
    expect(d.notices).toContain('dropped "region": constant (every row is "EU")');
    for (const gone of ['customer_id', 'account_number', 'notes', 'region', 'Churned']) expect(d.sources).not.toContain(gone);
  });

  it('one-hot encodes text against the most frequent level, merging spellings and pooling rare levels', () => {
    const plan = d.features.filter((f) => f.startsWith('plan='));
    // basic/Basic/BASIC/"basic " are one level (the reference, being the most frequent), pro/Pro
    // another; Legacy (4 rows) and Starter (2) are each under max(5, 1 % of 400) = 5: pooled.
    expect(plan.sort()).toEqual(['plan=(other)', 'plan=Enterprise', 'plan=Pro']);
    const notice = d.notices.find((n) => n.startsWith('"plan"'));
    expect(notice).toMatch(/^"plan": text, one-hot with reference "(Basic|basic|BASIC)" \(3 dummies\); 2 rare values \(6 rows\) pooled into "\(other\)"$/);
    const other = d.features.indexOf('plan=(other)');
    expect(d.X.filter((r) => r[other] === 1).length).toBe(6);
    // every row has at most one plan dummy set
    const cols = plan.map((f) => d.features.indexOf(f));
    for (const row of d.X) expect(cols.reduce((s, c) => s + (row[c] as number), 0)).toBeLessThanOrEqual(1);
  });

  it('mean-imputes numeric blanks and adds a missing indicator', () => {
    const spend = d.features.indexOf('monthly_spend');
    const missing = d.features.indexOf('monthly_spend_missing');
    expect(spend).toBeGreaterThanOrEqual(0);
    expect(missing).toBeGreaterThanOrEqual(0);
    const blanks = d.X.filter((r) => r[missing] === 1);
    expect(blanks.length).toBe(Math.ceil(400 / 11));
    const observed = d.X.filter((r) => r[missing] === 0).map((r) => r[spend] as number);
    const mean = observed.reduce((s, v) => s + v, 0) / observed.length;
    for (const r of blanks) expect(r[spend]).toBeCloseTo(mean, 9);
    expect(d.notices.find((n) => n.startsWith('"monthly_spend": 37 blank values filled with the mean'))).toBeDefined();
  });

  it('gives small-cardinality integer columns dummies besides the linear term', () => {
    expect(d.features).toContain('support_tickets');
    const dummies = d.features.filter((f) => f.startsWith('support_tickets='));
    expect(dummies.length).toBeGreaterThanOrEqual(3);
    expect(d.notices.find((n) => n.startsWith('"support_tickets": 6 integer values, so also one-hot'))).toBeDefined();
    // tenure has 60 distinct values: linear only
    expect(d.features.filter((f) => f.startsWith('tenure_months'))).toEqual(['tenure_months']);
  });
});

describe('buildDesign: rules in isolation', () => {
  it('counts a pooled group that is still rare with the reference', () => {
    const rows = [
      ...Array.from({ length: 30 }, (_, i) => `red,${i % 2}`),
      ...Array.from({ length: 20 }, (_, i) => `blue,${i % 2}`),
      ...Array.from({ length: 3 }, (_, i) => `green,${i % 2}`),
    ];
    const d = design(['colour,churn', ...rows].join('\n'));
    expect(d.features).toEqual(['colour=blue']);
    expect(d.notices).toEqual(['"colour": text, one-hot with reference "red" (1 dummy); 1 rare value (3 rows) counted with the reference (fewer than 5 rows even pooled)']);
  });

  it('pools levels rarer than max(5, 1 % of rows) into "(other)"', () => {
    const rows = [
      ...Array.from({ length: 30 }, (_, i) => `a${i},red,${i % 2}`),
      ...Array.from({ length: 20 }, (_, i) => `b${i},blue,${i % 2}`),
      ...Array.from({ length: 3 }, (_, i) => `c${i},green,${i % 2}`),
      ...Array.from({ length: 3 }, (_, i) => `d${i},teal,${i % 2}`),
    ];
    const d = design(['id,colour,churn', ...rows].join('\n'), 'churn', 'id');
    expect(d.features).toEqual(['colour=blue', 'colour=(other)']);
    expect(d.notices).toContain('"colour": text, one-hot with reference "red" (2 dummies); 2 rare values (6 rows) pooled into "(other)"');
    expect(d.notices).toContain('"id" is the row identifier, not a feature');
  });

  it('treats NA/null/? as blanks and keeps a one-valued column as its missing indicator', () => {
    const rows = Array.from({ length: 12 }, (_, i) => `${i % 3 === 0 ? 'NA' : '7'},${i % 4 === 0 ? 'null' : String(i)},${i % 2}`);
    const d = design(['flag,score,churn', ...rows].join('\n'));
    expect(d.features).toEqual(['flag_missing', 'score', 'score_missing']);
    expect(d.notices).toContain('"flag": one value besides 4 blanks; kept as a "flag_missing" indicator only');
  });

  it('drops empty and constant numeric columns', () => {
    const rows = Array.from({ length: 12 }, (_, i) => `,5,${i},${i % 2}`);
    const d = design(['empty,five,x,churn', ...rows].join('\n'));
    expect(d.features).toEqual(['x']);
    expect(d.notices).toEqual(['dropped "empty": empty in every row', 'dropped "five": constant (every row is 5)']);
  });

  it('drops unique integer columns named like ids, or counting through their range in 50+ rows', () => {
    const rows = Array.from({ length: 60 }, (_, i) => `${1000 + ((i * 7) % 60)},${3 * i},${(i * i) % 1000},${i % 2}`);
    const d = design(['row,CustomerID,spend_cents,churn', ...rows].join('\n'));
    expect(d.features).toEqual(['spend_cents']);
    expect(d.notices).toEqual([
      'dropped "row": looks like an identifier (60 distinct integers in 60 rows)',
      'dropped "CustomerID": looks like an identifier (60 distinct integers in 60 rows)',
    ]);
  });

  it('reads ISO dates as days since the earliest, with blanks imputed like numbers', () => {
    const rows = ['2024-01-01', '2024-01-11', '', '2024-03-01T12:00:00Z', '2024-01-06 00:00', '2024-01-02'].map((d, i) => `${d},${i % 2}`);
    const d = design(['signup,churn', ...rows].join('\n'));
    expect(d.features).toEqual(['signup', 'signup_missing']);
    expect(d.X.map((r) => r[0])).toEqual([0, 10, 15.3, 60.5, 5, 1]);
    expect(d.notices[0]).toBe('"signup": dates, used as days since 2024-01-01');
    expect(parseIsoDate('2024-13-01')).toBeNull();
    expect(parseIsoDate('01/02/2024')).toBeNull();
  });

  it('drops a names / surnames / e-mail column (many values, none frequent) like an identifier (regression: TypeError on kept[0])', () => {
    // 600 rows, 200 surnames each 3 times: not nearly unique (so not the id rule), yet no level
    // reaches max(5, 1 % of rows) = 6 rows, so every level pooled into "(other)".
    const rows = Array.from({ length: 600 }, (_, i) => {
      const k = i % 200;
      return `Surname${k},first${k}.last${k}@example.com,${(i * 7) % 13},${i % 2}`;
    });
    const d = design(['Last Name,Email,seats,churn', ...rows].join('\n'));
    expect(d.features).toEqual(['seats']);
    expect(d.notices).toEqual([
      'dropped "Last Name": looks like an identifier or free text (200 distinct values in 600 rows, none in 6 or more)',
      'dropped "Email": looks like an identifier or free text (200 distinct values in 600 rows, none in 6 or more)',
    ]);
  });

  it('reads DD-MM-YYYY and MM/DD/YYYY dates when the column says which order it is, naming the format', () => {
    const dmy = ['01-02-2024', '13-02-2024', '', '28-02-2024', '31.12.2023'.replaceAll('.', '-'), '02-01-2024'];
    const mdy = ['02/01/2024', '02/13/2024', '02/28/2024', '', '12/31/2023', '01/02/2024'];
    const rows = dmy.map((v, i) => `${v},${mdy[i]},${i % 2}`);
    const d = design(['renewal,signup,churn', ...rows].join('\n'));
    expect(d.features).toEqual(['renewal', 'renewal_missing', 'signup', 'signup_missing']);
    // both columns hold the same days, so the same numbers: days since 2023-12-31
    const col = (f: string) => d.X.map((r) => r[d.features.indexOf(f)]);
    expect(col('renewal').filter((_, i) => i !== 2)).toEqual([32, 44, 59, 0, 2]);
    expect(col('signup').filter((_, i) => i !== 3)).toEqual([32, 44, 59, 0, 2]);
    expect(d.notices).toContain('"renewal": dates written DD-MM-YYYY, used as days since 2023-12-31');
    expect(d.notices).toContain('"signup": dates written MM/DD/YYYY, used as days since 2023-12-31');
  });

  it('does not guess the order of dates that could be either, nor one-hot encode them', () => {
    const rows = ['01/02/2024', '03/04/2024', '05/06/2024', '02/01/2024', '12/11/2024', '07/08/2024'].map((v, i) => `${v},${i},${i % 2}`);
    const d = design(['last_order,x,churn', ...rows].join('\n'));
    expect(d.features).toEqual(['x']);
    expect(d.notices).toEqual([
      'dropped "last_order": dates whose day and month cannot be told apart (01/02/2024: every part is 12 or less); export them as YYYY-MM-DD to use them',
    ]);
  });

  it('tolerates a few words in a date column and rejects days a month does not have', () => {
    const rows = Array.from({ length: 100 }, (_, i) => `${i === 10 ? 'unknown' : `${String(1 + (i % 28)).padStart(2, '0')}-0${1 + (i % 9)}-2024`},${i % 2}`);
    const d = design(['joined,churn', ...rows].join('\n'));
    expect(d.notices[0]).toBe('"joined": dates written DD-MM-YYYY, used as days since 2024-01-01; 1 value is not a date ("unknown"), treated as blank');
    expect(d.features).toEqual(['joined', 'joined_missing']);
    expect(parseIsoDate('2024-02-31')).toBeNull();
    expect(parseIsoDate('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
  });

  it('reads numbers with thousands separators, not other text', () => {
    expect(parseNumber(' 1,234.5 ')).toBe(1234.5);
    expect(parseNumber('-3e2')).toBe(-300);
    expect(parseNumber('.5')).toBe(0.5);
    expect(parseNumber('12,34')).toBeNull();
    expect(parseNumber('$1,234.50')).toBe(1234.5);
    expect(parseNumber('-€5')).toBe(-5);
    expect(parseNumber('12.5 %')).toBe(12.5);
    expect(parseNumber('5 apples')).toBeNull();
    expect(parseNumber('1.2.3')).toBeNull();
    expect(parseNumber('1e999')).toBeNull();
  });

  it('treats a few words in a number column (≤ 2 %) as blanks, naming them', () => {
    const rows = Array.from({ length: 100 }, (_, i) => `${i === 3 ? 'TBD' : i === 50 ? ' unknown ' : `$${(i * 13) % 97}.50`},${i % 2}`);
    const d = design(['amount,churn', ...rows].join('\n'));
    expect(d.features).toEqual(['amount', 'amount_missing']);
    expect(d.notices[0]).toBe('"amount": 2 values are not a number ("TBD", "unknown"); treated as blank');
    expect(d.notices[1]).toMatch(/^"amount": 2 blank values filled with the mean/);
    // 3 % words: a text column after all (here nearly unique, so dropped)
    const wordy = Array.from({ length: 100 }, (_, i) => `${i % 33 === 0 ? 'TBD' : String(i * 1.5)},${i % 5},${i % 2}`);
    expect(design(['amount,x,churn', ...wordy].join('\n')).notices[0]).toMatch(/^dropped "amount": looks like an identifier or free text/);
  });

  it('accepts true/false, 1/0 and churned/active labels and leaves blank labels out with a notice', () => {
    const d = design(['x,churn', '1,TRUE', '2,false', '3,', '4,1', '5,0', '6,Churned', '7, active '].join('\n'));
    expect(d.y).toEqual([1, 0, 1, 0, 1, 0]);
    expect(d.lines).toEqual([2, 3, 5, 6, 7, 8]);
    expect(d.notices[0]).toBe('left out 1 row with no "churn" value');
  });

  it('rejects label values that are not a yes/no outcome, naming them and their first line', () => {
    const e = errorOf(() => design(['x,churn', '1,yes', '2,maybe', '3,no', '4,maybe', '5,2'].join('\n')));
    expect(e.message).toBe(
      'label column "churn" has values that are not a yes/no outcome: "maybe" (2 rows, first on line 3), "2" (1 row, first on line 6). ' +
        'Accepted (any case): yes/no, y/n, true/false, 1/0, churned/active',
    );
  });

  it('rejects a label with one class, a missing label column, a header-only file, and no usable features', () => {
    expect(errorOf(() => design(['x,churn', '1,no', '2,No'].join('\n'))).message).toBe(
      'label column "churn" has one class only (every row is "no"/"No"); a churn model needs churned and retained customers',
    );
    expect(errorOf(() => design('x,y\n1,2\n', 'churn')).message).toBe('no label column "churn"; the columns are "x", "y"');
    expect(errorOf(() => design('x,churn\n')).message).toBe('the file has a header but no data rows');
    expect(errorOf(() => design(['k,churn', '1,yes', '1,no'].join('\n'))).message).toMatch(/no usable feature columns remain/);
    expect(errorOf(() => design('x,churn\n1,yes\n', 'churn', 'churn')).message).toMatch(/both name column "churn"/);
  });
});
