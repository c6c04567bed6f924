/**
 * The churn label of one contact after a training cut-off, under the portal's churn definition
 * (churn.ts). Shared by training (train.ts), the report's held-out curves (report/evaluation.ts)
 * and the churn-rate KPI (report/kpis.ts), so all three count the same event.
 *
 * Only purchases and the explicit signals decide it: inbound messages, tickets and survey answers
 * never do (they are features). A customer who complains and then leaves is labelled churned; one
 * who complains and keeps buying is not.
 */
import type { BgNbdParams, RfmSummary } from '../stats/bg-nbd.ts';
import type { ChurnDefinition, ChurnSignals } from './churn.ts';
import { computeFeatures, DAY_MS, type CompanyContext, type ContactInput } from './features.ts';
import type { DealData } from '../connectors/types.ts';
import { rfmSummary, tryPAlive } from './loyalty.ts';

/**
 * What the data say after a cut-off: `explicit` when a churn signal the admin mapped fired (and
 * no purchase followed it), `quiet` when no purchase came in the label window, and the purchase
 * summary at the horizon for the BG/NBD weighting of a quiet customer.
 */
export type ChurnEvidence = { quiet: boolean; explicit: boolean; atHorizon: RfmSummary | null };

const finite = (t: unknown): t is number => typeof t === 'number' && Number.isFinite(t);

/** Purchases (closed-won close dates) and explicit losses (closed deals in a lost stage) of a contact. */
function dealEvents(input: ContactInput, signals: ChurnSignals): { purchases: number[]; losses: number[] } {
  const purchases: number[] = [];
  const losses: number[] = [];
  for (const row of input.linked) {
    if (row.type !== 'deals') continue;
    const d = row.data as DealData;
    if (!finite(d.closedAt)) continue;
    if (d.isClosedWon) purchases.push(d.closedAt);
    else if (d.isClosed && d.stage !== null && signals.lostDealStages.includes(d.stage)) losses.push(d.closedAt);
  }
  return { purchases, losses };
}

/**
 * Evidence for "churned by cut + H". Explicit first: a lost-renewal deal closed in (cut, cut + H],
 * a mapped churn date by cut + H, or a lifecycle stage meaning "former customer" on a past buyer whose last purchase was by
 * cut + H, with no purchase after the loss (through the confirmation window). Otherwise
 * purchase-based: with a confirmation window Q the customer is quiet when no purchase falls in
 * (cut + H, cut + H + Q]; without one, in (cut, cut + H].
 */
export function churnEvidence(
  input: ContactInput,
  cut: number,
  def: ChurnDefinition,
  company: CompanyContext | undefined,
  now: number,
): ChurnEvidence {
  const H = def.horizonDays * DAY_MS;
  const Q = def.confirmDays * DAY_MS;
  const end = cut + H;
  const windowEnd = Q > 0 ? end + Q : end;
  const { purchases, losses } = dealEvents(input, def.signals);
  const boughtIn = (from: number, to: number) => purchases.some((t) => t > from && t <= to);
  let lostAt: number | null = null;
  for (const t of losses) if (t > cut && t <= end && (lostAt === null || t < lostAt)) lostAt = t;
  const churnedAt = def.signals.churnDateProperty === undefined ? null : (input.data.churnedAt ?? null);
  if (churnedAt !== null && Number.isFinite(churnedAt) && churnedAt <= end && (lostAt === null || churnedAt < lostAt)) lostAt = Math.max(cut, churnedAt);
  const stage = input.data.lifecycleStage;
  if (lostAt === null && stage !== null && def.signals.lostLifecycleStages.includes(stage) && purchases.length > 0) {
    const last = Math.max(...purchases);
    if (last <= end) lostAt = Math.max(cut, last);
  }
  if (lostAt !== null && !boughtIn(lostAt, windowEnd)) return { quiet: true, explicit: true, atHorizon: null };
  const active = Q > 0 ? boughtIn(end, windowEnd) : boughtIn(cut, end);
  if (active || Q === 0) return { quiet: !active, explicit: false, atHorizon: null };
  return { quiet: true, explicit: false, atHorizon: rfmSummary(computeFeatures(input, end, company, now)) };
}

/**
 * The churn label as a probability (IRLS accepts fractional labels). An explicit signal: 1. A
 * purchase after the horizon: 0 (still a customer). Quiet through the confirmation window of τ
 * weeks: not proof of loss, since slow buyers are quiet too, so BG/NBD says how likely the quiet
 * customer is gone: with A = P(alive at the horizon | history) and P₀ = ((α+T)/(α+T+τ))^(r+x) the
 * chance an alive customer makes no purchase in τ weeks, P(gone | quiet) = (1 − A) / (1 − A + A·P₀).
 * A customer with no repeat purchase cannot have dropped out under BG/NBD (A = 1), which is the
 * model's definition of churn, so their label stays low. Without a confirmation window or a
 * purchase history the label is the plain quiet/active indicator.
 */
export function churnLabel(e: ChurnEvidence, bg: BgNbdParams, tauWeeks: number): number {
  if (e.explicit) return 1;
  if (!e.quiet) return 0;
  const s = e.atHorizon;
  if (s === null) return 1;
  const A = tryPAlive(bg, s);
  if (A === null) return 1; // BG/NBD cannot weigh this history: the plain quiet indicator
  const p0 = Math.pow((bg.alpha + s.T) / (bg.alpha + s.T + tauWeeks), bg.r + s.x);
  const gone = 1 - A;
  const y = gone / (gone + A * p0);
  return Number.isFinite(y) ? y : 1;
}
