/**
 * `npm run bench:scoring`: features + the four scores for N contacts (default 1,000,000) read
 * from the cache, in bounded memory. Prints contacts/s, the ratio to a bare SQLite scan of the
 * same rows (same two queries, rows fetched but not parsed), and the peak RSS.
 *
 *   BENCH_CONTACTS=200000 npm run bench:scoring     (a smaller run)
 *   BENCH_SAVE=20000                                 (contacts for the full scoreContacts pass, which also
 *                                                     saves scores + history + outbox; default 100,000)
 *
 * The cache is filled directly with prepared statements on the SQLite file (not through the
 * store port nor the sandbox) so the
 * benchmark measures scoring, not generation: per contact ~1 purchase, 2 engagements, 0.4
 * tickets, 0.3 survey answers, with the normalized JSON shapes of connectors/types.ts.
 */
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { openDatabase, type Db } from '../src/store/db.ts';
import { createStoreOn } from '../src/store/sqlite.ts';
import { readContactChunks, loadCompanies } from '../src/scoring/features.ts';
import { loadPortalModels } from '../src/scoring/portal-models.ts';
import { scoreContacts, scoreOne } from '../src/scoring/score-portal.ts';
import { scoreAllInParallel } from '../src/scoring/parallel.ts';
import { reportFigures } from './figures.ts';
import { fillCache } from './seed-cache.ts';

const N = Number(process.env['BENCH_CONTACTS'] ?? 1_000_000);
const SAVE_N = Math.min(N, Number(process.env['BENCH_SAVE'] ?? 100_000));
const PORTAL = 'hubspot:1';
const NOW = Date.UTC(2026, 5, 1);

let peakRss = 0;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

function bareScan(db: Db): number {
  // The same two keyset-paged queries readContactChunks issues, rows fetched but not parsed.
  const contacts = db.prepare<[string, string, number], { id: string; company_id: string | null; data: string }>(
    `SELECT id, company_id, data FROM records WHERE portal = ? AND type = 'contacts' AND id > ? AND deleted = 0 ORDER BY id LIMIT ?`,
  );
  const links = db.prepare<[string, string, string], { cid: string; type: string; id: string; data: string }>(
    `SELECT a.to_id AS cid, r.type AS type, r.id AS id, r.data AS data
     FROM associations a CROSS JOIN records r ON r.portal = a.portal AND r.type = a.from_type AND r.id = a.from_id
     WHERE a.portal = ? AND a.to_type = 'contacts' AND a.to_id >= ? AND a.to_id <= ? AND r.deleted = 0`,
  );
  let after = '';
  let bytes = 0;
  let n = 0;
  for (;;) {
    const rows = contacts.all(PORTAL, after, 2000);
    if (rows.length === 0) break;
    n += rows.length;
    for (const r of rows) bytes += r.data.length;
    for (const l of links.all(PORTAL, rows[0]!.id, rows[rows.length - 1]!.id)) bytes += l.data.length;
    after = rows[rows.length - 1]!.id;
    if (rows.length < 2000) break;
  }
  if (bytes === 0) throw new Error('empty scan');
  return n;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rapport-bench-scoring-'));
  // the bench fills the file and takes the baseline scan over the raw connection (below the port)
  const db = openDatabase(join(dir, 'bench.db'));
  const store = createStoreOn(db, { now: () => NOW });
  try {
    console.log(`bench:scoring — ${N.toLocaleString('en-US')} contacts`);
    let t = performance.now();
    const rows = fillCache(db, { portal: PORTAL, n: N, now: NOW, afterBatch: sampleRss });
    console.log(`  cache filled: ${rows.toLocaleString('en-US')} records in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    t = performance.now();
    const scanned = bareScan(db);
    const scanS = (performance.now() - t) / 1000;
    sampleRss();

    // Reading + JSON parsing alone (what the scoring pass costs before any feature is computed).
    t = performance.now();
    let read = 0;
    for await (const chunk of readContactChunks(store, PORTAL)) read += chunk.length;
    const readS = (performance.now() - t) / 1000;

    const models = await loadPortalModels(store, PORTAL);
    const companies = await loadCompanies(store, PORTAL);
    t = performance.now();
    let scored = 0;
    let checksum = 0;
    for await (const chunk of readContactChunks(store, PORTAL)) {
      for (const c of chunk) {
        const s = scoreOne(c, c.companyId === null ? undefined : companies.get(c.companyId), models, NOW);
        checksum += s.churnRisk.value + s.satisfaction.value + s.loyalty.value + s.serviceNeed.value;
        scored++;
      }
      sampleRss();
    }
    const scoreS = (performance.now() - t) / 1000;
    if (!(checksum > 0) || scored !== scanned) throw new Error(`scored ${scored} of ${scanned}`);

    // The same compute on every core: worker threads over equal id ranges, each with its own
    // read-only connection (what `rapport score --all` uses).
    t = performance.now();
    const par = await scoreAllInParallel(store, PORTAL, { now: NOW });
    const parS = (performance.now() - t) / 1000;
    if (par.scored !== scanned) throw new Error(`parallel scored ${par.scored} of ${scanned}`);
    sampleRss();

    // Full pipeline (save scores + history, clear dirty, outbox diff) on a prefix of contacts.
    const ids: string[] = [];
    for (let i = 0; i < SAVE_N; i++) ids.push(`c${String(i).padStart(8, '0')}`);
    t = performance.now();
    const saved = await scoreContacts(store, PORTAL, { contactIds: ids, now: NOW });
    const saveS = (performance.now() - t) / 1000;
    sampleRss();

    const rate = scored / scoreS;
    const goal = 100_000;
    const parRate = par.scored / parS;
    reportFigures(`scoring (${N.toLocaleString('en-US')} contacts)`, [
      { figure: `features + 4 scores, ${par.workers} worker threads (contacts/s)`, value: parRate, goal: `≥ ${goal}`, met: parRate >= goal },
      { figure: 'features + 4 scores, one thread (contacts/s)', value: rate, goal: '', met: null },
      { figure: 'bare SQLite scan of the same rows (contacts/s)', value: scanned / scanS, goal: '', met: null },
      { figure: 'read + JSON parse only (contacts/s)', value: read / readS, goal: '', met: null },
      { figure: 'one-thread scoring time ÷ bare scan time', value: scoreS / scanS, goal: '', met: null },
      { figure: 'scoreContacts incl. saves + history + outbox (contacts/s)', value: saved.scored / saveS, goal: '', met: null },
      { figure: 'peak RSS (MB)', value: Math.round(peakRss / 1024 / 1024), goal: '≤ 300 (bounded)', met: peakRss / 1024 / 1024 <= 300 },
    ]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
