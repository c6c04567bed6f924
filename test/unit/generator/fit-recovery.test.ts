import { describe, expect, it } from 'vitest';
import { generateAccount } from '../../../src/sandbox/generator/index.ts';
import { BG_NBD, GAMMA_GAMMA, WEEK_MS } from '../../../src/sandbox/generator/params.ts';
import { bgNbdTotalLogLikelihood, fitBgNbd, type RfmSummary } from '../../../src/stats/bg-nbd.ts';
import { fitGammaGamma, type SpendSummary } from '../../../src/stats/gamma-gamma.ts';

/**
 * The generator's purchases must follow BG/NBD (Fader, Hardie & Lee 2005, https://doi.org/10.1287/mksc.1040.0098) and spend Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV"):
 * fitting those models to the generated deals, read back the way a connector would (closed-won
 * deals → contact association → closedate, amount), recovers the generating parameters.
 *
 * Tolerances: over seeds 1–8 with 5,000 customers the fits spread (sd) ≈ 3 % for r, 5 % for α,
 * 11 % for a and 13 % for b (a and b are weakly identified: only repeat buyers inform them). We
 * allow ~3 sd: r ±15 %, α ±20 %, a ±35 %, b ±40 %. And the truth must be a plausible fit: the
 * fitted log-likelihood beats the true parameters' by less than χ²₄(99.9 %)/2 = 9.2 (seen: 0.6–3.3).
 * Gamma-Gamma over seeds 1–6 (~2,500 repeat buyers each): p 5.3–7.6 (sd ≈ 13 %; p and γ trade
 * off), q 3.9–4.2 (sd ≈ 3 %), mean deal 1,955–2,014 (sd ≈ 1 %): p ±35 %, q ±15 %, mean ±5 %.
 */
const NOW = Date.UTC(2026, 0, 15);

function readPurchases(seed: number, contacts: number) {
  const byContact = new Map<string, { at: number; amount: string | null }[]>();
  for (const batch of generateAccount({ seed, contacts, now: NOW, messiness: 0 })) {
    const deals = new Map<string, { at: number; amount: string | null }>();
    for (const o of batch.objects) {
      if (o.type === 'deals' && o.properties['hs_is_closed_won'] === 'true') {
        deals.set(o.id, { at: Date.parse(o.properties['closedate'] ?? ''), amount: o.properties['amount'] ?? null });
      }
    }
    for (const a of batch.associations) {
      if (a.fromType !== 'deals' || a.toType !== 'contacts') continue;
      const deal = deals.get(a.fromId);
      if (!deal) continue;
      const list = byContact.get(a.toId) ?? [];
      list.push(deal);
      byContact.set(a.toId, list);
    }
  }
  return byContact;
}

describe('generated purchases follow BG/NBD and Gamma-Gamma', () => {
  const purchases = readPurchases(2024, 5_000);

  it('a BG/NBD fit recovers r, α, a, b', () => {
    const data: RfmSummary[] = [];
    for (const list of purchases.values()) {
      const times = list.map((d) => d.at).sort((x, y) => x - y);
      const first = times[0] as number;
      const last = times[times.length - 1] as number;
      data.push({ x: times.length - 1, tx: (last - first) / WEEK_MS, T: (NOW - first) / WEEK_MS });
    }
    expect(data.length).toBeGreaterThan(4_800);
    const fit = fitBgNbd(data);
    expect(fit.converged).toBe(true);
    expect(Math.abs(fit.r / BG_NBD.r - 1)).toBeLessThan(0.15);
    expect(Math.abs(fit.alpha / BG_NBD.alpha - 1)).toBeLessThan(0.2);
    expect(Math.abs(fit.a / BG_NBD.a - 1)).toBeLessThan(0.35);
    expect(Math.abs(fit.b / BG_NBD.b - 1)).toBeLessThan(0.4);
    const atTruth = bgNbdTotalLogLikelihood(BG_NBD, data);
    expect(fit.logLikelihood - atTruth).toBeGreaterThanOrEqual(0);
    expect(fit.logLikelihood - atTruth).toBeLessThan(9.2);
  });

  it('a Gamma-Gamma fit on repeat buyers recovers p, q, γ', () => {
    const data: SpendSummary[] = [];
    for (const list of purchases.values()) {
      if (list.length < 2) continue;
      const amounts = list.map((d) => Number(d.amount));
      data.push({ x: amounts.length, zbar: amounts.reduce((s, v) => s + v, 0) / amounts.length });
    }
    const fit = fitGammaGamma(data);
    const meanTrue = (GAMMA_GAMMA.p * GAMMA_GAMMA.gamma) / (GAMMA_GAMMA.q - 1);
    const meanFit = (fit.p * fit.gamma) / (fit.q - 1);
    expect(Math.abs(meanFit / meanTrue - 1)).toBeLessThan(0.05);
    expect(Math.abs(fit.p / GAMMA_GAMMA.p - 1)).toBeLessThan(0.35);
    expect(Math.abs(fit.q / GAMMA_GAMMA.q - 1)).toBeLessThan(0.15);
  });
});
