/**
 * The Postgres implementation of the store port (src/store/port.ts) over a `pg` pool: the same
 * behaviour as the SQLite one (test/contract/store-contract.ts runs on both). Each intent
 * operation (commitPage, saveScores, outbox.settle, models.saveAll, portals.install, …) runs in
 * one transaction on one pooled connection; single reads and writes go to the pool. Writers of
 * one portal in several processes take that portal's transaction-scoped advisory lock first
 * (https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS), so a page, a
 * score batch or a write-back outcome never interleaves with another one's read-then-write.
 */
import type { Cursor } from '../../connectors/types.ts';
import { DatabaseError, DatabaseFromFutureError } from '../../errors.ts';
import { OUTBOX_SENDING } from '../cursors.ts';
import type { Store } from '../port.ts';
import { migrate } from './migrations.ts';
import * as misc from './misc.ts';
import { enqueueAll, outboxReads, settleOutbox } from './outbox.ts';
import { createPool, redactUrl, withTransaction, type Pool, type PoolClient } from './pool.ts';
import { createPostgresPortals } from './portals.ts';
import { ALONE, groupCommit } from './group-commit.ts';
import { contactReads, isUniqueViolation, recordReads, tombstoneMissing, totalOf, upsertRecords, type PageEnd } from './records.ts';
import { saveScoreBatch, scoreReads } from './scores.ts';
import { statement } from './sql.ts';

export type PostgresStoreOptions = {
  /** postgres:// URL (RAPPORT_DATABASE_URL) */
  url: string;
  encryptionKey?: Buffer | undefined;
  previousEncryptionKey?: Buffer | undefined;
  /** injectable clock (epoch ms) */
  now?: () => number;
  /** connections (default 10; a worker thread's read-only store uses 2) */
  poolMax?: number;
  /** how long a transaction's statement waits for another writer's lock (default 5 s) */
  lockTimeoutMs?: number;
  /** a worker thread's store: read-only transactions, no migrations */
  readonly?: boolean;
  applicationName?: string;
  /**
   * Opens every connection of the pool once the schema is migrated and keeps them open however
   * long they idle (a worker). Passes come in bursts (a schedule's tick sends one for every
   * portal), and each stream of a pass starts with two reads: on connections the pool had closed
   * after 30 s idle, each new session (a server process forked, authenticated, its catalog caches
   * cold) held them up. bench:scale, 4 workers × 20 portals, the first burst: 175–222 ms on
   * average from a stream's start to its first request, 41 ms with the pool open.
   */
  keepConnectionsOpen?: boolean;
};

const DEFAULT_LOCK_TIMEOUT_MS = 5000;
/** Records per page of `records.iterate` (keyset paged: no cursor stays open between pages). */
const ITERATE_PAGE = 1000;

const asyncCommit = statement('async_commit', 'SET LOCAL synchronous_commit = off');
// A portal's advisory lock key, as every Rapport version computes it (so old and new processes
// exclude each other during a rolling upgrade), read once per portal and process: the lock itself
// is then taken with BEGIN, in the same round trip (withTransaction's advisoryLocks). As text: it
// spans all of int8, beyond the numbers this pool parses (pool.ts).
const portalLockKey = statement<{ key: string }>('portal_lock_key', "SELECT hashtextextended('rapport:portal:' || $1, 0)::text AS key");

// Try-locks of several portals, in the order given (pg_try_advisory_xact_lock: true when taken).
const tryPortalLocks = statement<{ ok: boolean }>(
  'try_portal_locks',
  'SELECT pg_try_advisory_xact_lock(k) AS ok FROM unnest($1::bigint[]) WITH ORDINALITY AS u(k, i) ORDER BY i',
);
/**
 * group-commit.ts: a group of pages stops growing at this many records, and this many groups
 * commit at once. Measured with bench:scale at 20 portals × 10,000 contacts, 1 worker with a slot
 * per portal (6 December, docs/deploy.md "Sizing"): 1 group at a time left a quarter of the cores
 * idle waiting for commits (ratio 0.64–0.67); 2, 3 and 4 kept them as busy as every page alone
 * did, and 2 and 3 cost the least Postgres CPU per record (1.73–2.07 CPU-s of sessions per CPU-s
 * of the sandbox, against 2.08–2.35 with every page alone; 4: 1.95–2.03).
 */
const GROUP_MAX_RECORDS = 2000;
const GROUPS_IN_FLIGHT = 2;

const LOADED_TABLES = ['records', 'associations', 'dirty_contacts'] as const;
/** The advisory lock (transaction-level) of the session analysing them. */
export const ANALYZE_LOCK = "hashtextextended('rapport:analyze', 0)";
/**
 * Within a transaction: ANALYZE the tables a backfill fills unless another session holds the
 * lock (it is analysing them now) or none of them changed by half its rows since its last
 * analysis (https://www.postgresql.org/docs/current/monitoring-stats.html#MONITORING-PG-STAT-ALL-TABLES-VIEW).
 * Returns whether it analysed.
 */
export async function analyzeIfDue(c: Pick<PoolClient, 'query'>): Promise<boolean> {
  const lock = await c.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock(${ANALYZE_LOCK}) AS ok`);
  if (lock.rows[0]?.ok !== true) return false;
  const due = await c.query<{ due: boolean }>(
    `SELECT coalesce(bool_or(coalesce(last_analyze, last_autoanalyze) IS NULL OR n_mod_since_analyze * 2 > n_live_tup), true) AS due
     FROM pg_stat_user_tables WHERE relid = ANY ($1::regclass[])`,
    [LOADED_TABLES],
  );
  if (due.rows[0]?.due !== true) return false;
  await c.query(`ANALYZE ${LOADED_TABLES.join(', ')}`);
  return true;
}

/**
 * Opens a store at `opts.url` after bringing its schema up to date (once, under the migration
 * lock: several processes may start together). Refuses a schema newer than this Rapport's.
 */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<Store> {
  const store = createPostgresStore(opts);
  try {
    if (opts.readonly !== true) await migrate(poolOf(store), opts.url);
    else await store.ping();
    if (opts.keepConnectionsOpen === true) await openAll(poolOf(store));
  } catch (e) {
    await store.close();
    // unreachable, refused credentials, no such database
    throw unavailable(e, opts.url);
  }
  return store;
}

/** Opens the pool's every connection (`max`), then returns them to it. */
async function openAll(pool: Pool): Promise<void> {
  const opened = await Promise.allSettled(Array.from({ length: pool.options.max }, () => pool.connect()));
  for (const o of opened) if (o.status === 'fulfilled') o.value.release();
  const failed = opened.find((o) => o.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/** `rapport migrate` on Postgres: applies pending migrations once (advisory lock); the version it had and has. */
export async function migratePostgres(url: string): Promise<{ from: number; to: number }> {
  const pool = createPool(url, { max: 1, statementTimeoutMs: 0, applicationName: 'rapport-migrate' });
  try {
    return await migrate(pool, url);
  } catch (e) {
    throw unavailable(e, url);
  } finally {
    await pool.end();
  }
}

/** A connection or credentials problem as one clear error (the URL without its password); a newer schema or too old a server as it is. */
function unavailable(e: unknown, url: string): Error {
  if (e instanceof DatabaseFromFutureError || e instanceof DatabaseError) return e;
  const reason = e instanceof Error ? e.message : String(e);
  return new DatabaseError('database_unavailable', `cannot open the Postgres database ${redactUrl(url)} (RAPPORT_DATABASE_URL): ${reason}`, undefined, { cause: e });
}

const pools = new WeakMap<Store, Pool>();
/** The pool under a store made here (its migrations); never outside src/store. */
export const poolOf = (store: Store): Pool => {
  const p = pools.get(store);
  if (p === undefined) throw new Error('not a Postgres store');
  return p;
};

/** A store over a pool, without migrating (read-only workers; openPostgresStore migrates first). */
export function createPostgresStore(opts: PostgresStoreOptions): Store {
  const now = opts.now ?? Date.now;
  const pool = createPool(opts.url, {
    max: opts.poolMax ?? (opts.readonly === true ? 2 : 10),
    applicationName: opts.applicationName ?? (opts.readonly === true ? 'rapport-reader' : 'rapport'),
    readOnly: opts.readonly === true,
    keepOpen: opts.keepConnectionsOpen === true,
  });
  let lockTimeoutMs = opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const tx = <T>(fn: (c: PoolClient) => Promise<T>) => withTransaction(pool, fn, { lockTimeoutMs });
  const lockKeys = new Map<string, bigint>();
  const lockKeyOf = async (portal: string): Promise<bigint> => {
    let key = lockKeys.get(portal);
    if (key === undefined) {
      key = BigInt((await portalLockKey(pool, [portal])).rows[0]!.key);
      lockKeys.set(portal, key);
    }
    return key;
  };
  /** one transaction holding the advisory lock of each portal it writes (sorted: no deadlock between two) */
  const locked = async <T>(portals: readonly string[], fn: (c: PoolClient) => Promise<T>) => {
    const keys = await Promise.all([...new Set(portals)].sort().map(lockKeyOf));
    return withTransaction(pool, fn, { lockTimeoutMs, advisoryLocks: keys });
  };
  const portals = createPostgresPortals(now, { current: opts.encryptionKey, previous: opts.previousEncryptionKey });

  /**
   * A backfill is a bulk load, after which Postgres advises ANALYZE
   * (https://www.postgresql.org/docs/current/populate.html#POPULATE-ANALYZE): until autovacuum's
   * first pass (a minute apart at the default autovacuum_naptime), a fresh deployment's tables
   * have no statistics, and the planner, seeing equal costs, found a page's existing links through
   * associations_to, reading every contact link of the portal for each record of the page (88 ms
   * a page at 80,000 links; with statistics it takes the primary key: 0.3 ms). So this process
   * analyses the tables a backfill fills after its 10th and 100th page, in the background, and
   * once for all the processes of a deployment: several workers
   * backfilling reach those pages together, and each ANALYZE cost ~160 ms of server CPU for the
   * same statistics (four of them, 0.64 of the 3.8 s of a 4-worker backfill in bench:scale). `analyzeIfDue` skips it
   * while another session analyses, and when nobody loaded half the rows again since the last
   * analysis (`n_mod_since_analyze`). A failure only leaves the statistics to autovacuum.
   * Not after the 1,000th: by then statistics exist, the plans above no longer change with them,
   * and autovacuum re-analyses a table once a tenth of it changed (autovacuum_analyze_scale_factor,
   * https://www.postgresql.org/docs/current/routine-vacuuming.html#VACUUM-FOR-STATISTICS); that
   * ANALYZE, halfway through bench:scale's 2,200 pages, sampled tables grown to 100,000 rows.
   */
  let pagesCommitted = 0;
  let analyzeAt = 10;
  let analyzing: Promise<unknown> = Promise.resolve();
  const analyzeAfterLoads = () => {
    if (analyzeAt > 100 || ++pagesCommitted < analyzeAt) return;
    analyzeAt *= 10;
    analyzing = tx((c) => analyzeIfDue(c)).catch(() => undefined);
  };

  type Page = Parameters<Store['commitPage']>[0];
  // the cursor and progress go with the last statement's dirty marks (records.ts, PageEnd)
  const endOf = (page: Page): PageEnd => ({ portal: page.portal, stream: page.stream, cursor: page.cursor, run: page.run });
  /**
   * Runs that started while their portal had no record of their type (misc.syncRuns.start): their
   * pages insert without ON CONFLICT (records.ts, `insert`), a stream's first pass over a new
   * portal being all new records. A record stored meanwhile (by another writer, or read twice by
   * the run) fails that insert with a unique violation: the page is written again with the upsert,
   * and the run upserts from then on. A hint of this process only: nothing depends on it but speed.
   */
  const unstoredRuns = new Set<number>();
  const unstored = (page: Page) => page.liveIds === undefined && unstoredRuns.has(page.run.id);
  const commitAloneAs = (page: Page, asUnstored: boolean) =>
    locked([page.portal, ...page.records.map((r) => r.portal)], async (c) => {
      const t = now();
      if (page.liveIds === undefined) return totalOf(await upsertRecords(c, page.records, t, [endOf(page)], { unstored: asUnstored }));
      const changed = totalOf(await upsertRecords(c, page.records, t));
      return changed + (await tombstoneMissing(c, page.portal, page.stream, page.liveIds, page.at ?? t, t, endOf(page)));
    });
  const commitAlone = async (page: Page): Promise<number> => {
    if (!unstored(page)) return commitAloneAs(page, false);
    try {
      return await commitAloneAs(page, true);
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      unstoredRuns.delete(page.run.id);
      return commitAloneAs(page, false);
    }
  };
  // Several portals' pages in one transaction. Their locks are tried, never waited for: a page
  // whose portal another session holds (a score batch, another process's page) leaves the group
  // and commits alone afterwards, waiting as commitAlone does, so it holds up no other portal.
  const commitTogether = async (pages: readonly Page[]) => {
    const keys = await Promise.all(pages.map((p) => lockKeyOf(p.portal)));
    return tx(async (c) => {
      const got = (await tryPortalLocks(c, [keys.map(String)])).rows.map((r) => r.ok);
      const mine = pages.filter((_, i) => got[i] === true);
      const asUnstored = mine.every(unstored);
      try {
        const changes = await upsertRecords(c, mine.flatMap((p) => p.records), now(), mine.map(endOf), { unstored: asUnstored });
        return pages.map((p, i) => (got[i] === true ? (changes.get(p.portal) ?? 0) : ALONE));
      } catch (e) {
        // the group fails and each page commits alone (group-commit.ts), with the upsert
        if (asUnstored && isUniqueViolation(e)) for (const p of mine) unstoredRuns.delete(p.run.id);
        throw e;
      }
    });
  };
  const commitPageGrouped = groupCommit<Page, number>({
    portalOf: (p) => p.portal,
    sizeOf: (p) => p.records.length,
    joinable: (p) => p.liveIds === undefined && p.records.every((r) => r.portal === p.portal),
    maxRecords: GROUP_MAX_RECORDS,
    maxInFlight: GROUPS_IN_FLIGHT,
    commit: commitTogether,
    commitAlone,
  });

  const store: Store = {
    location: { kind: 'postgres', url: opts.url },
    now,
    portals: {
      upsert: (p) => portals.upsert(pool, p),
      install: (p, tokens) =>
        tx(async (c) => {
          await portals.upsert(c, p);
          await portals.saveTokens(c, p.portal, tokens);
        }),
      get: (portal) => portals.get(pool, portal),
      list: () => portals.list(pool),
      markDisconnected: (portal, reason) => portals.setStatus(pool, portal, 'disconnected', reason),
      markConnected: (portal) => portals.setStatus(pool, portal, 'connected', null),
      saveTokens: (portal, tokens) => portals.saveTokens(pool, portal, tokens),
      tokens: (portal) => portals.tokens(pool, portal),
      keyCheck: () => portals.keyCheck(pool),
      resealAll: () => tx((c) => portals.resealAll(c)),
      hasTokens: () => portals.hasTokens(pool),
    },
    records: {
      upsertPage: async (page) => totalOf(await locked(page.map((r) => r.portal), (c) => upsertRecords(c, page, now()))),
      get: (portal, type, id) => recordReads.get(pool, portal, type, id),
      linkedToContact: (portal, contactId) => recordReads.linkedToContact(pool, portal, contactId),
      counts: (portal) => recordReads.counts(pool, portal),
      ids: (portal, type) => recordReads.ids(pool, portal, type),
      hasAny: (portal) => recordReads.hasAny(pool, portal),
      companies: (portal) => contactReads.companies(pool, portal),
      async *iterate(portal, type, includeDeleted = false) {
        for (let after = ''; ; ) {
          const page = await recordReads.page(pool, portal, type, after, ITERATE_PAGE, includeDeleted);
          yield* page;
          if (page.length < ITERATE_PAGE) return;
          after = page[page.length - 1]!.id;
        }
      },
    },
    contacts: {
      chunk: (portal, range, limit) => contactReads.chunk(pool, portal, range, limit),
      byIds: (portal, ids) => contactReads.byIds(pool, portal, ids),
      count: (portal, o) => contactReads.count(pool, portal, o),
      shareEnds: (portal, shares) => contactReads.shareEnds(pool, portal, shares),
    },
    cursors: {
      get: (portal, stream) => misc.cursors.get(pool, portal, stream),
      set: (portal, stream, cursor) => misc.cursors.set(pool, portal, stream, cursor, now()),
      clear: (portal, stream) => misc.cursors.clear(pool, portal, stream),
      list: (portal) => misc.cursors.list(pool, portal),
    },
    dirty: {
      peek: (portal, limit) => misc.dirty.peek(pool, portal, limit),
      clear: (portal, contactId, at) => misc.dirty.clear(pool, portal, contactId, at),
      mark: (portal, contactId, at) => misc.dirty.mark(pool, portal, contactId, at),
      count: (portal) => misc.dirty.count(pool, portal),
      // read first: most passes have none due, and need not wait for the portal's lock
      startFirstPass: async (portal) =>
        (await misc.dirty.firstPassDue(pool, portal)) ? locked([portal], (c) => misc.dirty.startFirstPass(c, portal, now())) : undefined,
      endFirstPass: (portal, startedAt) => misc.dirty.endFirstPass(pool, portal, startedAt),
    },
    scores: {
      get: (portal, contactId) => scoreReads.get(pool, portal, contactId),
      history: (portal, contactId, since) => scoreReads.history(pool, portal, contactId, since),
      count: (portal) => scoreReads.count(pool, portal),
      lastScoredAt: (portal) => scoreReads.lastScoredAt(pool, portal),
      portals: () => scoreReads.portals(pool),
      state: (portal) => scoreReads.state(pool, portal),
      bandCounts: (portal) => scoreReads.bandCounts(pool, portal),
      healthAsOf: (portal, at) => scoreReads.healthAsOf(pool, portal, at),
      histograms: (portal, width) => scoreReads.histograms(pool, portal, width),
      topChurnRisk: (portal, limit) => scoreReads.topChurnRisk(pool, portal, limit),
      clv: (portal) => scoreReads.clv(pool, portal),
    },
    outbox: {
      enqueue: async (portal, contactId, properties) =>
        (await locked([portal], (c) => enqueueAll(c, portal, [{ contactId, properties }], now())))[0] ?? 0,
      due: (portal, limit) => outboxReads.due(pool, portal, now(), limit),
      settle: (portal, outcome, o) => locked([portal], (c) => settleOutbox(c, portal, outcome, o, now())),
      setSending: (portal, sending) => (sending ? misc.cursors.set(pool, portal, OUTBOX_SENDING, '1' as Cursor, now()) : misc.cursors.clear(pool, portal, OUTBOX_SENDING)),
      sending: async (portal) => (await misc.cursors.get(pool, portal, OUTBOX_SENDING)) !== null,
      stats: (portal) => outboxReads.stats(pool, portal),
      parked: (portal, limit = 20) => outboxReads.parked(pool, portal, limit),
      requeueParked: (portal) => outboxReads.requeueParked(pool, portal, now()),
      parkedReasons: (portal) => outboxReads.parkedReasons(pool, portal),
      writtenCount: (portal) => outboxReads.writtenCount(pool, portal),
      lastWritten: (portal, contactId) => outboxReads.lastWritten(pool, portal, contactId),
    },
    webhookEvents: {
      rememberAll: (events) => misc.webhookEvents.rememberAll(pool, events, now()),
      // HubSpot retries for up to 24 h; keep ids a little longer than that (src/store/misc.ts)
      prune: (olderThanMs = 3 * 24 * 3600_000) => misc.webhookEvents.prune(pool, now() - olderThanMs),
    },
    syncRuns: {
      start: async (portal, stream) => {
        const run = await misc.syncRuns.start(pool, portal, stream, now());
        if (run.unstored) unstoredRuns.add(run.id);
        return run.id;
      },
      finish: (id, status, error) => {
        unstoredRuns.delete(id);
        return misc.syncRuns.finish(pool, id, status, now(), error);
      },
      latestPerStream: (portal) => misc.syncRuns.latestPerStream(pool, portal),
    },
    models: {
      saveAll: (portal, ms) => tx((c) => misc.models.saveAll(c, portal, ms)),
      latest: (portal, kind) => misc.models.latest(pool, portal, kind),
      get: (portal, kind, version) => misc.models.get(pool, portal, kind, version),
      versions: (portal, kind) => misc.models.versions(pool, portal, kind),
      unusedVersion: (portal, base) => misc.models.unusedVersion(pool, portal, base),
    },
    apiUsage: {
      record: (portal, calls, rateLimited) => misc.apiUsage.record(pool, portal, calls, rateLimited, now()),
      since: (portal, ms) => misc.apiUsage.since(pool, portal, ms, now()),
      prune: () => misc.apiUsage.prune(pool, now()),
    },
    commitPage: async (page) => {
      const n = await commitPageGrouped(page);
      analyzeAfterLoads();
      return n;
    },
    saveScores: (portal, batch, o) =>
      locked([portal], async (c) => {
        // Scores are derived data: this commit need not wait for its WAL flush
        // (https://www.postgresql.org/docs/current/wal-async-commit.html). A server crash may lose
        // the last such commits (at most 3 × wal_writer_delay), whole and in order, as if it had
        // come that much earlier in the pass: their dirty marks stay (they are rescored) and
        // nothing was written back from them that a later, synchronous commit did not make durable.
        await asyncCommit(c);
        return saveScoreBatch(c, portal, batch, o, now());
      }),
    ping: async () => {
      await pool.query('SELECT 1');
    },
    setLockTimeout: async (ms) => {
      lockTimeoutMs = ms;
    },
    close: async () => {
      await analyzing;
      if (!pool.ended) await pool.end();
    },
  };
  pools.set(store, pool);
  return store;
}
