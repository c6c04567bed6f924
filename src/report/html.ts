/**
 * The report page: plain HTML with inline CSS and inline SVG charts. No script, no font, no
 * stylesheet, no image is loaded from anywhere, so the file works offline and can be mailed.
 */
import { averagePrecision, brierScore, expectedCalibrationError, liftAtTop, reliabilityCurve, rocAuc, rocCurve } from '../stats/metrics.ts';
import type { HeldOut } from './evaluation.ts';
import type { ReportData, StoredMetrics } from './index.ts';
import { formatMoney, isoDay, type Kpi } from './kpis.ts';
import { escapeHtml } from '../html.ts';
import { SCORE_KEYS, type ScoreKey } from '../scores.ts';
import { DEFAULT_BANDS } from '../scoring/bands.ts';
import {
  BAND_COLORS,
  COLORS,
  histogramSpec,
  liftByDecile,
  liftSpec,
  reliabilitySpec,
  renderSvg,
  repeatPurchasesSpec,
  rocSpec,
  segmentMapSpec,
} from './charts.ts';


const CSS = `
*{box-sizing:border-box}body{margin:0;background:#f5f8fa;color:#33475b;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 20px 48px}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:32px 0 8px;border-bottom:1px solid #cbd6e2;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 6px}.meta{color:#516f90;font-size:12px}.note{color:#516f90;font-size:12px;max-width:900px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px}
.tile{background:#fff;border:1px solid #cbd6e2;border-radius:4px;padding:12px 14px}.tile .label{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#516f90}
.tile .value{font-size:26px;font-weight:600;margin:2px 0}.tile .secondary{font-size:12px;color:#33475b}.tile .n{font-size:11px;color:#7c98b6}
.tile .def{font-size:11px;color:#516f90;margin-top:6px;border-top:1px solid #eaf0f6;padding-top:6px}
.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{display:inline-block;background:#fff;border:1px solid #cbd6e2;border-radius:4px;padding:8px}
.chart svg{display:block;max-width:100%;height:auto}
table{border-collapse:collapse;background:#fff;font-size:12px;margin:8px 0}th,td{border:1px solid #cbd6e2;padding:4px 8px;text-align:right}th{background:#eaf0f6}td:first-child,th:first-child{text-align:left;white-space:nowrap}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:middle}
.unavailable{background:#fff8e6;border:1px solid #f5c26b;border-radius:4px;padding:8px 12px;font-size:13px}
footer{margin-top:40px;font-size:11px;color:#7c98b6}
`;

const fmt = (x: number | null | undefined, digits = 3) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const iso = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';

function tile(k: Kpi): string {
  const win = k.key === 'avg_clv' ? `next 12 months from ${isoDay(k.window.from)}` : `${isoDay(k.window.from)} → ${isoDay(k.window.to)}`;
  return `<div class="tile" id="kpi-${k.key}" data-value="${k.value === null ? '' : String(k.value)}">
<div class="label">${escapeHtml(k.label)}</div>
<div class="value">${escapeHtml(k.display)}</div>
${k.secondary === undefined ? '' : `<div class="secondary">${escapeHtml(k.secondary)}</div>`}
<div class="n">n = ${k.n.toLocaleString('en-US')} ${escapeHtml(k.nLabel)} · window ${escapeHtml(win)}</div>
<div class="def">${escapeHtml(k.definition)}</div>
</div>`;
}

const chart = (svg: string, id: string) => `<div class="chart" id="${id}">${svg}</div>`;

function storedTable(label: string, s: StoredMetrics, sampleFigures: Record<string, number> | null): string {
  const keys = ['auc', 'pr_auc', 'brier', 'ece', 'lift_top10', 'test_n', 'test_positives'] as const;
  const names: Record<(typeof keys)[number], string> = {
    auc: 'ROC AUC',
    pr_auc: 'PR AUC (average precision)',
    brier: 'Brier',
    ece: 'ECE (10 equal-width bins)',
    lift_top10: 'lift at the top decile',
    test_n: 'held-out contacts',
    test_positives: 'held-out positives',
  };
  const rows = keys
    .map((k) => {
      const stored = s?.metrics[k];
      const here = sampleFigures?.[k];
      const d = k === 'test_n' || k === 'test_positives' ? 0 : 3;
      return `<tr><td>${names[k]}</td><td>${fmt(stored, d)}</td><td>${fmt(here, d)}</td></tr>`;
    })
    .join('');
  const trained = s === null ? 'no trained model stored (cold-start prior)' : `model ${escapeHtml(s.version)}, trained ${iso(s.trainedAt)}`;
  return `<table><thead><tr><th>${escapeHtml(label)}</th><th>stored at training</th><th>recomputed on this report’s sample</th></tr></thead><tbody>${rows}</tbody></table>
<p class="note">${trained}.</p>`;
}

async function modelSection(id: string, title: string, eventWords: string, r: HeldOut | { unavailable: string }, stored: StoredMetrics): Promise<string> {
  if ('unavailable' in r) {
    return `<section id="${id}"><h3>${escapeHtml(title)}</h3><div class="unavailable">${escapeHtml(r.unavailable)}</div>${storedTable(title, stored, null)}</section>`;
  }
  const auc = rocAuc(r.y, r.p);
  const ece = expectedCalibrationError(r.y, r.p);
  const positives = r.y.reduce((s, v) => s + v, 0);
  const figures: Record<string, number> = {
    auc,
    pr_auc: averagePrecision(r.y, r.p),
    brier: brierScore(r.y, r.p),
    ece,
    lift_top10: liftAtTop(r.y, r.p, 0.1).lift,
    test_n: r.y.length,
    test_positives: positives,
  };
  const [roc, rel, lift] = await Promise.all([
    renderSvg(rocSpec('ROC', rocCurve(r.y, r.p), auc)),
    renderSvg(reliabilitySpec('Calibration', reliabilityCurve(r.y, r.p, 10), ece)),
    renderSvg(liftSpec('Lift by decile', liftByDecile(r.y, r.p))),
  ]);
  const source =
    r.source === 'trained'
      ? `a logistic model (IRLS, L2 = 1, standardised) fitted on ${r.trainN.toLocaleString('en-US')} sampled contacts as of ${isoDay(r.trainCut)}`
      : `the cold-start prior (the earlier window had too few labelled outcomes to fit)`;
  return `<section id="${id}"><h3>${escapeHtml(title)}</h3>
<p class="note">Held out in time: ${source}, predicting ${r.y.length.toLocaleString('en-US')} contacts as of ${isoDay(r.testCut)}; outcome = ${escapeHtml(eventWords)} (${positives.toLocaleString('en-US')} positives). Predictions before the Platt step, as the stored metrics.</p>
<div class="charts">${chart(roc, `${id}-roc`)}${chart(rel, `${id}-calibration`)}${chart(lift, `${id}-lift`)}</div>
${storedTable(title, stored, figures)}</section>`;
}

const BAND_WORDS = { red: 'red (at risk)', yellow: 'yellow (needs attention)', green: 'green (healthy)' } as const;

function bandsSection(d: ReportData): string {
  const b = d.bands;
  const cell = (n: number, total: number) => `${n.toLocaleString('en-US')} <span class="meta">(${total === 0 ? '–' : ((100 * n) / total).toFixed(1)} %)</span>`;
  const row = (label: string, c: { green: number; yellow: number; red: number }, extra = '') => {
    const total = c.green + c.yellow + c.red;
    return `<tr><td>${escapeHtml(label)}</td><td>${cell(c.red, total)}</td><td>${cell(c.yellow, total)}</td><td>${cell(c.green, total)}</td>${extra}</tr>`;
  };
  const trend = (band: 'red' | 'yellow' | 'green') => {
    if (b.healthBefore === null) return '–';
    const delta = b.health[band] - b.healthBefore[band];
    return `${delta > 0 ? '+' : delta < 0 ? '−' : '±'}${Math.abs(delta).toLocaleString('en-US')}`;
  };
  const swatch = (band: keyof typeof BAND_COLORS) => `<span class="swatch" style="background:${BAND_COLORS[band]}"></span>`;
  return `<table id="band-breakdown"><thead><tr><th>score</th><th>${swatch('red')}${BAND_WORDS.red}</th><th>${swatch('yellow')}${BAND_WORDS.yellow}</th><th>${swatch('green')}${BAND_WORDS.green}</th></tr></thead><tbody>
${row('Health (overall)', b.health)}
${b.scores.map((s) => row(s.label, s.counts)).join('')}
<tr><td>Health change since ${isoDay(b.beforeAt)}</td><td>${trend('red')}</td><td>${trend('yellow')}</td><td>${trend('green')}</td></tr>
</tbody></table>
<p class="note">Counts of scored contacts per band (bands are decided on the rounded score a rep sees). The last row compares health with each contact’s last recorded health 30 days before the as-of date${b.healthBefore === null ? ' (no score history that old yet)' : ''}.</p>`;
}

function atRiskSection(d: ReportData): string {
  if (d.atRisk.length === 0) return `<div class="unavailable">No scored contacts.</div>`;
  const rows = d.atRisk
    .map((c) => {
      const reasons = c.reasons.map((r) => `${escapeHtml(r.text)} (${r.impact >= 0 ? '+' : '−'}${Math.abs(Math.round(r.impact * 10) / 10)} points)`).join('; ');
      const band = c.band === 'red' || c.band === 'yellow' || c.band === 'green' ? `<span class="swatch" style="background:${BAND_COLORS[c.band]}"></span>` : '';
      return `<tr><td>${escapeHtml(c.name ?? '(no name)')} <span class="meta">#${escapeHtml(c.contactId)}</span></td><td>${band}${Math.round(c.churnRisk)} %</td><td style="text-align:left">${reasons === '' ? '–' : reasons}</td></tr>`;
    })
    .join('');
  return `<table id="at-risk"><thead><tr><th>contact</th><th>churn risk</th><th>why (points each reason adds to or takes from churn risk)</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export async function renderHtml(d: ReportData): Promise<string> {
  const histColors = [COLORS[0], COLORS[2], COLORS[1], COLORS[3]] as string[];
  const cutoffsOf = (key: string) => (SCORE_KEYS.includes(key as ScoreKey) ? DEFAULT_BANDS[key as ScoreKey] : undefined);
  const histSvgs = await Promise.all(d.histograms.map((h, i) => renderSvg(histogramSpec(h.label, h.bins, histColors[i] ?? '#0091ae', cutoffsOf(h.key)))));
  const churnWords =
    d.evaluation.churn && 'horizonDays' in d.evaluation.churn
      ? `churned within ${d.evaluation.churn.horizonDays} days per the portal’s churn definition (soft label ≥ ½)`
      : 'churned';
  const churn = await modelSection('model-churn', 'Churn risk model', churnWords, d.evaluation.churn, d.stored.churn);
  const service = await modelSection('model-service', 'Service-need model', 'a new ticket within 30 days', d.evaluation.service, d.stored.service);

  let segments: string;
  if ('unavailable' in d.segments) {
    segments = `<div class="unavailable">${escapeHtml(d.segments.unavailable)}</div>`;
  } else {
    const s = d.segments;
    const map = await renderSvg(segmentMapSpec(s.points, s.explainedVarianceRatio, [...s.summaries].sort((a, b) => a.segment - b.segment).map((x) => x.name)));
    const rows = s.summaries
      .map(
        (x) =>
          `<tr><td><span class="swatch" style="background:${COLORS[(x.segment - 1) % COLORS.length]}"></span>${escapeHtml(x.name)}</td><td>${x.size}</td><td>${(100 * x.share).toFixed(1)} %</td><td>${fmt(x.meanPurchases, 2)}</td><td>${escapeHtml(formatMoney(x.meanSpend, d.currency))}</td><td>${fmt(x.medianDaysSinceTouch, 0)}</td><td>${fmt(x.meanTickets90d, 2)}</td><td>${x.meanSurveyScore === null ? '–' : fmt(100 * x.meanSurveyScore, 0)}</td><td>${fmt(x.meanSatisfaction, 0)}</td><td>${fmt(x.meanChurnRisk, 0)}</td></tr>`,
      )
      .join('');
    segments = `${chart(map, 'segment-map')}
<table><thead><tr><th>segment</th><th>contacts</th><th>share</th><th>mean purchases</th><th>mean total spend</th><th>median days since touch</th><th>mean tickets (90 d)</th><th>mean survey score (0–100)</th><th>mean satisfaction</th><th>mean churn risk</th></tr></thead><tbody>${rows}</tbody></table>
<p class="note">k-means (k = ${s.k}, k-means++ with 5 restarts, seed fixed) on ${s.n.toLocaleString('en-US')} sampled contacts’ standardised features (log1p of purchases, spend, days since touch, tenure, inbound and tickets in 90 days; open tickets; survey score and sentiment, missing values imputed with the mean); mean silhouette ${fmt(s.silhouette, 3)}. The map (${s.points.length.toLocaleString('en-US')} of them drawn) is the first two principal components of the same standardised data (${(100 * (s.explainedVarianceRatio[0] + s.explainedVarianceRatio[1])).toFixed(1)} % of the variance); the components are a view, not scores.</p>`;
  }

  const rp = d.repeatPurchases;
  const rpSvg = rp.customers === 0 ? null : await renderSvg(repeatPurchasesSpec(rp.buckets));
  const rpRows = rp.buckets.map((b) => `<tr><td>${b.repeats}</td><td>${b.actual}</td><td>${b.expected.toFixed(1)}</td></tr>`).join('');
  const repeat =
    rpSvg === null
      ? `<div class="unavailable">No customer with a purchase in the sample.</div>`
      : `${chart(rpSvg, 'bgnbd-chart')}<table><thead><tr><th>repeat purchases</th><th>actual customers</th><th>expected (BG/NBD)</th></tr></thead><tbody>${rpRows}</tbody></table>
<p class="note">${rp.customers.toLocaleString('en-US')} sampled customers (at least one purchase). Expected = Σ over customers of P(X(T) = n) under BG/NBD with r = ${fmt(rp.params.r)}, α = ${fmt(rp.params.alpha)}, a = ${fmt(rp.params.a)}, b = ${fmt(rp.params.b)} (${rp.source === 'trained' ? 'the portal’s own fit from `rapport train`' : 'the CDNOW default: the portal has no trained loyalty model'}), T = weeks since the customer’s first purchase; repeat purchases = purchases − 1 (Fader, Hardie &amp; Lee 2005).</p>`;

  const histograms = d.histograms.map((h, i) => chart(histSvgs[i] as string, `hist-${h.key}`)).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rapport report — ${escapeHtml(d.portal)}</title><style>${CSS}</style></head>
<body><main>
<header><h1>Rapport report — ${escapeHtml(d.portal)}</h1>
<div class="meta">As of ${iso(d.asOf)} (the last scoring) · ${d.contacts.toLocaleString('en-US')} contacts, ${d.scored.toLocaleString('en-US')} scored · models ${escapeHtml(d.modelVersion)}</div></header>

<section id="kpis"><h2>Key figures</h2>
<p class="note">Computed from the local cache over every contact (no sampling). KPI window: the ${d.windowDays} days up to the as-of date unless a tile says otherwise.</p>
<div class="tiles">${d.kpis.map(tile).join('\n')}</div></section>

<section id="bands"><h2>Bands</h2>
${bandsSection(d)}</section>
<section id="at-risk-contacts"><h2>The ${d.atRisk.length} contacts most at risk</h2>
${atRiskSection(d)}</section>
<section id="distributions"><h2>Score distributions</h2>
<p class="note">All ${d.scored.toLocaleString('en-US')} scored contacts, bins of 5 points (exact counts from the scores table). Dashed lines: where the green band starts (teal) and where red starts (red); satisfaction and loyalty are red below their red line, churn risk and service need at or above it.</p>
<p class="note" id="satisfaction-prior">Satisfaction of a contact with no feedback at all (no survey answer, ticket or message with a tone) is the account’s prior, ${Math.round(d.satisfactionPrior)}: the bar around ${Math.round(d.satisfactionPrior)} is mostly “no evidence yet”, not measured satisfaction. Each answer or ticket then moves it part of the way.</p>
<div class="charts">${histograms}</div></section>

<section id="models"><h2>Model quality: ROC, calibration and lift</h2>
<p class="note">Recomputed for this report on a sample of ${d.sampled.toLocaleString('en-US')} contacts with the same time split as training (models learn from an earlier period and are judged on a later one), so that the curves are out-of-time; the stored figures of the last training run are shown next to them.</p>
${churn}
${service}</section>

<section id="segments"><h2>Customer segments</h2>
${segments}</section>

<section id="bgnbd"><h2>Repeat purchases: BG/NBD fit</h2>
${repeat}</section>

<section id="method"><h2>How this report was made</h2>
<p class="note">Exact over all contacts: the KPI tiles, the score histograms and the average CLV. On a deterministic hash sample of ${d.sampled.toLocaleString('en-US')} contacts (at most ${d.sampleSize.toLocaleString('en-US')}): the ROC, calibration and lift curves, the segment map and the BG/NBD repeat-purchase chart. Charts are Vega-Lite specifications rendered to SVG on the server; the page loads nothing from the network.</p></section>

<footer>Generated ${iso(d.generatedAt)} by rapport report.</footer>
</main></body></html>
`;
}
