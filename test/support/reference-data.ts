/**
 * Loaders for the published reference data sets the model tests check against
 * (copied from the shared data sets into test/fixtures/reference; provenance in their READMEs),
 * so a clean clone tests on its own; RAPPORT_REFERENCE_DATA overrides the folder.
 * A missing file is a loud error, never a skipped test.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The folder holding `cdnow/` and `ucla_admissions/`. */
export const referenceDataDir: string = process.env['RAPPORT_REFERENCE_DATA'] ?? resolve(repoRoot, 'test', 'fixtures', 'reference');

function readReference(relative: string): string {
  const path = join(referenceDataDir, relative);
  if (!existsSync(path)) {
    throw new Error(`reference data file not found: ${path} (set RAPPORT_REFERENCE_DATA to the shared data folder)`);
  }
  return readFileSync(path, 'utf8');
}

/**
 * Minimal CSV reader for these files only: comma-separated, optional double quotes without
 * embedded commas or quotes, LF or CRLF, with or without a final newline.
 */
export function parseSimpleCsv(text: string): { header: string[]; rows: string[][] } {
  const lines = text.split(/\r?\n/).filter((line) => line.length > 0);
  const split = (line: string): string[] => line.split(',').map((cell) => cell.replace(/^"(.*)"$/, '$1'));
  const [head, ...rest] = lines;
  if (head === undefined) throw new Error('empty CSV');
  const header = split(head);
  const rows = rest.map((line, i) => {
    const cells = split(line);
    if (cells.length !== header.length) throw new Error(`CSV line ${i + 2}: ${cells.length} cells, expected ${header.length}`);
    return cells;
  });
  return { header, rows };
}

function numericTable(relative: string, columns: readonly string[]): Record<string, number>[] {
  const { header, rows } = parseSimpleCsv(readReference(relative));
  const index = columns.map((c) => {
    const i = header.indexOf(c);
    if (i < 0) throw new Error(`${relative}: no column ${c} in ${header.join(',')}`);
    return i;
  });
  return rows.map((cells, r) => {
    const out: Record<string, number> = {};
    columns.forEach((c, k) => {
      const v = Number(cells[index[k] as number]);
      if (!Number.isFinite(v)) throw new Error(`${relative}: row ${r + 1}, column ${c} is not a number`);
      out[c] = v;
    });
    return out;
  });
}

export type CdnowCustomer = { id: number; x: number; tx: number; T: number };

/** `cdnow/cdnow_customers_summary.csv`: 2,357 customers, x = repeat purchases, tx, T in weeks. */
export function loadCdnowSummary(): CdnowCustomer[] {
  return numericTable('cdnow/cdnow_customers_summary.csv', ['ID', 'frequency', 'recency', 'T']).map((r) => ({
    id: r['ID'] as number,
    x: r['frequency'] as number,
    tx: r['recency'] as number,
    T: r['T'] as number,
  }));
}

/** `cdnow/cdnow_customers_summary_with_transactions.csv`: the same customers plus zbar (mean repeat spend, $). */
export function loadCdnowWithSpend(): (CdnowCustomer & { zbar: number })[] {
  return numericTable('cdnow/cdnow_customers_summary_with_transactions.csv', ['ID', 'x', 't_x', 'T', 'zbar']).map(
    (r) => ({
      id: r['ID'] as number,
      x: r['x'] as number,
      tx: r['t_x'] as number,
      T: r['T'] as number,
      zbar: r['zbar'] as number,
    }),
  );
}

export type CdnowTransaction = { sampleId: number; date: string; cds: number; dollars: number };

/** `cdnow/CDNOW_sample.txt`: 6,919 raw transactions (whitespace-separated, no header); date as YYYY-MM-DD. */
export function loadCdnowTransactions(): CdnowTransaction[] {
  return readReference('cdnow/CDNOW_sample.txt')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line, i) => {
      const [, sampleId, date, cds, dollars] = line.split(/\s+/);
      if (date === undefined || !/^\d{8}$/.test(date) || dollars === undefined) {
        throw new Error(`CDNOW_sample.txt line ${i + 1} is malformed`);
      }
      return {
        sampleId: Number(sampleId),
        date: `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}`,
        cds: Number(cds),
        dollars: Number(dollars),
      };
    });
}

export type UclaApplicant = { admit: number; gre: number; gpa: number; rank: number };

/** `ucla_admissions/binary.csv`: 400 applicants, admit 0/1, gre, gpa, rank 1–4. */
export function loadUclaAdmissions(): UclaApplicant[] {
  return numericTable('ucla_admissions/binary.csv', ['admit', 'gre', 'gpa', 'rank']).map((r) => ({
    admit: r['admit'] as number,
    gre: r['gre'] as number,
    gpa: r['gpa'] as number,
    rank: r['rank'] as number,
  }));
}
