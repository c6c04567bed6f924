/**
 * Scores contacts of one portal as of `now`: features → the four scores → store.scores (with
 * history) → dirty marks cleared → changed values enqueued for write-back (docs/ARCHITECTURE.md
 * §1 and §6). Each chunk of contacts is saved in one transaction.
 *
 * Write-back only carries news: the neutral-key properties are compared with what was last
 * written, and nothing is enqueued unless a value other than `scored_at` changed (a fresh
 * timestamp alone is not worth an API call).
 */
import type { Logger } from '../log.ts';
import { yieldToEventLoop } from '../work/yield.ts';
import type { Store } from '../store/index.ts';
import type { ContactScores, Reason, ScoreValue } from '../store/scores.ts';
import { DEFAULT_BANDS, healthBand, shownValue, type BandThresholds } from './bands.ts';
import { SCORES, scoreSpec, type ScoreField, type ScoreKey } from '../scores.ts';
import { scoreChurn } from './churn.ts';
import { computeFeatures, loadCompanies, readContactChunks, readContacts, type CompanyContext, type ContactInput } from './features.ts';
import { loyaltyInputs, scoreLoyalty } from './loyalty.ts';
import { loadPortalModels, type PortalModels } from './portal-models.ts';
import { round3, scoreSatisfaction } from './satisfaction.ts';
import type { Scorers } from './scorer.ts';
import { scoreServiceNeed } from './service-need.ts';
import { COLUMNS, modelRow } from './vector.ts';

export type ScoreOptions = {
  contactIds: readonly string[] | 'all' | 'dirty';
  now: number;
  logger?: Logger;
  bands?: BandThresholds;
  /** contacts per transaction (default 2,000) */
  chunkSize?: number;
};

/** Each row of the SCORES table and its model: a score without a scorer does not compile. */
export const SCORERS: Scorers = { satisfaction: scoreSatisfaction, loyalty: scoreLoyalty, churnRisk: scoreChurn, serviceNeed: scoreServiceNeed };

/** Everything scoring one contact produces, before it is saved. */
export function scoreOne(
  input: ContactInput,
  company: CompanyContext | undefined,
  models: PortalModels,
  now: number,
  bands: BandThresholds = DEFAULT_BANDS,
  row: number[] = new Array<number>(COLUMNS.length),
): ContactScores {
  const f = computeFeatures(input, now, company, now);
  const l = loyaltyInputs(f, models.loyalty);
  modelRow(f, l, row);
  const ctx = { features: f, loyalty: l, row, models, bands };
  const values = {} as Record<ScoreKey, ScoreValue>;
  let extra: Record<string, unknown> = {};
  for (const { key } of SCORES) {
    const r = SCORERS[key](ctx);
    values[key] = r.score;
    if (r.extra !== undefined) extra = { ...extra, ...r.extra };
  }
  return {
    contactId: input.id,
    ...values,
    health: healthBand({ satisfaction: values.satisfaction.band, loyalty: values.loyalty.band, churnRisk: values.churnRisk.band }),
    confidence: round3(SCORES.reduce((sum, { key }) => sum + values[key].confidence, 0) / SCORES.length),
    modelVersion: models.version,
    scoredAt: now,
    extra: {
      ...extra,
      pChurn90dPurchasePattern: round3(l.pChurn90d),
      dataQuality: f.dataQuality,
      dataIssues: f.dataIssues,
    },
  };
}

/** The plain-words summary written to the CRM: the strongest reasons of the scores that matter most. */
export function reasonsSummary(s: ContactScores, maxLength = 480): string {
  const part = (label: string, reasons: readonly Reason[], n: number) => {
    const texts = reasons.filter((r) => r.impact !== 0).slice(0, n).map((r) => r.text);
    return texts.length === 0 ? null : `${label}: ${texts.join('; ')}`;
  };
  const parts = [
    part(`${scoreSpec('churnRisk').label} ${shownValue(s.churnRisk.value)}`, s.churnRisk.reasons, 3),
    part(`${scoreSpec('satisfaction').label} ${shownValue(s.satisfaction.value)}`, s.satisfaction.reasons, 2),
    part(`${scoreSpec('loyalty').label} ${shownValue(s.loyalty.value)}`, s.loyalty.reasons, 1),
    part(`${scoreSpec('serviceNeed').label} ${shownValue(s.serviceNeed.value)}`, s.serviceNeed.reasons, 1),
  ].filter((p): p is string => p !== null);
  let out = '';
  for (const p of parts) {
    const next = out === '' ? p : `${out}. ${p}`;
    if (next.length > maxLength) break;
    out = next;
  }
  return out;
}

/** Every score field's write-back value: the scores as whole numbers (as shown), the band, reasons, ISO time. */
export function writeBackProperties(s: ContactScores): Record<ScoreField, string> {
  const scores = Object.fromEntries(SCORES.map(({ key }) => [key, String(shownValue(s[key].value))])) as Record<ScoreKey, string>;
  return { ...scores, health: s.health, reasons: reasonsSummary(s), modelVersion: s.modelVersion, scoredAt: new Date(s.scoredAt).toISOString() };
}

/** Write-back values that alone are no news (a fresh timestamp is not worth an API call). */
export const VOLATILE = ['scoredAt'] as const;

/**
 * Saves one batch of scores in one store transaction: scores + history, the dirty marks of
 * `clearIds` (unless set again after `readAt`), and the changed values for write-back.
 * Returns how many contacts had values enqueued.
 */
export function saveScores(
  store: Pick<Store, 'saveScores'>,
  portal: string,
  scores: readonly ContactScores[],
  clearIds: readonly string[],
  readAt: number,
): Promise<number> {
  return store.saveScores(
    portal,
    scores.map((s) => ({ scores: s, properties: writeBackProperties(s) })),
    { clearIds, readAt, volatile: VOLATILE },
  );
}

export type ScoringStore = Pick<Store, 'now' | 'models' | 'records' | 'contacts' | 'dirty' | 'saveScores'>;

export async function scoreContacts(store: ScoringStore, portal: string, opts: ScoreOptions): Promise<{ scored: number; enqueued: number }> {
  const models = await loadPortalModels(store, portal);
  const companies = await loadCompanies(store, portal);
  const bands = opts.bands ?? DEFAULT_BANDS;
  const row = new Array<number>(COLUMNS.length);
  let scored = 0;
  let enqueued = 0;

  const saveChunk = async (inputs: readonly ContactInput[], clearIds: readonly string[], readAt: number) => {
    const scores = inputs.map((input) =>
      scoreOne(input, input.companyId === null ? undefined : companies.get(input.companyId), models, opts.now, bands, row),
    );
    scored += scores.length;
    enqueued += await saveScores(store, portal, scores, clearIds, readAt);
    await yieldToEventLoop(); // a long pass on the serving thread lets requests in between chunks
  };

  const scoreAll = async () => {
    const readAt = store.now();
    for await (const chunk of readContactChunks(store, portal, opts.chunkSize ?? 2000)) {
      await saveChunk(chunk, chunk.map((c) => c.id), readAt);
    }
  };

  if (opts.contactIds === 'all') {
    await scoreAll();
  } else if (opts.contactIds === 'dirty') {
    // a portal installed anew wrote no marks until its first full pass (DirtyPort.startFirstPass)
    const first = await store.dirty.startFirstPass(portal);
    if (first !== undefined) {
      await scoreAll();
      await store.dirty.endFirstPass(portal, first);
    }
    const seen = new Set<string>();
    for (;;) {
      const ids = (await store.dirty.peek(portal, opts.chunkSize ?? 2000)).filter((id) => !seen.has(id));
      if (ids.length === 0) break;
      for (const id of ids) seen.add(id);
      const readAt = store.now();
      // Unknown or deleted contacts are cleared too: there is nothing to score.
      await saveChunk(await readContacts(store, portal, ids), ids, readAt);
    }
  } else {
    const ids = opts.contactIds;
    const size = opts.chunkSize ?? 2000;
    for (let i = 0; i < ids.length; i += size) {
      const part = ids.slice(i, i + size);
      const readAt = store.now();
      await saveChunk(await readContacts(store, portal, part), part, readAt);
    }
  }
  opts.logger?.info({ portal, scored, enqueued, modelVersion: models.version }, 'contacts scored');
  return { scored, enqueued };
}
