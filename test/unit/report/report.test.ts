/**
 * The whole report on a synthetic portal (generator → HubSpot mapping → store → train → score):
 * every section and chart is there, charts are well-formed inline SVG, nothing is fetched, the
 * curves are really out-of-time (recomputed figures equal the stored training metrics when the
 * sample is the whole cache), and the heavy charts respect the sample bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, collectReport, type ReportData } from '../../../src/report/index.ts';
import { xmlProblem, assertSelfContained, svgBlocks } from './html-checks.ts';
import { MAP_POINTS } from '../../../src/report/segments.ts';
import { rocAuc, expectedCalibrationError } from '../../../src/stats/metrics.ts';
import { scoreContacts } from '../../../src/scoring/score-portal.ts';
import { trainPortal } from '../../../src/scoring/train.ts';
import type { Store } from '../../../src/store/index.ts';
import { GEN_NOW, generatedStore } from './generated-store.ts';

const PORTAL = 'hubspot:7';
const N = 800;
let env: { store: Store; cleanup: () => void };

beforeAll(async () => {
  env = await generatedStore(PORTAL, N);
  await trainPortal(env.store, PORTAL, { now: GEN_NOW });
  await scoreContacts(env.store, PORTAL, { contactIds: 'all', now: GEN_NOW });
});
afterAll(() => env.cleanup());

describe('rapport report on a synthetic portal', () => {
  it('adds the band breakdown, the 20 contacts most at risk, band cut-offs, the prior note and named segments', async () => {
    const r = await buildReport(env.store, PORTAL, { generatedAt: GEN_NOW });
    if ('error' in r) throw new Error(r.message);
    const { html, data } = r;
    // band counts add up to the scored contacts, for health and for every score
    const sum = (c: { green: number; yellow: number; red: number }) => c.green + c.yellow + c.red;
    expect(sum(data.bands.health)).toBe(data.scored);
    for (const s of data.bands.scores) expect(sum(s.counts), s.key).toBe(data.scored);
    expect(html).toContain('id="band-breakdown"');
    // the 20 highest churn risks, highest first, each with reasons in score points
    expect(data.atRisk).toHaveLength(20);
    const risks = data.atRisk.map((c) => c.churnRisk);
    expect([...risks].sort((a, b) => b - a)).toEqual(risks);
    const max = (await env.store.scores.topChurnRisk(PORTAL, 1))[0]?.churnRisk;
    expect(risks[0]).toBe(max);
    expect(data.atRisk.filter((c) => c.reasons.length > 0).length).toBeGreaterThan(15);
    expect(html.match(/<tr><td>[^<]*<span class="meta">#/g)?.length).toBe(20);
    expect(html).toMatch(/\(\+[\d.]+ points\)/);
    // band cut-offs drawn on each histogram (dashed rules)
    for (const key of ['satisfaction', 'loyalty', 'churnRisk', 'serviceNeed']) {
      const block = html.slice(html.indexOf(`id="hist-${key}"`), html.indexOf('</svg>', html.indexOf(`id="hist-${key}"`)));
      expect(block, key).toContain('stroke-dasharray');
    }
    expect(html).toContain('id="satisfaction-prior"');
    expect(html).toContain(`is the account’s prior, ${Math.round(data.satisfactionPrior)}`);
    // segments named from their traits, each name distinct; no source paths for an analyst to trip on
    if ('unavailable' in data.segments) throw new Error(data.segments.unavailable);
    const names = data.segments.summaries.map((x) => x.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).not.toMatch(/^Segment \d/);
    expect(html).not.toMatch(/src\/[a-z/-]+\.ts|\w+\.ts\b/);
  });

  it('has every section, 12 well-formed SVG charts, and loads nothing from anywhere', async () => {
    const r = await buildReport(env.store, PORTAL, { generatedAt: GEN_NOW });
    if ('error' in r) throw new Error(r.message);
    const { html, data } = r;
    for (const id of [
      'kpis',
      'distributions',
      'hist-satisfaction',
      'hist-loyalty',
      'hist-churnRisk',
      'hist-serviceNeed',
      'models',
      'model-churn-roc',
      'model-churn-calibration',
      'model-churn-lift',
      'model-service-roc',
      'model-service-calibration',
      'model-service-lift',
      'segments',
      'segment-map',
      'bgnbd',
      'bgnbd-chart',
      'method',
    ]) {
      expect(html.includes(`id="${id}"`), id).toBe(true);
    }
    const svgs = svgBlocks(html);
    expect(svgs.length).toBe(12);
    for (const svg of svgs) expect(svg.length).toBeGreaterThan(1000); // axes and marks, not an empty frame
    assertSelfContained(html);
    // the scatter has one circle per sampled contact in a segment
    const map = svgs[10] as string;
    expect((map.match(/aria-roledescription="circle"/g) ?? []).length).toBe('points' in data.segments ? data.segments.points.length : -1);

    // Histograms count every scored contact exactly.
    expect(data.scored).toBe(N);
    for (const h of data.histograms) expect(h.bins.reduce((s, b) => s + b.count, 0)).toBe(N);
    // All KPI values are finite numbers on this account.
    for (const k of data.kpis) expect(Number.isFinite(k.value), k.key).toBe(true);
  });

  it('recomputes the held-out curves on the same time split as training', async () => {
    const data = await collectReport(env.store, PORTAL, { sampleSize: N }) as ReportData;
    expect(data.sampled).toBe(N);
    const churn = data.evaluation.churn;
    const stored = data.stored.churn?.metrics ?? {};
    if ('unavailable' in churn) throw new Error(churn.unavailable);
    expect(churn.source).toBe('trained');
    expect(churn.y.length).toBe(stored['test_n']);
    expect(churn.y.reduce((s, v) => s + v, 0)).toBe(stored['test_positives']);
    expect(rocAuc(churn.y, churn.p)).toBeCloseTo(stored['auc'] as number, 3);
    expect(expectedCalibrationError(churn.y, churn.p)).toBeCloseTo(stored['ece'] as number, 3);
    const service = data.evaluation.service;
    if ('unavailable' in service) throw new Error(service.unavailable);
    expect(rocAuc(service.y, service.p)).toBeCloseTo(data.stored.service?.metrics['auc'] as number, 3);
    // the test window lies after the training one
    expect(churn.testCut).toBeGreaterThan(churn.trainCut);
  });

  it('bounds the heavy charts by the sample size; KPIs stay exact over all contacts', async () => {
    const full = await collectReport(env.store, PORTAL, { sampleSize: N }) as ReportData;
    const small = await collectReport(env.store, PORTAL, { sampleSize: 200 }) as ReportData;
    expect(small.sampled).toBeLessThanOrEqual(200);
    expect(small.sampled).toBeGreaterThan(100);
    if ('points' in small.segments) expect(small.segments.points.length).toBeLessThanOrEqual(200);
    if ('points' in full.segments) {
      expect(full.segments.n).toBe(N);
      expect(full.segments.points.length).toBeLessThanOrEqual(MAP_POINTS);
    }
    expect(small.repeatPurchases.customers).toBeLessThanOrEqual(200);
    expect(small.kpis).toEqual(full.kpis);
    // BG/NBD: actual and expected customers add up to the same total
    const b = full.repeatPurchases;
    const actual = b.buckets.reduce((s, x) => s + x.actual, 0);
    const expected = b.buckets.reduce((s, x) => s + x.expected, 0);
    expect(actual).toBe(b.customers);
    expect(expected).toBeCloseTo(b.customers, 6);
  });

  it('the SVG checker itself rejects broken markup', () => {
    expect(xmlProblem('<svg><g><path d="M0"/></g></svg>')).toBeNull();
    expect(xmlProblem('<svg><g></svg>')).not.toBeNull();
    expect(xmlProblem('<svg><text>a < b</text></svg>')).not.toBeNull();
    expect(xmlProblem('<svg><text>a & b</text></svg>')).not.toBeNull();
  });
});
