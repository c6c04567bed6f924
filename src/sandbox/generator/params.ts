/**
 * The known parameters of the synthetic account. Tests and the model-quality benchmark compare
 * fitted models against these, so every number that shapes the truth lives here.
 */

export const WEEK_MS = 7 * 86_400_000;
export const DAY_MS = 86_400_000;

/**
 * BG/NBD (Fader, Hardie & Lee 2005), time unit = weeks. Close in spirit to CDNOW
 * (r 0.243, α 4.41, a 0.793, b 2.43) with a slightly higher r so a B2B account has more repeat
 * buyers: mean λ = r/α ≈ 0.058 purchases/week, mean dropout p = a/(a+b) ≈ 0.24.
 */
export const BG_NBD = { r: 0.35, alpha: 6, a: 0.8, b: 2.5 } as const;

/**
 * Gamma-Gamma spend (Fader, Hardie & Lee 2005, JMR): each deal amount z ~ Gamma(p, ν) (shape,
 * rate), the customer's ν ~ Gamma(q, γ) (shape, rate). Mean deal = p·γ/(q−1) = 2,000 (currency
 * units); a customer's mean spend p/ν is independent of purchase frequency, as the model assumes.
 */
export const GAMMA_GAMMA = { p: 6, q: 4, gamma: 1_000 } as const;

/** Customers' first purchase ("tenure start") is uniform over this many weeks before `now`. */
export const TENURE_WEEKS = { min: 1, max: 104 } as const;

/** The truth's forecast windows. */
export const CHURN_HORIZON_MS = 90 * DAY_MS;
export const TICKET_HORIZON_MS = 30 * DAY_MS;

/**
 * Latent drivers. Each customer has three standard-normal drivers: satisfaction s, ticket pain t
 * and engagement e. The BG/NBD dropout p is tied to them through a probit-style linear predictor
 *   z = −0.60·s + 0.35·t − 0.35·e + 0.63·ε,   p = F⁻¹_Beta(a,b)(Φ(z)),
 * (the weights have unit norm, so z ~ N(0,1) and p keeps its exact Beta(a, b) marginal).
 * Unhappy, pained, disengaged customers therefore drop out sooner, and the noise ε keeps ~40 %
 * of the dropout variance unexplained by anything observable.
 */
export const CHURN_WEIGHTS = { satisfaction: -0.6, pain: 0.35, engagement: -0.35, noise: 0.63 } as const;

/**
 * Leavers behave as real ones do before they go (issue 17): in the `windowDays` before a
 * customer's dropout (in the past, or within the truth's 90-day horizon) they open extra problem
 * tickets (`ticketsPer30d`, on top of their usual rate), and their mood, which sets the tone of
 * messages and survey answers, falls by `moodDrop` (so negative messages and detractor answers
 * rise). Service failures and complaints preceding defection are a standard finding of the
 * retention literature (Keaveney 1995, "Customer Switching Behavior in Service Industries",
 * Journal of Marketing 59(2), https://doi.org/10.1177/002224299505900206; Ascarza et al. 2018,
 * "In Pursuit of Enhanced Customer Retention Management", https://doi.org/10.1007/s40547-017-0080-0).
 * The dropout itself stays the BG/NBD draw, so truth and label keep one definition.
 */
export const PRE_CHURN = { windowDays: 90, ticketsPer30d: 0.5, moodDrop: 0.3 } as const;

/** latent satisfaction in [0, 1] = sigmoid(center + scale·s) */
export const SATISFACTION_LINK = { center: 0.8, scale: 1.25 } as const;

export const RATES = {
  /** support tickets (issues) per 30 active days: base·exp(pain·t + sat·s) */
  ticketsPer30d: { base: 0.15, pain: 0.55, satisfaction: -0.4 },
  /**
   * inbound contacts (questions by call/email/meeting/ticket) per active week:
   * base·exp(pain·t + engagement·e + sat·s) — rises with ticket pain, falls with
   * dissatisfaction-driven disengagement.
   */
  inboundPerWeek: { base: 0.05, pain: 0.3, engagement: 0.55, satisfaction: 0.2 },
  /** share of inbound contacts that go to the preferred channel (the rest spread evenly) */
  preferredShare: 0.6,
  /** rep-initiated touches (calls, emails, meetings) per week, dead or alive */
  outboundPerWeek: 0.03,
  /** open and lost deals per active week (not purchases: outside BG/NBD) */
  openDealsPerWeek: 0.004,
  lostDealsPerWeek: 0.006,
  /** NPS survey cadence and base response probability (× exp(0.4·e), capped) */
  npsEveryWeeks: 13,
  npsResponse: 0.32,
  /** after each closed ticket */
  csatResponse: 0.38,
  cesResponse: 0.15,
} as const;

/** Preferred channel mix over customers. */
export const CHANNEL_MIX = [
  ['emails', 0.4],
  ['calls', 0.25],
  ['tickets', 0.22],
  ['meetings', 0.13],
] as const;

/**
 * Data-quality defects, as rates. `generateAccount({ messiness })` scales all of them
 * (0 = a clean account, 1 = these defaults).
 */
export const MESSINESS = {
  /** share of contact records that are duplicates of another contact (email case/whitespace) */
  duplicateContacts: 0.02,
  /** share of optional properties that are missing (absent, or null for 40 % of them) */
  missingOptional: 0.07,
  /** share of closed-won deals whose amount is "TBD" (typed into a number field by an import) */
  amountNotANumber: 0.003,
  /**
   * share of closed-won deals whose closedate was typed 20 years off ("2045-…" for "2025-…"): the
   * purchase happened, its recorded date is garbage in the future. (Not contacts' createdate: the
   * sandbox serves that from the record's creation time, as HubSpot does.)
   */
  futureClosedate: 0.002,
  /** share of NPS answers recorded as text like "10/10" (a broken form mapping) */
  npsOutOfRange: 0.005,
  /** share of phone numbers in an odd format ("(555) 010-2345", "+1 555.010.2345", "n/a", …) instead of E.164 */
  oddPhoneFormat: 0.3,
  /** share of names written in all caps or all lower case */
  oddNameCase: 0.01,
} as const;

export type Messiness = { -readonly [K in keyof typeof MESSINESS]: number };

export function scaleMessiness(factor: number): Messiness {
  const f = Math.max(0, factor);
  return {
    duplicateContacts: MESSINESS.duplicateContacts * f,
    missingOptional: MESSINESS.missingOptional * f,
    amountNotANumber: MESSINESS.amountNotANumber * f,
    futureClosedate: MESSINESS.futureClosedate * f,
    npsOutOfRange: MESSINESS.npsOutOfRange * f,
    oddNameCase: MESSINESS.oddNameCase * f,
    oddPhoneFormat: MESSINESS.oddPhoneFormat * f,
  };
}

/** First id per object type: numeric strings, increasing, unique per type. */
export const ID_BASES = {
  contacts: 1_001,
  companies: 5_001,
  deals: 10_000_001,
  tickets: 20_000_001,
  calls: 30_000_001,
  emails: 40_000_001,
  meetings: 50_000_001,
  notes: 60_000_001,
  tasks: 70_000_001,
  feedback_submissions: 80_000_001,
} as const;
