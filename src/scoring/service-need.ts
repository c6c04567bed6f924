/**
 * Service need 0–100 = 100 · P(at least one new ticket in the next 30 days), a logistic model on
 * ticket history, engagement mix and deal events (train.ts), plus the most likely channel the
 * customer will use: the channel counts of their own inbound contacts, smoothed towards the
 * portal's channel mix (2 pseudo-contacts), so a contact with no history gets the portal's
 * favourite channel.
 */
import { bandOf } from './bands.ts';
import type { Scorer } from './scorer.ts';
import { predictProbability, namedModel, type ProbabilityModel } from './churn.ts';
import { topReasons } from './explain.ts';
import { CHANNELS, type Channel, type ContactFeatures } from './features.ts';
import { clamp, round3 } from './satisfaction.ts';
import { logisticReasons } from './vector.ts';

export const SERVICE_HORIZON_DAYS = 30;

/**
 * Cold-start service model: a typical contact files a ticket in a month with ~10 % probability
 * (logit −2.2); recent tickets (each e-fold of 30-day tickets +0.9), open tickets (+0.5) and
 * recent inbound contact (+0.4 per e-fold) raise it. Not fitted; replaced by `rapport train`.
 */
export const PRIOR_SERVICE: ProbabilityModel = namedModel(-2.2, {
  'tickets 30d': [0.9, 0],
  'tickets 90d': [0.6, 0],
  'open tickets': [0.5, 0],
  'inbound 30d': [0.4, 0],
});

export function likelyChannel(f: ContactFeatures, mix: Record<Channel, number>): { channel: Channel; probability: number } {
  let total = 0;
  for (const c of CHANNELS) total += f.channelCounts[c] + 2 * (mix[c] ?? 0);
  let best: Channel = 'emails';
  let bestP = -1;
  for (const c of CHANNELS) {
    const p = total > 0 ? (f.channelCounts[c] + 2 * (mix[c] ?? 0)) / total : 0.25;
    if (p > bestP) {
      best = c;
      bestP = p;
    }
  }
  return { channel: best, probability: bestP };
}

export const DEFAULT_CHANNEL_MIX: Record<Channel, number> = { emails: 0.4, calls: 0.25, tickets: 0.22, meetings: 0.13 };

export const scoreServiceNeed: Scorer = ({ features: f, loyalty: l, row, models, bands }) => {
  const model = models.service;
  const p = predictProbability(model, row);
  const value = 100 * p;
  const reasons = topReasons(logisticReasons(model, row, p, f, l), 3);
  const ch = likelyChannel(f, models.channelMix);
  // The likely channel is shown on the service-need tile (extra.likelyChannel), not as a reason:
  // reasons are score points only (issue 17).
  const base = model.source === 'trained' ? 0.9 : 0.5;
  return {
    score: { value: clamp(value), band: bandOf('serviceNeed', value, bands), confidence: round3(base * f.dataQuality), reasons },
    extra: { likelyChannel: ch.channel, channelProbability: round3(ch.probability) },
  };
};
