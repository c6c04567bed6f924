/**
 * The report's KPI tiles, each with a rigorous definition (docs/scores.md)
 * and computed EXACTLY over every live contact of the cache (one streaming pass: `add` takes one
 * contact with its linked records at a time). Records linked to several contacts (an email to
 * two people) are counted once per record for record-level rates, by id.
 *
 * Windows are stated on each tile: W = (asOf − windowDays, asOf]. Churn follows the portal's
 * churn definition (churn.ts), so its window lies further back: a churn is only observable once
 * its confirmation window has passed.
 */
import type { DealData, EngagementData, FeedbackData, TicketData } from '../connectors/types.ts';
import type { ChurnDefinition } from '../scoring/churn.ts';
import { DAY_MS, outcomesBetween, type ContactInput } from '../scoring/features.ts';
import { churnEvidence } from '../scoring/churn-label.ts';

export type Kpi = {
  key: 'csat' | 'nps' | 'churn_rate' | 'avg_clv' | 'contact_rate' | 'communication_efficiency' | 'service_efficiency' | 'feedback_rate';
  label: string;
  /** null when the denominator is empty (the tile then says "no data") */
  value: number | null;
  /** the value as shown, with its unit */
  display: string;
  /** a second figure shown smaller (e.g. the first-contact-resolution proxy) */
  secondary?: string | undefined;
  /** how many items the value rests on, and what they are */
  n: number;
  nLabel: string;
  /** the exact definition, shown under the tile */
  definition: string;
  window: { from: number; to: number };
};

export type KpiOptions = {
  asOf: number;
  /** W, default 90 days */
  windowDays?: number;
  churnDefinition: ChurnDefinition;
  /** ISO 4217 code of the deals' currency for money values (undefined: "deal currency") */
  currency?: string | undefined;
};

/**
 * Money as an analyst reads it: "€12,345" with the currency given, else "12,345 (deal currency)".
 * An unknown code falls back to the code as a prefix ("XYZ 12,345").
 */
export function formatMoney(x: number, currency: string | null | undefined): string {
  const digits = Math.round(x).toLocaleString('en-US');
  if (currency === null || currency === undefined) return `${digits} (deal currency)`;
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency, maximumFractionDigits: 0 }).format(Math.round(x));
  } catch {
    return `${currency} ${digits}`;
  }
}

/** A rep's email counts as answered when the contact writes or calls within this. */
const REPLY_MS = 7 * DAY_MS;
/** A closed ticket is "resolved first time" when no new ticket follows within this. */
const FOLLOW_UP_MS = 7 * DAY_MS;
const CONVERSATIONS = new Set(['calls', 'emails', 'meetings']);

const valid = (t: unknown): t is number => typeof t === 'number' && Number.isFinite(t);

/** Wilson score interval (95 %) of a proportion k/n, in percent (report n and an interval, never a bare percentage). */
export function wilson(k: number, n: number, z = 1.959964): [number, number] | null {
  if (n === 0) return null;
  const p = k / n;
  const d = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / d;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [100 * Math.max(0, centre - half), 100 * Math.min(1, centre + half)];
}

/** Below this many observations a rate is shown as indicative only. */
export const MIN_N = 30;

function interval(k: number, n: number): string | undefined {
  const w = wilson(k, n);
  if (w === null) return undefined;
  return `95 % interval ${w[0].toFixed(1)}–${w[1].toFixed(1)} % (Wilson)${n < MIN_N ? `; n < ${MIN_N}: indicative only` : ''}`;
}

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function ticketClosedAt(t: TicketData): number | null {
  if (!valid(t.createdAt)) return null;
  if (valid(t.closedAt)) return t.closedAt;
  return t.isClosed && valid(t.timeToCloseMs) ? t.createdAt + t.timeToCloseMs : null;
}

/** Streaming KPI computation: `add` every contact once, then `result`. */
export function createKpiAccumulator(opts: KpiOptions) {
  const asOf = opts.asOf;
  const W = (opts.windowDays ?? 90) * DAY_MS;
  const from = asOf - W;
  const inW = (t: unknown): t is number => valid(t) && t > from && t <= asOf;
  const def = opts.churnDefinition;
  const H = def.horizonDays * DAY_MS;
  const Q = def.confirmDays * DAY_MS;
  const churnT0 = asOf - H - Q;

  const csat = new Map<string, number>();
  const nps = new Map<string, number>();
  const inbound = new Set<string>();
  const outreach = new Map<string, boolean>(); // rep email id → answered within 7 days
  const closeDays = new Map<string, number>();
  const fcr = new Map<string, boolean>();
  let contacts = 0;
  let active = 0;
  let respondents = 0;
  let churnBase = 0;
  let churned = 0;

  return {
    add(input: ContactInput): void {
      const created = valid(input.data.createdAt) ? input.data.createdAt : null;
      if (created !== null && created > asOf) return;
      contacts++;
      let isActive = false;
      let answeredSurvey = false;
      const outbound: number[] = [];
      const replies: number[] = []; // inbound emails and calls
      const ticketsCreated: number[] = [];
      for (const row of input.linked) {
        const key = `${row.type}/${row.id}`;
        switch (row.type) {
          case 'feedback_submissions': {
            const f = row.data as FeedbackData;
            if (!inW(f.at)) break;
            isActive = true;
            const v = f.value;
            if (typeof v !== 'number' || !Number.isFinite(v)) break;
            if (f.surveyType === 'CSAT' && v >= 1 && v <= 5) {
              csat.set(key, v);
              answeredSurvey = true;
            } else if (f.surveyType === 'NPS' && v >= 0 && v <= 10) {
              nps.set(key, v);
              answeredSurvey = true;
            } else if (f.surveyType === 'CES' && v >= 1 && v <= 7) answeredSurvey = true;
            break;
          }
          case 'tickets': {
            const t = row.data as TicketData;
            if (valid(t.createdAt)) ticketsCreated.push(t.createdAt);
            if (inW(t.createdAt)) {
              isActive = true;
              inbound.add(key);
            }
            break;
          }
          case 'deals': {
            const d = row.data as DealData;
            if (d.isClosedWon && inW(d.closedAt)) isActive = true;
            break;
          }
          case 'calls':
          case 'emails':
          case 'meetings':
          case 'notes':
          case 'tasks': {
            const e = row.data as EngagementData;
            if (!valid(e.at) || e.at > asOf) break;
            if (!CONVERSATIONS.has(row.type)) break;
            if (e.direction === 'outbound') outbound.push(e.at);
            else if (e.direction === 'inbound' && row.type !== 'meetings') replies.push(e.at);
            if (inW(e.at)) {
              isActive = true;
              if (e.direction === 'inbound') inbound.add(key);
            }
            break;
          }
          default:
            break;
        }
      }
      // Second look at conversations and tickets, now that the contact's rep touches and
      // later tickets are known.
      for (const row of input.linked) {
        const key = `${row.type}/${row.id}`;
        if (row.type === 'emails') {
          const e = row.data as EngagementData;
          // Only rep emails old enough for the 7-day reply window to have passed.
          if (e.direction !== 'outbound' || !valid(e.at) || !(e.at > from && e.at <= asOf - REPLY_MS)) continue;
          const at = e.at;
          const answered = replies.some((r) => r > at && r <= at + REPLY_MS);
          outreach.set(key, (outreach.get(key) ?? false) || answered);
        } else if (row.type === 'tickets') {
          const t = row.data as TicketData;
          const closed = ticketClosedAt(t);
          if (closed === null || !inW(closed) || closed < (t.createdAt as number)) continue;
          const created = t.createdAt as number;
          closeDays.set(key, (closed - created) / DAY_MS);
          // FCR proxy: only tickets whose 7-day follow-up window has passed.
          if (closed <= asOf - FOLLOW_UP_MS) {
            const firstTime =
              closed - created <= DAY_MS &&
              !(Number.isFinite(t.reopenedCount) && t.reopenedCount > 0) &&
              !ticketsCreated.some((c) => c > closed && c <= closed + FOLLOW_UP_MS);
            fcr.set(key, (fcr.get(key) ?? true) && firstTime);
          }
        }
      }
      if (isActive || outbound.some((o) => o > from)) {
        active++;
        if (answeredSurvey) respondents++;
      }
      // Churn per the portal's definition (churn.ts): in the base when it existed at t₀ and was
      // active in the (H + Q) days up to t₀ (else it had already gone quiet for a whole churn span).
      if (created !== null && created <= churnT0) {
        if (outcomesBetween(input, churnT0 - H - Q, churnT0).purchased) {
          churnBase++;
          if (churnEvidence(input, churnT0, def, undefined, asOf).quiet) churned++;
        }
      }
    },

    result(clv: { mean: number | null; n: number }): Kpi[] {
      const window = { from, to: asOf };
      const days = Math.round(W / DAY_MS);
      const pct = (x: number | null, digits = 1) => (x === null ? 'no data' : `${x.toFixed(digits)} %`);
      const ratio = (a: number, b: number) => (b === 0 ? null : a / b);

      const csatN = csat.size;
      let top2 = 0;
      for (const v of csat.values()) if (v >= 4) top2++;
      const csatValue = csatN === 0 ? null : (100 * top2) / csatN;

      const npsN = nps.size;
      let promoters = 0;
      let detractors = 0;
      for (const v of nps.values()) {
        if (v >= 9) promoters++;
        else if (v <= 6) detractors++;
      }
      const npsValue = npsN === 0 ? null : (100 * (promoters - detractors)) / npsN;

      const churnValue = churnBase === 0 ? null : (100 * churned) / churnBase;
      const annual = churnValue === null ? null : 100 * (1 - Math.pow(1 - churnValue / 100, 365 / def.horizonDays));
      const signals = [
        def.signals.lostDealStages.length > 0 ? `a deal closed in a lost-renewal stage (${def.signals.lostDealStages.join(', ')})` : null,
        def.signals.lostLifecycleStages.length > 0 ? `a lifecycle stage meaning former customer (${def.signals.lostLifecycleStages.join(', ')})` : null,
        def.signals.churnDateProperty !== undefined ? `a churn date (${def.signals.churnDateProperty})` : null,
      ].filter((x) => x !== null);
      const churnDef =
        `Of the contacts that existed on ${isoDay(churnT0)} (t₀) and bought in the ${def.horizonDays + def.confirmDays} days up to t₀, ` +
        (Q > 0
          ? `the share with no purchase from t₀ + ${def.horizonDays} d to t₀ + ${def.horizonDays + def.confirmDays} d: gone within ${def.horizonDays} days and not back for ${def.confirmDays} more`
          : `the share with no purchase in the ${def.horizonDays} days after t₀`) +
        (signals.length > 0 ? `, or marked as lost by ${signals.join(' or ')}` : '') +
        `. Messages, tickets and survey answers never count as staying or leaving (the churn model's own definition). ` +
        `t₀ is as-of − ${def.horizonDays + def.confirmDays} d, the latest start whose outcome is already known.`;

      const inboundN = inbound.size;
      const contactRate = ratio(inboundN, contacts);

      let answered = 0;
      for (const a of outreach.values()) if (a) answered++;
      const commValue = outreach.size === 0 ? null : (100 * answered) / outreach.size;

      const closeMedian = median([...closeDays.values()]);
      let fcrYes = 0;
      for (const f of fcr.values()) if (f) fcrYes++;
      const fcrValue = fcr.size === 0 ? null : (100 * fcrYes) / fcr.size;

      const feedbackValue = active === 0 ? null : (100 * respondents) / active;

      const kpis: Kpi[] = [
        {
          key: 'csat',
          label: 'CSAT',
          value: csatValue,
          display: pct(csatValue),
          secondary: interval(top2, csatN),
          n: csatN,
          nLabel: 'CSAT answers',
          definition: `Share of CSAT answers (1–5 scale) that are 4 or 5 ("top-2-box"), × 100, over the answers submitted in the last ${days} days. Answers outside 1–5 or non-numeric are excluded.`,
          window,
        },
        {
          key: 'nps',
          label: 'NPS',
          value: npsValue,
          display: npsValue === null ? 'no data' : `${npsValue >= 0 ? '+' : ''}${npsValue.toFixed(0)}`,
          secondary: npsN === 0 ? undefined : `${promoters} promoters · ${npsN - promoters - detractors} passives · ${detractors} detractors`,
          n: npsN,
          nLabel: 'NPS answers',
          definition: `% promoters (9–10) − % detractors (0–6) among the NPS answers (0–10) submitted in the last ${days} days; passives (7–8) count in the denominator. Range −100 to +100.`,
          window,
        },
        {
          key: 'churn_rate',
          label: `Churn rate (${def.horizonDays} days)`,
          value: churnValue,
          display: pct(churnValue),
          secondary:
            annual === null ? undefined : `≈ ${annual.toFixed(1)} % a year (1 − (1 − r)^(365/${def.horizonDays})); ${interval(churned, churnBase) ?? ''}`,
          n: churnBase,
          nLabel: 'contacts active at t₀',
          definition: churnDef,
          window: { from: churnT0, to: churnT0 + H + Q },
        },
        {
          key: 'avg_clv',
          label: 'Average CLV (next 12 months)',
          value: clv.mean,
          display: clv.mean === null ? 'no data' : formatMoney(clv.mean, opts.currency),
          n: clv.n,
          nLabel: 'scored customers',
          definition:
            'Mean over scored contacts with at least one purchase (closed-won deal) of: expected spend per purchase (Gamma-Gamma, conditional on the customer’s own purchases) × expected purchases in the next 52 weeks (BG/NBD, conditional on frequency, recency and age), undiscounted, in the deals’ currency, as of the last scoring.',
          window: { from: asOf, to: asOf + 365 * DAY_MS },
        },
        {
          key: 'contact_rate',
          label: 'Contact rate',
          value: contactRate,
          display: contactRate === null ? 'no data' : `${contactRate.toFixed(2)} per contact`,
          n: contacts,
          nLabel: 'contacts',
          definition: `Inbound contacts (inbound calls, emails and meetings, and new tickets; each record once) in the last ${days} days ÷ live contacts created by the as-of date. Survey answers are not counted (they are solicited).`,
          window,
        },
        {
          key: 'communication_efficiency',
          label: 'Communication efficiency',
          value: commValue,
          display: pct(commValue),
          secondary: 'reply rate to rep emails',
          n: outreach.size,
          nLabel: 'rep emails',
          definition: `Share of rep (outbound) emails that the contact answered within 7 days with an inbound email or call, over the rep emails of the last ${days} days sent at least 7 days before the as-of date (so every reply window is complete).`,
          window: { from, to: asOf - REPLY_MS },
        },
        {
          key: 'service_efficiency',
          label: 'Service efficiency',
          value: closeMedian,
          display: closeMedian === null ? 'no data' : `${closeMedian.toFixed(1)} days to close (median)`,
          secondary: fcrValue === null ? 'first-contact resolution: no data' : `first-contact resolution (proxy): ${fcrValue.toFixed(1)} % of ${fcr.size}`,
          n: closeDays.size,
          nLabel: 'tickets closed',
          definition: `Median days from creation to close over tickets closed in the last ${days} days. First-contact resolution (proxy): share of those closed at least 7 days before the as-of date that were closed within 24 hours of creation, never reopened, and not followed by another ticket from the same contact within 7 days.`,
          window,
        },
        {
          key: 'feedback_rate',
          label: 'Feedback rate',
          value: feedbackValue,
          display: pct(feedbackValue),
          secondary: interval(respondents, active),
          n: active,
          nLabel: 'active contacts',
          definition: `Share of active contacts who answered at least one survey (NPS, CSAT or CES, valid value) in the last ${days} days; active = any purchase, ticket, survey answer, or call/email/meeting in either direction in those days.`,
          window,
        },
      ];
      for (const k of kpis) if (k.secondary === undefined) delete k.secondary;
      return kpis;
    },
  };
}

export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
