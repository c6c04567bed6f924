import pg from 'pg';
import { redactUrl } from './pool.ts';

/**
 * Named locks held by this process's own Postgres session: session-level advisory locks
 * (`pg_try_advisory_lock`, https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS,
 * functions at https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADVISORY-LOCKS).
 * The server releases them when the session ends, however it ends: a process killed -9 closes its
 * socket and its locks are free at once, so another process can take over without a timeout.
 *
 * One dedicated connection (not the store's pool: a pooled connection goes back to the pool, and
 * its session-level locks with it). When that connection is lost every lock is gone with it:
 * `onLost` says so at once, and the next call opens a new session holding nothing.
 */
export type SessionLocks = {
  /** takes the lock named `name` if no session holds it; true when this session holds it */
  tryAcquire(name: string): Promise<boolean>;
  release(name: string): Promise<void>;
  /** a round trip on the session; false when it was lost (every lock with it) */
  alive(): Promise<boolean>;
  /**
   * Sessions of this database with this session's application name, this one included: how many
   * processes share the locks out (pg_stat_activity,
   * https://www.postgresql.org/docs/current/monitoring-stats.html#MONITORING-PG-STAT-ACTIVITY-VIEW).
   */
  peers(): Promise<number>;
  close(): Promise<void>;
};

// a namespace of their own: the store's per-portal transaction locks hash 'rapport:portal:…'
const KEY = "hashtextextended('rapport:session-lock:' || $1, 0)";

export function createSessionLocks(url: string, opts: { applicationName?: string; onLost?: (reason: string) => void } = {}): SessionLocks {
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let closed = false;
  const held = new Set<string>();
  const applicationName = opts.applicationName ?? 'rapport-locks';

  const lost = (c: pg.Client, reason: string) => {
    if (client !== c) return;
    client = undefined;
    connecting = undefined;
    held.clear();
    c.end().catch(() => undefined);
    opts.onLost?.(reason);
  };
  const session = (): Promise<pg.Client> => {
    if (closed) return Promise.reject(new Error('session locks closed'));
    if (client !== undefined) return Promise.resolve(client);
    connecting ??= (async () => {
      // keepAlive: a peer that vanished without closing (a lost network) is noticed by TCP
      const c = new pg.Client({ connectionString: url, application_name: applicationName, keepAlive: true, connectionTimeoutMillis: 10_000 });
      c.on('error', (e: Error) => lost(c, e.message));
      c.on('end', () => lost(c, 'connection ended'));
      try {
        await c.connect();
      } catch (e) {
        connecting = undefined;
        throw new Error(`session locks: cannot connect to ${redactUrl(url)}: ${(e as Error).message}`, { cause: e });
      }
      client = c;
      return c;
    })();
    return connecting;
  };

  // one statement at a time on the session (pg deprecates overlapping queries on one client)
  let queue: Promise<unknown> = Promise.resolve();
  const query = <R extends pg.QueryResultRow>(c: pg.Client, q: pg.QueryConfig): Promise<pg.QueryResult<R>> => {
    const r = queue.then(() => c.query<R>(q));
    queue = r.catch(() => undefined);
    return r;
  };

  return {
    async tryAcquire(name) {
      if (held.has(name)) return true;
      const c = await session();
      const r = await query<{ ok: boolean }>(c, { name: 'session_lock_try', text: `SELECT pg_try_advisory_lock(${KEY}) AS ok`, values: [name] });
      if (r.rows[0]?.ok === true) held.add(name);
      return held.has(name);
    },
    async release(name) {
      if (!held.delete(name) || client === undefined) return;
      await query(client, { name: 'session_lock_release', text: `SELECT pg_advisory_unlock(${KEY})`, values: [name] });
    },
    async alive() {
      if (client === undefined) return false;
      try {
        await query(client, { text: 'SELECT 1' });
        return client !== undefined;
      } catch {
        return false;
      }
    },
    async peers() {
      const c = await session();
      const r = await query<{ n: number }>(c, {
        name: 'session_lock_peers',
        text: 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
        values: [applicationName],
      });
      return Math.max(1, r.rows[0]?.n ?? 1);
    },
    async close() {
      closed = true;
      const c = client;
      client = undefined;
      held.clear();
      // ending the session releases every lock it holds
      await c?.end().catch(() => undefined);
    },
  };
}
