import type { Db } from './db.ts';

import type { Band, ScoreKey } from '../scores.ts';

export type { Band, ScoreKey };
export { SCORE_KEYS } from '../scores.ts';
/** One factor behind a score: plain words and a signed impact in score points. */
export type Reason = { text: string; impact: number };
export type ScoreValue = { value: number; band: Band; confidence: number; reasons: Reason[] };

export type ContactScores = {
  contactId: string;
  satisfaction: ScoreValue;
  loyalty: ScoreValue;
  churnRisk: ScoreValue;
  serviceNeed: ScoreValue;
  /** overall health band */
  health: Band;
  confidence: number;
  modelVersion: string;
  scoredAt: number;
  /** score-specific extras (e.g. likely channel, CLV), shown by the card */
  extra: Record<string, unknown>;
};

export type HistoryPoint = {
  scoredAt: number;
  satisfaction: number;
  loyalty: number;
  churnRisk: number;
  serviceNeed: number;
  health: Band;
  /** the model version that produced this change (null for rows older than schema 4) */
  modelVersion: string | null;
};

/**
 * A contact's scores as both stores keep them: the four values and the band in columns (what
 * history and the aggregates read), the rest (reasons, extras) as JSON text in `detail`.
 */
export type ScoreRow = {
  contactId: string;
  satisfaction: number;
  loyalty: number;
  churnRisk: number;
  serviceNeed: number;
  health: Band;
  confidence: number;
  modelVersion: string;
  scoredAt: number;
  /** JSON text of { satisfaction, loyalty, churnRisk, serviceNeed, extra } */
  detail: string;
};

/** The row of `s`: throws (JSON.stringify) on what JSON cannot hold, before anything is stored. */
export function scoreRow(s: ContactScores): ScoreRow {
  return {
    contactId: s.contactId,
    satisfaction: s.satisfaction.value,
    loyalty: s.loyalty.value,
    churnRisk: s.churnRisk.value,
    serviceNeed: s.serviceNeed.value,
    health: s.health,
    confidence: s.confidence,
    modelVersion: s.modelVersion,
    scoredAt: s.scoredAt,
    detail: JSON.stringify({ satisfaction: s.satisfaction, loyalty: s.loyalty, churnRisk: s.churnRisk, serviceNeed: s.serviceNeed, extra: s.extra }),
  };
}

/** The row of one item of `saveScores`, serialised here unless a worker thread already did. */
export const rowOf = (item: { scores: ContactScores } | { row: ScoreRow }): ScoreRow => ('row' in item ? item.row : scoreRow(item.scores));

type StoredRow = {
  contact_id: string;
  health: string;
  confidence: number;
  detail: string;
  model_version: string;
  scored_at: number;
};

/** The stored detail of a contact's scores (the four scores with their reasons, and extras). */
export type ScoreDetail = Pick<ContactScores, ScoreKey | 'extra'>;

/** A current-scores row and its parsed detail as ContactScores (both stores). */
export function scoresOf(
  row: { contact_id: string; health: string; confidence: number; model_version: string; scored_at: number },
  d: ScoreDetail,
): ContactScores {
  return {
    contactId: row.contact_id,
    satisfaction: d.satisfaction,
    loyalty: d.loyalty,
    churnRisk: d.churnRisk,
    serviceNeed: d.serviceNeed,
    health: row.health as Band,
    confidence: row.confidence,
    modelVersion: row.model_version,
    scoredAt: row.scored_at,
    extra: d.extra,
  };
}

export function createScoresRepo(db: Db) {
  const current = db.prepare<[string, string], StoredRow & { satisfaction: number; loyalty: number; churn_risk: number; service_need: number }>(
    'SELECT * FROM scores WHERE portal = ? AND contact_id = ?',
  );
  const upsert = db.prepare<[string, string, number, number, number, number, string, number, string, string, number]>(`
    INSERT INTO scores (portal, contact_id, satisfaction, loyalty, churn_risk, service_need, health, confidence, detail, model_version, scored_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (portal, contact_id) DO UPDATE SET satisfaction = excluded.satisfaction, loyalty = excluded.loyalty,
      churn_risk = excluded.churn_risk, service_need = excluded.service_need, health = excluded.health,
      confidence = excluded.confidence, detail = excluded.detail, model_version = excluded.model_version,
      scored_at = excluded.scored_at`);
  const addHistory = db.prepare<[string, string, number, number, number, number, number, string, string]>(`
    INSERT OR REPLACE INTO score_history (portal, contact_id, scored_at, satisfaction, loyalty, churn_risk, service_need, health, model_version)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  // what `save` compares against: the rounded values and band, not the stored detail (KBs of JSON)
  const previous = db.prepare<[string, string], { satisfaction: number; loyalty: number; churn_risk: number; service_need: number; health: string }>(
    'SELECT satisfaction, loyalty, churn_risk, service_need, health FROM scores WHERE portal = ? AND contact_id = ?',
  );
  const history = db.prepare<[string, string, number], { scored_at: number; satisfaction: number; loyalty: number; churn_risk: number; service_need: number; health: string; model_version: string | null }>(
    'SELECT * FROM score_history WHERE portal = ? AND contact_id = ? AND scored_at >= ? ORDER BY scored_at',
  );
  const count = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM scores WHERE portal = ?');

  return {
    /** Saves the latest scores; appends a history row only when a rounded value or the band moved. */
    save(portal: string, s: ScoreRow): { changed: boolean } {
      const prev = previous.get(portal, s.contactId);
      const r = (x: number) => Math.round(x);
      const changed =
        prev === undefined ||
        r(prev.satisfaction) !== r(s.satisfaction) ||
        r(prev.loyalty) !== r(s.loyalty) ||
        r(prev.churn_risk) !== r(s.churnRisk) ||
        r(prev.service_need) !== r(s.serviceNeed) ||
        prev.health !== s.health;
      upsert.run(portal, s.contactId, s.satisfaction, s.loyalty, s.churnRisk, s.serviceNeed, s.health, s.confidence, s.detail, s.modelVersion, s.scoredAt);
      if (changed) addHistory.run(portal, s.contactId, s.scoredAt, s.satisfaction, s.loyalty, s.churnRisk, s.serviceNeed, s.health, s.modelVersion);
      return { changed };
    },
    get(portal: string, contactId: string): ContactScores | undefined {
      const row = current.get(portal, contactId);
      if (row === undefined) return undefined;
      return scoresOf(row, JSON.parse(row.detail) as ScoreDetail);
    },
    history(portal: string, contactId: string, since: number): HistoryPoint[] {
      return history.all(portal, contactId, since).map((h) => ({
        scoredAt: h.scored_at,
        satisfaction: h.satisfaction,
        loyalty: h.loyalty,
        churnRisk: h.churn_risk,
        serviceNeed: h.service_need,
        health: h.health as Band,
        modelVersion: h.model_version,
      }));
    },
    count(portal: string): number {
      return count.get(portal)?.n ?? 0;
    },
  };
}

export type ScoresRepo = ReturnType<typeof createScoresRepo>;
