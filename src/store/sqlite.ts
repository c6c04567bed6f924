/**
 * The SQLite implementation of the store port (port.ts). better-sqlite3 is synchronous: each
 * operation runs to completion (a multi-statement intent operation inside one SQLite transaction)
 * and its result is handed back as a settled Promise, so callers are written for an asynchronous
 * driver already.
 */
import Database from 'better-sqlite3';
import { createApiUsageRepo } from './api-usage.ts';
import { createContactsRepo } from './contacts.ts';
import type { Cursor } from '../connectors/types.ts';
import { createCursorsRepo, OUTBOX_SENDING } from './cursors.ts';
import { startBackgroundCheckpoints } from './checkpoints.ts';
import { openDatabase, setBusyTimeout, type Db } from './db.ts';
import { createDirtyRepo, createModelsRepo, createWebhookEventsRepo } from './misc.ts';
import { createOutboxRepo } from './outbox.ts';
import { outboxValues } from './outbox-diff.ts';
import { createPortalsRepo } from './portals.ts';
import type { Store } from './port.ts';
import { createRecordsRepo } from './records.ts';
import { createScoreQueries } from './score-queries.ts';
import { createScoresRepo, rowOf, type ScoreRow } from './scores.ts';
import { createSyncRunsRepo } from './sync-runs.ts';
import { yieldToEventLoop } from '../work/yield.ts';

export type SqliteStoreOptions = {
  path: string;
  encryptionKey?: Buffer | undefined;
  /** accepted for reading tokens while rotating keys (RAPPORT_ENCRYPTION_KEY_PREVIOUS) */
  previousEncryptionKey?: Buffer | undefined;
  /** how long a statement waits for another connection's write lock (default 5 s) */
  busyTimeoutMs?: number;
  /** injectable clock (epoch ms) */
  now?: () => number;
  /**
   * WAL checkpoints on a thread of their own (checkpoints.ts), for a process whose thread also
   * answers requests (`rapport serve`); `onCheckpointFailure` hears when that thread failed and
   * the connection went back to SQLite's automatic checkpoints.
   */
  backgroundCheckpoints?: boolean;
  onCheckpointFailure?: (e: Error) => void;
};

type Promised<T> = { [K in keyof T]: T[K] extends (...a: infer A) => infer R ? (...a: A) => Promise<R> : never };

/** The named synchronous methods of a repository, each returning its result (or throw) as a Promise. */
function promised<T extends object, K extends keyof T>(repo: T, ...keys: K[]): Promised<Pick<T, K>> {
  const out: Record<PropertyKey, unknown> = {};
  for (const k of keys) {
    const f = repo[k] as (...a: unknown[]) => unknown;
    out[k] = (...a: unknown[]) => {
      try {
        return Promise.resolve(f.apply(repo, a));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    };
  }
  return out as Promised<Pick<T, K>>;
}

/** Runs `fn` in one SQLite transaction, as a Promise (a throw rolls everything back). */
function inTransaction<T>(db: Db, fn: () => T): Promise<T> {
  try {
    return Promise.resolve(db.transaction(fn)());
  } catch (e) {
    return Promise.reject(e as Error);
  }
}

/**
 * Webhook event ids deduplicated per transaction, the thread yielded between two. The dedupe is
 * synchronous here (~5–10 µs an event): a backlog of 50 deliveries in one transaction held the
 * serving thread for tens of ms, and every delivery arriving meanwhile waited for its 200 (the
 * largest item of a CPU profile of the receiver while a portal trains, bench:webhooks). Five
 * deliveries' worth is a few ms.
 */
const REMEMBER_CHUNK = 500;

/** Records per page of `records.iterate` (keyset paged: no statement stays open between pages). */
const ITERATE_PAGE = 1000;

export function createSqliteStore(opts: SqliteStoreOptions): Store {
  const db = openDatabase(opts.path, opts.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: opts.busyTimeoutMs });
  const store = createStoreOn(db, opts);
  // (an in-memory or anonymous temporary database has no file another connection could open)
  if (opts.backgroundCheckpoints !== true || db.memory || opts.path === '') return store;
  const checkpoints = startBackgroundCheckpoints(db, opts.onCheckpointFailure === undefined ? {} : { onFailure: opts.onCheckpointFailure });
  return {
    ...store,
    // the thread's connection first: the last one to close removes the WAL
    close: async () => {
      await checkpoints.stop();
      await store.close();
    },
  };
}

/** A store over an open connection (tests that inspect the file, and read-only workers). */
export function createStoreOn(db: Db, opts: Omit<SqliteStoreOptions, 'path'> = {}): Store {
  const now = opts.now ?? Date.now;
  const portals = createPortalsRepo(db, now, { current: opts.encryptionKey, previous: opts.previousEncryptionKey });
  const records = createRecordsRepo(db, now);
  const contacts = createContactsRepo(db);
  const cursors = createCursorsRepo(db, now);
  const dirty = createDirtyRepo(db, now);
  const scores = createScoresRepo(db);
  const scoreQueries = createScoreQueries(db);
  const outbox = createOutboxRepo(db, now);
  const webhookEvents = createWebhookEventsRepo(db, now);
  const syncRuns = createSyncRunsRepo(db, now);
  const models = createModelsRepo(db);
  const apiUsage = createApiUsageRepo(db, now);
  const ping = db.prepare('SELECT 1');

  return {
    location: { kind: 'sqlite', path: db.name },
    now,
    portals: {
      ...promised(portals, 'upsert', 'get', 'list', 'markDisconnected', 'markConnected', 'saveTokens', 'tokens', 'keyCheck', 'hasTokens'),
      install: (p, tokens) =>
        inTransaction(db, () => {
          portals.upsert(p);
          portals.saveTokens(p.portal, tokens);
        }),
      resealAll: () => inTransaction(db, () => portals.resealAll()),
    },
    records: {
      ...promised(records, 'get', 'linkedToContact', 'counts', 'ids', 'hasAny'),
      upsertPage: (page) => inTransaction(db, () => records.upsertPage(page)),
      ...promised(contacts, 'companies'),
      async *iterate(portal, type, includeDeleted = false) {
        for (let after = ''; ; ) {
          const page = records.page(portal, type, after, ITERATE_PAGE, includeDeleted);
          yield* page;
          if (page.length < ITERATE_PAGE) return;
          after = (page[page.length - 1] as { id: string }).id;
        }
      },
    },
    contacts: promised(contacts, 'chunk', 'byIds', 'count', 'shareEnds'),
    cursors: promised(cursors, 'get', 'set', 'clear', 'list'),
    dirty: promised(dirty, 'peek', 'clear', 'mark', 'count', 'startFirstPass', 'endFirstPass'),
    scores: {
      ...promised(scores, 'get', 'history', 'count'),
      ...promised(scoreQueries, 'lastScoredAt', 'portals', 'state', 'bandCounts', 'healthAsOf', 'histograms', 'topChurnRisk', 'clv'),
    },
    outbox: {
      ...promised(outbox, 'enqueue', 'due', 'stats', 'parked', 'requeueParked', 'parkedReasons', 'writtenCount', 'lastWritten'),
      setSending: async (portal, sending) => (sending ? cursors.set(portal, OUTBOX_SENDING, '1' as Cursor) : cursors.clear(portal, OUTBOX_SENDING)),
      sending: async (portal) => cursors.get(portal, OUTBOX_SENDING) !== null,
      settle: (portal, outcome, o) =>
        inTransaction(db, () => {
          for (const item of outcome.written) outbox.markWritten(portal, item);
          for (const f of outcome.failed) outbox.markFailed(portal, f.item, f.error, { retryable: f.retryable, maxAttempts: o.maxAttempts });
        }),
    },
    webhookEvents: {
      rememberAll: async (events) => {
        // a transaction per chunk, the thread yielded in between (better-sqlite3 is synchronous:
        // see REMEMBER_CHUNK); a repeat in a later chunk meets the earlier one's row
        const out: boolean[] = [];
        for (let i = 0; i < events.length; i += REMEMBER_CHUNK) {
          if (i > 0) await yieldToEventLoop();
          out.push(...(await inTransaction(db, () => events.slice(i, i + REMEMBER_CHUNK).map((e) => webhookEvents.remember(e.portal, e.eventId)))));
        }
        return out;
      },
      ...promised(webhookEvents, 'prune'),
    },
    syncRuns: promised(syncRuns, 'start', 'finish', 'latestPerStream'),
    models: {
      ...promised(models, 'latest', 'get', 'versions', 'unusedVersion'),
      saveAll: (portal, ms) =>
        inTransaction(db, () => {
          for (const m of ms) models.save(portal, m);
        }),
    },
    apiUsage: promised(apiUsage, 'record', 'since', 'prune'),
    commitPage: (page) =>
      inTransaction(db, () => {
        let n = records.upsertPage(page.records);
        if (page.liveIds !== undefined) n += records.tombstoneMissing(page.portal, page.stream, page.liveIds, page.at ?? now());
        cursors.set(page.portal, page.stream, page.cursor);
        syncRuns.progress(page.run.id, page.run.pages, page.run.records);
        return n;
      }),
    saveScores: (portal, batch, o) =>
      inTransaction(db, () => {
        // serialised first (unless a worker thread did): a batch that cannot be stored fails before anything is written
        const rows = batch.map(rowOf);
        let enqueued = 0;
        batch.forEach(({ properties }, i) => {
          const s = rows[i] as ScoreRow;
          scores.save(portal, s);
          outbox.enqueue(portal, s.contactId, (written) => {
            const r = outboxValues(properties, written, o.volatile);
            if (r.isNew) enqueued++;
            return r.values;
          });
        });
        dirty.clearAll(portal, o.clearIds, o.readAt);
        return enqueued;
      }),
    ping: () =>
      Promise.resolve().then(() => {
        ping.get();
      }),
    setLockTimeout: (ms) =>
      Promise.resolve().then(() => {
        setBusyTimeout(db, ms);
      }),
    close: () =>
      Promise.resolve().then(() => {
        db.close();
      }),
  };
}

/** A read-only connection to an existing database (a worker thread's): no migrations, no writes. */
export function openReadonlySqlite(path: string): Store {
  return createStoreOn(new Database(path, { readonly: true, fileMustExist: true }));
}
