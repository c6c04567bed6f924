import {
  cleanEmail,
  cleanPhone,
  isPlausibleAmount,
  isPlausibleNumber,
  isPlausibleTime,
  lengthIssue,
  MAX_EMAIL_CHARS,
  MAX_PHONE_CHARS,
  MAX_TEXT_CHARS,
  parseAmount,
  parseBool,
  parseTime,
  stripHtml,
  textOrNull,
} from '../clean.ts';
import type {
  CompanyData,
  ContactData,
  CrmRecord,
  DataIssue,
  DataIssueCode,
  DealData,
  EngagementData,
  FeedbackData,
  ObjectType,
  RecordData,
  TicketData,
} from '../types.ts';

/**
 * What Rapport reads from HubSpot, as data (ARCHITECTURE §3: provider differences live in the
 * connector as data). Property names are HubSpot's real internal names (https://developers.hubspot.com/docs/api/crm/properties).
 */

/** Contacts filter on `lastmodifieddate`; everything else on `hs_lastmodifieddate` (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm). */
export const modifiedProperty = (type: ObjectType): string => (type === 'contacts' ? 'lastmodifieddate' : 'hs_lastmodifieddate');

const CREATED: Record<ObjectType, string> = {
  contacts: 'createdate',
  companies: 'createdate',
  deals: 'createdate',
  tickets: 'createdate',
  calls: 'hs_createdate',
  emails: 'hs_createdate',
  meetings: 'hs_createdate',
  notes: 'hs_createdate',
  tasks: 'hs_createdate',
  feedback_submissions: 'hs_createdate',
};

const OWN: Record<ObjectType, readonly string[]> = {
  contacts: ['email', 'phone', 'mobilephone', 'firstname', 'lastname', 'lifecyclestage'],
  companies: ['name', 'domain', 'industry', 'numberofemployees', 'annualrevenue'],
  deals: ['amount', 'dealstage', 'pipeline', 'closedate', 'hs_is_closed', 'hs_is_closed_won'],
  tickets: [
    'subject',
    'content',
    'hs_pipeline',
    'hs_pipeline_stage',
    'hs_ticket_priority',
    'closed_date',
    'time_to_close',
    'reopen_count',
    'source_type',
  ],
  calls: ['hs_timestamp', 'hs_call_direction', 'hs_call_duration', 'hs_call_status', 'hs_call_disposition', 'hs_call_title', 'hs_call_body'],
  emails: ['hs_timestamp', 'hs_email_direction', 'hs_email_status', 'hs_email_subject', 'hs_email_text'],
  meetings: ['hs_timestamp', 'hs_meeting_outcome', 'hs_meeting_title', 'hs_meeting_body', 'hs_meeting_start_time', 'hs_meeting_end_time'],
  notes: ['hs_timestamp', 'hs_note_body'],
  tasks: ['hs_timestamp', 'hs_task_status', 'hs_task_priority', 'hs_task_subject', 'hs_task_body', 'hs_task_type'],
  feedback_submissions: ['hs_survey_type', 'hs_value', 'hs_content', 'hs_submission_timestamp', 'hs_survey_channel'],
};

/**
 * Which of our fields (RecordData keys) each HubSpot property feeds: a data issue names our field,
 * never HubSpot's property (src/connectors/types.ts DataIssue). test/contract/hubspot-mapping
 * checks that every property in OWN and CREATED has an entry.
 */
export const FIELD_OF_PROPERTY: Readonly<Record<string, string>> = {
  createdate: 'createdAt',
  hs_createdate: 'createdAt',
  email: 'email',
  phone: 'phone',
  mobilephone: 'phone',
  firstname: 'firstName',
  lastname: 'lastName',
  lifecyclestage: 'lifecycleStage',
  name: 'name',
  domain: 'domain',
  industry: 'industry',
  numberofemployees: 'employees',
  annualrevenue: 'annualRevenue',
  amount: 'amount',
  dealstage: 'stage',
  pipeline: 'stage',
  closedate: 'closedAt',
  hs_is_closed: 'isClosed',
  hs_is_closed_won: 'isClosedWon',
  subject: 'subject',
  content: 'content',
  hs_pipeline: 'stage',
  hs_pipeline_stage: 'stage',
  hs_ticket_priority: 'priority',
  closed_date: 'closedAt',
  time_to_close: 'timeToCloseMs',
  reopen_count: 'reopenedCount',
  source_type: 'source',
  hs_timestamp: 'at',
  hs_call_direction: 'direction',
  hs_call_duration: 'durationMs',
  hs_call_status: 'outcome',
  hs_call_disposition: 'outcome',
  hs_call_title: 'text',
  hs_call_body: 'text',
  hs_email_direction: 'direction',
  hs_email_status: 'outcome',
  hs_email_subject: 'text',
  hs_email_text: 'text',
  hs_meeting_outcome: 'outcome',
  hs_meeting_title: 'text',
  hs_meeting_body: 'text',
  hs_meeting_start_time: 'at',
  hs_meeting_end_time: 'durationMs',
  hs_note_body: 'text',
  hs_task_status: 'outcome',
  hs_task_priority: 'priority',
  hs_task_subject: 'text',
  hs_task_body: 'text',
  hs_task_type: 'outcome',
  hs_survey_type: 'surveyType',
  hs_value: 'value',
  hs_content: 'comment',
  hs_submission_timestamp: 'at',
  hs_survey_channel: 'channel',
};

/** The properties Rapport reads for a type (OWN plus its create date), for the check above. */
export const readProperties = (type: ObjectType): readonly string[] => [...OWN[type], CREATED[type]];

/** Types HubSpot merges (contacts, companies, deals, tickets have merge endpoints, https://developers.hubspot.com/docs/guides/crm/using-object-apis). */
const MERGEABLE = new Set<ObjectType>(['contacts', 'companies', 'deals', 'tickets']);

/**
 * Properties of the portal an admin maps onto our fields (RAPPORT_CHURN `signals.churnDateProperty`:
 * the contact property holding the date the customer left, often a custom date property,
 * https://knowledge.hubspot.com/properties/create-and-edit-properties).
 */
export type MappedProperties = { churnedAt?: string };

/** Properties requested on list and search calls for a type. */
export const propertiesFor = (type: ObjectType, mapped: MappedProperties = {}): string[] => [
  ...new Set([
    ...OWN[type],
    CREATED[type],
    modifiedProperty(type),
    'hs_object_id',
    ...(MERGEABLE.has(type) ? ['hs_merged_object_ids'] : []),
    ...(type === 'contacts' && mapped.churnedAt !== undefined ? [mapped.churnedAt] : []),
  ]),
];

/**
 * Which associations each type needs: contactIds (who it belongs to, or for a company who works
 * there) and companyId (owning company of contacts, deals, tickets).
 */
export const ASSOCIATIONS: Record<ObjectType, readonly ('contacts' | 'companies')[]> = {
  contacts: ['companies'],
  companies: ['contacts'],
  deals: ['contacts', 'companies'],
  tickets: ['contacts', 'companies'],
  calls: ['contacts'],
  emails: ['contacts'],
  meetings: ['contacts'],
  notes: ['contacts'],
  tasks: ['contacts'],
  feedback_submissions: ['contacts'],
};

export type HsProps = Record<string, string | null | undefined>;
export type Associated = { contacts?: string[]; companies?: { id: string; primary: boolean }[] };

type Mapped = { data: RecordData; issues: DataIssue[] };

/**
 * One HubSpot object → normalized CrmRecord. `updatedAt` prefers the type's modified property,
 * the same value the incremental search filters on, so cursors and the cache agree.
 */
export function toRecord(
  portal: string,
  type: ObjectType,
  obj: { id: string; properties: HsProps; updatedAt: string; archived?: boolean | undefined; archivedAt?: string | undefined },
  assoc: Associated,
  now: number,
  mapped: MappedProperties = {},
): CrmRecord {
  const p = obj.properties;
  const deleted = obj.archived === true;
  const modified = parseTime(p[modifiedProperty(type)] ?? null) ?? parseTime(obj.updatedAt) ?? 0;
  // A tombstone must sort after the last live version the cache holds.
  const updatedAt = deleted ? Math.max(modified, parseTime(obj.archivedAt ?? null) ?? 0) : modified;
  const { data, issues } = mapData(type, p, now, mapped);
  const companies = assoc.companies ?? [];
  const companyId = ASSOCIATIONS[type].includes('companies')
    ? (companies.find((c) => c.primary) ?? companies[0])?.id ?? null
    : null;
  const record: CrmRecord = {
    portal,
    type,
    id: obj.id,
    contactIds: ASSOCIATIONS[type].includes('contacts') ? [...new Set(assoc.contacts ?? [])].sort() : undefined,
    companyId,
    updatedAt,
    deleted,
    data,
  };
  if (issues.length > 0) record.issues = issues;
  // most records were never merged: no list to split
  const mergedRaw = p.hs_merged_object_ids;
  if (!deleted && mergedRaw !== null && mergedRaw !== undefined && mergedRaw !== '') {
    const merged = mergedRaw.split(';').map((x) => x.trim()).filter((x) => /^\d+$/.test(x) && x !== obj.id);
    if (merged.length > 0) record.mergedIds = [...new Set(merged)].sort();
  }
  return record;
}

/** Money fields, bounded as amounts; other numbers get the wider numeric bound. */
const MONEY = new Set(['amount', 'annualrevenue']);

function mapData(type: ObjectType, p: HsProps, now: number, mapped: MappedProperties): Mapped {
  const issues: DataIssue[] = [];
  const field = (name: string): string => `${type}.${name === mapped.churnedAt ? 'churnedAt' : (FIELD_OF_PROPERTY[name] ?? 'other')}`;
  const issue = (code: DataIssueCode, name: string): void => void issues.push({ code, field: field(name) });
  const time = (name: string): number | null => {
    const raw = p[name];
    const t = parseTime(raw);
    if (raw !== null && raw !== undefined && raw.trim() !== '' && t === null) issue('unparsable_date', name);
    if (t !== null && !isPlausibleTime(t)) {
      issue('implausible_date', name);
      return null;
    }
    // a week of slack for time zones and scheduled items before calling a date "future"
    // (a churn date may be ahead: notice given, leaving at the end of the term)
    if (t !== null && t > now + 7 * 86_400_000 && name !== 'hs_timestamp' && name !== 'closedate' && name !== mapped.churnedAt) issue('future_date', name);
    return t;
  };
  const num = (name: string): number | null => {
    const raw = p[name];
    const n = parseAmount(raw);
    if (raw !== null && raw !== undefined && raw.trim() !== '' && n === null) issue('not_a_number', name);
    if (n !== null && !(MONEY.has(name) ? isPlausibleAmount(n) : isPlausibleNumber(n))) {
      issue(MONEY.has(name) ? 'implausible_amount' : 'implausible_number', name);
      return null;
    }
    return n;
  };
  // the field's name is built only for a text long enough to be cut (trimming only shortens it)
  const tooLong = (name: string): void => {
    const raw = p[name];
    const issue = raw !== null && raw !== undefined && raw.length > MAX_TEXT_CHARS ? lengthIssue(field(name), raw, MAX_TEXT_CHARS) : null;
    if (issue !== null) issues.push(issue);
  };
  const text = (name: string): string | null => {
    tooLong(name);
    return textOrNull(p[name]);
  };
  const html = (name: string): string | null => {
    tooLong(name);
    return stripHtml(p[name]);
  };
  const createdAt = time(CREATED[type]);

  switch (type) {
    case 'contacts': {
      const emailRaw = p.email ?? null;
      const email = cleanEmail(emailRaw);
      if (emailRaw !== null && emailRaw.trim() !== '' && email === null) issues.push(lengthIssue(field('email'), emailRaw, MAX_EMAIL_CHARS) ?? { code: 'invalid_email', field: field('email') });
      const phoneRaw = textOrNull(p.phone) ?? textOrNull(p.mobilephone);
      const phone = cleanPhone(phoneRaw);
      if (phoneRaw !== null && phone === null) issues.push(lengthIssue(field('phone'), phoneRaw, MAX_PHONE_CHARS) ?? { code: 'invalid_phone', field: field('phone') });
      const data: ContactData = {
        email,
        emailRaw,
        phone,
        phoneRaw,
        firstName: text('firstname'),
        lastName: text('lastname'),
        createdAt,
        // built-in stages include `other`, a usual "no longer a customer" (RAPPORT_CHURN lostLifecycleStages):
        // https://knowledge.hubspot.com/records/use-lifecycle-stages
        lifecycleStage: text('lifecyclestage'),
        ...(mapped.churnedAt === undefined ? {} : { churnedAt: time(mapped.churnedAt) }),
      };
      return { data, issues };
    }
    case 'companies': {
      const data: CompanyData = {
        name: text('name'),
        domain: text('domain')?.toLowerCase() ?? null,
        industry: text('industry'),
        employees: num('numberofemployees'),
        annualRevenue: num('annualrevenue'),
        createdAt,
      };
      return { data, issues };
    }
    case 'deals': {
      const stage = text('dealstage');
      const won = parseBool(p.hs_is_closed_won) || stage === 'closedwon';
      const amount = num('amount');
      if (amount !== null && amount < 0) issue('negative_amount', 'amount');
      const data: DealData = {
        amount,
        amountRaw: p.amount ?? null,
        stage,
        isClosed: parseBool(p.hs_is_closed) || won || stage === 'closedlost',
        isClosedWon: won,
        closedAt: time('closedate'),
        createdAt,
      };
      return { data, issues };
    }
    case 'tickets': {
      const closedAt = time('closed_date');
      const ttc = num('time_to_close');
      const priority = text('hs_ticket_priority')?.toUpperCase() ?? null;
      const data: TicketData = {
        priority: priority === 'LOW' || priority === 'MEDIUM' || priority === 'HIGH' || priority === 'URGENT' ? priority : null,
        stage: text('hs_pipeline_stage'),
        // default pipeline's closed stage is "4" (https://developers.hubspot.com/docs/api/crm/properties); closed_date is set on close
        isClosed: closedAt !== null || text('hs_pipeline_stage') === '4',
        createdAt,
        closedAt,
        timeToCloseMs: ttc ?? (closedAt !== null && createdAt !== null ? closedAt - createdAt : null),
        reopenedCount: Math.max(0, Math.round(num('reopen_count') ?? 0)),
        source: text('source_type'),
        subject: text('subject'),
        content: text('content'),
      };
      return { data, issues };
    }
    case 'feedback_submissions': {
      const st = text('hs_survey_type')?.toUpperCase() ?? null;
      const data: FeedbackData = {
        surveyType: st === 'NPS' || st === 'CSAT' || st === 'CES' ? st : null,
        value: num('hs_value'),
        valueRaw: p.hs_value ?? null,
        comment: text('hs_content'),
        at: time('hs_submission_timestamp') ?? createdAt,
        channel: text('hs_survey_channel'),
      };
      return { data, issues };
    }
    default:
      return { data: engagement(type, time, num, text, html), issues };
  }
}

function engagement(
  type: ObjectType,
  time: (n: string) => number | null,
  num: (n: string) => number | null,
  t: (n: string) => string | null,
  html: (n: string) => string | null,
): EngagementData {
  const join = (...parts: (string | null)[]) => {
    const s = parts.filter((x): x is string => x !== null).join('\n');
    return s === '' ? null : s;
  };
  const at = time('hs_timestamp');
  switch (type) {
    case 'calls': {
      const d = t('hs_call_direction');
      return {
        at,
        direction: d === 'INBOUND' ? 'inbound' : d === 'OUTBOUND' ? 'outbound' : null,
        durationMs: num('hs_call_duration'),
        outcome: t('hs_call_status') ?? t('hs_call_disposition'),
        text: join(t('hs_call_title'), html('hs_call_body')),
        priority: null,
      };
    }
    case 'emails': {
      const d = t('hs_email_direction');
      return {
        at,
        direction: d === 'INCOMING_EMAIL' ? 'inbound' : d === 'EMAIL' || d === 'FORWARDED_EMAIL' ? 'outbound' : null,
        durationMs: null,
        outcome: t('hs_email_status'),
        text: join(t('hs_email_subject'), html('hs_email_text')),
        priority: null,
      };
    }
    case 'meetings': {
      const start = time('hs_meeting_start_time');
      const end = time('hs_meeting_end_time');
      return {
        at: at ?? start,
        direction: null,
        durationMs: start !== null && end !== null && end >= start ? end - start : null,
        outcome: t('hs_meeting_outcome'),
        text: join(t('hs_meeting_title'), html('hs_meeting_body')),
        priority: null,
      };
    }
    case 'tasks':
      return {
        at,
        direction: null,
        durationMs: null,
        outcome: t('hs_task_status'),
        text: join(t('hs_task_subject'), html('hs_task_body')),
        priority: t('hs_task_priority'),
      };
    default:
      // notes
      return { at, direction: null, durationMs: null, outcome: null, text: html('hs_note_body'), priority: null };
  }
}

/**
 * Flags contacts whose normalized email another contact already has (issue 3: flagged, never
 * dropped). Remembers what this connector instance has seen; the cache-wide check across runs
 * belongs to whoever owns the whole table (the store), this catches duplicates within a sync.
 */
export function createDuplicateEmailFlagger() {
  const owner = new Map<string, string>();
  return (r: CrmRecord): void => {
    if (r.type !== 'contacts' || r.deleted) return;
    const email = (r.data as ContactData).email;
    if (email === null) return;
    const first = owner.get(email);
    if (first === undefined) owner.set(email, r.id);
    else if (first !== r.id) r.issues = [...(r.issues ?? []), { code: 'duplicate_email', field: 'contacts.email' }];
  };
}
