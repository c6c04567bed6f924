/**
 * The report's charts: Vega-Lite specs compiled to Vega and rendered to SVG in Node (no
 * browser, no canvas: vega's 'none' renderer + toSVG; text widths are estimated). Data are
 * inlined in each spec, so nothing is ever fetched, and the SVG is inlined in the HTML.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { ReliabilityBin, RocPoint } from '../stats/metrics.ts';
import type { RepeatBucket } from './repeat-purchases.ts';
import type { SegmentPoint } from './segments.ts';

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif';
const CONFIG = {
  font: FONT,
  view: { stroke: '#cbd6e2' },
  axis: { labelColor: '#33475b', titleColor: '#33475b', gridColor: '#eaf0f6', labelFontSize: 10, titleFontSize: 11 },
  legend: { labelColor: '#33475b', titleColor: '#33475b' },
  title: { color: '#33475b', fontSize: 13, anchor: 'start' as const },
};
const COLORS = ['#0091ae', '#ff7a59', '#00bda5', '#6a78d1', '#f5c26b', '#e66e50', '#7fd1de', '#516f90'];

/** Renders a Vega-Lite spec to a standalone SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile({ ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec).spec;
  // No loader access: every spec carries its data inline (the report must work offline).
  const loader = vega.loader({ mode: 'file' });
  loader.load = () => Promise.reject(new Error('the report renders inline data only'));
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export type HistogramBin = { from: number; to: number; count: number };

export const BAND_COLORS = { green: '#00a4bd', yellow: '#f5c26b', red: '#f2545b' } as const;

/**
 * A score histogram with its band cut-offs drawn as rules: where green starts and where red
 * starts (for churn risk and service need red is at the top, for the others at the bottom).
 */
export function histogramSpec(title: string, bins: readonly HistogramBin[], color: string, cutoffs?: { green: number; red: number }): TopLevelSpec {
  const x = { field: 'from', type: 'quantitative', bin: { binned: true, step: 5 }, scale: { domain: [0, 100] }, title: 'score (0–100)' };
  const bars = {
    data: { values: bins.map((b) => ({ ...b })) },
    mark: { type: 'bar', color, binSpacing: 1 },
    encoding: { x, x2: { field: 'to' }, y: { field: 'count', type: 'quantitative', title: 'contacts' } },
  };
  if (cutoffs === undefined) return { title, width: 200, height: 130, ...bars } as TopLevelSpec;
  const rules = {
    data: { values: [{ at: cutoffs.green, band: 'green' }, { at: cutoffs.red, band: 'red' }] },
    mark: { type: 'rule', strokeDash: [4, 3], strokeWidth: 1.5 },
    encoding: {
      x: { field: 'at', type: 'quantitative' },
      color: { field: 'band', type: 'nominal', scale: { domain: ['green', 'red'], range: [BAND_COLORS.green, BAND_COLORS.red] }, legend: null },
    },
  };
  return { title, width: 200, height: 130, layer: [bars, rules] } as TopLevelSpec;
}

export function rocSpec(title: string, points: readonly RocPoint[], auc: number): TopLevelSpec {
  // At most ~200 points: the curve is drawn, not the table.
  const step = Math.max(1, Math.ceil(points.length / 200));
  const thin = points.filter((_, i) => i % step === 0 || i === points.length - 1).map((p) => ({ fpr: p.fpr, tpr: p.tpr }));
  return {
    title: `${title} (AUC ${auc.toFixed(3)})`,
    width: 220,
    height: 220,
    layer: [
      {
        data: { values: [{ fpr: 0, tpr: 0 }, { fpr: 1, tpr: 1 }] },
        mark: { type: 'line', strokeDash: [4, 4], color: '#99afc4' },
        encoding: { x: { field: 'fpr', type: 'quantitative' }, y: { field: 'tpr', type: 'quantitative' } },
      },
      {
        data: { values: thin },
        mark: { type: 'line', color: COLORS[0] },
        encoding: {
          x: { field: 'fpr', type: 'quantitative', title: 'false-positive rate', scale: { domain: [0, 1] } },
          y: { field: 'tpr', type: 'quantitative', title: 'true-positive rate', scale: { domain: [0, 1] } },
        },
      },
    ],
  } as TopLevelSpec;
}

export function reliabilitySpec(title: string, bins: readonly ReliabilityBin[], ece: number): TopLevelSpec {
  return {
    title: `${title} (ECE ${ece.toFixed(3)}, 10 bins)`,
    width: 220,
    height: 220,
    layer: [
      {
        data: { values: [{ p: 0, o: 0 }, { p: 1, o: 1 }] },
        mark: { type: 'line', strokeDash: [4, 4], color: '#99afc4' },
        encoding: { x: { field: 'p', type: 'quantitative' }, y: { field: 'o', type: 'quantitative' } },
      },
      {
        data: { values: bins.map((b) => ({ p: b.meanPredicted, o: b.observedRate, n: b.count })) },
        layer: [
          { mark: { type: 'line', color: COLORS[1] } },
          // point area ∝ contacts in the bin: a sparse bin's wild rate is visibly a small one
          { mark: { type: 'circle', color: COLORS[1], opacity: 0.85 }, encoding: { size: { field: 'n', type: 'quantitative', title: 'contacts in bin', scale: { range: [12, 260] } } } },
        ],
        encoding: {
          x: { field: 'p', type: 'quantitative', title: 'mean predicted probability', scale: { domain: [0, 1] } },
          y: { field: 'o', type: 'quantitative', title: 'observed rate', scale: { domain: [0, 1] } },
        },
      },
    ],
  } as TopLevelSpec;
}

export type LiftBar = { decile: number; lift: number };

export function liftSpec(title: string, bars: readonly LiftBar[]): TopLevelSpec {
  return {
    title,
    width: 220,
    height: 220,
    layer: [
      {
        data: { values: bars.map((b) => ({ ...b })) },
        mark: { type: 'bar', color: COLORS[2] },
        encoding: {
          x: { field: 'decile', type: 'ordinal', title: 'score decile (1 = highest predicted)' },
          y: { field: 'lift', type: 'quantitative', title: 'lift (rate ÷ overall rate)' },
        },
      },
      { data: { values: [{ y: 1 }] }, mark: { type: 'rule', strokeDash: [4, 4], color: '#516f90' }, encoding: { y: { field: 'y', type: 'quantitative' } } },
    ],
  } as TopLevelSpec;
}

/** `names[i]` is segment i + 1's name; colours follow segment numbers (the table's swatches use the same). */
export function segmentMapSpec(points: readonly SegmentPoint[], evr: [number, number], names: readonly string[] = []): TopLevelSpec {
  const nameOf = (s: number) => names[s - 1] ?? `Segment ${s}`;
  const k = Math.max(names.length, ...points.map((p) => p.segment));
  const domain = Array.from({ length: k }, (_, i) => nameOf(i + 1));
  return {
    title: 'Segments on the first two principal components',
    width: 520,
    height: 340,
    data: { values: points.map((p) => ({ x: p.x, y: p.y, segment: nameOf(p.segment) })) },
    mark: { type: 'circle', size: 14, opacity: 0.6 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: `PC1 (${(100 * evr[0]).toFixed(1)} % of variance)` },
      y: { field: 'y', type: 'quantitative', title: `PC2 (${(100 * evr[1]).toFixed(1)} % of variance)` },
      color: { field: 'segment', type: 'nominal', title: null, scale: { domain, range: COLORS.slice(0, Math.max(1, domain.length)) } },
    },
  } as TopLevelSpec;
}

export function repeatPurchasesSpec(buckets: readonly RepeatBucket[]): TopLevelSpec {
  const values = buckets.flatMap((b) => [
    { repeats: b.repeats, kind: 'actual', customers: b.actual },
    { repeats: b.repeats, kind: 'expected (BG/NBD)', customers: b.expected },
  ]);
  return {
    title: 'Customers by number of repeat purchases',
    width: 420,
    height: 220,
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'repeats', type: 'ordinal', title: 'repeat purchases', sort: buckets.map((b) => b.repeats) },
      xOffset: { field: 'kind' },
      y: { field: 'customers', type: 'quantitative', title: 'customers' },
      color: { field: 'kind', type: 'nominal', title: null, scale: { range: [COLORS[0], COLORS[1]] } },
    },
  } as TopLevelSpec;
}

/** Lift per score decile: positive rate in each tenth by predicted probability ÷ the overall rate. */
export function liftByDecile(y: readonly number[], p: readonly number[]): LiftBar[] {
  const order = p.map((v, i) => ({ v, y: y[i] as number, i })).sort((a, b) => b.v - a.v || a.i - b.i);
  const n = order.length;
  const rate = order.reduce((s, o) => s + o.y, 0) / Math.max(1, n);
  const bars: LiftBar[] = [];
  if (n < 10 || rate === 0) return bars;
  for (let d = 0; d < 10; d++) {
    const part = order.slice(Math.floor((d * n) / 10), Math.floor(((d + 1) * n) / 10));
    const r = part.reduce((s, o) => s + o.y, 0) / Math.max(1, part.length);
    bars.push({ decile: d + 1, lift: r / rate });
  }
  return bars;
}

export { COLORS };
