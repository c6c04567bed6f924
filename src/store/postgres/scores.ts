import { SCORE_KEYS, type ScoreField, type ScoreKey, type ScoreValues } from '../../scores.ts';
import type { BandCounts, ScoredContact, TopRiskRow } from '../port.ts';
import { rowOf, scoresOf, type Band, type ContactScores, type HistoryPoint, type ScoreRow } from '../scores.ts';
import { outboxValues } from '../outbox-diff.ts';
import { enqueueAll } from './outbox.ts';
import { jsonbSafe, jsonField, lines, rounds, statement, type Queryable } from './sql.ts';

/**
 * Scores, their history and the report's aggregates on Postgres (src/store/scores.ts and
 * src/store/score-queries.ts), and `saveScores` batched: a batch of 50 contacts is about six
 * statements, not six per contact.
 */

const COLUMN: Record<ScoreKey, string> = { satisfaction: 'satisfaction', loyalty: 'loyalty', churnRisk: 'churn_risk', serviceNeed: 'service_need' };

type Prev = { contact_id: string; satisfaction: number; loyalty: number; churn_risk: number; service_need: number; health: string };
const previous = statement<Prev>(
  'scores_previous',
  'SELECT contact_id, satisfaction, loyalty, churn_risk, service_need, health FROM scores WHERE portal = $1 AND contact_id = ANY($2::text[])',
);
/**
 * A round's scores and their history rows in one statement: ids, bands and model versions as
 * text arrays, the rest as `lines` (the numbers, `m` when a history row is due, the detail as it
 * is, already JSON text), so the server parses each detail once, as the json column's input, and
 * nothing else (a JSON parameter through `json_to_recordset` parsed the whole batch, then each
 * detail again: half the statement's server time, bench:stores, docs/ARCHITECTURE.md §8).
 * Data-modifying CTEs always run to completion (https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING).
 */
const upsert = statement(
  'scores_upsert',
  `WITH k AS MATERIALIZED (
     SELECT i, h, v, a[1]::float8 AS s, a[2]::float8 AS l, a[3]::float8 AS c, a[4]::float8 AS n, a[5]::float8 AS f,
       a[6]::bigint AS t, a[7]::boolean AS m, a[8]::json AS d
     FROM ROWS FROM (unnest($2::text[]), unnest($3::text[]), unnest($4::text[]), string_to_table($5::text, E'\n')) AS r(i, h, v, x),
       LATERAL string_to_array(x, E'\t') AS a),
   history AS (
     -- SQLite's INSERT OR REPLACE on the history's key
     INSERT INTO score_history (portal, contact_id, scored_at, satisfaction, loyalty, churn_risk, service_need, health, model_version)
     SELECT $1, i, t, s, l, c, n, h, v FROM k WHERE m
     ON CONFLICT (portal, contact_id, scored_at) DO UPDATE SET satisfaction = excluded.satisfaction, loyalty = excluded.loyalty,
       churn_risk = excluded.churn_risk, service_need = excluded.service_need, health = excluded.health, model_version = excluded.model_version)
   INSERT INTO scores (portal, contact_id, satisfaction, loyalty, churn_risk, service_need, health, confidence, detail, model_version, scored_at)
   SELECT $1, i, s, l, c, n, h, f, d, v, t FROM k
   ON CONFLICT (portal, contact_id) DO UPDATE SET satisfaction = excluded.satisfaction, loyalty = excluded.loyalty,
     churn_risk = excluded.churn_risk, service_need = excluded.service_need, health = excluded.health,
     confidence = excluded.confidence, detail = excluded.detail, model_version = excluded.model_version,
     scored_at = excluded.scored_at`,
);

/** A finite number as text; anything else fails the batch before it is sent (float8 would take NaN). */
function num(x: number, id: string): string {
  if (!Number.isFinite(x)) throw new Error(`the scores of contact ${id} hold a value that is not a finite number (${x})`);
  return String(x);
}

/** One line of the upsert's `lines` parameter. */
function rowLine(s: ScoreRow, moved: boolean): string {
  const id = s.contactId;
  return `${num(s.satisfaction, id)}\t${num(s.loyalty, id)}\t${num(s.churnRisk, id)}\t${num(s.serviceNeed, id)}\t${num(s.confidence, id)}\t${num(s.scoredAt, id)}\t${moved}\t${jsonField(jsonbSafe(s.detail))}`;
}
const clearDirty = statement('scores_clear_dirty', 'DELETE FROM dirty_contacts WHERE portal = $1 AND contact_id = ANY($2::text[]) AND marked_at <= $3');

/**
 * One batch of scores (the caller holds the transaction): the semantics of saveScores in
 * src/store/sqlite.ts. Returns how many contacts had values enqueued.
 */
export async function saveScoreBatch(
  q: Queryable,
  portal: string,
  batch: readonly ScoredContact[],
  o: { clearIds: readonly string[]; readAt: number; volatile: readonly ScoreField[] },
  t: number,
): Promise<number> {
  let enqueued = 0;
  // serialised first (unless a worker thread did): a batch that cannot be stored fails before anything is sent
  const rows = batch.map((b) => ({ row: rowOf(b), properties: b.properties }));
  for (const round of rounds(rows, (b) => b.row.contactId)) {
    const S = round.map((b) => b.row);
    const ids = S.map((s) => s.contactId);
    const prev = new Map((await previous(q, [portal, ids])).rows.map((r) => [r.contact_id, r]));
    const r = Math.round;
    const moved = (s: ScoreRow): boolean => {
      const p = prev.get(s.contactId);
      return (
        p === undefined ||
        r(p.satisfaction) !== r(s.satisfaction) ||
        r(p.loyalty) !== r(s.loyalty) ||
        r(p.churn_risk) !== r(s.churnRisk) ||
        r(p.service_need) !== r(s.serviceNeed) ||
        p.health !== s.health
      );
    };
    await upsert(q, [portal, ids, S.map((s) => s.health), S.map((s) => s.modelVersion), lines(S.map((s) => rowLine(s, moved(s))))]);
    // what to enqueue depends on the last written values, read in the same statement as the pending ones
    let news = 0;
    await enqueueAll(
      q,
      portal,
      round.map(({ row: s, properties }) => ({
        contactId: s.contactId,
        properties: (written: ScoreValues): ScoreValues => {
          const r = outboxValues(properties, written, o.volatile);
          if (r.isNew) news++;
          return r.values;
        },
      })),
      t,
    );
    enqueued += news;
  }
  if (o.clearIds.length > 0) await clearDirty(q, [portal, o.clearIds, o.readAt]);
  return enqueued;
}

type StoredScore = Prev & { confidence: number; detail: Pick<ContactScores, ScoreKey | 'extra'>; model_version: string; scored_at: number };
const current = statement<StoredScore>(
  'scores_get',
  'SELECT contact_id, satisfaction, loyalty, churn_risk, service_need, health, confidence, detail, model_version, scored_at FROM scores WHERE portal = $1 AND contact_id = $2',
);
const history = statement<{ scored_at: number; satisfaction: number; loyalty: number; churn_risk: number; service_need: number; health: string; model_version: string | null }>(
  'scores_history',
  'SELECT scored_at, satisfaction, loyalty, churn_risk, service_need, health, model_version FROM score_history WHERE portal = $1 AND contact_id = $2 AND scored_at >= $3 ORDER BY scored_at',
);
const count = statement<{ n: number }>('scores_count', 'SELECT count(*) AS n FROM scores WHERE portal = $1');
const last = statement<{ t: number | null }>('scores_last', 'SELECT max(scored_at) AS t FROM scores WHERE portal = $1');
const portals = statement<{ portal: string }>('scores_portals', 'SELECT DISTINCT portal FROM scores ORDER BY portal');
const state = statement<{ n: number; t: number | null; m: number | null }>(
  'scores_state',
  'SELECT (SELECT count(*) FROM scores WHERE portal = $1) AS n, (SELECT max(scored_at) FROM scores WHERE portal = $1) AS t, (SELECT max(trained_at) FROM models WHERE portal = $1) AS m',
);
const bands = statement<{ k: string; band: string | null; n: number }>(
  'scores_bands',
  // detail is JSON text (migration 5): each row's is parsed once, then each score's band read from it
  `WITH d AS MATERIALIZED (SELECT detail::jsonb AS d FROM scores WHERE portal = $1)
   SELECT k, d -> k ->> 'band' AS band, count(*) AS n FROM d, unnest($2::text[]) AS k GROUP BY k, band`,
);
const health = statement<{ band: string; n: number }>('scores_health', 'SELECT health AS band, count(*) AS n FROM scores WHERE portal = $1 GROUP BY health');
const healthAsOf = statement<{ band: string; n: number }>(
  'scores_health_as_of',
  `SELECT h.health AS band, count(*) AS n FROM score_history h
   JOIN (SELECT contact_id, max(scored_at) AS t FROM score_history WHERE portal = $1 AND scored_at <= $2 GROUP BY contact_id) m
     ON h.contact_id = m.contact_id AND h.scored_at = m.t
   WHERE h.portal = $1 GROUP BY h.health`,
);
// SQLite's MIN(CAST(value / width AS INTEGER), last): the cast truncates toward zero
const bins = Object.fromEntries(
  SCORE_KEYS.map((k) => [
    k,
    statement<{ b: number; n: number }>(
      `scores_bins_${COLUMN[k]}`,
      `SELECT LEAST(trunc(${COLUMN[k]} / $1::float8)::int, $2::int) AS b, count(*) AS n FROM scores WHERE portal = $3 GROUP BY 1`,
    ),
  ]),
) as Record<ScoreKey, ReturnType<typeof statement<{ b: number; n: number }>>>;
const top = statement<{ contact_id: string; churn_risk: number; churn: unknown; first: unknown; last: unknown }>(
  'scores_top_churn',
  `SELECT s.contact_id, s.churn_risk, s.detail -> 'churnRisk' AS churn, r.data -> 'd' -> 'firstName' AS first, r.data -> 'd' -> 'lastName' AS last
   FROM scores s LEFT JOIN records r ON r.portal = s.portal AND r.type = 'contacts' AND r.id = s.contact_id
   WHERE s.portal = $1 ORDER BY s.churn_risk DESC, s.contact_id LIMIT $2`,
);
// json_extract(...) IS NOT NULL in SQLite: present and not a JSON null
const clv = statement<{ n: number; m: number | null }>(
  'scores_clv',
  `SELECT count(*) AS n, avg(CASE WHEN json_typeof(detail -> 'extra' -> 'clv') = 'number' THEN (detail -> 'extra' ->> 'clv')::float8 END) AS m
   FROM scores WHERE portal = $1
     AND COALESCE(json_typeof(detail -> 'extra' -> 'rfm'), 'null') <> 'null' AND COALESCE(json_typeof(detail -> 'extra' -> 'clv'), 'null') <> 'null'`,
);

function countBands(rows: readonly { band: string | null; n: number }[]): BandCounts {
  const out: BandCounts = { green: 0, yellow: 0, red: 0 };
  for (const r of rows) if (r.band === 'green' || r.band === 'yellow' || r.band === 'red') out[r.band] += r.n;
  return out;
}

export const scoreReads = {
  async get(q: Queryable, portal: string, contactId: string): Promise<ContactScores | undefined> {
    const row = (await current(q, [portal, contactId])).rows[0];
    if (row === undefined) return undefined;
    return scoresOf(row, row.detail);
  },
  async history(q: Queryable, portal: string, contactId: string, since: number): Promise<HistoryPoint[]> {
    return (await history(q, [portal, contactId, since])).rows.map((h) => ({
      scoredAt: h.scored_at,
      satisfaction: h.satisfaction,
      loyalty: h.loyalty,
      churnRisk: h.churn_risk,
      serviceNeed: h.service_need,
      health: h.health as Band,
      modelVersion: h.model_version,
    }));
  },
  async count(q: Queryable, portal: string): Promise<number> {
    return (await count(q, [portal])).rows[0]?.n ?? 0;
  },
  async lastScoredAt(q: Queryable, portal: string): Promise<number | null> {
    return (await last(q, [portal])).rows[0]?.t ?? null;
  },
  async portals(q: Queryable): Promise<string[]> {
    return (await portals(q)).rows.map((r) => r.portal);
  },
  async state(q: Queryable, portal: string): Promise<{ count: number; lastScoredAt: number | null; lastTrainedAt: number | null }> {
    const s = (await state(q, [portal])).rows[0];
    return { count: s?.n ?? 0, lastScoredAt: s?.t ?? null, lastTrainedAt: s?.m ?? null };
  },
  async bandCounts(q: Queryable, portal: string): Promise<{ scores: Record<ScoreKey, BandCounts>; health: BandCounts }> {
    const rows = (await bands(q, [portal, SCORE_KEYS])).rows;
    const scores = Object.fromEntries(SCORE_KEYS.map((k) => [k, countBands(rows.filter((r) => r.k === k))])) as Record<ScoreKey, BandCounts>;
    return { scores, health: countBands((await health(q, [portal])).rows) };
  },
  async healthAsOf(q: Queryable, portal: string, at: number): Promise<BandCounts> {
    return countBands((await healthAsOf(q, [portal, at])).rows);
  },
  async histograms(q: Queryable, portal: string, width: number): Promise<Record<ScoreKey, number[]>> {
    const n = Math.ceil(100 / width);
    const out = {} as Record<ScoreKey, number[]>;
    for (const k of SCORE_KEYS) {
      const counts = new Array<number>(n).fill(0);
      for (const r of (await bins[k](q, [width, n - 1, portal])).rows) if (r.b >= 0 && r.b < n) counts[r.b] = r.n;
      out[k] = counts;
    }
    return out;
  },
  async topChurnRisk(q: Queryable, portal: string, limit: number): Promise<TopRiskRow[]> {
    return (await top(q, [portal, limit])).rows.map((r) => ({ contactId: r.contact_id, churnRisk: r.churn_risk, churnDetail: r.churn ?? null, firstName: r.first, lastName: r.last }));
  },
  async clv(q: Queryable, portal: string): Promise<{ n: number; mean: number | null }> {
    const r = (await clv(q, [portal])).rows[0];
    return { n: r?.n ?? 0, mean: r?.m ?? null };
  },
};
