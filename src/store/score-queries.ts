import type { Db } from './db.ts';
import type { BandCounts, TopRiskRow } from './port.ts';
import type Database from 'better-sqlite3';
import { SCORE_KEYS, type ScoreKey } from './scores.ts';

/** The column of each score in the `scores` table. */
const COLUMN: Record<ScoreKey, string> = { satisfaction: 'satisfaction', loyalty: 'loyalty', churnRisk: 'churn_risk', serviceNeed: 'service_need' };

function countBands(rows: readonly { band: string | null; n: number }[]): BandCounts {
  const out: BandCounts = { green: 0, yellow: 0, red: 0 };
  for (const r of rows) if (r.band === 'green' || r.band === 'yellow' || r.band === 'red') out[r.band] += r.n;
  return out;
}

/** Aggregates over a portal's scores: what the report and its cache key read. */
export function createScoreQueries(db: Db) {
  const bands = Object.fromEntries(
    SCORE_KEYS.map((k) => [
      k,
      db.prepare<[string], { band: string | null; n: number }>(
        `SELECT json_extract(detail, '$.${k}.band') AS band, COUNT(*) AS n FROM scores WHERE portal = ? GROUP BY band`,
      ),
    ]),
  ) as Record<ScoreKey, Database.Statement<[string], { band: string | null; n: number }>>;
  const health = db.prepare<[string], { band: string; n: number }>('SELECT health AS band, COUNT(*) AS n FROM scores WHERE portal = ? GROUP BY health');
  const healthAsOf = db.prepare<[string, number, string], { band: string; n: number }>(
    `SELECT h.health AS band, COUNT(*) AS n FROM score_history h
     JOIN (SELECT contact_id, MAX(scored_at) AS t FROM score_history WHERE portal = ? AND scored_at <= ? GROUP BY contact_id) m
       ON h.contact_id = m.contact_id AND h.scored_at = m.t
     WHERE h.portal = ? GROUP BY h.health`,
  );
  const bins = Object.fromEntries(
    SCORE_KEYS.map((k) => [
      k,
      db.prepare<[number, number, string], { b: number; n: number }>(
        `SELECT MIN(CAST(${COLUMN[k]} / ? AS INTEGER), ?) AS b, COUNT(*) AS n FROM scores WHERE portal = ? GROUP BY b`,
      ),
    ]),
  ) as Record<ScoreKey, Database.Statement<[number, number, string], { b: number; n: number }>>;
  const top = db.prepare<[string, number], { contact_id: string; churn_risk: number; detail: string; first: unknown; last: unknown }>(
    `SELECT s.contact_id, s.churn_risk, s.detail,
            json_extract(r.data, '$.d.firstName') AS first, json_extract(r.data, '$.d.lastName') AS last
     FROM scores s LEFT JOIN records r ON r.portal = s.portal AND r.type = 'contacts' AND r.id = s.contact_id
     WHERE s.portal = ? ORDER BY s.churn_risk DESC, s.contact_id LIMIT ?`,
  );
  const clv = db.prepare<[string], { n: number; m: number | null }>(
    `SELECT COUNT(*) AS n, AVG(json_extract(detail, '$.extra.clv')) AS m FROM scores
     WHERE portal = ? AND json_extract(detail, '$.extra.rfm') IS NOT NULL AND json_extract(detail, '$.extra.clv') IS NOT NULL`,
  );
  const last = db.prepare<[string], { t: number | null }>('SELECT MAX(scored_at) AS t FROM scores WHERE portal = ?');
  const portals = db.prepare<[], { portal: string }>('SELECT DISTINCT portal FROM scores ORDER BY portal');
  const state = db.prepare<[string, string, string], { n: number; t: number | null; m: number | null }>(
    'SELECT (SELECT COUNT(*) FROM scores WHERE portal = ?) AS n, (SELECT MAX(scored_at) FROM scores WHERE portal = ?) AS t, (SELECT MAX(trained_at) FROM models WHERE portal = ?) AS m',
  );

  return {
    lastScoredAt(portal: string): number | null {
      return last.get(portal)?.t ?? null;
    },
    portals(): string[] {
      return portals.all().map((r) => r.portal);
    },
    state(portal: string): { count: number; lastScoredAt: number | null; lastTrainedAt: number | null } {
      const s = state.get(portal, portal, portal);
      return { count: s?.n ?? 0, lastScoredAt: s?.t ?? null, lastTrainedAt: s?.m ?? null };
    },
    bandCounts(portal: string): { scores: Record<ScoreKey, BandCounts>; health: BandCounts } {
      const scores = Object.fromEntries(SCORE_KEYS.map((k) => [k, countBands(bands[k].all(portal))])) as Record<ScoreKey, BandCounts>;
      return { scores, health: countBands(health.all(portal)) };
    },
    healthAsOf(portal: string, at: number): BandCounts {
      return countBands(healthAsOf.all(portal, at, portal));
    },
    histograms(portal: string, width: number): Record<ScoreKey, number[]> {
      const n = Math.ceil(100 / width);
      return Object.fromEntries(
        SCORE_KEYS.map((k) => {
          const counts = new Array<number>(n).fill(0);
          for (const r of bins[k].all(width, n - 1, portal)) if (r.b >= 0 && r.b < n) counts[r.b] = r.n;
          return [k, counts];
        }),
      ) as Record<ScoreKey, number[]>;
    },
    topChurnRisk(portal: string, limit: number): TopRiskRow[] {
      return top.all(portal, limit).map((r) => {
        let churnRisk: unknown = null;
        try {
          churnRisk = (JSON.parse(r.detail) as { churnRisk?: unknown }).churnRisk ?? null;
        } catch {
          // an unreadable stored row shows without reasons
        }
        return { contactId: r.contact_id, churnRisk: r.churn_risk, churnDetail: churnRisk, firstName: r.first, lastName: r.last };
      });
    },
    clv(portal: string): { n: number; mean: number | null } {
      const r = clv.get(portal);
      return { n: r?.n ?? 0, mean: r?.m ?? null };
    },
  };
}
