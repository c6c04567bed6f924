/**
 * Turns customers (customer.ts) into HubSpot-shaped records and associations: the real property
 * names of https://developers.hubspot.com/docs/api/crm/properties, every value a string as on HubSpot's wire, every event at or before
 * `now`. Inbound activity (purchases, replies, tickets, survey answers) stops when the customer
 * drops out; reps keep reaching out to dead customers, as they do.
 */
import { HUBSPOT_OBJECT_TYPES, type GeneratedBatch, type HubspotObjectType, type SandboxObject } from '../model.ts';
import { defaultAssociationTypeId } from '../hubspot/association-types.ts';
import { leaving, moodAt, type Customer } from './customer.ts';
import { clamp, iso, money, setOptional, type Props } from './format.ts';
import { DAY_MS, GAMMA_GAMMA, ID_BASES, PRE_CHURN, RATES, WEEK_MS, type Messiness } from './params.ts';
import { chance, gamma, intBelow, logNormal, pick, poisson, poissonTimes, uniform, type Rng } from './random.ts';
import { sigmoid } from './stats.ts';
import {
  CITIES,
  FIRST_NAMES,
  INDUSTRIES,
  JOB_TITLES,
  LAST_NAMES,
  callBody,
  companyName,
  domainOf,
  emailLocalPart,
  feedbackComment,
  formatPhone,
  inboundEmailText,
  noteBody,
  outboundEmailText,
  phoneDigits,
  subjectOf,
  ticketContent,
  ticketSubject,
  toneOf,
} from './text.ts';

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/** Primary association type ids (association-types.ts, https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associate-records/guide): HubSpot returns them next to the unlabeled one. */
const PRIMARY = { contactCompany: 1, dealCompany: 5, ticketCompany: 26 } as const;

/** https://developers.hubspot.com/docs/api/crm/properties: call disposition GUIDs. */
const DISPOSITION = {
  connected: 'f240bbac-87c9-4f6e-bf70-924b57d47db7',
  noAnswer: '73a0d17f-1163-4015-bdd5-ec830791da20',
  busy: '9d9162e7-6cf3-4944-bf63-4dff82258764',
  voicemail: 'b2cf5968-551e-4856-9783-52b3da59a7d0',
} as const;

const OPEN_DEAL_STAGES = ['appointmentscheduled', 'qualifiedtobuy', 'presentationscheduled', 'decisionmakerboughtin', 'contractsent'] as const;
/** Ticket pipeline "0": stages 1 new, 2 waiting on contact, 3 waiting on us, 4 closed (https://developers.hubspot.com/docs/api/crm/properties). */
export const TICKET_CLOSED_STAGE = '4';
const OPEN_TICKET_STAGES = ['1', '2', '3'] as const;
const TICKET_SOURCES = { calls: 'PHONE', emails: 'EMAIL', meetings: 'CHAT', tickets: 'FORM' } as const;
const CLOSE_MEDIAN_HOURS = { URGENT: 6, HIGH: 24, MEDIUM: 60, LOW: 120 } as const;

export type IdCounters = Record<HubspotObjectType, number>;
export const initialIds = (): IdCounters => ({ ...ID_BASES });

const createdPropertyOf = (type: HubspotObjectType): string =>
  type === 'contacts' || type === 'companies' || type === 'deals' || type === 'tickets' ? 'createdate' : 'hs_createdate';

/** Where one batch's records go, with the account-wide id counters and `now`. */
export type Sink = {
  rng: Rng;
  now: number;
  mess: Messiness;
  ids: IdCounters;
  batch: GeneratedBatch;
};

export function nextId(sink: Sink, type: HubspotObjectType): string {
  const id = sink.ids[type];
  sink.ids[type] = id + 1;
  return String(id);
}

/** A change a few minutes to a day after the event, never after now. */
function touchedAfter(sink: Sink, at: number, maxMs = DAY_MS): number {
  return Math.min(sink.now, Math.round(at + uniform(sink.rng, 0, maxMs)));
}

export function pushObject(sink: Sink, type: HubspotObjectType, id: string, props: Props, createdAt: number, updatedAt: number): SandboxObject {
  props['hs_object_id'] = id;
  const createdProperty = createdPropertyOf(type);
  if (!(createdProperty in props)) props[createdProperty] = iso(createdAt);
  const modified = iso(updatedAt);
  props[HUBSPOT_OBJECT_TYPES[type].modifiedProperty] = modified;
  if (type === 'contacts') props['hs_lastmodifieddate'] = modified;
  const object: SandboxObject = { type, id, properties: props, createdAt, updatedAt, archived: false };
  sink.batch.objects.push(object);
  return object;
}

export function associate(sink: Sink, fromType: HubspotObjectType, fromId: string, toType: HubspotObjectType, toId: string, primaryTypeId?: number): void {
  const typeId = defaultAssociationTypeId(fromType, toType);
  if (typeId === undefined) throw new Error(`no association type ${fromType} → ${toType}`);
  sink.batch.associations.push({ fromType, fromId, toType, toId, typeId });
  if (primaryTypeId !== undefined) sink.batch.associations.push({ fromType, fromId, toType, toId, typeId: primaryTypeId });
}

export type CompanyRef = { id: string; name: string; domain: string; /** email local parts in use */ locals: Set<string> };

export function emitCompany(sink: Sink, index: number, createdAt: number, updatedAt: number): CompanyRef {
  const { rng, mess } = sink;
  const id = nextId(sink, 'companies');
  const name = companyName(rng, index);
  const domain = domainOf(name);
  const [city, country] = pick(rng, CITIES);
  const employees = Math.max(1, Math.round(logNormal(rng, 40, 1.3)));
  const props: Props = { name, domain, lifecyclestage: 'customer' };
  setOptional(props, 'industry', pick(rng, INDUSTRIES), rng, mess.missingOptional);
  setOptional(props, 'numberofemployees', String(employees), rng, mess.missingOptional);
  setOptional(props, 'annualrevenue', String(employees * 100_000 + intBelow(rng, 50) * 1_000), rng, mess.missingOptional);
  setOptional(props, 'city', city, rng, mess.missingOptional);
  setOptional(props, 'country', country, rng, mess.missingOptional);
  setOptional(props, 'website', `https://${domain}`, rng, mess.missingOptional);
  pushObject(sink, 'companies', id, props, createdAt, updatedAt);
  return { id, name, domain, locals: new Set() };
}

type Person = { contactId: string; first: string; last: string; company: CompanyRef };

/**
 * All records of one customer: contact, deals, tickets, engagements, feedback. Returns the
 * contact id. The contact is pushed last so its lastmodifieddate can follow its activity.
 */
export function emitCustomer(sink: Sink, customer: Customer, company: CompanyRef): { contactId: string; person: Person } {
  const { rng, mess, now } = sink;
  const contactId = nextId(sink, 'contacts');
  const first = pick(rng, FIRST_NAMES);
  const last = pick(rng, LAST_NAMES);
  const person: Person = { contactId, first, last, company };
  let lastTouch = customer.createdAt;
  const touch = (at: number) => {
    if (at > lastTouch) lastTouch = at;
  };

  // Closed-won purchases: the BG/NBD process, spend per Gamma-Gamma.
  customer.purchases.forEach((closedAt, i) => {
    const amount = gamma(rng, GAMMA_GAMMA.p, customer.nu);
    const createdAt = Math.max(customer.createdAt, Math.round(closedAt - uniform(rng, 3, 45) * DAY_MS));
    emitDeal(sink, person, {
      dealname: `${company.name} - ${i === 0 ? 'New business' : `Renewal ${i}`}`,
      amount: chance(rng, mess.amountNotANumber) ? 'TBD' : money(amount),
      dealstage: 'closedwon',
      pipeline: 'default',
      dealtype: i === 0 ? 'newbusiness' : 'existingbusiness',
      closedate: chance(rng, mess.futureClosedate) ? iso(closedAt).replace(/^\d{4}/, (y) => String(Number(y) + 20)) : iso(closedAt),
      hs_is_closed: 'true',
      hs_is_closed_won: 'true',
    }, createdAt, touchedAfter(sink, closedAt));
    touch(closedAt);
  });

  // Open and lost deals (outside BG/NBD) while the customer is around.
  const otherRate = (RATES.openDealsPerWeek + RATES.lostDealsPerWeek) / WEEK_MS;
  for (const createdAt of poissonTimes(rng, otherRate, customer.createdAt, customer.activeUntil)) {
    const lost = chance(rng, RATES.lostDealsPerWeek / (RATES.openDealsPerWeek + RATES.lostDealsPerWeek));
    const closeAt = Math.round(createdAt + uniform(rng, 7, 60) * DAY_MS);
    const amount = money(gamma(rng, GAMMA_GAMMA.p, customer.nu));
    if (lost && closeAt <= now) {
      emitDeal(sink, person, {
        dealname: `${company.name} - Upsell`, amount, dealstage: 'closedlost', pipeline: 'default', dealtype: 'existingbusiness',
        closedate: iso(closeAt), hs_is_closed: 'true', hs_is_closed_won: 'false',
      }, createdAt, touchedAfter(sink, closeAt));
      touch(closeAt);
    } else {
      // An open deal's closedate is the rep's EXPECTED close date: the one datetime allowed after now.
      emitDeal(sink, person, {
        dealname: `${company.name} - Upsell`, amount, dealstage: pick(rng, OPEN_DEAL_STAGES), pipeline: 'default', dealtype: 'existingbusiness',
        closedate: iso(closeAt), hs_is_closed: 'false', hs_is_closed_won: 'false',
      }, createdAt, touchedAfter(sink, createdAt, 7 * DAY_MS));
      touch(createdAt);
    }
  }

  // Support issues while alive.
  for (const at of poissonTimes(rng, customer.issueRatePer30d / (30 * DAY_MS), customer.createdAt, customer.activeUntil)) {
    const u = rng.next();
    const category = u < 0.6 ? 'PRODUCT_ISSUE' : u < 0.8 ? 'BILLING_ISSUE' : 'FEATURE_REQUEST';
    touch(emitTicket(sink, person, customer, at, category, pick(rng, ['emails', 'calls', 'tickets', 'meetings'] as const)));
  }

  // Leavers complain before they go (params.ts PRE_CHURN): extra problem tickets in the window.
  if (customer.leavesAt !== null) {
    const from = Math.max(customer.createdAt, customer.leavesAt - PRE_CHURN.windowDays * DAY_MS);
    for (const at of poissonTimes(rng, PRE_CHURN.ticketsPer30d / (30 * DAY_MS), from, Math.min(customer.leavesAt, now))) {
      const category = chance(rng, 0.7) ? 'PRODUCT_ISSUE' : 'BILLING_ISSUE';
      touch(emitTicket(sink, person, customer, at, category, pick(rng, ['emails', 'calls', 'tickets', 'meetings'] as const)));
    }
  }

  // Inbound contacts while alive: most through the preferred channel.
  const channels = ['calls', 'emails', 'meetings', 'tickets'] as const;
  for (const at of poissonTimes(rng, customer.inboundPerWeek / WEEK_MS, customer.createdAt, customer.activeUntil)) {
    const channel = chance(rng, RATES.preferredShare)
      ? customer.preferredChannel
      : pick(rng, channels.filter((c) => c !== customer.preferredChannel));
    const tone = toneOf(rng, moodAt(customer, at));
    if (channel === 'tickets') touch(emitTicket(sink, person, customer, at, 'GENERAL_INQUIRY', 'tickets'));
    else if (channel === 'emails') touch(emitEmail(sink, person, at, 'INCOMING_EMAIL', inboundEmailText(rng, tone)));
    else if (channel === 'calls') touch(emitCall(sink, person, at, 'INBOUND', 'connected', callBody(rng, tone)));
    else touch(emitMeeting(sink, person, at, 'COMPLETED', `Customer asked to meet: ${callBody(rng, tone)}`));
    if (channel !== 'tickets' && chance(rng, 0.3)) {
      touch(emitTask(sink, person, at));
    }
  }

  // Rep-initiated touches, dead or alive; dead customers stop answering.
  for (const at of poissonTimes(rng, RATES.outboundPerWeek / WEEK_MS, customer.createdAt, now)) {
    const alive = at <= customer.activeUntil;
    const answers = alive && chance(rng, sigmoid(0.4 + 0.8 * customer.engagement));
    const kind = intBelow(rng, 3);
    if (kind === 0) {
      touch(emitEmail(sink, person, at, 'EMAIL', outboundEmailText(rng)));
      const replyAt = Math.round(at + uniform(rng, 1, 72) * HOUR_MS);
      if (answers && replyAt <= customer.activeUntil) {
        touch(emitEmail(sink, person, replyAt, 'INCOMING_EMAIL', inboundEmailText(rng, toneOf(rng, moodAt(customer, replyAt)))));
      }
    } else if (kind === 1) {
      const outcome = answers ? 'connected' : pick(rng, ['noAnswer', 'busy', 'voicemail'] as const);
      touch(emitCall(sink, person, at, 'OUTBOUND', outcome, answers ? callBody(rng, toneOf(rng, moodAt(customer, at))) : ''));
      if (answers && chance(rng, 0.4)) touch(emitNote(sink, person, at + 10 * MINUTE_MS, noteBody(rng, toneOf(rng, customer.satisfaction))));
    } else {
      const outcome = answers ? (chance(rng, 0.9) ? 'COMPLETED' : 'RESCHEDULED') : pick(rng, ['NO_SHOW', 'CANCELED'] as const);
      touch(emitMeeting(sink, person, at, outcome, 'Account review'));
      if (outcome === 'COMPLETED' && chance(rng, 0.5)) touch(emitNote(sink, person, at + HOUR_MS, noteBody(rng, toneOf(rng, customer.satisfaction))));
    }
  }

  // Quarterly NPS survey from the first purchase on, answered only while alive.
  const firstPurchase = customer.purchases[0] as number;
  const respond = Math.min(0.9, RATES.npsResponse * Math.exp(0.4 * customer.engagement));
  for (let sent = firstPurchase + 2 * WEEK_MS; sent <= now; sent += RATES.npsEveryWeeks * WEEK_MS) {
    const answeredAt = Math.round(sent + uniform(rng, 0, 5) * DAY_MS);
    if (!chance(rng, respond) || answeredAt > customer.activeUntil) continue;
    const score = Math.round(clamp(1.5 + 9 * moodAt(customer, answeredAt) + 1.2 * rng.normal(), 0, 10));
    touch(emitFeedback(sink, person, customer, answeredAt, 'NPS', score, null));
  }

  const contactCreatedAt = customer.createdAt;
  // Two namesakes at one company get distinct addresses (jane.doe, jane.doe2): only emitDuplicate
  // makes records that share an address.
  let local = emailLocalPart(first, last);
  for (let n = 2; company.locals.has(local); n++) local = `${emailLocalPart(first, last)}${n}`;
  company.locals.add(local);
  const email = `${local}@${company.domain}`;
  const digits = phoneDigits(rng);
  const createdate = iso(contactCreatedAt);
  const props = contactProps(sink, first, last, email, digits, company, customer.satisfaction, createdate);
  pushObject(sink, 'contacts', contactId, props, contactCreatedAt, touchedAfter(sink, lastTouch, HOUR_MS));
  associate(sink, 'contacts', contactId, 'companies', company.id, PRIMARY.contactCompany);
  return { contactId, person };
}

function contactProps(sink: Sink, first: string, last: string, email: string, digits: string, company: CompanyRef, satisfaction: number, createdate: string): Props {
  const { rng, mess } = sink;
  const oddCase = chance(rng, mess.oddNameCase);
  const upper = chance(rng, 0.5);
  const name = (s: string) => (oddCase ? (upper ? s.toUpperCase() : s.toLowerCase()) : s);
  const props: Props = { createdate, firstname: name(first), email };
  setOptional(props, 'lastname', name(last), rng, mess.missingOptional);
  setOptional(props, 'phone', formatPhone(rng, digits, mess.oddPhoneFormat), rng, mess.missingOptional * 3);
  setOptional(props, 'jobtitle', pick(rng, JOB_TITLES), rng, mess.missingOptional * 2);
  setOptional(props, 'company', company.name, rng, mess.missingOptional);
  const [city, country] = pick(rng, CITIES);
  setOptional(props, 'city', city, rng, mess.missingOptional * 2);
  setOptional(props, 'country', country, rng, mess.missingOptional * 2);
  props['lifecyclestage'] = satisfaction > 0.85 && chance(rng, 0.3) ? 'evangelist' : 'customer';
  return props;
}

/**
 * A duplicate of a contact, as imports and web forms create them: same person, the email differing
 * only in case or surrounding whitespace. No activity of its own, and no truth.
 */
export function emitDuplicate(sink: Sink, original: SandboxObject, person: Person): string {
  const { rng, now } = sink;
  const id = nextId(sink, 'contacts');
  const email = original.properties['email'] ?? '';
  const variant = intBelow(rng, 4);
  const dupEmail =
    variant === 0 ? email.toUpperCase()
      : variant === 1 ? `${email.charAt(0).toUpperCase()}${email.slice(1)} `
        : variant === 2 ? ` ${email}`
          : email.replace(/^[a-z]/, (c) => c.toUpperCase()).replace(/@(.)/, (_m, c: string) => `@${c.toUpperCase()}`);
  const createdAt = Math.round(uniform(rng, original.createdAt, now));
  const props: Props = { firstname: person.first, lastname: person.last, email: dupEmail, lifecyclestage: 'lead' };
  if (chance(rng, 0.5)) props['phone'] = formatPhone(rng, phoneDigits(rng), 1);
  pushObject(sink, 'contacts', id, props, createdAt, touchedAfter(sink, createdAt, HOUR_MS));
  associate(sink, 'contacts', id, 'companies', person.company.id, PRIMARY.contactCompany);
  return id;
}

function emitDeal(sink: Sink, person: Person, props: Props, createdAt: number, updatedAt: number): void {
  const id = nextId(sink, 'deals');
  pushObject(sink, 'deals', id, props, createdAt, updatedAt);
  associate(sink, 'deals', id, 'contacts', person.contactId);
  associate(sink, 'deals', id, 'companies', person.company.id, PRIMARY.dealCompany);
}

/** Returns the time of the ticket's last change (≤ now). */
function emitTicket(
  sink: Sink, person: Person, customer: Customer, at: number, category: string, via: keyof typeof TICKET_SOURCES,
): number {
  const { rng, now } = sink;
  const id = nextId(sink, 'tickets');
  // Problems get worse before a customer leaves (params.ts PRE_CHURN): more HIGH/URGENT tickets.
  const severity = customer.pain + (leaving(customer, at) ? 0.8 : 0) + 0.8 * rng.normal();
  const priority = category === 'GENERAL_INQUIRY'
    ? (severity > 1 ? 'MEDIUM' : 'LOW')
    : severity > 1.6 ? 'URGENT' : severity > 0.7 ? 'HIGH' : severity > -0.5 ? 'MEDIUM' : 'LOW';
  const mood = moodAt(customer, at);
  const tone = toneOf(rng, mood - 0.1 * Math.max(0, customer.pain));
  const reopens = category === 'GENERAL_INQUIRY' ? 0 : poisson(rng, 0.1 * Math.exp(0.7 * customer.pain));
  // Time to close: by priority, longer for pained customers and for every reopen.
  const ttc = Math.max(
    10 * MINUTE_MS,
    Math.round(CLOSE_MEDIAN_HOURS[priority] * HOUR_MS * Math.exp(0.35 * customer.pain) * logNormal(rng, 1, 0.8) * (1 + 0.5 * reopens)),
  );
  const closedAt = at + ttc;
  const props: Props = {
    subject: ticketSubject(rng, category),
    content: ticketContent(rng, tone),
    hs_pipeline: '0',
    hs_ticket_priority: priority,
    hs_ticket_category: category,
    source_type: TICKET_SOURCES[via],
  };
  let updatedAt: number;
  const closed = closedAt <= now;
  if (closed) {
    props['hs_pipeline_stage'] = TICKET_CLOSED_STAGE;
    props['closed_date'] = iso(closedAt);
    props['time_to_close'] = String(ttc);
    props['reopen_count'] = String(reopens);
    updatedAt = closedAt;
  } else {
    props['hs_pipeline_stage'] = pick(rng, OPEN_TICKET_STAGES);
    props['reopen_count'] = '0';
    updatedAt = Math.min(now, Math.round(at + uniform(rng, 0, now - at)));
  }
  pushObject(sink, 'tickets', id, props, at, updatedAt);
  associate(sink, 'tickets', id, 'contacts', person.contactId);
  associate(sink, 'tickets', id, 'companies', person.company.id, PRIMARY.ticketCompany);

  // Post-ticket surveys (CSAT, sometimes CES) when the customer is still around to answer.
  if (closed) {
    const experience = mood - 0.08 * reopens - (ttc > 3 * DAY_MS ? 0.1 : 0) + 0.1 * rng.normal();
    const answerAt = Math.round(closedAt + uniform(rng, 0.1, 3) * DAY_MS);
    if (answerAt <= customer.activeUntil && chance(rng, RATES.csatResponse)) {
      const csat = Math.round(clamp(1 + 4 * experience + 0.6 * rng.normal(), 1, 5));
      emitFeedback(sink, person, customer, answerAt, 'CSAT', csat, id);
    }
    if (answerAt <= customer.activeUntil && chance(rng, RATES.cesResponse)) {
      // CES 2.0: 1 = very difficult … 7 = very easy.
      const ces = Math.round(clamp(1 + 6 * experience + 0.9 * rng.normal(), 1, 7));
      emitFeedback(sink, person, customer, answerAt, 'CES', ces, id);
    }
  }
  return updatedAt;
}

const SURVEYS = { NPS: ['1', 'Quarterly NPS'], CSAT: ['2', 'Support CSAT'], CES: ['3', 'Support CES'] } as const;

function emitFeedback(sink: Sink, person: Person, customer: Customer, at: number, type: keyof typeof SURVEYS, value: number, ticketId: string | null): number {
  const { rng, mess } = sink;
  const id = nextId(sink, 'feedback_submissions');
  const [surveyId, surveyName] = SURVEYS[type];
  const props: Props = {
    hs_survey_id: surveyId,
    hs_survey_name: surveyName,
    hs_survey_type: type,
    hs_survey_channel: 'EMAIL',
    // A broken form mapping writes "10/10" instead of the number (params.ts MESSINESS).
    hs_value: type === 'NPS' && chance(rng, mess.npsOutOfRange) ? `${value}/10` : String(value),
    hs_submission_timestamp: iso(at),
    hs_contact_id: person.contactId,
  };
  if (type === 'NPS') props['hs_response_group'] = value >= 9 ? 'PROMOTER' : value >= 7 ? 'PASSIVE' : 'DETRACTOR';
  if (ticketId !== null) props['hs_ticket_id'] = ticketId;
  if (chance(rng, 0.45)) props['hs_content'] = feedbackComment(rng, toneOf(rng, moodAt(customer, at)));
  pushObject(sink, 'feedback_submissions', id, props, at, touchedAfter(sink, at, HOUR_MS));
  associate(sink, 'feedback_submissions', id, 'contacts', person.contactId);
  if (ticketId !== null) associate(sink, 'feedback_submissions', id, 'tickets', ticketId);
  return at;
}

export function emitEmail(sink: Sink, person: Person, at: number, direction: 'EMAIL' | 'INCOMING_EMAIL', text: string): number {
  const id = nextId(sink, 'emails');
  const t = Math.round(at);
  const props: Props = {
    hs_timestamp: iso(t),
    hs_email_direction: direction,
    hs_email_status: 'SENT',
    hs_email_subject: direction === 'EMAIL' ? subjectOf(text) : `Re: ${subjectOf(text)}`,
    hs_email_text: direction === 'EMAIL' ? `Hi ${person.first},\n\n${text}\n\nBest regards` : text,
  };
  pushObject(sink, 'emails', id, props, t, touchedAfter(sink, t, HOUR_MS));
  associate(sink, 'emails', id, 'contacts', person.contactId);
  return t;
}

export function emitCall(
  sink: Sink, person: Person, at: number, direction: 'INBOUND' | 'OUTBOUND', outcome: keyof typeof DISPOSITION, body: string,
): number {
  const { rng } = sink;
  const id = nextId(sink, 'calls');
  const t = Math.round(at);
  const durationMs =
    outcome === 'connected' ? Math.round(logNormal(rng, 240, 0.7) * 1000) : outcome === 'voicemail' ? Math.round(uniform(rng, 15, 45) * 1000) : 0;
  const props: Props = {
    hs_timestamp: iso(t),
    hs_call_title: direction === 'INBOUND' ? `Inbound call from ${person.first} ${person.last}` : `Call with ${person.first} ${person.last}`,
    hs_call_direction: direction,
    hs_call_disposition: DISPOSITION[outcome],
    hs_call_status: outcome === 'noAnswer' ? 'NO_ANSWER' : outcome === 'busy' ? 'BUSY' : 'COMPLETED',
    hs_call_duration: String(durationMs),
  };
  if (body !== '') props['hs_call_body'] = body;
  pushObject(sink, 'calls', id, props, t, touchedAfter(sink, t, HOUR_MS));
  associate(sink, 'calls', id, 'contacts', person.contactId);
  return t;
}

export function emitMeeting(sink: Sink, person: Person, at: number, outcome: string, body: string): number {
  const { rng, now } = sink;
  const id = nextId(sink, 'meetings');
  const duration = pick(rng, [30, 45, 60] as const) * MINUTE_MS;
  // The whole meeting lies in the past: start no later than now − duration.
  const start = Math.round(Math.min(at, now - duration));
  const props: Props = {
    hs_timestamp: iso(start),
    hs_meeting_title: `Meeting with ${person.company.name}`,
    hs_meeting_body: body,
    hs_meeting_start_time: iso(start),
    hs_meeting_end_time: iso(start + duration),
    hs_meeting_outcome: outcome,
  };
  pushObject(sink, 'meetings', id, props, start, touchedAfter(sink, start + duration, HOUR_MS));
  associate(sink, 'meetings', id, 'contacts', person.contactId);
  return start + duration;
}

export function emitNote(sink: Sink, person: Person, at: number, body: string): number {
  const id = nextId(sink, 'notes');
  const t = Math.min(sink.now, Math.round(at));
  pushObject(sink, 'notes', id, { hs_timestamp: iso(t), hs_note_body: body }, t, touchedAfter(sink, t, HOUR_MS));
  associate(sink, 'notes', id, 'contacts', person.contactId);
  return t;
}

function emitTask(sink: Sink, person: Person, at: number): number {
  const { rng, now } = sink;
  const id = nextId(sink, 'tasks');
  const created = Math.round(at);
  // hs_timestamp is the due date; kept ≤ now (an overdue task, not a future one).
  const due = Math.min(now, Math.round(at + uniform(rng, 1, 7) * DAY_MS));
  const done = chance(rng, 0.75);
  const props: Props = {
    hs_timestamp: iso(due),
    hs_task_subject: `Follow up with ${person.first} ${person.last}`,
    hs_task_body: 'Send the summary and next steps.',
    hs_task_status: done ? 'COMPLETED' : 'NOT_STARTED',
    hs_task_priority: pick(rng, ['LOW', 'MEDIUM', 'HIGH'] as const),
    hs_task_type: pick(rng, ['EMAIL', 'CALL', 'TODO'] as const),
  };
  pushObject(sink, 'tasks', id, props, created, done ? due : touchedAfter(sink, created, HOUR_MS));
  associate(sink, 'tasks', id, 'contacts', person.contactId);
  return created;
}

export type { Person };
