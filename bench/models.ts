/**
 * `npm run bench:models`: model quality on the sandbox generator's synthetic account, against its
 * latent truth (issue 4, "Must show"). The generated HubSpot objects are mapped with the
 * HubSpot connector's own `toRecord` (so the cache holds exactly what a sync would write), the
 * portal is trained (`trainPortal`: time split on its own history) and scored as of `now`, then
 * the scores are compared with the truth about the future the generator drew:
 *
 *   churn ROC AUC ≥ 0.95 × the AUC of the true probabilities; churn ECE ≤ 0.03
 *   service-need ROC AUC ≥ 0.90 × oracle; Spearman(satisfaction, latent satisfaction) ≥ 0.7
 *
 * and, over a synthetic month of live events (the demo's generator, src/sandbox/generator/live.ts),
 * the change in churn risk caused by one new engagement (issue 17): each event's contact is
 * rescored at the event's time without and with it, so only the event moves the score.
 *
 *   single-event swing p95 ≤ 15 points; share of changes against the event's direction = 0
 *
 * An event's direction: a ticket, a negative message and a detractor answer (NPS 0–6) may only
 * raise churn risk; a positive message and a promoter answer (9–10) may only lower it; neutral
 * messages and passive answers have no fixed direction (counted in the swing, not the share).
 *
 *   BENCH_CONTACTS=20000 npm run bench:models   (seeds 1–5 by default, as issue 17 asks; BENCH_SEED=7: one seed)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDuplicateEmailFlagger } from '../src/connectors/hubspot/mapping.ts';
import type { ContactTruth } from '../src/sandbox/model.ts';
import { generateAccount } from '../src/sandbox/generator/index.ts';
import { createLiveActivity, type LiveEvent } from '../src/sandbox/generator/live.ts';
import { expectedCalibrationError, reliabilityCurve, rocAuc, spearman } from '../src/stats/metrics.ts';
import { scoreContacts } from '../src/scoring/score-portal.ts';
import { trainPortal } from '../src/scoring/train.ts';
import { createStore } from '../src/store/index.ts';
import { generatedRecords } from '../test/support/generated-records.ts';
import { reportFigures } from './figures.ts';

const N = Number(process.env['BENCH_CONTACTS'] ?? 20_000);
const SEEDS = (process.env['BENCH_SEEDS'] ?? process.env['BENCH_SEED'] ?? '1,2,3,4,5').split(',').map(Number);
/** live events measured per seed, spread over 30 days after NOW */
const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 600);
const NOW = Date.UTC(2026, 5, 1);
const PORTAL = 'hubspot:1';


function verdict(ok: boolean): string {
  return ok ? 'MET' : 'NOT MET';
}

type SeedResult = { seed: number; aucRatio: number; ece: number; svcRatio: number; rho: number; swingP95: number; contradicting: number; directed: number; events: number };

/** +1: may only raise churn risk, −1: may only lower it, 0: no fixed direction. */
function expectedDirection(e: LiveEvent): 1 | -1 | 0 {
  if (e.kind === 'ticket') return 1;
  if (e.kind === 'survey') return e.score === null ? 0 : e.score <= 6 ? 1 : e.score >= 9 ? -1 : 0;
  return e.tone === 'negative' ? 1 : e.tone === 'positive' ? -1 : 0;
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
}

async function main(): Promise<void> {
  const results: SeedResult[] = [];
  for (const seed of SEEDS) results.push(await runSeed(seed));
  if (results.length > 1) {
    console.log(`\nall seeds (${results.map((r) => r.seed).join(', ')}):`);
    for (const r of results) {
      console.log(
        `  seed ${r.seed}: AUC ÷ oracle ${r.aucRatio.toFixed(3)}  ECE ${r.ece.toFixed(4)}  service ÷ oracle ${r.svcRatio.toFixed(3)}  Spearman ${r.rho.toFixed(3)}  swing p95 ${r.swingP95.toFixed(1)}  against direction ${r.contradicting}/${r.directed}`,
      );
    }
  }
  const worst = (f: (r: SeedResult) => number, lowIsBad: boolean) => results.map(f).reduce((a, b) => (lowIsBad ? Math.min(a, b) : Math.max(a, b)));
  const aucRatio = worst((r) => r.aucRatio, true);
  const ece = worst((r) => r.ece, false);
  const svcRatio = worst((r) => r.svcRatio, true);
  const rho = worst((r) => r.rho, true);
  const swing = worst((r) => r.swingP95, false);
  const against = results.reduce((s, r) => s + r.contradicting, 0);
  const directed = results.reduce((s, r) => s + r.directed, 0);
  const share = directed === 0 ? 0 : against / directed;
  const of = results.length > 1 ? ` (worst of ${results.length} seeds)` : '';
  reportFigures('models', [
    { figure: `churn ROC AUC ÷ AUC of the true probabilities${of}`, value: aucRatio, goal: '≥ 0.95', met: aucRatio >= 0.95 },
    { figure: `churn expected calibration error${of}`, value: ece, goal: '≤ 0.03', met: ece <= 0.03 },
    { figure: `service-need ROC AUC ÷ oracle AUC${of}`, value: svcRatio, goal: '≥ 0.90', met: svcRatio >= 0.9 },
    { figure: `Spearman(satisfaction, latent satisfaction)${of}`, value: rho, goal: '≥ 0.7', met: rho >= 0.7 },
    { figure: `churn-risk change from one new engagement, p95 (points)${of}`, value: swing, goal: '≤ 15', met: swing <= 15 },
    { figure: `share of those changes against the event's direction (${against}/${directed})`, value: share, goal: '0', met: against === 0 },
  ]);
}

async function runSeed(SEED: number): Promise<SeedResult> {
  const dir = mkdtempSync(join(tmpdir(), 'rapport-bench-models-'));
  const store = createStore({ path: join(dir, 'bench.db'), now: () => NOW });
  try {
    console.log(`bench:models — synthetic account: ${N.toLocaleString('en-US')} contacts, seed ${SEED}`);
    let t = performance.now();
    const truth = new Map<string, ContactTruth>();
    const flag = createDuplicateEmailFlagger();
    let records = 0;
    for (const batch of generateAccount({ seed: SEED, contacts: N, now: NOW })) {
      const recs = generatedRecords(PORTAL, batch, NOW, flag);
      records += recs.length;
      await store.records.upsertPage(recs);
      for (const tr of batch.truth) truth.set(tr.contactId, tr);
    }
    console.log(`  generated and cached ${records.toLocaleString('en-US')} records in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    t = performance.now();
    const trained = await trainPortal(store, PORTAL, { now: NOW });
    console.log(`  trained ${trained.version} in ${((performance.now() - t) / 1000).toFixed(1)} s; held-out (time split) metrics:`);
    const m = trained.metrics;
    console.log(`    churn   AUC ${m['churn_auc']}  PR AUC ${m['churn_pr_auc']}  Brier ${m['churn_brier']}  ECE ${m['churn_ece']}  lift@10% ${m['churn_lift_top10']}  (n ${m['churn_test_n']}, positives ${m['churn_test_positives']})`);
    console.log(`    service AUC ${m['service_auc']}  PR AUC ${m['service_pr_auc']}  Brier ${m['service_brier']}  ECE ${m['service_ece']}  (n ${m['service_test_n']}, positives ${m['service_test_positives']})`);

    t = performance.now();
    const scored = await scoreContacts(store, PORTAL, { contactIds: 'all', now: NOW });
    console.log(`  scored ${scored.scored.toLocaleString('en-US')} contacts in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const churnY: number[] = [];
    const churnP: number[] = [];
    const churnOracle: number[] = [];
    const svcY: number[] = [];
    const svcP: number[] = [];
    const svcOracle: number[] = [];
    const sat: number[] = [];
    const satTrue: number[] = [];
    let channelHits = 0;
    for (const [id, tr] of truth) {
      const s = await store.scores.get(PORTAL, id);
      if (s === undefined) continue;
      churnY.push(tr.churnedNext90d ? 1 : 0);
      churnP.push(s.churnRisk.value / 100);
      churnOracle.push(tr.churnProbability90d);
      svcY.push(tr.ticketNext30d ? 1 : 0);
      svcP.push(s.serviceNeed.value / 100);
      svcOracle.push(tr.ticketProbability30d);
      sat.push(s.satisfaction.value);
      satTrue.push(tr.satisfaction);
      if (s.extra['likelyChannel'] === tr.preferredChannel) channelHits++;
    }
    const churnAuc = rocAuc(churnY, churnP);
    const churnOracleAuc = rocAuc(churnY, churnOracle);
    const ece = expectedCalibrationError(churnY, churnP);
    const oracleEce = expectedCalibrationError(churnY, churnOracle);
    const svcAuc = rocAuc(svcY, svcP);
    const svcOracleAuc = rocAuc(svcY, svcOracle);
    const rho = spearman(sat, satTrue);
    const n = churnY.length;
    const rate = (ys: number[]) => ((ys.reduce((a, b) => a + b, 0) / ys.length) * 100).toFixed(1);
    console.log(`  against the truth (${n.toLocaleString('en-US')} contacts with truth; churn rate ${rate(churnY)} %, ticket rate ${rate(svcY)} %):`);
    console.log(
      `    churn ROC AUC ${churnAuc.toFixed(4)} vs oracle ${churnOracleAuc.toFixed(4)} = ${(churnAuc / churnOracleAuc).toFixed(3)}×  goal ≥ 0.95×: ${verdict(churnAuc >= 0.95 * churnOracleAuc)}`,
    );
    console.log(`    churn ECE (10 equal-width bins) ${ece.toFixed(4)} (oracle ${oracleEce.toFixed(4)})  goal ≤ 0.03: ${verdict(ece <= 0.03)}`);
    console.log(
      `    service-need ROC AUC ${svcAuc.toFixed(4)} vs oracle ${svcOracleAuc.toFixed(4)} = ${(svcAuc / svcOracleAuc).toFixed(3)}×  goal ≥ 0.90×: ${verdict(svcAuc >= 0.9 * svcOracleAuc)}`,
    );
    console.log(`    Spearman(satisfaction, latent satisfaction) ${rho.toFixed(4)}  goal ≥ 0.7: ${verdict(rho >= 0.7)}`);
    if (process.env['BENCH_DEBUG'] === '1') {
      const bg: number[] = [];
      for (const id of truth.keys()) bg.push(Number((await store.scores.get(PORTAL, id))?.extra['pChurn90dPurchasePattern'] ?? NaN));
      const ok = bg.every(Number.isFinite);
      if (ok && bg.length === churnY.length) console.log(`      BG/NBD-only churn: AUC ${rocAuc(churnY, bg).toFixed(4)} ECE ${expectedCalibrationError(churnY, bg).toFixed(4)}`);
      const bins = reliabilityCurve(churnY, churnP, 10);
      for (const b of bins) console.log(`      bin ${b.count} pred ${b.meanPredicted.toFixed(3)} obs ${b.observedRate.toFixed(3)}`);
    }
    console.log(`    likely channel = preferred channel for ${((channelHits / n) * 100).toFixed(1)} % of contacts (no goal)`);

    // A synthetic month of live events, one at a time: rescore the contact at the event's time
    // without it, add it, rescore again.
    t = performance.now();
    const ids = [...truth.keys()];
    const live = createLiveActivity({ seed: SEED, now: NOW });
    const swings: number[] = [];
    let contradicting = 0;
    let directed = 0;
    const worstCases: string[] = [];
    const byKind = new Map<string, number[]>();
    for (let i = 0; i < EVENTS; i++) {
      const at = NOW + Math.round(((i + 1) * 30 * 86_400_000) / EVENTS);
      const batch = live.next(ids, at);
      const event = live.last();
      if (event === null) continue;
      await scoreContacts(store, PORTAL, { contactIds: [event.contactId], now: at });
      const before = (await store.scores.get(PORTAL, event.contactId))?.churnRisk.value;
      const recs = generatedRecords(PORTAL, batch, at, flag);
      await store.records.upsertPage(recs);
      await scoreContacts(store, PORTAL, { contactIds: [event.contactId], now: at });
      const after = (await store.scores.get(PORTAL, event.contactId))?.churnRisk.value;
      if (before === undefined || after === undefined) continue;
      const delta = after - before;
      swings.push(Math.abs(delta));
      const k = `${event.kind} ${event.kind === 'survey' ? (event.score !== null && event.score <= 6 ? 'detractor' : event.score !== null && event.score >= 9 ? 'promoter' : 'passive') : event.tone}`;
      byKind.set(k, [...(byKind.get(k) ?? []), delta]);
      const dirn = expectedDirection(event);
      if (dirn !== 0) {
        directed++;
        // a hundredth of a point is rounding, not a direction
        if (dirn * delta < -0.01) {
          contradicting++;
          if (worstCases.length < 5) worstCases.push(`${event.kind} (${event.tone}${event.score === null ? '' : `, NPS ${event.score}`}): ${before.toFixed(1)} → ${after.toFixed(1)}`);
        }
      }
    }
    const swingP95 = quantile(swings, 0.95);
    console.log(
      `  ${swings.length} live events over 30 days in ${((performance.now() - t) / 1000).toFixed(1)} s: churn-risk change p50 ${quantile(swings, 0.5).toFixed(1)}, p95 ${swingP95.toFixed(1)}, max ${quantile(swings, 1).toFixed(1)} points; against the event's direction ${contradicting} of ${directed}`,
    );
    for (const w of worstCases) console.log(`    against: ${w}`);
    for (const [k, ds] of [...byKind].sort()) {
      console.log(`    ${k.padEnd(18)} n ${String(ds.length).padStart(3)}  mean ${(ds.reduce((a, b) => a + b, 0) / ds.length).toFixed(1).padStart(6)}  |Δ| p95 ${quantile(ds.map(Math.abs), 0.95).toFixed(1)}`);
    }
    return { seed: SEED, aucRatio: churnAuc / churnOracleAuc, ece, svcRatio: svcAuc / svcOracleAuc, rho, swingP95, contradicting, directed, events: swings.length };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
