import { appendFileSync } from 'node:fs';

/** One measured figure of a benchmark, with its goal. */
export type Figure = {
  figure: string;
  value: number | string;
  /** e.g. "≥ 0.90", "≤ 20 ms"; '' when the figure is informative only */
  goal: string;
  /** null when there is no goal */
  met: boolean | null;
};

const fmt = (v: number | string) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3)) : v);

/** Renders figures as an aligned table. */
export function table(rows: readonly (Figure & { bench?: string })[]): string {
  const cells = rows.map((r) => [r.bench ?? '', r.figure, String(fmt(r.value)), r.goal, r.met === null ? '' : r.met ? 'met' : 'NOT MET']);
  const head = ['bench', 'figure', 'value', 'goal', ''];
  const withBench = rows.some((r) => r.bench !== undefined);
  const all = [head, ...cells].map((c) => (withBench ? c : c.slice(1)));
  const widths = all[0]?.map((_, i) => Math.max(...all.map((c) => (c[i] ?? '').length))) ?? [];
  return all.map((c) => c.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

/**
 * Prints a benchmark's figures and, when `RAPPORT_BENCH_RESULTS` names a file (set by
 * `npm run bench`), appends them as JSON lines for the combined table.
 */
export function reportFigures(bench: string, rows: readonly Figure[]): void {
  process.stdout.write(`\n${bench}\n${table(rows)}\n`);
  const file = process.env['RAPPORT_BENCH_RESULTS'];
  if (file !== undefined) for (const r of rows) appendFileSync(file, JSON.stringify({ bench, ...r }) + '\n');
}
