/**
 * The store: the port (port.ts) every consumer depends on, and its SQLite implementation.
 * Consumers take narrow `Pick<Store, …>` types; only `src/store` sees SQL.
 */
import type { Store, StoreLocation } from './port.ts';
import { migrateFile } from './db.ts';
import { createPostgresStore, migratePostgres, openPostgresStore } from './postgres/store.ts';
import { createSqliteStore, openReadonlySqlite, type SqliteStoreOptions } from './sqlite.ts';

export type * from './port.ts';
export { DEFAULT_BUSY_TIMEOUT_MS, REQUEST_BUSY_TIMEOUT_MS } from './db.ts';
export { createSessionLocks, type SessionLocks } from './postgres/session-locks.ts';
export type StoreOptions = SqliteStoreOptions;

/** Opens (creating and migrating if needed) the SQLite store at `opts.path`. */
export function createStore(opts: StoreOptions): Store {
  return createSqliteStore(opts);
}

/**
 * Opens the store at a location another thread posted (`store.location`). `readonly` opens a
 * connection that never writes nor migrates (worker threads: the main thread is the only writer).
 */
export function openStore(location: StoreLocation, opts: { readonly: true } | ({ readonly?: false } & Omit<StoreOptions, 'path'>)): Store {
  if (location.kind === 'postgres') {
    // the location is an open store's: its schema is migrated already; a thread gets its own pool
    if (opts.readonly === true) return createPostgresStore({ url: location.url, readonly: true });
    const { readonly: _readonly, busyTimeoutMs, backgroundCheckpoints: _b, onCheckpointFailure: _f, ...rest } = opts;
    return createPostgresStore({ ...rest, url: location.url, ...(busyTimeoutMs === undefined ? {} : { lockTimeoutMs: busyTimeoutMs }) });
  }
  if (opts.readonly === true) return openReadonlySqlite(location.path);
  const { readonly: _readonly, ...rest } = opts;
  return createSqliteStore({ ...rest, path: location.path });
}

/** Where the configuration puts the store: Postgres when RAPPORT_DATABASE_URL is set, else the SQLite file RAPPORT_DB. */
export function configuredLocation(config: { dbPath: string; databaseUrl?: string | undefined }): StoreLocation {
  return config.databaseUrl === undefined ? { kind: 'sqlite', path: config.dbPath } : { kind: 'postgres', url: config.databaseUrl };
}

/**
 * Opens the configured store, migrating its schema: the SQLite file, or a Postgres database
 * (migrations applied once under an advisory lock, so processes may start together).
 */
export async function connectStore(
  config: { dbPath: string; databaseUrl?: string | undefined },
  opts: Omit<StoreOptions, 'path'> & { applicationName?: string; keepConnectionsOpen?: boolean } = {},
): Promise<Store> {
  const location = configuredLocation(config);
  if (location.kind === 'sqlite') {
    const { applicationName: _name, keepConnectionsOpen: _open, ...rest } = opts;
    return createSqliteStore({ ...rest, path: location.path });
  }
  // Postgres checkpoints in its own processes
  const { busyTimeoutMs, backgroundCheckpoints: _b, onCheckpointFailure: _f, ...rest } = opts;
  return openPostgresStore({ ...rest, url: location.url, ...(busyTimeoutMs === undefined ? {} : { lockTimeoutMs: busyTimeoutMs }) });
}

/** `rapport migrate`: brings the configured store's schema up to date; where, and the versions before and after. */
export async function migrateConfigured(config: { dbPath: string; databaseUrl?: string | undefined }): Promise<{ kind: StoreLocation['kind']; from: number; to: number }> {
  const location = configuredLocation(config);
  if (location.kind === 'sqlite') return { kind: 'sqlite', ...migrateFile(location.path) };
  return { kind: 'postgres', ...(await migratePostgres(location.url)) };
}

export { copySqliteToPostgres, type CopyResult } from './copy.ts';
export { redactUrl } from './postgres/pool.ts';
