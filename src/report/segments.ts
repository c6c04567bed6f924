/**
 * Customer segments for the report's map (docs/scores.md): seeded k-means (k-means++,
 * restarts) on standardised features of a bounded sample, shown on the first two principal
 * components of the same standardised data. Skewed counts and money are log1p-transformed first,
 * so one big spender does not make its own axis. Segments are described in original units.
 */
import { kmeans, silhouetteScore } from '../stats/kmeans.ts';
import { fitPca2d } from '../stats/pca.ts';
import type { ContactFeatures } from '../scoring/features.ts';

/** The clustering inputs: name, and how a contact's features map to a number. */
export const SEGMENT_FEATURES: readonly { name: string; value: (f: ContactFeatures) => number }[] = [
  { name: 'log(1 + purchases)', value: (f) => Math.log1p(f.purchases) },
  { name: 'log(1 + total spend)', value: (f) => Math.log1p(f.monetaryTotal) },
  { name: 'log(1 + days since touch)', value: (f) => Math.log1p(f.daysSinceTouch) },
  { name: 'log(1 + tenure days)', value: (f) => Math.log1p(f.tenureDays) },
  { name: 'log(1 + inbound 90 d)', value: (f) => Math.log1p(f.inbound90d) },
  { name: 'log(1 + tickets 90 d)', value: (f) => Math.log1p(f.tickets90d) },
  { name: 'open tickets', value: (f) => f.openTickets },
  { name: 'survey score (CS)', value: (f) => f.surveyScore ?? Number.NaN },
  { name: 'sentiment', value: (f) => f.sentiment ?? Number.NaN },
];

/** Points drawn on the segment map (each is ~350 bytes of SVG). */
export const MAP_POINTS = 1500;

export type SegmentPoint = { x: number; y: number; segment: number };
export type SegmentSummary = {
  segment: number;
  /** from its defining traits, e.g. "frequent buyers, ticket-heavy" (unique within the report) */
  name: string;
  size: number;
  share: number;
  meanPurchases: number;
  meanSpend: number;
  medianDaysSinceTouch: number;
  meanTickets90d: number;
  meanSurveyScore: number | null;
  meanChurnRisk: number | null;
  meanSatisfaction: number | null;
};
export type Segments = {
  points: SegmentPoint[];
  summaries: SegmentSummary[];
  k: number;
  silhouette: number | null;
  explainedVarianceRatio: [number, number];
  n: number;
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? 0 : s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const mean = (xs: readonly number[]) => (xs.length === 0 ? null : xs.reduce((s, v) => s + v, 0) / xs.length);

/**
 * Segments of the given contacts (features as of now; `scores` gives each one's churn risk and
 * satisfaction for the description). Missing survey score / sentiment is imputed with the sample
 * mean (so it lands at 0 after standardising). Segments are numbered 1..k by size.
 */
export function segmentContacts(
  features: readonly ContactFeatures[],
  scores: ReadonlyMap<string, { churnRisk: number; satisfaction: number }>,
  opts: { k?: number; seed?: number } = {},
): Segments | { unavailable: string } {
  const fs = features.filter((f) => f.exists);
  const k = Math.min(opts.k ?? 4, Math.max(1, Math.floor(fs.length / 10)));
  if (fs.length < 20 || k < 2) return { unavailable: `only ${fs.length} contacts in the sample: too few for segments` };
  const raw = fs.map((f) => SEGMENT_FEATURES.map((c) => c.value(f)));
  const p = SEGMENT_FEATURES.length;
  const means = Array.from({ length: p }, (_, j) => {
    const vals = raw.map((r) => r[j] as number).filter(Number.isFinite);
    return vals.length === 0 ? 0 : vals.reduce((s, v) => s + v, 0) / vals.length;
  });
  const filled = raw.map((r) => r.map((v, j) => (Number.isFinite(v) ? v : (means[j] as number))));
  const sds = Array.from({ length: p }, (_, j) => {
    const m = means[j] as number;
    const sd = Math.sqrt(filled.reduce((s, r) => s + ((r[j] as number) - m) ** 2, 0) / Math.max(1, filled.length - 1));
    return sd > 0 ? sd : 1;
  });
  const z = filled.map((r) => r.map((v, j) => (v - (means[j] as number)) / (sds[j] as number)));
  const km = kmeans(z, k, { seed: opts.seed ?? 7, restarts: 5 });
  const pca = fitPca2d(z, { standardize: false });

  // Renumber segments 1..k by size (largest first) so the legend reads naturally.
  const sizes = new Array<number>(k).fill(0);
  for (const a of km.assignments) sizes[a] = (sizes[a] as number) + 1;
  const order = sizes.map((s, i) => ({ s, i })).sort((a, b) => b.s - a.s || a.i - b.i);
  const rename = new Map(order.map((o, rank) => [o.i, rank + 1]));
  const seg = km.assignments.map((a) => rename.get(a) as number);

  let silhouette: number | null = null;
  if (new Set(seg).size >= 2) {
    // O(n²): on at most 1,500 points of the sample.
    const step = Math.max(1, Math.ceil(z.length / 1500));
    const idx = z.map((_, i) => i).filter((i) => i % step === 0);
    const labels = idx.map((i) => seg[i] as number);
    if (new Set(labels).size >= 2 && new Set(labels).size < labels.length) silhouette = silhouetteScore(idx.map((i) => z[i] as number[]), labels);
  }

  const summaries: SegmentSummary[] = [];
  for (let s = 1; s <= k; s++) {
    const members = fs.filter((_, i) => seg[i] === s);
    if (members.length === 0) continue;
    const sc = members.map((f) => scores.get(f.contactId)).filter((x): x is { churnRisk: number; satisfaction: number } => x !== undefined);
    summaries.push({
      segment: s,
      name: '',
      size: members.length,
      share: members.length / fs.length,
      meanPurchases: mean(members.map((f) => f.purchases)) ?? 0,
      meanSpend: mean(members.map((f) => f.monetaryTotal)) ?? 0,
      medianDaysSinceTouch: median(members.map((f) => f.daysSinceTouch)),
      meanTickets90d: mean(members.map((f) => f.tickets90d)) ?? 0,
      meanSurveyScore: mean(members.map((f) => f.surveyScore).filter((v): v is number => v !== null)),
      meanChurnRisk: mean(sc.map((x) => x.churnRisk)),
      meanSatisfaction: mean(sc.map((x) => x.satisfaction)),
    });
  }
  nameSegments(summaries);
  return {
    // The map draws at most MAP_POINTS of them (every k-th): enough to see the shapes, and the page stays small.
    points: pca.projections
      .map(([x, y], i) => ({ x, y, segment: seg[i] as number }))
      .filter((_, i) => i % Math.max(1, Math.ceil(fs.length / MAP_POINTS)) === 0),
    summaries,
    k,
    silhouette,
    explainedVarianceRatio: pca.explainedVarianceRatio,
    n: fs.length,
  };
}

type Trait = { value: (x: SegmentSummary) => number | null; high: string; low: string };
/** What can define a segment, in words an analyst uses; each compared with the sample's mean. */
const TRAITS: readonly Trait[] = [
  { value: (x) => x.meanChurnRisk, high: 'at risk', low: 'safe' },
  { value: (x) => x.meanPurchases, high: 'frequent buyers', low: 'rare buyers' },
  { value: (x) => x.meanSpend, high: 'big spenders', low: 'small spenders' },
  { value: (x) => x.medianDaysSinceTouch, high: 'quiet', low: 'recently active' },
  { value: (x) => x.meanTickets90d, high: 'ticket-heavy', low: 'few tickets' },
  { value: (x) => x.meanSatisfaction, high: 'happy', low: 'unhappy' },
];

/**
 * Names each segment by its two most distinctive traits: the relative gap between its mean and
 * the size-weighted mean of all segments ("Segment 1–4" told an analyst nothing; issue 11).
 * A name that would repeat gets the segment number.
 */
export function nameSegments(summaries: SegmentSummary[]): void {
  const total = summaries.reduce((s, x) => s + x.size, 0);
  const overall = TRAITS.map((t) => {
    let sum = 0;
    let n = 0;
    for (const x of summaries) {
      const v = t.value(x);
      if (v !== null && Number.isFinite(v)) {
        sum += v * x.size;
        n += x.size;
      }
    }
    return n > 0 && total > 0 ? sum / n : null;
  });
  const used = new Set<string>();
  for (const x of summaries) {
    const gaps = TRAITS.map((t, i) => {
      const v = t.value(x);
      const m = overall[i];
      if (v === null || m === null || m === undefined || !Number.isFinite(v)) return { word: '', gap: 0 };
      const gap = (v - m) / (Math.abs(m) + 1e-9);
      return { word: gap >= 0 ? t.high : t.low, gap: Math.abs(gap) };
    })
      .filter((g) => g.word !== '' && g.gap > 0.15)
      .sort((a, b) => b.gap - a.gap);
    let name = gaps.length === 0 ? 'typical' : gaps.slice(0, 2).map((g) => g.word).join(', ');
    if (used.has(name)) name = `${name} (${x.segment})`;
    used.add(name);
    x.name = name;
  }
}
