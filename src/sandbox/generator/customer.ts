/**
 * One synthetic customer's latent state and purchase history: the numbers the records are
 * built from (records.ts) and the truth the models are judged against. Pure over the Rng.
 *
 * Purchases follow BG/NBD exactly (Fader, Hardie & Lee 2005, https://doi.org/10.1287/mksc.1040.0098): the first purchase starts the customer's
 * clock; while alive they buy at Poisson rate λ ~ Gamma(r, α) per week; after each REPEAT
 * purchase they drop out with probability p ~ Beta(a, b). p is tied to the latent drivers by a
 * Gaussian copula (params.ts), so its marginal stays exactly Beta(a, b) and a BG/NBD fit on the
 * generated deals must recover (r, α, a, b).
 *
 * What the truth means (ContactTruth in model.ts):
 * - pAlive: P(alive at now | the customer's own λ, p and purchase history) — the oracle posterior,
 *   1 for a customer with no repeat purchase (BG/NBD cannot drop out before one).
 * - churnProbability90d = 1 − pAlive·e^{−λ·p·90d}: P(not alive at now + 90 days). It counts
 *   customers who already dropped out silently before now: the CRM cannot see a dropout, so from
 *   its side they are lost within the horizon. churnedNext90d is the realised draw (dead now, or
 *   dropping out in the simulated next 90 days).
 * - ticketRate: new tickets per 30 alive days (issues + questions sent through the ticket
 *   channel); ticketProbability30d: P(≥ 1 new ticket in the next 30 days, before any dropout);
 *   ticketNext30d: the realised draw.
 */
import type { ContactTruth } from '../model.ts';
import {
  BG_NBD,
  CHANNEL_MIX,
  CHURN_HORIZON_MS,
  CHURN_WEIGHTS,
  DAY_MS,
  GAMMA_GAMMA,
  PRE_CHURN,
  RATES,
  SATISFACTION_LINK,
  TENURE_WEEKS,
  TICKET_HORIZON_MS,
  WEEK_MS,
} from './params.ts';
import { chance, exponential, gamma, uniform, type Rng } from './random.ts';
import { betaProbitTable, sigmoid } from './stats.ts';

export type Channel = ContactTruth['preferredChannel'];

export type Customer = {
  /** standard-normal drivers: satisfaction, ticket pain, engagement */
  s: number;
  pain: number;
  engagement: number;
  satisfaction: number;
  /** purchases per week while alive */
  lambda: number;
  /** dropout probability after each repeat purchase */
  p: number;
  /** Gamma-Gamma: this customer's deal amounts are Gamma(GAMMA_GAMMA.p, nu) */
  nu: number;
  /** when the contact record was created (a lead before the first purchase) */
  createdAt: number;
  /** purchase times (epoch ms), first purchase first; all ≤ now */
  purchases: number[];
  /** when the customer dropped out (the time of their last purchase), or null when alive at now */
  diedAt: number | null;
  /** end of the active span: diedAt, else now */
  activeUntil: number;
  /** when the customer leaves: diedAt, or a dropout within the truth's horizon after now; null when staying */
  leavesAt: number | null;
  preferredChannel: Channel;
  /** new tickets per 30 active days (issues + questions sent through the ticket channel) */
  issueRatePer30d: number;
  inboundPerWeek: number;
  truth: Omit<ContactTruth, 'contactId'>;
};

let probitTable: ((z: number) => number) | undefined;
/** F⁻¹_Beta(a,b)(Φ(z)), built on first use (~50 ms) and shared by every account. */
function dropoutFromZ(z: number): number {
  probitTable ??= betaProbitTable(BG_NBD.a, BG_NBD.b);
  return probitTable(z);
}

function drawChannel(rng: Rng): Channel {
  let u = rng.next();
  for (const [channel, share] of CHANNEL_MIX) {
    if (u < share) return channel;
    u -= share;
  }
  return 'emails';
}

/**
 * P(at least one event of rate `mu` before the customer dies or `horizon` passes), for a customer
 * alive now who dies at rate `kappa` (per the same time unit as mu and horizon).
 */
function eventBeforeDeath(mu: number, kappa: number, horizon: number): number {
  const total = mu + kappa;
  if (!(total > 0)) return 0;
  const none = Math.exp(-total * horizon) + (kappa / total) * (1 - Math.exp(-total * horizon));
  return 1 - none;
}

/** true in the PRE_CHURN window before the customer leaves (params.ts) */
export function leaving(customer: Pick<Customer, 'leavesAt'>, at: number): boolean {
  return customer.leavesAt !== null && at <= customer.leavesAt && at > customer.leavesAt - PRE_CHURN.windowDays * DAY_MS;
}

/** The customer's mood at `at`: latent satisfaction, lowered in the months before they leave. */
export function moodAt(customer: Pick<Customer, 'leavesAt' | 'satisfaction'>, at: number): number {
  return leaving(customer, at) ? customer.satisfaction - PRE_CHURN.moodDrop : customer.satisfaction;
}

export function drawCustomer(rng: Rng, now: number): Customer {
  const s = rng.normal();
  const pain = rng.normal();
  const engagement = rng.normal();
  const noise = rng.normal();
  const satisfaction = sigmoid(SATISFACTION_LINK.center + SATISFACTION_LINK.scale * s);
  const z = CHURN_WEIGHTS.satisfaction * s + CHURN_WEIGHTS.pain * pain + CHURN_WEIGHTS.engagement * engagement + CHURN_WEIGHTS.noise * noise;
  const p = dropoutFromZ(z);
  const lambda = gamma(rng, BG_NBD.r, BG_NBD.alpha);
  const nu = gamma(rng, GAMMA_GAMMA.q, GAMMA_GAMMA.gamma);

  const first = now - uniform(rng, TENURE_WEEKS.min, TENURE_WEEKS.max) * WEEK_MS;
  // Leads exist a while before they buy; round to the second like real CRM timestamps.
  const createdAt = Math.round(first - uniform(rng, 0, 12) * WEEK_MS);
  const firstPurchase = Math.round(first);
  const purchases = [firstPurchase];
  let diedAt: number | null = null;
  let t = firstPurchase;
  for (;;) {
    t += exponential(rng, lambda) * WEEK_MS;
    if (t > now) break;
    const at = Math.round(t);
    purchases.push(at);
    if (chance(rng, p)) {
      diedAt = at;
      break;
    }
  }

  // The future the truth describes: continue the same process past `now` (never emitted as data).
  let diesAfterNowAt = Number.POSITIVE_INFINITY;
  if (diedAt === null) {
    let f = now;
    for (;;) {
      f += exponential(rng, lambda) * WEEK_MS;
      if (f > now + CHURN_HORIZON_MS) break;
      if (chance(rng, p)) {
        diesAfterNowAt = f;
        break;
      }
    }
  }

  const preferredChannel = drawChannel(rng);
  const ticketRates = RATES.ticketsPer30d;
  const issueRatePer30d = ticketRates.base * Math.exp(ticketRates.pain * pain + ticketRates.satisfaction * s);
  const inbound = RATES.inboundPerWeek;
  const inboundPerWeek = inbound.base * Math.exp(inbound.pain * pain + inbound.engagement * engagement + inbound.satisfaction * s);
  const ticketShare = preferredChannel === 'tickets' ? RATES.preferredShare : (1 - RATES.preferredShare) / 3;
  const ticketRate = issueRatePer30d + inboundPerWeek * ticketShare * (30 / 7);

  // P(alive | history, λ, p): the oracle posterior with the customer's own parameters. With x
  // repeat purchases and the last at tx, alive ∝ (1−p)·e^{−λT}, died-after-last ∝ p·e^{−λ·tx}.
  const x = purchases.length - 1;
  const last = purchases[purchases.length - 1] as number;
  let pAlive = 1;
  if (x > 0) {
    const survive = (1 - p) * Math.exp((-lambda * (now - last)) / WEEK_MS);
    pAlive = survive / (survive + p);
  }
  const kappaPerWeek = lambda * p;
  const churnProbability90d = 1 - pAlive * Math.exp((-kappaPerWeek * CHURN_HORIZON_MS) / WEEK_MS);
  const ticketProbability30d =
    pAlive * eventBeforeDeath(ticketRate / 30, kappaPerWeek / 7, TICKET_HORIZON_MS / DAY_MS);
  const churnedNext90d = diedAt !== null || diesAfterNowAt <= now + CHURN_HORIZON_MS;
  let ticketNext30d = false;
  if (diedAt === null) {
    const firstTicket = now + exponential(rng, ticketRate / 30) * DAY_MS;
    ticketNext30d = firstTicket <= now + TICKET_HORIZON_MS && firstTicket < diesAfterNowAt;
  }

  return {
    s,
    pain,
    engagement,
    satisfaction,
    lambda,
    p,
    nu,
    createdAt,
    purchases,
    diedAt,
    activeUntil: diedAt ?? now,
    leavesAt: diedAt ?? (Number.isFinite(diesAfterNowAt) ? Math.round(diesAfterNowAt) : null),
    preferredChannel,
    issueRatePer30d,
    inboundPerWeek,
    truth: {
      satisfaction,
      purchaseRate: lambda,
      dropoutProbability: p,
      pAlive,
      churnProbability90d,
      churnedNext90d,
      ticketRate,
      ticketProbability30d,
      ticketNext30d,
      preferredChannel,
    },
  };
}
