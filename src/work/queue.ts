/**
 * The job queue of a deployment with several processes (issue 16, docs/ARCHITECTURE.md "Many
 * processes"): web processes answer webhooks and only enqueue, worker processes run the jobs.
 * Built on pg-boss (https://github.com/timgit/pg-boss, docs at https://pgboss.io): jobs are rows
 * in the same PostgreSQL the store uses, claimed with SKIP LOCKED, so the queue needs no other
 * server and survives any process. Chosen over graphile-worker because its queue policies give
 * the two guarantees Rapport needs as data, not code: per portal at most one sync job queued and
 * one running (policy `stately` with the portal as singleton key; https://pgboss.io/api/queues),
 * which is what coalesces a burst of webhooks into one pending pass and keeps a portal's
 * per-account rate limit in one process at a time; and dead-letter queues for jobs out of retries.
 *
 * A sync job is a whole pass for its portal: every stream incrementally, then scoring, then
 * write-back (src/sync/daemon.ts `runOnce`). It carries no stream list: a request arriving while
 * one is queued is coalesced into it, and a pass over every stream from its cursor costs a few
 * calls when little changed, so nothing a webhook asked for can be dropped.
 *
 * A new sync job wakes an idle worker at once: the sync queue is notify-enabled (every insert
 * sends a NOTIFY, whoever inserts) and each worker process holds pg-boss's LISTEN connection (https://pgboss.io/api/constructor
 * `useListenNotify`, https://pgboss.io/api/queues `notify`), so a webhook's nudge starts a pass in
 * milliseconds rather than after a polling interval (2 s by default). Polling stays as the floor,
 * at the same interval: a job that becomes runnable without an insert (a retry's delay ends, the
 * pass queued behind a running one) is found by it, and so is every job when the listener cannot
 * be held (PgBouncer in transaction mode: pg-boss warns and polls).
 *
 * A worker that dies (kill -9, lost machine) stops sending heartbeats; after `heartbeatSeconds`
 * pg-boss fails the job and it is retried by another worker. Retries back off exponentially; a
 * job out of retries moves to the dead-letter queue, which `rapport status` lists.
 */
import pg from 'pg';
import { PgBoss, type Clock } from 'pg-boss';
import type { Logger } from '../log.ts';

export const SYNC_QUEUE = 'rapport-sync';
export const FAILED_QUEUE = 'rapport-sync-failed';
const TICK_QUEUE = 'rapport-tick';
/**
 * Records a webhook asked to re-read (association changes, which no incremental query sees). Not
 * worked on its own: the portal's next sync job takes the requests queued for it (`findJobs` by
 * portal) and completes them after its pass, so they survive coalescing and a dead worker alike.
 */
const REFRESH_QUEUE = 'rapport-refresh';

export type SyncJobData = { portal: string };
export type RefreshRequest = { type: string; ids: string[] };
type RefreshJobData = RefreshRequest & { portal: string };
/** one sync request per portal per this many ms leaves a process (see coalesce) */
const COALESCE_MS = 100;

export type FailedJob = { portal: string; id: string; failedAt: number; error: string | null };

export type QueueOptions = {
  url: string;
  logger: Logger;
  /** pg-boss's schema (default `pgboss`); tests use one per file */
  schema?: string;
  /** a running job without a heartbeat for this long is failed and retried (pg-boss minimum 10) */
  heartbeatSeconds?: number;
  /** attempts after the first before a job goes to the dead-letter queue */
  retryLimit?: number;
  /** first retry delay in seconds (doubling, with jitter) */
  retryDelaySeconds?: number;
  /** how often an idle worker looks for jobs (pg-boss minimum 0.5 s) */
  pollingIntervalSeconds?: number;
  /** how often pg-boss looks for jobs whose heartbeat stopped (its supervise and monitor passes; default 15 s) */
  monitorIntervalSeconds?: number;
  /** hold a LISTEN connection so that new jobs wake this process's workers at once (worker processes; a process that only enqueues needs none) */
  listen?: boolean;
  /** only read (`rapport status`): no maintenance, no schedules, no schema changes */
  readOnly?: boolean;
  /** pg-boss's source of time for its polls, schedules and job times (tests drive a TestClock) */
  clock?: Clock;
};

export type JobQueue = {
  /**
   * Asks for a pass over a portal, re-reading `refresh` records first. False when one is already
   * queued: this request joins it (its records too).
   */
  requestSync(portal: string, refresh?: RefreshRequest): Promise<boolean>;
  /** Asks for a pass over each of `portals` at once (a schedule's tick): the number it queued; a portal with a pass queued already gets none more. */
  requestPasses(portals: readonly string[]): Promise<number>;
  /**
   * Runs sync jobs in this process, up to `concurrency` at once (never two of one portal in the
   * whole deployment). A job whose `run` throws is retried, then dead-lettered.
   */
  work(run: (portal: string, refresh: RefreshRequest[], signal: AbortSignal) => Promise<void>, opts: { concurrency: number }): Promise<void>;
  /**
   * Every `everyMinutes`, a pass over each portal `portals()` returns: one schedule for the whole
   * deployment however many workers register it (pg-boss keeps schedules in the database).
   */
  schedulePasses(everyMinutes: number, portals: () => Promise<string[]>): Promise<void>;
  /** Sync jobs out of retries, newest first. */
  failed(limit?: number): Promise<FailedJob[]>;
  /** Queued and running sync jobs. */
  counts(): Promise<{ queued: number; active: number }>;
  /** One portal's jobs: queued and running passes, and its passes out of retries (newest first). */
  portalJobs(portal: string): Promise<{ queued: number; active: number; failed: FailedJob[] }>;
  /** Sync requests this process has sent to the database (after coalescing). */
  sent(): number;
  /** Stops working (running jobs finish first, up to `timeoutMs`) and closes the connections. */
  stop(timeoutMs?: number): Promise<void>;
};

export async function createJobQueue(opts: QueueOptions): Promise<JobQueue> {
  const boss = new PgBoss({
    connectionString: opts.url,
    max: 4,
    useListenNotify: opts.listen === true && opts.readOnly !== true,
    ...(opts.schema === undefined ? {} : { schema: opts.schema }),
    ...(opts.clock === undefined ? {} : { clock: opts.clock }),
    ...(opts.readOnly === true ? { supervise: false, schedule: false, migrate: false, createSchema: false } : {}),
    // a dead worker's job is failed by the supervise pass that runs the monitor (pg-boss default 60 s)
    superviseIntervalSeconds: opts.monitorIntervalSeconds ?? monitorDefault(opts.heartbeatSeconds),
    monitorIntervalSeconds: opts.monitorIntervalSeconds ?? monitorDefault(opts.heartbeatSeconds),
  });
  boss.on('error', (e: Error) => opts.logger.error({ err: e.message }, 'job queue error'));
  // pg-boss's operational warnings (https://pgboss.io/api/events): among them the listener that
  // could not be held, after which workers wake by polling only
  boss.on('warning', (w: { message: string }) => opts.logger.warn({ err: w.message }, 'job queue warning'));
  // pg-boss installs or migrates its own schema once, under its own advisory lock: several
  // processes may start together (https://pgboss.io/api/constructor)
  await boss.start();
  const heartbeatSeconds = Math.max(10, opts.heartbeatSeconds ?? 30);
  if (opts.readOnly !== true) await ensureQueues(boss, heartbeatSeconds, opts);
  const polling = Math.max(0.5, opts.pollingIntervalSeconds ?? 2);

  // `rapport status` reads the job table itself (pg-boss's documented `job` table, partitioned by
  // queue name: https://pgboss.io/api/jobs): the cached queue counts lag by a monitor interval, and
  // findJobs would load every retained completed job of the week to count the few live ones. The
  // live-state filter matches pg-boss's own partial index on (name, state) for live jobs.
  const schema = pg.escapeIdentifier(opts.schema ?? 'pgboss');
  const sql = <R>(text: string, values: unknown[]) => boss.getDb().executeSql(text, values) as Promise<{ rows: R[] }>;

  async function failed(limit: number, portal?: string): Promise<FailedJob[]> {
    // a dead letter carries its original's final output (source_output), which outlives the original
    const dead = await sql<{ id: string; portal: string; failed_at: Date; output: unknown; source_output: unknown }>(
      `SELECT id, data->>'portal' AS portal, created_on AS failed_at, output, source_output FROM ${schema}.job
       WHERE name = $1 ${portal === undefined ? '' : "AND data->>'portal' = $3"} ORDER BY created_on DESC, id DESC LIMIT $2`,
      portal === undefined ? [FAILED_QUEUE, limit] : [FAILED_QUEUE, limit, portal],
    );
    return dead.rows.map((j) => ({ portal: j.portal, id: j.id, failedAt: new Date(j.failed_at).getTime(), error: errorOf(j.source_output ?? j.output) }));
  }
  async function counts(key?: string): Promise<{ queued: number; active: number }> {
    const r = await sql<{ queued: string; active: string }>(
      `SELECT count(*) FILTER (WHERE state < 'active') AS queued, count(*) FILTER (WHERE state = 'active') AS active
       FROM ${schema}.job WHERE name = $1 AND state < 'completed' ${key === undefined ? '' : 'AND singleton_key = $2'}`,
      key === undefined ? [SYNC_QUEUE] : [SYNC_QUEUE, key],
    );
    return { queued: Number(r.rows[0]?.queued ?? 0), active: Number(r.rows[0]?.active ?? 0) };
  }

  /**
   * At most one send per portal per COALESCE_MS from this process: a webhook burst (500
   * deliveries/s for one account) would otherwise cost a database round trip per delivery for a
   * job the queue then drops. The first request sends at once; requests during the window share
   * one more send at its end, so a pass is always requested after the latest change.
   */
  type Window = { trailing: Promise<boolean> | undefined; fire: (() => void) | undefined; timer: NodeJS.Timeout };
  const windows = new Map<string, Window>();
  let sent = 0;
  const send = async (portal: string) => {
    sent++;
    return (await boss.send(SYNC_QUEUE, { portal } satisfies SyncJobData, { singletonKey: portal })) !== null;
  };
  function openWindow(portal: string): void {
    const w: Window = { trailing: undefined, fire: undefined, timer: setTimeout(() => close(portal, w), COALESCE_MS) };
    windows.set(portal, w);
  }
  function close(portal: string, w: Window): void {
    clearTimeout(w.timer);
    if (windows.get(portal) === w) windows.delete(portal);
    if (w.fire === undefined) return;
    // the trailing send opens a window of its own
    openWindow(portal);
    w.fire();
  }
  function coalesce(portal: string): Promise<boolean> {
    const open = windows.get(portal);
    if (open !== undefined) {
      open.trailing ??= new Promise<boolean>((resolve, reject) => (open.fire = () => void send(portal).then(resolve, reject)));
      return open.trailing;
    }
    openWindow(portal);
    return send(portal);
  }

  // every portal's pass in one statement (https://pgboss.io/api/jobs `insert`: the queue's options
  // apply as for `send`, and a portal whose pass is queued already is skipped as its singleton):
  // one round trip and one wake-up for the workers, where a send per portal made as many of each,
  // and the passes start together instead of over the sends' duration
  async function requestPasses(portals: readonly string[]): Promise<number> {
    if (portals.length === 0) return 0;
    sent++;
    return (await boss.insert(SYNC_QUEUE, portals.map((portal) => ({ data: { portal } satisfies SyncJobData, singletonKey: portal })), { returnId: true }))?.length ?? 0;
  }

  return {
    requestPasses,
    async requestSync(portal, refresh) {
      if (refresh !== undefined && refresh.ids.length > 0) await boss.send(REFRESH_QUEUE, { portal, ...refresh } satisfies RefreshJobData);
      return coalesce(portal);
    },
    async work(run, { concurrency }) {
      await boss.work<SyncJobData>(SYNC_QUEUE, { localConcurrency: Math.max(1, concurrency), batchSize: 1, pollingIntervalSeconds: polling, notifyPollingIntervalSeconds: polling }, async ([job]) => {
        if (job === undefined) return;
        const log = opts.logger.child({ portal: job.data.portal, job: job.id, attempt: job.retryCount + 1 });
        log.info({}, 'sync job started');
        try {
          const asked = await boss.findJobs<RefreshJobData>(REFRESH_QUEUE, { data: { portal: job.data.portal }, queued: true });
          await run(job.data.portal, asked.map((j) => ({ type: j.data.type, ids: j.data.ids })), job.signal);
          // only after the pass: a worker dying mid-pass leaves them for the next one
          if (asked.length > 0) await boss.deleteJob(REFRESH_QUEUE, asked.map((j) => j.id));
          log.info({}, 'sync job done');
        } catch (e) {
          log.warn({ err: (e as Error).message }, 'sync job failed; it is retried with backoff');
          throw e;
        }
      });
    },
    async schedulePasses(everyMinutes, portals) {
      // A tick each minute, sent at most once per interval: pg-boss throttling (`singletonSeconds`,
      // one job per slot of that many seconds, slots counted from the epoch:
      // https://pgboss.io/api/jobs). A cron step alone
      // (`*/n`) fires at the minutes divisible by n: 45 ticked at :00 and :45 (45, then 15 minutes
      // apart), 59 at :59 and :00, and an interval over an hour could not be said at all.
      const n = Math.max(1, Math.round(everyMinutes));
      await boss.schedule(TICK_QUEUE, '* * * * *', null, n === 1 ? {} : { singletonSeconds: n * 60 });
      await boss.work(TICK_QUEUE, { pollingIntervalSeconds: polling }, async () => {
        await requestPasses(await portals());
      });
    },
    failed: (limit = 50) => failed(limit),
    sent: () => sent,
    counts: () => counts(),
    async portalJobs(portal) {
      return { ...(await counts(portal)), failed: await failed(20, portal) };
    },
    async stop(timeoutMs = 30_000) {
      // requests still waiting for their window are sent, not dropped
      const trailing = [...windows].map(([portal, w]) => {
        close(portal, w);
        return w.trailing;
      });
      await Promise.allSettled(trailing);
      for (const w of windows.values()) clearTimeout(w.timer);
      await boss.stop({ graceful: true, timeout: timeoutMs, close: true });
    },
  };
}

/** The queues, created by the first process that starts (their policies cannot change in place). */
async function ensureQueues(boss: PgBoss, heartbeatSeconds: number, opts: QueueOptions): Promise<void> {
  await ensureQueue(boss, FAILED_QUEUE, { policy: 'standard' });
  await ensureQueue(boss, SYNC_QUEUE, {
    policy: 'stately',
    deadLetter: FAILED_QUEUE,
    retryLimit: opts.retryLimit ?? 5,
    retryDelay: opts.retryDelaySeconds ?? 10,
    retryBackoff: true,
    retryDelayMax: 3600,
    heartbeatSeconds,
    // a backfill of a large portal takes hours: the heartbeat, not the expiry, tells a dead worker
    expireInSeconds: 24 * 3600,
    notify: true,
  });
  // a queue created before it was notify-enabled: the one option that changes in place
  if ((await boss.getQueue(SYNC_QUEUE))?.notify === false) await boss.updateQueue(SYNC_QUEUE, { notify: true });
  await ensureQueue(boss, TICK_QUEUE, { policy: 'short' });
  await ensureQueue(boss, REFRESH_QUEUE, { policy: 'standard' });
}

/** Looking for lapsed heartbeats at least twice per heartbeat interval, at most every 15 s. */
const monitorDefault = (heartbeatSeconds = 30) => Math.max(1, Math.min(15, Math.floor(heartbeatSeconds / 2)));

/** Creates a queue once; a later start keeps it as it is (its policy cannot change in place). */
async function ensureQueue(boss: PgBoss, name: string, options: Parameters<PgBoss['createQueue']>[1]): Promise<void> {
  if ((await boss.getQueue(name)) !== null) return;
  try {
    await boss.createQueue(name, options);
  } catch (e) {
    // another process created it between our look and our create
    if ((await boss.getQueue(name)) === null) throw e;
  }
}

function errorOf(output: unknown): string | null {
  if (output !== null && typeof output === 'object' && 'message' in output && typeof output.message === 'string') return output.message;
  return null;
}
