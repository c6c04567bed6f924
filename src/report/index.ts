/**
 * `rapport report` and GET /report: one portal's scores, model quality, segments and KPIs as a
 * self-contained HTML page (issue 4, issue 7). `collectReport` reads the store (one streaming
 * pass over every live contact for the exact KPIs, plus a deterministic hash sample of at most
 * `sampleSize` contacts for the heavy charts); `renderReport` turns that into HTML with inline
 * SVG charts (charts.ts).
 *
 * Exact over all contacts: KPI tiles, score histograms, average CLV (SQL over the scores).
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

function countBands(rows: readonly { band: string | null; n: number }[]): BandCounts {
  const out: BandCounts = { green: 0, yellow: 0, red: 0 };
  for (const r of rows) if (r.band === 'green' || r.band === 'yellow' || r.band === 'red') out[r.band] += r.n;
  return out;
}

/** Band counts per score and for health; health 30 days earlier from each contact's last history row by then. */
function bandBreakdown(store: Store, portal: string, asOf: number): BandBreakdown {
  const scores = SCORE_COLUMNS.map((c) => ({
    key: c.key,
    label: c.label,
    counts: countBands(
      store.db
        .prepare<[string], { band: string | null; n: number }>(`SELECT json_extract(detail, '$.${c.key}.band') AS band, COUNT(*) AS n FROM scores WHERE portal = ? GROUP BY band`)
        .all(portal),
    ),
  }));
  const health = countBands(store.db.prepare<[string], { band: string; n: number }>('SELECT health AS band, COUNT(*) AS n FROM scores WHERE portal = ? GROUP BY health').all(portal));
  const beforeAt = asOf - 30 * 86_400_000;
  const before = countBands(
    store.db
      .prepare<[string, number, string], { band: string; n: number }>(
        `SELECT h.health AS band, COUNT(*) AS n FROM score_history h
         JOIN (SELECT contact_id, MAX(scored_at) AS t FROM score_history WHERE portal = ? AND scored_at <= ? GROUP BY contact_id) m
           ON h.contact_id = m.contact_id AND h.scored_at = m.t
         WHERE h.portal = ? GROUP BY h.health`,
      )
      .all(portal, beforeAt, portal),
  );
  const any = before.green + before.yellow + before.red > 0;
  return { scores, health, healthBefore: any ? before : null, beforeAt };
}

/** The AT_RISK contacts with the highest churn risk, their names from the cache and their churn reasons. */
function atRiskContacts(store: Store, portal: string): AtRiskContact[] {
  const rows = store.db
    .prepare<[string, number], { contact_id: string; churn_risk: number; detail: string; first: unknown; last: unknown }>(
      `SELECT s.contact_id, s.churn_risk, s.detail, json_extract(r.data, '$.d.firstName') AS first, json_extract(r.data, '$.d.lastName') AS last
       FROM scores s LEFT JOIN records r ON r.portal = s.portal AND r.type = 'contacts' AND r.id = s.contact_id
       WHERE s.portal = ? ORDER BY s.churn_risk DESC, s.contact_id LIMIT ?`,
    )
    .all(portal, AT_RISK);
  return rows.map((r) => {
    let band = '';
    let reasons: { text: string; impact: number }[] = [];
    try {
      const d = JSON.parse(r.detail) as { churnRisk?: { band?: unknown; reasons?: { text?: unknown; impact?: unknown }[] } };
      band = typeof d.churnRisk?.band === 'string' ? d.churnRisk.band : '';
      reasons = (d.churnRisk?.reasons ?? [])
        .filter((x): x is { text: string; impact: number } => typeof x.text === 'string' && typeof x.impact === 'number' && x.impact !== 0)
        .slice(0, 3);
    } catch {
      // an unreadable stored row shows without reasons
    }
    const name = [r.first, r.last].filter((x): x is string => typeof x === 'string' && x.trim() !== '').join(' ');
    return { contactId: r.contact_id, name: name === '' ? null : name, churnRisk: r.churn_risk, band, reasons };
  });
}

function storedMetrics(store: Store, portal: string, kind: string): StoredMetrics {
  const m = store.models.latest(portal, kind);
  if (m === undefined) return null;
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries((m.metrics ?? {}) as Record<string, unknown>)) if (typeof v === 'number') metrics[k] = v;
  return { version: m.version, trainedAt: m.trainedAt, metrics };
}

/** Everything the report shows, read from the store; an error (as data) when there is nothing to show. */
export function collectReport(store: Store, portal: string, opts: ReportOptions = {}): ReportData | ReportError {
  const scored = store.scores.count(portal);
  const lastScored = store.db.prepare<[string], { t: number | null }>('SELECT MAX(scored_at) AS t FROM scores WHERE portal = ?').get(portal)?.t ?? null;
  if (scored === 0 || lastScored === null) {
    return {
      error: 'not_scored',
      message: `nothing scored yet for ${portal}: run \`rapport train --portal ${portal}\` and \`rapport score --all --portal ${portal}\` first`,
    };
  }
  const asOf = opts.asOf ?? lastScored;
  const windowDays = opts.windowDays ?? 90;
  const sampleSize = opts.sampleSize ?? 3000;
  const models = loadPortalModels(store, portal);

  const contacts =
    store.db
      .prepare<[string, number], { n: number }>(
        `SELECT COUNT(*) AS n FROM records WHERE portal = ? AND type = 'contacts' AND deleted = 0 AND (json_extract(data, '$.d.createdAt') IS NULL OR json_extract(data, '$.d.createdAt') <= ?)`,
      )
      .get(portal, asOf)?.n ?? 0;
  if (contacts === 0) return { error: 'no_contacts', message: `${portal} has no contacts in the local cache: run \`rapport sync --portal ${portal}\` first` };

  // Score histograms: exact, 20 bins of width 5 (100 falls in the last).
  const histograms = SCORE_COLUMNS.map((c) => {
    const rows = store.db
      .prepare<[string], { b: number; n: number }>(`SELECT MIN(CAST(${c.column} / 5 AS INTEGER), 19) AS b, COUNT(*) AS n FROM scores WHERE portal = ? GROUP BY b`)
      .all(portal);
    const counts = new Array<number>(20).fill(0);
    for (const r of rows) if (r.b >= 0 && r.b < 20) counts[r.b] = r.n;
    return { key: c.key, label: c.label, bins: counts.map((count, i) => ({ from: i * 5, to: i * 5 + 5, count })) };
  });

  // Average CLV over scored buyers (loyalty's extra.rfm is null for contacts without a purchase).
  const clvRow = store.db
    .prepare<[string], { n: number; m: number | null }>(
      `SELECT COUNT(*) AS n, AVG(json_extract(detail, '$.extra.clv')) AS m FROM scores
       WHERE portal = ? AND json_extract(detail, '$.extra.rfm') IS NOT NULL AND json_extract(detail, '$.extra.clv') IS NOT NULL`,
    )
    .get(portal);

  // One pass: every contact feeds the KPIs; a stable hash sample is kept for the heavy charts.
  const kpi = createKpiAccumulator({ asOf, windowDays, churnDefinition: models.churnDefinition, currency: opts.currency });
  const rate = Math.min(1, sampleSize / contacts);
  const sample: ContactInput[] = [];
  for (const chunk of readContactChunks(store, portal)) {
    for (const input of chunk) {
      kpi.add(input);
      if (sample.length < sampleSize && (rate >= 1 || hashUnit(input.id) < rate)) sample.push(input);
    }
  }
  const kpis = kpi.result({ mean: clvRow?.m ?? null, n: clvRow?.n ?? 0 });

  const companies = loadCompanies(store, portal);
  const features = sample.map((input) => computeFeatures(input, asOf, input.companyId === null ? undefined : companies.get(input.companyId), asOf));
  const scoreMap = new Map<string, { churnRisk: number; satisfaction: number }>();
  for (const f of features) {
    const s = store.scores.get(portal, f.contactId);
    if (s !== undefined) scoreMap.set(f.contactId, { churnRisk: s.churnRisk.value, satisfaction: s.satisfaction.value });
  }
  const segments = segmentContacts(features, scoreMap, { k: opts.k ?? 4, seed: opts.seed ?? 7 });
  const loyaltyTrained = store.models.latest(portal, 'loyalty') !== undefined;
  const repeat = repeatPurchaseFit(features, models.loyalty.bgNbd);

  const churnStored = storedMetrics(store, portal, 'churn');
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
    stored: { churn: churnStored, service: storedMetrics(store, portal, 'service_need') },
    segments,
    bands: bandBreakdown(store, portal, asOf),
    atRisk: atRiskContacts(store, portal),
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
export async function buildReport(store: Store, portal: string, opts: ReportOptions = {}): Promise<{ html: string; data: ReportData } | ReportError> {
  const data = collectReport(store, portal, opts);
  if ('error' in data) return data;
  return { html: await renderReport(data), data };
}
