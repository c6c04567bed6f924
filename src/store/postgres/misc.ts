import type { Cursor } from '../../connectors/types.ts';
import type { StoredModel, SyncRun } from '../port.ts';
import { OUTBOX_SENDING } from '../cursors.ts';
import { statement, type Queryable } from './sql.ts';

/**
 * Cursors, dirty marks, webhook ids, sync runs, models and API usage on Postgres: the rules of
 * src/store/cursors.ts, misc.ts, sync-runs.ts and api-usage.ts, one statement each (a sync
 * page's cursor and progress go with its records' last statement: PageEnd in records.ts).
 */

const cursorGet = statement<{ cursor: string }>('cursors_get', 'SELECT cursor FROM cursors WHERE portal = $1 AND stream = $2');
const cursorSet = statement(
  'cursors_set',
  `INSERT INTO cursors (portal, stream, cursor, updated_at) VALUES ($1, $2, $3, $4)
   ON CONFLICT (portal, stream) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
);
const cursorDel = statement('cursors_clear', 'DELETE FROM cursors WHERE portal = $1 AND stream = $2');
const cursorAll = statement<{ stream: string; cursor: string; updated_at: number }>(
  'cursors_list',
  `SELECT stream, cursor, updated_at FROM cursors WHERE portal = $1 AND stream <> '${OUTBOX_SENDING}' ORDER BY stream`,
);

export const cursors = {
  async get(q: Queryable, portal: string, stream: string): Promise<Cursor | null> {
    return ((await cursorGet(q, [portal, stream])).rows[0]?.cursor as Cursor | undefined) ?? null;
  },
  async set(q: Queryable, portal: string, stream: string, cursor: Cursor, t: number): Promise<void> {
    await cursorSet(q, [portal, stream, cursor, t]);
  },
  async clear(q: Queryable, portal: string, stream: string): Promise<void> {
    await cursorDel(q, [portal, stream]);
  },
  async list(q: Queryable, portal: string): Promise<{ stream: string; cursor: Cursor; updatedAt: number }[]> {
    return (await cursorAll(q, [portal])).rows.map((r) => ({ stream: r.stream, cursor: r.cursor as Cursor, updatedAt: r.updated_at }));
  },
};

const dirtyPeek = statement<{ contact_id: string }>(
  'dirty_peek',
  'SELECT contact_id FROM dirty_contacts WHERE portal = $1 ORDER BY marked_at, contact_id LIMIT $2',
);
const dirtyClear = statement('dirty_clear', 'DELETE FROM dirty_contacts WHERE portal = $1 AND contact_id = $2 AND marked_at <= $3');
const dirtyMark = statement(
  'dirty_mark',
  'INSERT INTO dirty_contacts (portal, contact_id, marked_at) VALUES ($1, $2, $3) ON CONFLICT (portal, contact_id) DO UPDATE SET marked_at = excluded.marked_at WHERE excluded.marked_at > dirty_contacts.marked_at',
);
// while a first pass is due (migration 8), every live contact waits to be scored
const dirtyCount = statement<{ n: number }>(
  'dirty_count',
  `SELECT CASE WHEN EXISTS (SELECT 1 FROM unscored_portals WHERE portal = $1)
     THEN (SELECT count(*) FROM records WHERE portal = $1 AND type = 'contacts' AND NOT deleted)
     ELSE (SELECT count(*) FROM dirty_contacts WHERE portal = $1) END AS n`,
);
const firstPassDue = statement('dirty_first_pass_due', 'SELECT 1 FROM unscored_portals WHERE portal = $1');
const startFirstPass = statement<{ t: number }>('dirty_start_first_pass', 'UPDATE unscored_portals SET pass_started_at = $2 WHERE portal = $1 RETURNING pass_started_at AS t');
const endFirstPass = statement('dirty_end_first_pass', 'DELETE FROM unscored_portals WHERE portal = $1 AND pass_started_at = $2');

export const dirty = {
  async peek(q: Queryable, portal: string, limit: number): Promise<string[]> {
    return (await dirtyPeek(q, [portal, limit])).rows.map((r) => r.contact_id);
  },
  async clear(q: Queryable, portal: string, contactId: string, scoredAsOf: number): Promise<void> {
    await dirtyClear(q, [portal, contactId, scoredAsOf]);
  },
  async mark(q: Queryable, portal: string, contactId: string, at: number): Promise<void> {
    await dirtyMark(q, [portal, contactId, at]);
  },
  async count(q: Queryable, portal: string): Promise<number> {
    return (await dirtyCount(q, [portal])).rows[0]?.n ?? 0;
  },
  async firstPassDue(q: Queryable, portal: string): Promise<boolean> {
    return (await firstPassDue(q, [portal])).rows.length > 0;
  },
  /** `q` holds the portal's advisory lock: a page in progress commits first, and the pass reads it. */
  async startFirstPass(q: Queryable, portal: string, t: number): Promise<number | undefined> {
    const row = (await startFirstPass(q, [portal, t])).rows[0];
    return row === undefined ? undefined : Number(row.t);
  },
  async endFirstPass(q: Queryable, portal: string, startedAt: number): Promise<void> {
    await endFirstPass(q, [portal, startedAt]);
  },
};

// Answers with the positions (1-based) of the events that are NOT new: already stored, or a
// repeat of an earlier one in the same input. Nearly every delivery is new, so the usual answer
// is no rows, instead of a row per event to parse and match on the serving thread.
const remember = statement<{ n: number }>(
  'webhook_events_remember',
  `WITH input AS (
     SELECT portal, event_id, n::int AS n FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(portal, event_id, n)
   ), ins AS (
     INSERT INTO webhook_events (portal, event_id, received_at) SELECT portal, event_id, $3 FROM input
     ON CONFLICT DO NOTHING RETURNING portal, event_id
   )
   SELECT i.n FROM input i
   WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.portal = i.portal AND ins.event_id = i.event_id)
      OR EXISTS (SELECT 1 FROM input j WHERE j.portal = i.portal AND j.event_id = i.event_id AND j.n < i.n)`,
);
const prune = statement('webhook_events_prune', 'DELETE FROM webhook_events WHERE received_at < $1');

/** Event ids per statement: a backlog (the database was slow) goes in a few statements of bounded size. */
const REMEMBER_CHUNK = 10_000;

export const webhookEvents = {
  /** A statement per chunk: for each event, true when new (the first of repeats within the batch). */
  async rememberAll(q: Queryable, events: readonly { portal: string; eventId: string }[], t: number): Promise<boolean[]> {
    const out = new Array<boolean>(events.length).fill(true);
    for (let i = 0; i < events.length; i += REMEMBER_CHUNK) {
      const chunk = events.slice(i, i + REMEMBER_CHUNK);
      const seen = await remember(q, [chunk.map((e) => e.portal), chunk.map((e) => e.eventId), t]);
      for (const r of seen.rows) out[i + r.n - 1] = false;
    }
    return out;
  },
  async prune(q: Queryable, before: number): Promise<number> {
    return (await prune(q, [before])).rowCount ?? 0;
  },
};

// With whether the portal has no record of the stream's type yet (its pages may then insert
// without ON CONFLICT: store.ts, unstoredRuns). The first id in key order, not NOT EXISTS: for an
// EXISTS the planner, counting on an early match, chose a sequential scan of records once it had
// statistics, 18 ms at 200,000 records for a type the portal has none of (0.05 ms this way).
const runStart = statement<{ id: number; unstored: boolean }>(
  'sync_runs_start',
  `INSERT INTO sync_runs (portal, stream, started_at, status) VALUES ($1, $2, $3, 'running')
   RETURNING id, (SELECT id FROM records WHERE portal = $1 AND type = $2 ORDER BY id LIMIT 1) IS NULL AS unstored`,
);
const runFinish = statement('sync_runs_finish', 'UPDATE sync_runs SET finished_at = $1, status = $2, error_kind = $3, error = $4 WHERE id = $5');
const runLatest = statement<{ id: number; stream: string; started_at: number; finished_at: number | null; status: string; pages: number; records: number; error_kind: string | null; error: string | null }>(
  'sync_runs_latest',
  `SELECT DISTINCT ON (stream) id, stream, started_at, finished_at, status, pages, records, error_kind, error
   FROM sync_runs WHERE portal = $1 ORDER BY stream, id DESC`,
);

export const syncRuns = {
  async start(q: Queryable, portal: string, stream: string, t: number): Promise<{ id: number; unstored: boolean }> {
    return (await runStart(q, [portal, stream, t])).rows[0]!;
  },
  async finish(q: Queryable, id: number, status: SyncRun['status'], t: number, error?: { kind: string; message: string }): Promise<void> {
    await runFinish(q, [t, status, error?.kind ?? null, error?.message ?? null, id]);
  },
  async latestPerStream(q: Queryable, portal: string): Promise<SyncRun[]> {
    return (await runLatest(q, [portal])).rows.map((r) => ({
      id: r.id,
      stream: r.stream,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      status: r.status as SyncRun['status'],
      pages: r.pages,
      records: r.records,
      errorKind: r.error_kind,
      error: r.error,
    }));
  },
};

// Insert, never replace (src/store/misc.ts). `seq` (migration 4) stands for SQLite's rowid: of two
// versions trained in the same millisecond, the later insert wins.
const modelsSave = statement(
  'models_save_all',
  `INSERT INTO models (portal, kind, version, trained_at, params, metrics)
   SELECT $1, kind, version, trained_at, params::jsonb, metrics::jsonb
   FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[]) WITH ORDINALITY AS k(kind, version, trained_at, params, metrics, ord)
   ORDER BY ord`,
);
type ModelRow = { kind: string; version: string; trained_at: number; params: unknown; metrics: unknown };
const MODEL_COLS = 'kind, version, trained_at, params, metrics';
const modelLatest = statement<ModelRow>('models_latest', `SELECT ${MODEL_COLS} FROM models WHERE portal = $1 AND kind = $2 ORDER BY trained_at DESC, seq DESC LIMIT 1`);
const modelOne = statement<ModelRow>('models_get', `SELECT ${MODEL_COLS} FROM models WHERE portal = $1 AND kind = $2 AND version = $3`);
const modelHistory = statement<ModelRow>('models_versions', `SELECT ${MODEL_COLS} FROM models WHERE portal = $1 AND kind = $2 ORDER BY trained_at DESC, seq DESC`);
const modelTaken = statement('models_taken', 'SELECT 1 FROM models WHERE portal = $1 AND version = $2 LIMIT 1');
const toModel = (r: ModelRow): StoredModel => ({ kind: r.kind, version: r.version, trainedAt: r.trained_at, params: r.params, metrics: r.metrics });

export const models = {
  async saveAll(q: Queryable, portal: string, ms: readonly StoredModel[]): Promise<void> {
    if (ms.length === 0) return;
    await modelsSave(q, [
      portal,
      ms.map((m) => m.kind),
      ms.map((m) => m.version),
      ms.map((m) => m.trainedAt),
      ms.map((m) => JSON.stringify(m.params)),
      ms.map((m) => JSON.stringify(m.metrics)),
    ]);
  },
  async latest(q: Queryable, portal: string, kind: string): Promise<StoredModel | undefined> {
    const r = (await modelLatest(q, [portal, kind])).rows[0];
    return r === undefined ? undefined : toModel(r);
  },
  async get(q: Queryable, portal: string, kind: string, version: string): Promise<StoredModel | undefined> {
    const r = (await modelOne(q, [portal, kind, version])).rows[0];
    return r === undefined ? undefined : toModel(r);
  },
  async versions(q: Queryable, portal: string, kind: string): Promise<StoredModel[]> {
    return (await modelHistory(q, [portal, kind])).rows.map(toModel);
  },
  async unusedVersion(q: Queryable, portal: string, base: string): Promise<string> {
    for (let i = 1; ; i++) {
      const v = i === 1 ? base : `${base}-${i}`;
      if ((await modelTaken(q, [portal, v])).rows.length === 0) return v;
    }
  },
};

const usageAdd = statement(
  'api_usage_record',
  `INSERT INTO api_usage (portal, minute, calls, rate_limited) VALUES ($1, $2, $3, $4)
   ON CONFLICT (portal, minute) DO UPDATE SET calls = api_usage.calls + excluded.calls, rate_limited = api_usage.rate_limited + excluded.rate_limited`,
);
const usageSince = statement<{ calls: number | null; rate_limited: number | null; peak: number | null }>(
  'api_usage_since',
  'SELECT sum(calls) AS calls, sum(rate_limited) AS rate_limited, max(calls) AS peak FROM api_usage WHERE portal = $1 AND minute >= $2',
);
const usagePrune = statement('api_usage_prune', 'DELETE FROM api_usage WHERE minute < $1');

export const apiUsage = {
  async record(q: Queryable, portal: string, calls: number, rateLimited: number, t: number): Promise<void> {
    if (calls === 0 && rateLimited === 0) return;
    await usageAdd(q, [portal, Math.floor(t / 60_000), calls, rateLimited]);
  },
  async since(q: Queryable, portal: string, ms: number, t: number): Promise<{ calls: number; rateLimited: number; peakPerMinute: number }> {
    const r = (await usageSince(q, [portal, Math.floor((t - ms) / 60_000)])).rows[0];
    // sum() of INTEGER is BIGINT (parsed as a number by pool.ts)
    return { calls: r?.calls ?? 0, rateLimited: r?.rate_limited ?? 0, peakPerMinute: r?.peak ?? 0 };
  },
  async prune(q: Queryable, t: number): Promise<number> {
    return (await usagePrune(q, [Math.floor((t - 7 * 86_400_000) / 60_000)])).rowCount ?? 0;
  },
};
