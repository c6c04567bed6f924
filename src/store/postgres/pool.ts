import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export type PoolOptions = {
  /** connections per process (default 10: a worker or server process rarely runs more queries at once) */
  max?: number;
  /** a statement running longer is cancelled by the server (default 30 s); 0 disables it */
  statementTimeoutMs?: number;
  /** shown in `pg_stat_activity.application_name`, so an operator can tell serve from worker */
  applicationName?: string;
  /**
   * An idle pooled connection failed (server restart, network drop). The pool has already
   * discarded it and opens a new one on the next query; without a listener, node-postgres'
   * `error` event would crash the process (https://node-postgres.com/apis/pool#error).
   */
  onIdleError?: (e: Error) => void;
  /**
   * Every transaction of every connection is read-only (`default_transaction_read_only`,
   * https://www.postgresql.org/docs/current/runtime-config-client.html): a worker thread's store
   * cannot write, as SQLite's read-only connection cannot.
   */
  readOnly?: boolean;
  /** an idle connection above `keepOpen`'s is closed after this long (default 30 s) */
  idleTimeoutMs?: number;
  /** idle connections are never closed (pg-pool's `min` at `max`): see PostgresStoreOptions.keepConnectionsOpen */
  keepOpen?: boolean;
};

const PROTOCOLS = new Set(['postgres:', 'postgresql:']);

/** `postgres://user:***@host:port/db`: for messages, never the password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable database URL)';
  }
}

/**
 * BIGINT (int8, OID 20) comes back as a string by default because it can exceed 2^53
 * (https://node-postgres.com/features/types). Ours are epoch milliseconds and counts, far below
 * it: parse them as numbers, and fail rather than round if one ever is not.
 */
const INT8_OID = 20;
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`BIGINT ${text} is beyond Number.MAX_SAFE_INTEGER`);
  return n;
}
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** A pool over a `postgres://` (or `postgresql://`) URL. Connections open lazily, on first query. */
export function createPool(url: string, opts: PoolOptions = {}): Pool {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new Error(`not a database URL: ${redactUrl(url)}`);
  }
  if (!PROTOCOLS.has(protocol)) throw new Error(`a Postgres URL starts with postgres:// or postgresql://, not ${protocol}//`);
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    ...(opts.keepOpen === true ? { min: opts.max ?? 10 } : {}),
    statement_timeout: opts.statementTimeoutMs ?? 30_000,
    // a transaction left open by a crashed request would hold its row locks for ever
    idle_in_transaction_session_timeout: 60_000,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: opts.idleTimeoutMs ?? 30_000,
    application_name: opts.applicationName ?? 'rapport',
    ...(opts.readOnly === true ? { options: '-c default_transaction_read_only=on' } : {}),
    types,
  });
  pool.on('error', opts.onIdleError ?? (() => undefined));
  return pool;
}

/**
 * Runs `fn` in one transaction on one pooled connection: COMMIT when it resolves, ROLLBACK when
 * it throws (the error is rethrown). A connection whose ROLLBACK failed is destroyed, not
 * returned to the pool in an unknown state. `advisoryLocks`: transaction-level advisory locks
 * taken in this order before `fn` runs.
 */
export async function withTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
  opts: { lockTimeoutMs?: number; advisoryLocks?: readonly bigint[] } = {},
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    // how long a statement of this transaction waits for a lock another one holds (rows, or an
    // advisory lock), and the advisory locks: one round trip with BEGIN, as a simple-protocol
    // query of several. Both are numbers made here (a bigint prints as digits and a sign only),
    // never text from outside, which would go as a parameter.
    const ms = opts.lockTimeoutMs === undefined ? undefined : Math.max(0, Math.trunc(opts.lockTimeoutMs));
    const begin = ['BEGIN', ...(ms === undefined ? [] : [`SET LOCAL lock_timeout = ${ms}`]), ...(opts.advisoryLocks ?? []).map((k) => `SELECT pg_advisory_xact_lock(${BigInt.asIntN(64, k)})`)];
    await client.query(begin.join('; '));
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      broken = rollbackError as Error;
    }
    throw e;
  } finally {
    client.release(broken);
  }
}
