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
 *   BENCH_CONTACTS=20000 BENCH_SEED=7 npm run bench:models
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDuplicateEmailFlagger } from '../src/connectors/hubspot/mapping.ts';
import type { ContactTruth } from '../src/sandbox/model.ts';
import { generateAccount } from '../src/sandbox/generator/index.ts';
import { expectedCalibrationError, reliabilityCurve, rocAuc, spearman } from '../src/scoring/models/metrics.ts';
import { scoreContacts } from '../src/scoring/score-portal.ts';
import { trainPortal } from '../src/scoring/train.ts';
import { createStore } from '../src/store/index.ts';
import { generatedRecords } from '../test/support/generated-records.ts';
import { reportFigures } from './figures.ts';

const N = Number(process.env['BENCH_CONTACTS'] ?? 20_000);
const SEED = Number(process.env['BENCH_SEED'] ?? 7);
const NOW = Date.UTC(2026, 5, 1);
const PORTAL = 'hubspot:1';


function verdict(ok: boolean): string {
  return ok ? 'MET' : 'NOT MET';
}

function main(): void {
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
      store.transaction(() => store.records.upsertPage(recs));
      for (const tr of batch.truth) truth.set(tr.contactId, tr);
    }
    console.log(`  generated and cached ${records.toLocaleString('en-US')} records in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    t = performance.now();
    const trained = trainPortal(store, PORTAL, { now: NOW });
    console.log(`  trained ${trained.version} in ${((performance.now() - t) / 1000).toFixed(1)} s; held-out (time split) metrics:`);
    const m = trained.metrics;
    console.log(`    churn   AUC ${m['churn_auc']}  PR AUC ${m['churn_pr_auc']}  Brier ${m['churn_brier']}  ECE ${m['churn_ece']}  lift@10% ${m['churn_lift_top10']}  (n ${m['churn_test_n']}, positives ${m['churn_test_positives']})`);
    console.log(`    service AUC ${m['service_auc']}  PR AUC ${m['service_pr_auc']}  Brier ${m['service_brier']}  ECE ${m['service_ece']}  (n ${m['service_test_n']}, positives ${m['service_test_positives']})`);

    t = performance.now();
    const scored = scoreContacts(store, PORTAL, { contactIds: 'all', now: NOW });
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
      const s = store.scores.get(PORTAL, id);
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
    reportFigures('models', [
      { figure: 'churn ROC AUC ÷ AUC of the true probabilities', value: churnAuc / churnOracleAuc, goal: '≥ 0.95', met: churnAuc >= 0.95 * churnOracleAuc },
      { figure: 'churn expected calibration error', value: ece, goal: '≤ 0.03', met: ece <= 0.03 },
      { figure: 'service-need ROC AUC ÷ oracle AUC', value: svcAuc / svcOracleAuc, goal: '≥ 0.90', met: svcAuc >= 0.9 * svcOracleAuc },
      { figure: 'Spearman(satisfaction, latent satisfaction)', value: rho, goal: '≥ 0.7', met: rho >= 0.7 },
    ]);
    if (process.env['BENCH_DEBUG'] === '1') {
      const bg = [...truth.keys()].map((id) => Number(store.scores.get(PORTAL, id)?.extra['pChurn90dPurchasePattern'] ?? NaN));
      const ok = bg.every(Number.isFinite);
      if (ok && bg.length === churnY.length) console.log(`      BG/NBD-only churn: AUC ${rocAuc(churnY, bg).toFixed(4)} ECE ${expectedCalibrationError(churnY, bg).toFixed(4)}`);
      const bins = reliabilityCurve(churnY, churnP, 10);
      for (const b of bins) console.log(`      bin ${b.count} pred ${b.meanPredicted.toFixed(3)} obs ${b.observedRate.toFixed(3)}`);
    }
    console.log(`    likely channel = preferred channel for ${((channelHits / n) * 100).toFixed(1)} % of contacts (no goal)`);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
