/**
 * Turns a messy customer export (a CsvTable) into a numeric design matrix and 0/1 labels for the
 * churn model, saying what it did to each column:
 * - the label accepts Yes/No, Y/N, true/false, 1/0, churned/active (case and spaces ignored);
 *   rows with a blank label are left out; any other value is an error that names it;
 * - numeric columns with blanks are mean-imputed and get a `<col>_missing` indicator;
 * - integer columns with 3–10 distinct values also get one-hot dummies, so they can act
 *   non-linearly (a contract length of 12 is not "half of 24");
 * - text columns are one-hot encoded against a reference level (the most frequent); levels with
 *   fewer than max(5, 1 % of rows) rows are pooled into "(other)";
 * - identifiers (nearly unique per row) and free text (long values) are dropped, as are constant
 *   columns, each with a notice.
 * The encoding looks at the feature columns only, never at the label, so computing it once over
 * all rows before cross-validation leaks nothing about the outcome.
 */
import { DataError, requireColumn, type CsvTable } from './csv.ts';

export type Design = {
  /** the label column's name as the header writes it */
  label: string;
  /** one row per kept data row, one value per feature */
  X: number[][];
  /** 0/1 labels, 1 = positive (churned) */
  y: number[];
  /** feature names, e.g. `tenure`, `tenure_missing`, `contract=Two year`, `seats=3` */
  features: string[];
  /** the source column of each feature */
  sources: string[];
  /** the file line of each kept row */
  lines: number[];
  /** the raw label values read as positive / negative (as written, trimmed) */
  labelValues: { positive: string[]; negative: string[] };
  /** what was done to which column, in plain words */
  notices: string[];
};

const POSITIVE = new Set(['yes', 'y', 'true', 't', '1', '1.0', 'churned', 'churn', 'lost', 'inactive', 'cancelled', 'canceled']);
const NEGATIVE = new Set(['no', 'n', 'false', 'f', '0', '0.0', 'active', 'retained', 'stayed', 'current']);
const MISSING = new Set(['', 'na', 'n/a', 'nan', 'null', '?', '#n/a']);
// `\d+(\.\d*)?`, not `\d+\.?\d*`: the digits before and after an optional dot could trade places (ReDoS lint)
const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const THOUSANDS = /^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$/;
/** names that say "identifier": customer_id, CustomerID, account no, uuid, … */
const ID_NAME = /(^|[\s_.\-#])(id|key|uuid|guid|no|num|number|code)$|[a-z](ID|Id)$/i;

const MAX_DUMMY_INTEGER_LEVELS = 10;
const MAX_CATEGORY_LEVELS = 30;
const FREE_TEXT_MEAN_LENGTH = 40;
const NEARLY_UNIQUE = 0.9;
const MIN_ROWS_FOR_UNIQUENESS = 10;
const MIN_ROWS_FOR_SEQUENCE = 50;
const STRAY_TEXT_SHARE = 0.02;
/** Words tolerated in a number or date column: 2 % of its values, and always one ("unknown"). */
const strayAllowed = (present: number) => Math.max(1, Math.floor(STRAY_TEXT_SHARE * present));

export function isMissing(value: string): boolean {
  return MISSING.has(value.trim().toLowerCase());
}

/** The number in a cell (plain or with thousands separators), or null when it is not one. */
export function parseNumber(value: string): number | null {
  // Spreadsheet formatting is not data: "$1,234.50" is 1234.5 and "12%" is 12 (as displayed).
  const v = value.trim().replace(/^([-+]?)[$€£]\s?/, '$1').replace(/\s?%$/, '');
  // "1e999" reads as Infinity, which no model can use: not a number.
  const n = NUMBER.test(v) ? Number(v) : THOUSANDS.test(v) ? Number(v.replaceAll(',', '')) : NaN;
  return Number.isFinite(n) ? n : null;
}

/** Builds the churn design from a table. `label` (and `id`) name columns; errors are DataErrors. */
export function buildDesign(table: CsvTable, opts: { label: string; id?: string }): Design {
  const { header } = table;
  if (table.rows.length === 0) throw new DataError('the file has a header but no data rows');
  const labelIndex = requireColumn(header, opts.label, 'label');
  const idIndex = opts.id === undefined ? -1 : requireColumn(header, opts.id, 'id');
  if (idIndex === labelIndex) throw new DataError(`--id and --label both name column "${header[labelIndex]}"`);
  const labelName = header[labelIndex] as string;
  const notices: string[] = [];

  // Labels first: they decide which rows take part.
  const keep: number[] = [];
  const y: number[] = [];
  const positive = new Map<string, number>();
  const negative = new Map<string, number>();
  const bad = new Map<string, { count: number; line: number }>();
  let blank = 0;
  table.rows.forEach((row, r) => {
    const raw = (row[labelIndex] as string).trim();
    const key = raw.toLowerCase();
    if (key === '') {
      blank++;
      return;
    }
    if (POSITIVE.has(key)) {
      positive.set(raw, (positive.get(raw) ?? 0) + 1);
      keep.push(r);
      y.push(1);
    } else if (NEGATIVE.has(key)) {
      negative.set(raw, (negative.get(raw) ?? 0) + 1);
      keep.push(r);
      y.push(0);
    } else {
      const b = bad.get(raw);
      if (b) b.count++;
      else bad.set(raw, { count: 1, line: table.lines[r] as number });
    }
  });
  if (bad.size > 0) {
    const shown = [...bad.entries()]
      .slice(0, 5)
      .map(([v, b]) => `"${v}" (${b.count} row${b.count === 1 ? '' : 's'}, first on line ${b.line})`)
      .join(', ');
    throw new DataError(
      `label column "${labelName}" has values that are not a yes/no outcome: ${shown}${bad.size > 5 ? `, and ${bad.size - 5} more` : ''}. ` +
        'Accepted (any case): yes/no, y/n, true/false, 1/0, churned/active',
    );
  }
  if (blank > 0) notices.push(`left out ${blank} row${blank === 1 ? '' : 's'} with no "${labelName}" value`);
  const positives = y.reduce((s, v) => s + v, 0);
  if (positives === 0 || positives === y.length) {
    const only = [...(positives === 0 ? negative : positive).keys()].map((v) => `"${v}"`).join('/');
    throw new DataError(
      `label column "${labelName}" has one class only (every row is ${only || 'blank'}); a churn model needs churned and retained customers`,
    );
  }
  if (idIndex >= 0) {
    const ids = new Set<string>();
    let duplicates = 0;
    for (const r of keep) {
      const id = (table.rows[r]?.[idIndex] as string).trim();
      if (ids.has(id)) duplicates++;
      else ids.add(id);
    }
    notices.push(
      `"${header[idIndex]}" is the row identifier, not a feature` +
        (duplicates > 0 ? ` (${duplicates} rows repeat an earlier id; each row is still counted)` : ''),
    );
  }

  const n = keep.length;
  const minLevel = Math.max(5, Math.ceil(0.01 * n));
  const columns: number[][] = [];
  const features: string[] = [];
  const sources: string[] = [];
  const add = (name: string, source: string, values: number[]) => {
    features.push(name);
    sources.push(source);
    columns.push(values);
  };

  header.forEach((name, c) => {
    if (c === labelIndex || c === idIndex) return;
    const cells = keep.map((r) => (table.rows[r] as string[])[c] as string);
    const present = cells.filter((v) => !isMissing(v));
    if (present.length === 0) {
      notices.push(`dropped "${name}": empty in every row`);
      return;
    }
    const numbers = present.map(parseNumber);
    const stray = numbers.filter((v) => v === null).length;
    // A number column with a few typed-in words ("TBD", "unknown") is still a number column:
    // those cells count as blank, and the notice shows what they were.
    if (stray <= strayAllowed(present.length) && present.length - stray >= 2) {
      if (stray > 0) {
        const examples = [...new Set(present.filter((_, i) => numbers[i] === null).map((v) => v.trim()))];
        notices.push(
          `"${name}": ${stray} value${stray === 1 ? ' is' : 's are'} not a number (${examples
            .slice(0, 3)
            .map((v) => `"${v}"`)
            .join(', ')}${examples.length > 3 ? ', …' : ''}); treated as blank`,
        );
      }
      const parsed = cells.map((v) => (isMissing(v) ? null : parseNumber(v)));
      encodeNumeric(name, parsed, parsed.filter((v) => v !== null), n - (present.length - stray));
      return;
    }
    const dates = readDates(present);
    if (dates.kind === 'ambiguous') {
      notices.push(
        `dropped "${name}": dates whose day and month cannot be told apart (${dates.example}: every part is 12 or less); ` +
          'export them as YYYY-MM-DD to use them',
      );
      return;
    }
    if (dates.kind === 'dates') {
      // Dates become a number the model can use: days since the earliest one in the column.
      const parsed = cells.map((v) => (isMissing(v) ? null : dates.parse(v)));
      const values = parsed.filter((v) => v !== null);
      let origin = Infinity;
      for (const t of values) if (t < origin) origin = t;
      const days = (t: number) => (t - origin) / DAY_MS;
      const stray = present.length - values.length;
      notices.push(
        `"${name}": dates${dates.format === 'ISO' ? '' : ` written ${dates.format}`}, used as days since ${new Date(origin).toISOString().slice(0, 10)}` +
          (stray > 0 ? `; ${stray} value${stray === 1 ? ' is' : 's are'} not a date (${quoteSome(present.filter((v) => dates.parse(v) === null))}), treated as blank` : ''),
      );
      encodeNumeric(
        name,
        parsed.map((t) => (t === null ? null : days(t))),
        values.map(days),
        n - values.length,
        false,
      );
      return;
    }
    encodeCategorical(name, cells, present);
  });

  /** `parsed` holds each row's number (null when blank); `numbers` the non-blank ones. */
  function encodeNumeric(name: string, parsed: (number | null)[], numbers: number[], missing: number, countable = true): void {
    const distinct = new Map<number, number>();
    for (const v of numbers) distinct.set(v, (distinct.get(v) ?? 0) + 1);
    const integer = countable && numbers.every((v) => Number.isInteger(v));
    if (distinct.size === 1 && missing === 0) {
      notices.push(`dropped "${name}": constant (every row is ${numbers[0]})`);
      return;
    }
    if (
      integer &&
      numbers.length >= MIN_ROWS_FOR_UNIQUENESS &&
      distinct.size === numbers.length &&
      // A name like "customer_id" is evidence enough; a bare counter needs more rows to tell.
      (ID_NAME.test(name) || (numbers.length >= MIN_ROWS_FOR_SEQUENCE && looksSequential([...distinct.keys()])))
    ) {
      notices.push(`dropped "${name}": looks like an identifier (${distinct.size} distinct integers in ${numbers.length} rows)`);
      return;
    }
    const mean = numbers.reduce((s, v) => s + v, 0) / numbers.length;
    if (distinct.size > 1) add(name, name, parsed.map((v) => v ?? mean));
    if (missing > 0) {
      add(`${name}_missing`, name, parsed.map((v) => (v === null ? 1 : 0)));
      notices.push(
        distinct.size > 1
          ? `"${name}": ${missing} blank value${missing === 1 ? '' : 's'} filled with the mean (${round(mean)}), plus a "${name}_missing" indicator`
          : `"${name}": one value besides ${missing} blank${missing === 1 ? '' : 's'}; kept as a "${name}_missing" indicator only`,
      );
    }
    if (integer && distinct.size >= 3 && distinct.size <= MAX_DUMMY_INTEGER_LEVELS) {
      const levels = [...distinct.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      const reference = (levels[0] as [number, number])[0];
      const dummies = levels.filter(([v, count]) => v !== reference && count >= minLevel).map(([v]) => v).sort((a, b) => a - b);
      for (const level of dummies) {
        add(`${name}=${level}`, name, parsed.map((v) => (v === level ? 1 : 0)));
      }
      if (dummies.length > 0) {
        notices.push(
          `"${name}": ${distinct.size} integer values, so also one-hot (${dummies.length} dummies, reference ${reference}` +
            (dummies.length < distinct.size - 1 ? `; values with fewer than ${minLevel} rows have no dummy of their own` : '') +
            ')',
        );
      }
    }
  }

  function encodeCategorical(name: string, cells: string[], present: string[]): void {
    const meanLength = present.reduce((s, v) => s + v.trim().length, 0) / present.length;
    if (meanLength >= FREE_TEXT_MEAN_LENGTH) {
      notices.push(`dropped "${name}": free text (values average ${Math.round(meanLength)} characters)`);
      return;
    }
    // Levels compare case- and space-insensitively ("Monthly", "monthly ", "MONTHLY" are one);
    // each is shown with its most common spelling.
    const keyOf = (v: string) => (isMissing(v) ? '' : v.trim().toLowerCase().replace(/\s+/g, ' '));
    const counts = new Map<string, number>();
    const spellings = new Map<string, Map<string, number>>();
    for (const v of cells) {
      const key = keyOf(v);
      counts.set(key, (counts.get(key) ?? 0) + 1);
      if (key !== '') {
        const s = spellings.get(key) ?? new Map<string, number>();
        s.set(v.trim(), (s.get(v.trim()) ?? 0) + 1);
        spellings.set(key, s);
      }
    }
    const distinctPresent = counts.size - (counts.has('') ? 1 : 0);
    if (present.length >= MIN_ROWS_FOR_UNIQUENESS && distinctPresent >= NEARLY_UNIQUE * present.length) {
      notices.push(`dropped "${name}": looks like an identifier or free text (${distinctPresent} distinct values in ${present.length} rows)`);
      return;
    }
    const display = (key: string): string => {
      if (key === '') return '(blank)';
      const s = [...(spellings.get(key) as Map<string, number>).entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      return (s[0] as [string, number])[0];
    };
    // Rare levels pool into "(other)", as do levels beyond the 30 most frequent.
    const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const kept = ranked.filter(([, count], i) => count >= minLevel && i < MAX_CATEGORY_LEVELS).map(([k]) => k);
    const keptSet = new Set(kept);
    const pooled = ranked.filter(([k]) => !keptSet.has(k));
    const pooledRows = pooled.reduce((s, [, count]) => s + count, 0);
    const OTHER = '\u0000other';

    const groups = new Map<string, number>(kept.map((k) => [k, counts.get(k) as number]));
    // A pooled group that is itself rare gets no dummy either: its rows count as the reference.
    const otherHasDummy = pooledRows >= minLevel;
    if (otherHasDummy) groups.set(OTHER, pooledRows);
    if (kept.length === 0) {
      // Names, surnames, e-mail addresses: many values, none frequent enough to say anything.
      notices.push(
        `dropped "${name}": looks like an identifier or free text (${distinctPresent} distinct values in ${present.length} rows, ` +
          `none in ${minLevel} or more)`,
      );
      return;
    }
    if (groups.size <= 1) {
      notices.push(
        groups.size === 0
          ? `dropped "${name}": no value occurs in ${minLevel} or more rows`
          : pooled.length === 0
            ? `dropped "${name}": constant (every row is "${display(kept[0] as string)}")`
            : `dropped "${name}": nearly constant ("${display(kept[0] as string)}" in all but ${pooledRows} rows)`,
      );
      return;
    }
    const order = [...groups.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const reference = (order[0] as [string, number])[0];
    const label = (g: string) => (g === OTHER ? '(other)' : display(g));
    const dummies = order.map(([g]) => g).filter((g) => g !== reference);
    const groupsOfCells = cells.map((v) => {
      const key = keyOf(v);
      return keptSet.has(key) ? key : otherHasDummy ? OTHER : reference;
    });
    for (const g of dummies) add(`${name}=${label(g)}`, name, groupsOfCells.map((x) => (x === g ? 1 : 0)));
    notices.push(
      `"${name}": text, one-hot with reference "${label(reference)}" (${dummies.length} dumm${dummies.length === 1 ? 'y' : 'ies'})` +
        (pooled.length === 0
          ? ''
          : `; ${pooled.length} rare value${pooled.length === 1 ? '' : 's'} (${pooledRows} row${pooledRows === 1 ? '' : 's'}) ` +
            (otherHasDummy ? 'pooled into "(other)"' : `counted with the reference (fewer than ${minLevel} rows even pooled)`)),
    );
  }

  if (features.length === 0) throw new DataError('no usable feature columns remain after cleaning (see the notices)');
  const X = keep.map((_, i) => columns.map((col) => col[i] as number));
  return {
    label: labelName,
    X,
    y,
    features,
    sources,
    lines: keep.map((r) => table.lines[r] as number),
    labelValues: { positive: [...positive.keys()], negative: [...negative.keys()] },
    notices,
  };
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const DAY_MS = 86_400_000;

/** Epoch ms of an ISO 8601 date or date-time (UTC when no zone is given), or null. */
export function parseIsoDate(value: string): number | null {
  const v = value.trim();
  if (!ISO_DATE.test(v)) return null;
  const withZone = v.length === 10 || /(Z|[+-]\d{2}:?\d{2})$/.test(v) ? v : `${v.replace(' ', 'T')}Z`;
  const t = Date.parse(withZone.length === 10 ? `${withZone}T00:00:00Z` : withZone.replace(' ', 'T'));
  // V8 reads 2024-02-31 as 2 March: a day the month does not have is not a date.
  const [year, month, day] = v.slice(0, 10).split('-').map(Number) as [number, number, number];
  const d = new Date(Date.UTC(year, month - 1, day));
  if (d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return null;
  return Number.isFinite(t) ? t : null;
}

/** Day-month-year dates with `-`, `/` or `.` between the parts (31-12-2024, 12/31/2024, 31.12.2024). */
const DMY = /^(\d{1,2})([-/.])(\d{1,2})\2(\d{4})$/;

type DateColumn =
  | { kind: 'dates'; format: string; parse: (value: string) => number | null }
  | { kind: 'ambiguous'; example: string }
  | { kind: 'none' };

/**
 * Whether a column's values are dates: all ISO 8601, or all day/month/year in one order. The order
 * of a non-ISO column is read from the column as a whole: a first part above 12 says day first
 * (DD-MM-YYYY), a second part above 12 says month first (MM/DD/YYYY); when every part is 12 or
 * less the column is ambiguous and its dates are not guessed. As with numbers, a few stray words
 * ("unknown": 2 %, at least one, never half) are tolerated and count as blank.
 */
function readDates(present: string[]): DateColumn {
  const allowed = strayAllowed(present.length);
  let iso = 0;
  let dmy = 0;
  let firstOver12 = false;
  let secondOver12 = false;
  let example = '';
  const separators = new Set<string>();
  for (const raw of present) {
    const v = raw.trim();
    if (parseIsoDate(v) !== null) {
      iso++;
      continue;
    }
    const m = DMY.exec(v);
    if (m === null) continue;
    dmy++;
    if (example === '') example = v;
    separators.add(m[2] as string);
    if (Number(m[1]) > 12) firstOver12 = true;
    if (Number(m[3]) > 12) secondOver12 = true;
  }
  if (iso > 0 && dmy === 0 && present.length - iso <= allowed && iso >= present.length - iso) {
    return { kind: 'dates', format: 'ISO', parse: parseIsoDate };
  }
  if (dmy === 0 || iso > 0 || present.length - dmy > allowed || dmy < present.length - dmy) return { kind: 'none' };
  // Both orders seen (13-01 and 01-13): these are not dates of one format.
  if (firstOver12 && secondOver12) return { kind: 'none' };
  if (!firstOver12 && !secondOver12) return { kind: 'ambiguous', example };
  const dayFirst = firstOver12;
  const sep = separators.size === 1 ? [...separators][0] : '-';
  const format = dayFirst ? `DD${sep}MM${sep}YYYY` : `MM${sep}DD${sep}YYYY`;
  return {
    kind: 'dates',
    format,
    parse: (value: string) => {
      const m = DMY.exec(value.trim());
      if (m === null) return null;
      const [day, month] = dayFirst ? [Number(m[1]), Number(m[3])] : [Number(m[3]), Number(m[1])];
      const t = Date.UTC(Number(m[4]), month - 1, day);
      // Date.UTC rolls 31-02 over into March: a day the month does not have is not a date.
      const d = new Date(t);
      return d.getUTCMonth() === month - 1 && d.getUTCDate() === day ? t : null;
    },
  };
}

function quoteSome(values: string[]): string {
  const distinct = [...new Set(values.map((v) => v.trim()))];
  return `${distinct.slice(0, 3).map((v) => `"${v}"`).join(', ')}${distinct.length > 3 ? ', …' : ''}`;
}

/** Distinct integers that fill most of their range (1001, 1002, …): a row counter, not a measurement. */
function looksSequential(values: number[]): boolean {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return max - min + 1 <= 1.5 * values.length;
}

function round(v: number): number {
  return Number(v.toPrecision(4));
}
