import { createApiUsageRepo } from './api-usage.ts';
import { createCursorsRepo } from './cursors.ts';
import { openDatabase, type Db } from './db.ts';
import { createDirtyRepo, createModelsRepo, createWebhookEventsRepo } from './misc.ts';
import { createOutboxRepo } from './outbox.ts';
import { createPortalsRepo } from './portals.ts';
import { createRecordsRepo } from './records.ts';
import { createScoresRepo } from './scores.ts';
import { createSyncRunsRepo } from './sync-runs.ts';

export type StoreOptions = {
  path: string;
  encryptionKey?: Buffer | undefined;
  /** accepted for reading tokens while rotating keys (RAPPORT_ENCRYPTION_KEY_PREVIOUS) */
  previousEncryptionKey?: Buffer | undefined;
  /** how long a statement waits for another connection's write lock (default 5 s) */
  busyTimeoutMs?: number;
  /** injectable clock (epoch ms) */
  now?: () => number;
};

/** The store: plain repositories over prepared statements, plus a synchronous transaction. */
export function createStore(opts: StoreOptions) {
  const db = openDatabase(opts.path, opts.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: opts.busyTimeoutMs });
  return createStoreOn(db, opts);
}

export function createStoreOn(db: Db, opts: Omit<StoreOptions, 'path'> = {}) {
  const now = opts.now ?? Date.now;
  return {
    db,
    now,
    portals: createPortalsRepo(db, now, { current: opts.encryptionKey, previous: opts.previousEncryptionKey }),
    records: createRecordsRepo(db, now),
    cursors: createCursorsRepo(db, now),
    dirty: createDirtyRepo(db),
    scores: createScoresRepo(db),
    outbox: createOutboxRepo(db, now),
    webhookEvents: createWebhookEventsRepo(db, now),
    syncRuns: createSyncRunsRepo(db, now),
    models: createModelsRepo(db),
    apiUsage: createApiUsageRepo(db, now),
    /** Runs `fn` in one SQLite transaction; `fn` must be synchronous (no await inside). */
    transaction<T>(fn: () => T): T {
      return db.transaction(fn)();
    },
    close(): void {
      db.close();
    },
  };
}

export type Store = ReturnType<typeof createStore>;
