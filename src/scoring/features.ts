/**
 * Cache → one feature vector per contact, AS OF a given time (ARCHITECTURE §5, docs/scores.md "Features (as of a date)").
 *
 * `computeFeatures` is pure over rows: only events at or before `asOf` count, and state that
 * changes after the fact (deal stage, ticket status) is reconstructed from dates: a deal closed
 * after `asOf` was open at `asOf`; a ticket closed after `asOf` was open. Rapport's own written
 * properties (rapport_*) never reach the normalized data, so they cannot be inputs.
 *
 * Reading is one ordered pass: contacts by id, and their linked records through the
 * associations index (portal, to_type, to_id), in bounded chunks (`readContactChunks`), so a
 * million contacts never sit in memory and no per-contact query is issued.
 */
import type {
  CompanyData,
  ContactData,
  DataIssue,
  DataIssueCode,
  DealData,
  EngagementData,
  FeedbackData,
  ObjectType,
  RecordData,
  TicketData,
} from '../connectors/types.ts';
import { isPlausibleAmount, isPlausibleTime } from '../connectors/clean.ts';
import type { IdRange, Store } from '../store/index.ts';
import { sentimentOf } from './sentiment.ts';

export const DAY_MS = 86_400_000;
/** "never" is capped here, so recency features stay finite. */
export const NEVER_DAYS = 730;

export type LinkedRow = { type: ObjectType; id: string; data: RecordData; issues: readonly DataIssue[] };
export type ContactInput = {
  id: string;
  companyId: string | null;
  data: ContactData;
  issues: readonly DataIssue[];
  linked: LinkedRow[];
};
export type CompanyContext = { employees: number | null; annualRevenue: number | null };

export const CHANNELS = ['emails', 'calls', 'meetings', 'tickets'] as const;
export type Channel = (typeof CHANNELS)[number];

/** One contact's features as of `asOf`. Days are whole-ish numbers; "never" is NEVER_DAYS. */
export type ContactFeatures = {
  contactId: string;
  asOf: number;
  /** false when the contact was created after asOf (not yet a contact then) */
  exists: boolean;
  /** days since the contact was created (or since its first recorded event when the create date is missing) */
  tenureDays: number;
  /** closed-won deals closed at or before asOf */
  purchases: number;
  /** days since the first purchase (0 when none) */
  daysSinceFirstPurchase: number;
  /** days since the last purchase (NEVER_DAYS when none; not capped otherwise, BG/NBD needs the exact value) */
  recencyDays: number;
  /** sum of closed-won amounts (valid amounts only) */
  monetaryTotal: number;
  /** mean closed-won amount over purchases with a valid amount (0 when none) */
  monetaryMean: number;
  /** purchases with a valid amount (Gamma-Gamma needs the count behind the mean) */
  amountCount: number;
  /** purchases in the last 90 days */
  purchases90d: number;
  /** deals created at or before asOf and not closed by asOf */
  openDeals: number;
  /** deals closed lost at or before asOf */
  lostDeals: number;
  /**
   * inbound calls/emails/meetings in the last 30 days, complaints left out (a message whose
   * sentiment is negative): a complaint is not evidence of a healthy relationship, and counting it
   * here let one angry email lower churn risk (issue 17). Complaints count in `negativeTexts`.
   */
  inbound30d: number;
  /** inbound calls/emails/meetings in the last 90 days, complaints left out */
  inbound90d: number;
  /** inbound calls/emails/meetings 91–180 days ago, complaints left out (for the trend) */
  inboundPrev90d: number;
  /** rep-initiated calls/emails/meetings in the last 90 days */
  outbound90d: number;
  /** notes and tasks logged in the last 90 days */
  notes90d: number;
  /** all engagements at or before asOf */
  engagementsTotal: number;
  /**
   * days since the last inbound engagement that is not a complaint: a call/email/meeting without
   * negative sentiment or a survey answer that is not a detractor's (NEVER_DAYS when none).
   * Tickets, complaints and detractor answers are risk evidence, never "still here" evidence.
   */
  daysSinceInbound: number;
  /** days since any touch (a purchase, a rep touch, or an inbound contact as above; NEVER_DAYS when none) */
  daysSinceTouch: number;
  /** inbound contacts per channel, all time (for the likely channel) */
  channelCounts: Record<Channel, number>;
  /** tickets created at or before asOf */
  tickets: number;
  /** tickets created in the last 30 days */
  tickets30d: number;
  /** tickets created in the last 90 days */
  tickets90d: number;
  /** tickets open at asOf */
  openTickets: number;
  /** HIGH/URGENT tickets open at asOf */
  openHighPriority: number;
  /** mean days to close over tickets closed by asOf (null when none) */
  meanCloseDays: number | null;
  /** tickets closed by asOf */
  closedTickets: number;
  /** tickets (closed by asOf) that were reopened at least once */
  reopenedTickets: number;
  /** days since the last ticket was created (NEVER_DAYS when none) */
  daysSinceTicket: number;
  /** ticket-experience score in [0, 1] averaged over closed tickets (null when none) */
  ticketExperience: number | null;
  /** valid survey answers at or before asOf */
  surveys: number;
  /** the brief's CS: mean of (x − min)/(max − min) over answers, on each survey's SCALE bounds (null when none) */
  surveyScore: number | null;
  /** the latest NPS answer 0–10 (null when none) */
  npsLast: number | null;
  /** mean CSAT 1–5 (null when none) */
  csatMean: number | null;
  /** days since the last survey answer (NEVER_DAYS when none) */
  daysSinceSurvey: number;
  /** valid survey answers from a detractor: NPS 0–6, CSAT 1–2, CES 1–3 */
  detractorAnswers: number;
  /** valid survey answers from a promoter: NPS 9–10, CSAT 5, CES 6–7 */
  promoterAnswers: number;
  /** mean sentiment in (−1, 1) of inbound texts, ticket texts and survey comments with lexicon words (null when none) */
  sentiment: number | null;
  /** texts that carried sentiment */
  sentimentTexts: number;
  /** texts with clearly negative sentiment (< −0.3) */
  negativeTexts: number;
  /** the contact's company size (null when unknown) */
  companyEmployees: number | null;
  /** distinct data problems found in this contact's records (words: explain.ts describeIssue) */
  dataIssues: DataIssue[];
  /** 1 = clean; each distinct problem lowers it (never below 0.4) */
  dataQuality: number;
};

/** Survey scales (docs/scores.md "The four scores"): CES is CES 2.0, 1–7 agreement, higher is better. */
const SCALES = { NPS: [0, 10], CSAT: [1, 5], CES: [1, 7] } as const;

function days(ms: number): number {
  return ms / DAY_MS;
}

/** Days from `t` to `asOf`, in [0, NEVER_DAYS]; NEVER_DAYS when there was no such event. */
function sinceDays(asOf: number, t: number): number {
  return Number.isFinite(t) ? Math.min(NEVER_DAYS, Math.max(0, days(asOf - t))) : NEVER_DAYS;
}

/** Running sentiment of a contact's texts (module-level helpers, not closures: computeFeatures runs per contact). */
type Tone = { sum: number; texts: number; negative: number };

/** Adds a text's sentiment; true when the text is a complaint (its sentiment is negative). */
function addTone(tone: Tone, text: string | null): boolean {
  const s = sentimentOf(text);
  if (s.hits === 0) return false;
  tone.sum += s.score;
  tone.texts++;
  if (s.score < -0.3) tone.negative++;
  return s.score < 0;
}

/**
 * Detractor / promoter cut-offs per survey: NPS's own (0–6 / 9–10, https://www.netpromoter.com/know/);
 * CSAT 1–2 / 5 and CES 1–3 / 6–7 on their 1–5 and 1–7 scales (the bottom and top of each scale).
 */
const DETRACTOR_MAX = { NPS: 6, CSAT: 2, CES: 3 } as const;
const PROMOTER_MIN = { NPS: 9, CSAT: 5, CES: 6 } as const;

/**
 * A usable date: finite and within the plausible range (connectors/clean.ts). Rows cached before
 * the connectors bounded dates can still hold e.g. −8.64e15; `implausibleDates` names them.
 */
function validTime(t: unknown): t is number {
  return typeof t === 'number' && isPlausibleTime(t);
}

/** Whether a row holds a finite date outside the plausible range (treated as missing, and an issue). */
function hasImplausibleDate(data: object): boolean {
  // the date fields of RecordData, checked by name: no per-row allocation on the scoring hot path
  const d = data as { createdAt?: unknown; closedAt?: unknown; at?: unknown };
  return implausible(d.createdAt) || implausible(d.closedAt) || implausible(d.at);
}
const implausible = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && !isPlausibleTime(v);

/** Distinct issues by code and field, in a stable order. */
function issueSet() {
  const byKey = new Map<string, DataIssue>();
  return {
    add(code: DataIssueCode, field: string): void {
      byKey.set(`${code} ${field}`, { code, field });
    },
    addAll(issues: readonly DataIssue[]): void {
      for (const i of issues) byKey.set(`${i.code} ${i.field}`, i);
    },
    sorted: (): DataIssue[] => [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v),
  };
}

/**
 * Features of one contact as of `asOf`. `now` is the real present: events dated after `now`
 * are bad data (future dates) and are named as such; events after `asOf` but not after `now`
 * are simply not visible yet (training cut-offs).
 */
export function computeFeatures(
  input: ContactInput,
  asOf: number,
  company: CompanyContext | undefined = undefined,
  now: number = asOf,
): ContactFeatures {
  const problems = issueSet();
  problems.addAll(input.issues);
  const c = input.data;
  let created = validTime(c.createdAt) ? c.createdAt : null;
  if (hasImplausibleDate(c)) problems.add('implausible_date', 'contacts.createdAt');
  else if (created === null) problems.add('missing', 'contacts.createdAt');
  else if (created > now) {
    problems.add('future_date', 'contacts.createdAt');
    created = null;
  }
  const exists = created === null || created <= asOf;

  let firstEvent = Infinity;
  let purchases = 0;
  let firstPurchase = Infinity;
  let lastPurchase = -Infinity;
  let monetaryTotal = 0;
  let amountCount = 0;
  let purchases90d = 0;
  let openDeals = 0;
  let lostDeals = 0;
  let inbound30d = 0;
  let inbound90d = 0;
  let inboundPrev90d = 0;
  let outbound90d = 0;
  let notes90d = 0;
  let engagementsTotal = 0;
  let lastInbound = -Infinity;
  let lastTouch = -Infinity;
  const channelCounts: Record<Channel, number> = { emails: 0, calls: 0, meetings: 0, tickets: 0 };
  let tickets = 0;
  let tickets30d = 0;
  let tickets90d = 0;
  let openTickets = 0;
  let openHighPriority = 0;
  let closeDaysSum = 0;
  let closedTickets = 0;
  let reopenedTickets = 0;
  let lastTicket = -Infinity;
  let experienceSum = 0;
  let surveys = 0;
  let surveySum = 0;
  let npsLast: number | null = null;
  let npsLastAt = -Infinity;
  let csatSum = 0;
  let csatN = 0;
  let lastSurvey = -Infinity;
  let detractorAnswers = 0;
  let promoterAnswers = 0;

  const tone: Tone = { sum: 0, texts: 0, negative: 0 };
  const d90 = asOf - 90 * DAY_MS;
  const d30 = asOf - 30 * DAY_MS;
  const d180 = asOf - 180 * DAY_MS;

  for (const row of input.linked) {
    problems.addAll(row.issues);
    if (hasImplausibleDate(row.data)) problems.add('implausible_date', `${row.type}.date`);
    switch (row.type) {
      case 'deals': {
        const d = row.data as DealData;
        const createdAt = validTime(d.createdAt) ? d.createdAt : null;
        const closedAt = validTime(d.closedAt) ? d.closedAt : null;
        if ((createdAt !== null && createdAt > now) || (d.isClosed && closedAt !== null && closedAt > now)) {
          problems.add('future_date', 'deals.closedAt');
          break;
        }
        if (createdAt !== null && createdAt > asOf) break;
        if (d.isClosed && closedAt === null) {
          problems.add('missing', 'deals.closedAt');
          break;
        }
        if (!(d.isClosed && closedAt !== null && closedAt <= asOf)) {
          openDeals++;
          break;
        }
        const at = closedAt as number;
        if (at < firstEvent) firstEvent = at;
        if (d.isClosedWon) {
          purchases++;
          if (at < firstPurchase) firstPurchase = at;
          if (at > lastPurchase) lastPurchase = at;
          if (at > d90) purchases90d++;
          if (typeof d.amount === 'number' && isPlausibleAmount(d.amount) && d.amount >= 0) {
            monetaryTotal += d.amount;
            amountCount++;
          } else if (typeof d.amount === 'number' && Number.isFinite(d.amount) && d.amount > 0) problems.add('implausible_amount', 'deals.amount');
          else problems.add(d.amountRaw !== null && d.amountRaw !== '' ? 'not_a_number' : 'missing', 'deals.amount');
        } else lostDeals++;
        break;
      }
      case 'tickets': {
        const t = row.data as TicketData;
        const createdAt = validTime(t.createdAt) ? t.createdAt : null;
        if (createdAt === null) {
          problems.add('missing', 'tickets.createdAt');
          break;
        }
        if (createdAt > now) {
          problems.add('future_date', 'tickets.createdAt');
          break;
        }
        if (createdAt > asOf) break;
        if (createdAt < firstEvent) firstEvent = createdAt;
        tickets++;
        channelCounts.tickets++;
        if (createdAt > d30) tickets30d++;
        if (createdAt > d90) tickets90d++;
        if (createdAt > lastTicket) lastTicket = createdAt;
        const closedAt = validTime(t.closedAt) ? t.closedAt : t.isClosed && validTime(t.timeToCloseMs) ? createdAt + t.timeToCloseMs : null;
        const closed = closedAt !== null && closedAt <= asOf;
        // subject and content joined by a space (either may be missing)
        const subject = typeof t.subject === 'string' ? t.subject : null;
        const content = typeof t.content === 'string' ? t.content : null;
        addTone(tone, subject !== null && content !== null ? `${subject} ${content}` : (subject ?? content ?? ''));
        if (!closed) {
          openTickets++;
          if (t.priority === 'HIGH' || t.priority === 'URGENT') openHighPriority++;
          break;
        }
        const closeDays = Math.max(0, days(closedAt - createdAt));
        closeDaysSum += closeDays;
        closedTickets++;
        // The reopen count is the ticket's current value, so only tickets already closed by
        // asOf use it (a reopen after asOf would otherwise leak in; it is rare after closing).
        const reopened = Number.isFinite(t.reopenedCount) && t.reopenedCount > 0;
        if (reopened) reopenedTickets++;
        // Ticket experience in [0, 1]: fast closes are good (half-life 3 days), reopening and
        // high priority (an outage-grade problem) take points off.
        const speed = Math.pow(0.5, closeDays / 3);
        const pr = t.priority === 'HIGH' || t.priority === 'URGENT' ? 0.15 : 0;
        experienceSum += Math.max(0, Math.min(1, 0.35 + 0.65 * speed - (reopened ? 0.35 : 0) - pr));
        break;
      }
      case 'feedback_submissions': {
        const f = row.data as FeedbackData;
        if (!validTime(f.at)) {
          problems.add('missing', 'feedback_submissions.at');
          break;
        }
        if (f.at > now) {
          problems.add('future_date', 'feedback_submissions.at');
          break;
        }
        if (f.at > asOf) break;
        addTone(tone, f.comment);
        const scale = f.surveyType === null ? undefined : SCALES[f.surveyType];
        if (scale === undefined) {
          problems.add('unknown_type', 'feedback_submissions.surveyType');
          break;
        }
        if (typeof f.value !== 'number' || !Number.isFinite(f.value)) {
          problems.add('not_a_number', 'feedback_submissions.value');
          break;
        }
        if (f.value < scale[0] || f.value > scale[1]) {
          problems.add('out_of_range', 'feedback_submissions.value');
          break;
        }
        surveys++;
        surveySum += (f.value - scale[0]) / (scale[1] - scale[0]);
        const type = f.surveyType as keyof typeof DETRACTOR_MAX;
        if (f.value <= DETRACTOR_MAX[type]) detractorAnswers++;
        else if (f.at > lastInbound) lastInbound = f.at;
        if (f.value >= PROMOTER_MIN[type]) promoterAnswers++;
        if (f.at > lastSurvey) lastSurvey = f.at;
        if (f.surveyType === 'NPS' && f.at >= npsLastAt) {
          npsLast = f.value;
          npsLastAt = f.at;
        }
        if (f.surveyType === 'CSAT') {
          csatSum += f.value;
          csatN++;
        }
        break;
      }
      case 'calls':
      case 'emails':
      case 'meetings':
      case 'notes':
      case 'tasks': {
        const e = row.data as EngagementData;
        if (!validTime(e.at)) {
          problems.add('missing', `${row.type}.at`);
          break;
        }
        if (e.at > now) {
          problems.add('future_date', `${row.type}.at`);
          break;
        }
        if (e.at > asOf) break;
        engagementsTotal++;
        if (e.at < firstEvent) firstEvent = e.at;
        if (row.type === 'notes' || row.type === 'tasks') {
          if (e.at > d90) notes90d++;
          if (row.type === 'notes') addTone(tone, e.text);
          break;
        }
        if (e.direction === 'inbound') {
          channelCounts[row.type]++;
          if (addTone(tone, e.text)) break; // a complaint: risk evidence only (see inbound30d)
          if (e.at > lastTouch) lastTouch = e.at;
          if (e.at > lastInbound) lastInbound = e.at;
          if (e.at > d30) inbound30d++;
          if (e.at > d90) inbound90d++;
          else if (e.at > d180) inboundPrev90d++;
        } else {
          if (e.at > lastTouch) lastTouch = e.at;
          if (e.at > d90) outbound90d++;
        }
        break;
      }
      default:
        break;
    }
  }

  const start = created ?? (Number.isFinite(firstEvent) ? firstEvent : asOf);
  const dataIssues = problems.sorted();
  return {
    contactId: input.id,
    asOf,
    exists,
    tenureDays: Math.max(0, days(asOf - start)),
    purchases,
    daysSinceFirstPurchase: purchases > 0 ? Math.max(0, days(asOf - firstPurchase)) : 0,
    recencyDays: purchases > 0 ? Math.max(0, days(asOf - lastPurchase)) : NEVER_DAYS,
    monetaryTotal,
    monetaryMean: amountCount > 0 ? monetaryTotal / amountCount : 0,
    amountCount,
    purchases90d,
    openDeals,
    lostDeals,
    inbound30d,
    inbound90d,
    inboundPrev90d,
    outbound90d,
    notes90d,
    engagementsTotal,
    daysSinceInbound: sinceDays(asOf, lastInbound),
    daysSinceTouch: sinceDays(asOf, Math.max(lastTouch, lastInbound, lastPurchase)),
    channelCounts,
    tickets,
    tickets30d,
    tickets90d,
    openTickets,
    openHighPriority,
    meanCloseDays: closedTickets > 0 ? closeDaysSum / closedTickets : null,
    closedTickets,
    reopenedTickets,
    daysSinceTicket: sinceDays(asOf, lastTicket),
    ticketExperience: closedTickets > 0 ? experienceSum / closedTickets : null,
    surveys,
    surveyScore: surveys > 0 ? surveySum / surveys : null,
    npsLast,
    csatMean: csatN > 0 ? csatSum / csatN : null,
    daysSinceSurvey: sinceDays(asOf, lastSurvey),
    detractorAnswers,
    promoterAnswers,
    sentiment: tone.texts > 0 ? tone.sum / tone.texts : null,
    sentimentTexts: tone.texts,
    negativeTexts: tone.negative,
    companyEmployees: company?.employees ?? null,
    dataIssues,
    dataQuality: Math.max(0.4, 1 - 0.15 * dataIssues.length),
  };
}

// ---------------------------------------------------------------------------------------------
// Reading the cache (through the store port; computeFeatures above stays pure)

/** Companies of a portal (id → size), loaded once per pass: far fewer than contacts. */
export async function loadCompanies(store: Pick<Store, 'records'>, portal: string): Promise<Map<string, CompanyContext>> {
  const out = new Map<string, CompanyContext>();
  for (const row of await store.records.companies(portal)) {
    const d = row.data as CompanyData;
    out.set(row.id, {
      employees: typeof d.employees === 'number' && Number.isFinite(d.employees) ? d.employees : null,
      annualRevenue: typeof d.annualRevenue === 'number' && Number.isFinite(d.annualRevenue) ? d.annualRevenue : null,
    });
  }
  return out;
}

/**
 * Contacts per read chunk. Small on purpose: a chunk's parsed records live until the chunk is
 * scored, and with 2,000 contacts each young-generation GC copied (then promoted) megabytes of
 * them; 250 keeps them short-lived (measured: 2 workers 93k → 107k contacts/s, bench/scoring.ts).
 */
export const READ_CHUNK = 250;

/**
 * Every live contact of a portal with its linked live records, in contact-id order, yielded in
 * chunks of `chunkSize` contacts (keyset pages of the store: memory stays bounded, and the
 * caller may write between chunks).
 */
export async function* readContactChunks(
  store: Pick<Store, 'contacts'>,
  portal: string,
  chunkSize = READ_CHUNK,
  /** only contacts with after < id <= through (a parallel worker's share) */
  range: IdRange = {},
): AsyncGenerator<ContactInput[]> {
  let after = range.after;
  for (;;) {
    const chunk = (await store.contacts.chunk(portal, { ...range, ...(after === undefined ? {} : { after }) }, chunkSize)) as ContactInput[];
    if (chunk.length === 0) return;
    yield chunk;
    if (chunk.length < chunkSize) return;
    after = (chunk[chunk.length - 1] as ContactInput).id;
  }
}

/** The given contacts (live ones only; unknown ids are skipped) with their linked records. */
export async function readContacts(store: Pick<Store, 'contacts'>, portal: string, ids: readonly string[]): Promise<ContactInput[]> {
  return (await store.contacts.byIds(portal, ids)) as ContactInput[];
}

/** Outcome windows for training labels: what happened in (from, to]. */
export type Outcomes = {
  purchased: boolean;
  /** inbound engagement, ticket or survey answer */
  inboundActivity: boolean;
  newTicket: boolean;
};

export function outcomesBetween(input: ContactInput, from: number, to: number): Outcomes {
  let purchased = false;
  let inboundActivity = false;
  let newTicket = false;
  const within = (t: unknown) => validTime(t) && t > from && t <= to;
  for (const row of input.linked) {
    switch (row.type) {
      case 'deals': {
        const d = row.data as DealData;
        if (d.isClosedWon && within(d.closedAt)) purchased = true;
        break;
      }
      case 'tickets':
        if (within((row.data as TicketData).createdAt)) {
          newTicket = true;
          inboundActivity = true;
        }
        break;
      case 'feedback_submissions':
        if (within((row.data as FeedbackData).at)) inboundActivity = true;
        break;
      case 'calls':
      case 'emails':
      case 'meetings': {
        const e = row.data as EngagementData;
        if (e.direction === 'inbound' && within(e.at)) inboundActivity = true;
        break;
      }
      default:
        break;
    }
  }
  return { purchased, inboundActivity, newTicket };
}
