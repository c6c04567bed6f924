/**
 * Satisfaction 0–100 (ARCHITECTURE §5): an evidence-weighted blend of
 *   - surveys: the brief's CS = mean((x − min)/(max − min)) on each survey's SCALE bounds
 *     (NPS 0–10, CSAT 1–5, CES 2.0 1–7; docs/scores.md "The four scores"), weight 1 per answer;
 *   - ticket experience: speed to close, reopens, priority (features.ts), weight 0.5 per closed
 *     ticket (max 3), plus open high-priority tickets as 0.2-experience evidence;
 *   - sentiment of inbound messages and comments, (s + 1)/2, weight 0.4 per text (max 2);
 * shrunk towards the portal prior m₀ with k = 2 pseudo-answers: (n·m + k·m₀)/(n + k), so a
 * single answer moves the score only part of the way (docs/scores.md "The four scores").
 */
import type { Reason } from '../store/scores.ts';
import { bandOf } from './bands.ts';
import type { Scorer } from './scorer.ts';
import { plural, topReasons } from './explain.ts';

export type SatisfactionParams = {
  /** portal mean of the survey component in [0, 1] (the shrinkage target) */
  prior: number;
};

/** Prior before any training: a CSAT of about 3.9/5 (industry-typical 75–80 % top-2-box). */
export const DEFAULT_SATISFACTION: SatisfactionParams = { prior: 0.72 };
const K = 2;

export const scoreSatisfaction: Scorer = ({ features: f, models, bands }) => {
  const m0 = models.satisfaction.prior;
  const parts: { m: number; w: number; text: string }[] = [];
  if (f.surveyScore !== null) {
    const text =
      f.npsLast !== null
        ? `NPS answer ${f.npsLast}/10 (${f.npsLast >= 9 ? 'promoter' : f.npsLast >= 7 ? 'passive' : 'detractor'})`
        : f.csatMean !== null
          ? `CSAT ${f.csatMean.toFixed(1)}/5`
          : `survey answers average ${Math.round(f.surveyScore * 100)}/100`;
    parts.push({ m: f.surveyScore, w: f.surveys, text: f.surveys > 1 ? `${text}, ${plural(f.surveys, 'answer')}` : text });
  }
  if (f.ticketExperience !== null) {
    const slow = f.meanCloseDays !== null && f.meanCloseDays > 3;
    const text =
      f.reopenedTickets > 0
        ? plural(f.reopenedTickets, 'reopened ticket')
        : slow
          ? `tickets take ${(f.meanCloseDays as number).toFixed(1)} days to close`
          : `${plural(f.closedTickets, 'ticket')} closed quickly`;
    parts.push({ m: f.ticketExperience, w: Math.min(3, 0.5 * f.closedTickets), text });
  }
  if (f.openHighPriority > 0) {
    parts.push({ m: 0.2, w: Math.min(1.5, 0.5 * f.openHighPriority), text: plural(f.openHighPriority, 'open high-priority ticket') });
  }
  if (f.sentiment !== null) {
    const tone = f.negativeTexts > 0 ? plural(f.negativeTexts, 'negative message') : f.sentiment >= 0.15 ? 'messages sound positive' : 'messages sound neutral';
    parts.push({ m: (f.sentiment + 1) / 2, w: Math.min(2, 0.4 * f.sentimentTexts), text: tone });
  }
  let n = 0;
  let sum = 0;
  for (const p of parts) {
    n += p.w;
    sum += p.w * p.m;
  }
  const value = (100 * (sum + K * m0)) / (n + K);
  const evidence = n / (n + K);
  const reasons: Reason[] = parts.map((p) => ({ text: p.text, impact: (100 * p.w * (p.m - m0)) / (n + K) }));
  const shown = topReasons(reasons, 4);
  if (n < 1) shown.push({ text: n === 0 ? 'no feedback yet: account average' : 'little feedback yet: close to the account average', impact: 0 });
  return { score: { value: clamp(value), band: bandOf('satisfaction', value, bands), confidence: round3(evidence * f.dataQuality), reasons: shown } };
};

export function clamp(v: number): number {
  return Number.isFinite(v) ? Math.max(0, Math.min(100, v)) : 0;
}

export function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
