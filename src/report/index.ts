/**
 * `rapport report` and GET /report: one portal's scores, model quality, segments and KPIs as a
 * self-contained HTML page (issue 4, issue 7). `collectReport` reads the store (one streaming
 * pass over every live contact for the exact KPIs, plus a deterministic hash sample of at most
 * `sampleSize` contacts for the heavy charts); `renderReport` turns that into HTML with inline
 * SVG charts (charts.ts).
 *
 * Exact over all contacts: KPI tiles, score histograms, average CLV (store aggregates over the scores).
 * On the sample (default 3,000 contacts): ROC / calibration / lift (time-split refit), the
 * segment map (k-means + PCA; silhouette on ≤ 1,500 of them) and the BG/NBD repeat-purchase fit.
 */
import type { Store } from '../store/index.ts';
import type { Logger } from '../log.ts';
import { computeFeatures, loadCompanies, readContactChunks, type ContactInput } from '../scoring/features.ts';
import { loadPortalModels } from '../scoring/portal-models.ts';
import { PRIOR_CHURN } from '../scoring/churn.ts';
import { PRIOR_SERVICE } from '../scoring/service-need.ts';
import { hashUnit } from '../scoring/train.ts';
import { createKpiAccumulator, type Kpi } from './kpis.ts';
import { evaluateSample, type Evaluation } from './evaluation.ts';
import { segmentContacts, type Segments } from './segments.ts';
import { repeatPurchaseFit, type RepeatBucket } from './repeat-purchases.ts';
import type { HistogramBin } from './charts.ts';
import { renderHtml } from './html.ts';

export type ReportOptions = {
  /** the as-of time; default: when the portal was last scored (the scores describe that moment) */
  asOf?: number;
  /** KPI window in days (default 90) */
  windowDays?: number;
  /** contacts sampled for the heavy charts (default 3,000) */
  sampleSize?: number;
  /** k-means seed (default 7) and number of segments (default 4) */
  seed?: number;
  k?: number;
  logger?: Logger;
  /** when the report was generated (shown in the footer; default Date.now()) */
  generatedAt?: number;
  /** ISO 4217 code of the deals' currency, shown on money values (default: "deal currency") */
  currency?: string;
};

export const SCORE_COLUMNS = [
  { key: 'satisfaction', column: 'satisfaction', label: 'Satisfaction' },
  { key: 'loyalty', column: 'loyalty', label: 'Loyalty' },
  { key: 'churnRisk', column: 'churn_risk', label: 'Churn risk' },
  { key: 'serviceNeed', column: 'service_need', label: 'Service need' },
] as const;

/** What the report reads. */
export type ReportStore = Pick<Store, 'scores' | 'models' | 'contacts' | 'records'>;

export type StoredMetrics = { version: string; trainedAt: number; metrics: Record<string, number> } | null;

export type ReportData = {
  portal: string;
  asOf: number;
  generatedAt: number;
  windowDays: number;
  contacts: number;
  scored: number;
  sampled: number;
  sampleSize: number;
  modelVersion: string;
  kpis: Kpi[];
  histograms: { key: string; label: string; bins: HistogramBin[] }[];
  evaluation: Evaluation;
  stored: { churn: StoredMetrics; service: StoredMetrics };
  segments: Segments | { unavailable: string };
  /** red / yellow / green counts per score and for health, now and 30 days before the as-of date (health, from the score history) */
  bands: BandBreakdown;
  /** the contacts most at risk of churning, highest first, with the churn score's reasons */
  atRisk: AtRiskContact[];
  /** where a contact with no feedback at all lands on satisfaction (the account's prior, 0–100) */
  satisfactionPrior: number;
  /** ISO 4217 code of the deals' currency, or null when not given */
  currency: string | null;
  repeatPurchases: { buckets: RepeatBucket[]; customers: number; params: { r: number; alpha: number; a: number; b: number }; source: 'trained' | 'default' };
};

export type ReportError = { error: 'not_scored' | 'no_contacts'; message: string };

export type BandCounts = { green: number; yellow: number; red: number };
export type BandBreakdown = { scores: { key: string; label: string; counts: BandCounts }[]; health: BandCounts; healthBefore: BandCounts | null; beforeAt: number };
export type AtRiskContact = { contactId: string; name: string | null; churnRisk: number; band: string; reasons: { text: string; impact: number }[] };

const AT_RISK = 20;

/** Band counts per score and for health; health 30 days earlier from each contact's last history row by then. */
async function bandBreakdown(store: ReportStore, portal: string, asOf: number): Promise<BandBreakdown> {
  const counts = await store.scores.bandCounts(portal);
  const scores = SCORE_COLUMNS.map((c) => ({ key: c.key, label: c.label, counts: counts.scores[c.key] }));
  const beforeAt = asOf - 30 * 86_400_000;
  const before = await store.scores.healthAsOf(portal, beforeAt);
  const any = before.green + before.yellow + before.red > 0;
  return { scores, health: counts.health, healthBefore: any ? before : null, beforeAt };
}

/** The AT_RISK contacts with the highest churn risk, their names from the cache and their churn reasons. */
async function atRiskContacts(store: ReportStore, portal: string): Promise<AtRiskContact[]> {
  const rows = await store.scores.topChurnRisk(portal, AT_RISK);
  return rows.map((r) => {
    const d = (r.churnDetail ?? {}) as { band?: unknown; reasons?: { text?: unknown; impact?: unknown }[] };
    const band = typeof d.band === 'string' ? d.band : '';
    const reasons = (Array.isArray(d.reasons) ? d.reasons : [])
      .filter((x): x is { text: string; impact: number } => typeof x?.text === 'string' && typeof x.impact === 'number' && x.impact !== 0)
      .slice(0, 3);
    const name = [r.firstName, r.lastName].filter((x): x is string => typeof x === 'string' && x.trim() !== '').join(' ');
    return { contactId: r.contactId, name: name === '' ? null : name, churnRisk: r.churnRisk, band, reasons };
  });
}

async function storedMetrics(store: ReportStore, portal: string, kind: string): Promise<StoredMetrics> {
  const m = await store.models.latest(portal, kind);
  if (m === undefined) return null;
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries((m.metrics ?? {}) as Record<string, unknown>)) if (typeof v === 'number') metrics[k] = v;
  return { version: m.version, trainedAt: m.trainedAt, metrics };
}

/** Everything the report shows, read from the store; an error (as data) when there is nothing to show. */
export async function collectReport(store: ReportStore, portal: string, opts: ReportOptions = {}): Promise<ReportData | ReportError> {
  const scored = await store.scores.count(portal);
  const lastScored = await store.scores.lastScoredAt(portal);
  if (scored === 0 || lastScored === null) {
    return {
      error: 'not_scored',
      message: `nothing scored yet for ${portal}: run \`rapport train --portal ${portal}\` and \`rapport score --all --portal ${portal}\` first`,
    };
  }
  const asOf = opts.asOf ?? lastScored;
  const windowDays = opts.windowDays ?? 90;
  const sampleSize = opts.sampleSize ?? 3000;
  const models = await loadPortalModels(store, portal);

  const contacts = await store.contacts.count(portal, { createdBy: asOf });
  if (contacts === 0) return { error: 'no_contacts', message: `${portal} has no contacts in the local cache: run \`rapport sync --portal ${portal}\` first` };

  // Score histograms: exact, 20 bins of width 5 (100 falls in the last).
  const bins = await store.scores.histograms(portal, 5);
  const histograms = SCORE_COLUMNS.map((c) => ({
    key: c.key,
    label: c.label,
    bins: bins[c.key].map((count, i) => ({ from: i * 5, to: i * 5 + 5, count })),
  }));

  // Average CLV over scored buyers (loyalty's extra.rfm is null for contacts without a purchase).
  const clv = await store.scores.clv(portal);

  // One pass: every contact feeds the KPIs; a stable hash sample is kept for the heavy charts.
  const kpi = createKpiAccumulator({ asOf, windowDays, churnDefinition: models.churnDefinition, currency: opts.currency });
  const rate = Math.min(1, sampleSize / contacts);
  const sample: ContactInput[] = [];
  for await (const chunk of readContactChunks(store, portal)) {
    for (const input of chunk) {
      kpi.add(input);
      if (sample.length < sampleSize && (rate >= 1 || hashUnit(input.id) < rate)) sample.push(input);
    }
  }
  const kpis = kpi.result(clv);

  const companies = await loadCompanies(store, portal);
  const features = sample.map((input) => computeFeatures(input, asOf, input.companyId === null ? undefined : companies.get(input.companyId), asOf));
  const scoreMap = new Map<string, { churnRisk: number; satisfaction: number }>();
  for (const f of features) {
    const s = await store.scores.get(portal, f.contactId);
    if (s !== undefined) scoreMap.set(f.contactId, { churnRisk: s.churnRisk.value, satisfaction: s.satisfaction.value });
  }
  const segments = segmentContacts(features, scoreMap, { k: opts.k ?? 4, seed: opts.seed ?? 7 });
  const loyaltyTrained = (await store.models.latest(portal, 'loyalty')) !== undefined;
  const repeat = repeatPurchaseFit(features, models.loyalty.bgNbd);

  const churnStored = await storedMetrics(store, portal, 'churn');
  const evaluation = evaluateSample({
    sample,
    companies,
    asOf,
    definition: models.churnDefinition,
    loyalty: models.loyalty,
    priorChurn: PRIOR_CHURN,
    priorService: PRIOR_SERVICE,
  });
  opts.logger?.info({ portal, contacts, sampled: sample.length }, 'report collected');

  return {
    portal,
    asOf,
    generatedAt: opts.generatedAt ?? Date.now(),
    windowDays,
    contacts,
    scored,
    sampled: sample.length,
    sampleSize,
    modelVersion: models.version,
    kpis,
    histograms,
    evaluation,
    stored: { churn: churnStored, service: await storedMetrics(store, portal, 'service_need') },
    segments,
    bands: await bandBreakdown(store, portal, asOf),
    atRisk: await atRiskContacts(store, portal),
    satisfactionPrior: 100 * models.satisfaction.prior,
    currency: opts.currency ?? null,
    repeatPurchases: { ...repeat, params: models.loyalty.bgNbd, source: loyaltyTrained ? 'trained' : 'default' },
  };
}

/** The report as one HTML document (inline CSS and SVG; no scripts, no external resources). */
export async function renderReport(data: ReportData): Promise<string> {
  return renderHtml(data);
}

/** collectReport + renderReport. */
export async function buildReport(store: ReportStore, portal: string, opts: ReportOptions = {}): Promise<{ html: string; data: ReportData } | ReportError> {
  const data = await collectReport(store, portal, opts);
  if ('error' in data) return data;
  return { html: await renderReport(data), data };
}
