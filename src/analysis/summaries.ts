/**
 * Reads customer summary columns (BG/NBD: frequency, recency, T; Gamma-Gamma: frequency, mean
 * spend) from a CsvTable for the analyst commands. Column defaults follow lifetimes' summary
 * names, with the CDNOW paper's x / t_x / zbar as fallbacks (test/fixtures/reference/cdnow).
 * Every bad cell is a DataError naming its line and column.
 */
import { DataError, findColumn, requireColumn, type CsvTable } from './csv.ts';
import { isMissing, parseNumber } from './tabular.ts';
import type { RfmSummary } from '../stats/bg-nbd.ts';
import type { SpendSummary } from '../stats/gamma-gamma.ts';

export const DEFAULT_COLUMNS = {
  frequency: ['frequency', 'x'],
  recency: ['recency', 't_x', 'tx'],
  T: ['T'],
  monetary: ['monetary_value', 'monetary', 'zbar'],
} as const;

/** The column index for an explicit name, or the first default alias present. */
export function pickColumn(table: CsvTable, explicit: string | undefined, aliases: readonly string[], role: string): number {
  if (explicit !== undefined) return requireColumn(table.header, explicit, role);
  // Exact names first (T vs t matter less than picking the intended alias), then any case.
  for (const a of aliases) {
    const i = table.header.indexOf(a);
    if (i >= 0) return i;
  }
  for (const a of aliases) {
    const i = findColumn(table.header, a);
    if (i >= 0) return i;
  }
  throw new DataError(
    `no ${role} column (looked for ${aliases.map((a) => `"${a}"`).join(', ')}); name it with the option. The columns are ${table.header
      .slice(0, 30)
      .map((h) => `"${h}"`)
      .join(', ')}`,
  );
}

function numberAt(table: CsvTable, r: number, c: number): number {
  const cell = (table.rows[r] as string[])[c] as string;
  const v = isMissing(cell) ? null : parseNumber(cell);
  if (v === null || !Number.isFinite(v)) {
    throw new DataError(
      `column "${table.header[c]}" is ${isMissing(cell) ? 'blank' : `"${cell.trim()}", not a number`}`,
      table.lines[r],
    );
  }
  return v;
}

function requireRows(table: CsvTable): void {
  if (table.rows.length === 0) throw new DataError('the file has a header but no data rows');
}

/** BG/NBD summaries: x repeat purchases, tx time of the last, T age (one time unit throughout). */
export function readRfm(table: CsvTable, cols: { frequency: number; recency: number; T: number }): RfmSummary[] {
  requireRows(table);
  return table.rows.map((_, r) => {
    const x = numberAt(table, r, cols.frequency);
    const tx = numberAt(table, r, cols.recency);
    const T = numberAt(table, r, cols.T);
    const line = table.lines[r];
    if (!(x >= 0)) throw new DataError(`frequency is ${x}; it counts repeat purchases, so it must be ≥ 0`, line);
    if (!(T > 0)) throw new DataError(`T is ${T}; a customer's age since the first purchase must be > 0`, line);
    if (x > 0 && !(tx >= 0 && tx <= T)) {
      throw new DataError(`recency ${tx} is outside [0, T = ${T}]; recency is the age at the last purchase`, line);
    }
    return { x, tx, T };
  });
}

/**
 * Gamma-Gamma summaries of the repeat buyers (frequency > 0) only; `skipped` counts the others.
 * A repeat buyer's mean spend must be > 0.
 */
export function readSpend(table: CsvTable, cols: { frequency: number; monetary: number }): { buyers: SpendSummary[]; skipped: number } {
  requireRows(table);
  const buyers: SpendSummary[] = [];
  let skipped = 0;
  table.rows.forEach((_, r) => {
    const x = numberAt(table, r, cols.frequency);
    const line = table.lines[r];
    if (!(x >= 0)) throw new DataError(`frequency is ${x}; it counts repeat purchases, so it must be ≥ 0`, line);
    if (x === 0) {
      skipped++;
      return;
    }
    const zbar = numberAt(table, r, cols.monetary);
    if (!(zbar > 0)) throw new DataError(`mean spend is ${zbar} for a repeat buyer; Gamma-Gamma needs positive amounts`, line);
    buyers.push({ x, zbar });
  });
  if (buyers.length === 0) throw new DataError('no repeat buyers (frequency > 0): Gamma-Gamma has nothing to fit');
  return { buyers, skipped };
}
