import { SCORE_FIELDS, type ScoreValues } from '../scores.ts';

/**
 * What to queue for write-back, given the values last written to the CRM (both stores use it in
 * `saveScores`): all of `properties` when a non-volatile value differs (`isNew`); otherwise only
 * the non-volatile values (dropping stale pending ones that went back to what the CRM has) and
 * the volatile ones (a timestamp) as last written, so a rescore that changed nothing sends nothing.
 */
export function outboxValues(properties: ScoreValues, written: ScoreValues, volatile: readonly string[]): { values: ScoreValues; isNew: boolean } {
  const fields = SCORE_FIELDS.filter((k) => properties[k] !== undefined);
  if (fields.some((k) => !volatile.includes(k) && written[k] !== properties[k])) return { values: properties, isNew: true };
  const rest: ScoreValues = {};
  for (const k of fields) if (!volatile.includes(k)) rest[k] = properties[k] as string;
  for (const k of volatile) {
    const w = written[k as keyof ScoreValues];
    if (w !== undefined) rest[k as keyof ScoreValues] = w;
  }
  return { values: rest, isNew: false };
}
