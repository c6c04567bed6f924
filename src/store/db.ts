import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DatabaseError, DatabaseFromFutureError } from '../errors.ts';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.ts';

export type Db = Database.Database;

/**
 * How long a statement waits for another connection's write lock. One-shot commands (sync, score,
 * train) can wait; a process serving HTTP lowers it (REQUEST_BUSY_TIMEOUT_MS) because
 * better-sqlite3 waits synchronously, on the event loop every request shares.
 */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;
export const REQUEST_BUSY_TIMEOUT_MS = 250;

/** The file holds contacts' personal data and encrypted tokens: owner-only. */
export const DB_FILE_MODE = 0o600;
export const DB_DIR_MODE = 0o700;

/**
 * Creates the directory (0700) and the file (0600) before SQLite does, so they never exist with
 * the umask's 0755/0644. SQLite creates `-wal` and `-shm` with the database file's permissions
 * (`robust_open` / `findCreateFileMode` in https://sqlite.org/src/file/src/os_unix.c), and an
 * existing file (and its `-wal`/`-shm`) written by an older Rapport is tightened here.
 */
function prepareFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: DB_DIR_MODE });
  if (!existsSync(path)) closeSync(openSync(path, 'a', DB_FILE_MODE));
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(f) && (statSync(f).mode & 0o077) !== 0) chmodSync(f, DB_FILE_MODE);
  }
}

/** Opens (creating if needed) the SQLite file in WAL mode and brings its schema up to date. */
export function openDatabase(path: string, opts: { busyTimeoutMs?: number } = {}): Db {
  let db: Db;
  try {
    if (path !== ':memory:' && path !== '') prepareFile(path);
    db = new Database(path);
  } catch (e) {
    // a folder that cannot be created or a file that cannot be opened: the path is the admin's to fix
    throw new DatabaseError('database_unavailable', `cannot open the SQLite file ${path} (RAPPORT_DB): ${(e as Error).message}`, undefined, { cause: e });
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  setBusyTimeout(db, opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS);
  try {
    migrate(db, path);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

export function setBusyTimeout(db: Db, ms: number): void {
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(ms))}`);
}

/** Applies pending migrations, each in its own transaction; refuses a newer database. */
export function migrate(db: Db, path = db.name, migrations: readonly string[] = MIGRATIONS): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new DatabaseFromFutureError(path, current, migrations.length);
  }
  for (let v = current; v < migrations.length; v++) {
    const sql = migrations[v]!;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return migrations.length;
}

export { SCHEMA_VERSION };

/** `rapport migrate` on a SQLite file: creates or brings it up to date; the version it had and has. */
export function migrateFile(path: string): { from: number; to: number } {
  let from = 0;
  if (existsSync(path)) {
    const db = new Database(path, { readonly: true });
    try {
      from = db.pragma('user_version', { simple: true }) as number;
    } finally {
      db.close();
    }
  }
  openDatabase(path).close();
  return { from, to: SCHEMA_VERSION };
}
