import {
  cleanEmail,
  cleanPhone,
  isPlausibleAmount,
  isPlausibleNumber,
  isPlausibleTime,
  lengthIssue,
  MAX_EMAIL_CHARS,
  MAX_PHONE_CHARS,
  MAX_SCALAR_CHARS,
  MAX_TEXT_CHARS,
  parseAmount,
  parseTime,
  stripHtml,
  textOrNull,
} from '../clean.ts';
import type { CompanyData, ContactData, CrmRecord, DataIssue, DataIssueCode, DealData, EngagementData, FeedbackData, ObjectType, RecordData, TicketData } from '../types.ts';

/**
 * What Rapport reads from Salesforce, as data (ARCHITECTURE §3). Each normalized type is one
 * sObject, optionally narrowed by a fixed filter, plus the child relationship that lists its
 * contacts. The object/field choice is documented in docs/install-salesforce.md.
 */
export type SfSpec = {
  sobject: string;
  fields: readonly string[];
  /** a fixed SOQL condition (e.g. which Task subtype), ANDed with the cursor condition */
  filter?: string;
  /** `(SELECT <field> FROM <relationship>)`: the contacts of the record */
  contacts?: { relationship: string; field: string };
  /** a lookup field holding the (primary) contact */
  contactField?: string;
  companyField?: string;
  /** read instead when this org lacks `sobject` (describe.ts) */
  fallback?: SfSpec;
  /** Contact: the (custom) date field an admin maps as the churn date, read into `churnedAt` */
  churnDateField?: string;
};

const SYSTEM = ['Id', 'IsDeleted', 'CreatedDate', 'SystemModstamp'];
const TASK = ['Subject', 'Description', 'Status', 'Priority', 'Type', 'TaskSubtype', 'IsClosed', 'ActivityDate', 'CompletedDateTime', 'WhoId'];
const TASK_WHO = { relationship: 'TaskWhoRelations', field: 'RelationId' };

export const SPECS: Record<ObjectType, SfSpec> = {
  contacts: { sobject: 'Contact', fields: [...SYSTEM, 'AccountId', 'FirstName', 'LastName', 'Email', 'Phone', 'MobilePhone', 'LeadSource'], companyField: 'AccountId' },
  companies: { sobject: 'Account', fields: [...SYSTEM, 'Name', 'Website', 'Industry', 'NumberOfEmployees', 'AnnualRevenue'], contacts: { relationship: 'Contacts', field: 'Id' } },
  deals: {
    sobject: 'Opportunity',
    fields: [...SYSTEM, 'AccountId', 'Amount', 'StageName', 'IsClosed', 'IsWon', 'CloseDate'],
    contacts: { relationship: 'OpportunityContactRoles', field: 'ContactId' },
    companyField: 'AccountId',
  },
  tickets: {
    sobject: 'Case',
    fields: [...SYSTEM, 'ContactId', 'AccountId', 'Subject', 'Description', 'Status', 'Priority', 'Origin', 'IsClosed', 'ClosedDate', 'Reopen_Count__c'],
    contactField: 'ContactId',
    companyField: 'AccountId',
  },
  // Calls: Salesforce's own call logging sets TaskSubtype 'Call'; many dialer integrations log a
  // completed Task of Type 'Call' instead (TaskSubtype 'Task'), which is a call too. An open Task of
  // Type 'Call' is a to-do ("call back"), not a call yet.
  // (https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_task.htm)
  calls: {
    sobject: 'Task',
    fields: [...SYSTEM, ...TASK, 'CallType', 'CallDurationInSeconds', 'CallDisposition'],
    filter: "TaskSubtype = 'Call' OR (TaskSubtype = 'Task' AND Type = 'Call' AND IsClosed = true)",
    contacts: TASK_WHO,
    contactField: 'WhoId',
  },
  emails: {
    sobject: 'EmailMessage',
    fields: [...SYSTEM, 'Subject', 'TextBody', 'HtmlBody', 'Incoming', 'MessageDate', 'Status'],
    contacts: { relationship: 'EmailMessageRelations', field: 'RelationId' },
    // Without Enhanced Email (no EmailMessage object) an email logged or sent from Salesforce is a
    // Task with TaskSubtype 'Email' (https://help.salesforce.com/s/articleView?id=sf.enhanced_email.htm)
    fallback: { sobject: 'Task', fields: [...SYSTEM, ...TASK], filter: "TaskSubtype = 'Email'", contacts: TASK_WHO, contactField: 'WhoId' },
  },
  // A meeting with invitees has one Event per invitee calendar; the copies have IsChild = true and
  // would count the meeting again (https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_event.htm).
  // `!= true` keeps rows where the field is null.
  meetings: {
    sobject: 'Event',
    fields: [...SYSTEM, 'Subject', 'Description', 'ActivityDateTime', 'StartDateTime', 'EndDateTime', 'DurationInMinutes', 'WhoId'],
    filter: 'IsChild != true',
    contacts: { relationship: 'EventWhoRelations', field: 'RelationId' },
    contactField: 'WhoId',
  },
  // Notes logged as Tasks of Type 'Note' (a common org convention; ContentNote is not read)
  notes: { sobject: 'Task', fields: [...SYSTEM, ...TASK], filter: "TaskSubtype = 'Task' AND Type = 'Note'", contacts: TASK_WHO, contactField: 'WhoId' },
  // SOQL `!=` keeps rows whose Type is null; completed Type 'Call' Tasks are calls (above)
  tasks: {
    sobject: 'Task',
    fields: [...SYSTEM, ...TASK],
    filter: "TaskSubtype = 'Task' AND Type != 'Note' AND NOT (Type = 'Call' AND IsClosed = true)",
    contacts: TASK_WHO,
    contactField: 'WhoId',
  },
  feedback_submissions: {
    sobject: 'Survey_Response__c',
    fields: [...SYSTEM, 'Contact__c', 'Type__c', 'Score__c', 'Comment__c', 'Submitted_At__c', 'Channel__c'],
    contactField: 'Contact__c',
  },
};

export type SfRecord = Record<string, unknown> & { Id: string; SystemModstamp: string };

/** `2013-05-20T20:49:32.000+0000` (no colon in the offset) and plain dates → epoch ms. */
export function parseSfTime(raw: unknown): number | null {
  if (typeof raw !== 'string' || raw.length > MAX_SCALAR_CHARS) return null;
  return parseTime(raw.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : null);
const isContactId = (id: unknown): id is string => typeof id === 'string' && id.startsWith('003');

export function toRecord(portal: string, type: ObjectType, r: SfRecord, now: number, spec: SfSpec = SPECS[type]): CrmRecord {
  const issues: DataIssue[] = [];
  let contactIds: string[] | undefined;
  if (spec.contacts !== undefined || spec.contactField !== undefined) {
    const ids: unknown[] = [];
    if (spec.contactField !== undefined) ids.push(r[spec.contactField]);
    if (spec.contacts !== undefined) {
      const sub = r[spec.contacts.relationship] as { records?: Record<string, unknown>[] } | null | undefined;
      // queryAll can list deleted children (a removed contact role): they no longer link
      for (const child of sub?.records ?? []) if (child.IsDeleted !== true) ids.push(child[spec.contacts.field]);
    }
    contactIds = [...new Set(ids.filter(isContactId))].sort();
  }
  const companyId = spec.companyField === undefined ? null : (str(r[spec.companyField]) ?? null);
  const record: CrmRecord = {
    portal,
    type,
    id: r.Id,
    contactIds,
    companyId,
    updatedAt: parseSfTime(r.SystemModstamp) ?? 0,
    deleted: r.IsDeleted === true,
    data: mapData(type, r, now, issues, spec.churnDateField),
  };
  if (issues.length > 0) record.issues = issues;
  return record;
}

/** Money fields, bounded as amounts; other numbers get the wider numeric bound. */
const MONEY = new Set(['Amount', 'AnnualRevenue']);

/**
 * Which of our fields (RecordData keys) each Salesforce field feeds: a data issue names our field,
 * never the org's API name (src/connectors/types.ts DataIssue).
 */
export const FIELD_OF_SF_FIELD: Readonly<Record<string, string>> = {
  CreatedDate: 'createdAt',
  Email: 'email',
  Phone: 'phone',
  MobilePhone: 'phone',
  FirstName: 'firstName',
  LastName: 'lastName',
  Name: 'name',
  Website: 'domain',
  Industry: 'industry',
  NumberOfEmployees: 'employees',
  AnnualRevenue: 'annualRevenue',
  Amount: 'amount',
  StageName: 'stage',
  CloseDate: 'closedAt',
  ClosedDate: 'closedAt',
  Priority: 'priority',
  Status: 'outcome',
  Origin: 'source',
  Subject: 'text',
  Description: 'text',
  TextBody: 'text',
  HtmlBody: 'text',
  Reopen_Count__c: 'reopenedCount',
  CallType: 'direction',
  CallDisposition: 'outcome',
  CallDurationInSeconds: 'durationMs',
  DurationInMinutes: 'durationMs',
  ActivityDate: 'at',
  ActivityDateTime: 'at',
  CompletedDateTime: 'at',
  StartDateTime: 'at',
  MessageDate: 'at',
  Submitted_At__c: 'at',
  Score__c: 'value',
  Type__c: 'surveyType',
  Comment__c: 'comment',
  Channel__c: 'channel',
};

function mapData(type: ObjectType, r: Record<string, unknown>, now: number, issues: DataIssue[], churnDateField?: string): RecordData {
  const field = (name: string): string => `${type}.${name === churnDateField ? 'churnedAt' : (FIELD_OF_SF_FIELD[name] ?? 'other')}`;
  const issue = (code: DataIssueCode, name: string): void => void issues.push({ code, field: field(name) });
  const text = (name: string): string | null => {
    const tooLong = lengthIssue(field(name), str(r[name]), MAX_TEXT_CHARS);
    if (tooLong !== null) issues.push(tooLong);
    return textOrNull(str(r[name]));
  };
  const html = (name: string): string | null => {
    const tooLong = lengthIssue(field(name), str(r[name]), MAX_TEXT_CHARS);
    if (tooLong !== null) issues.push(tooLong);
    return stripHtml(str(r[name]));
  };
  const time = (name: string): number | null => {
    const t = parseSfTime(r[name]);
    if (t !== null && !isPlausibleTime(t)) {
      issue('implausible_date', name);
      return null;
    }
    // (a churn date may be ahead: notice given, leaving at the end of the term)
    if (t !== null && t > now + 7 * 86_400_000 && name !== 'ActivityDate' && name !== 'CloseDate' && name !== 'StartDateTime' && name !== churnDateField) issue('future_date', name);
    return t;
  };
  const num = (name: string): number | null => {
    const raw = str(r[name]);
    const n = parseAmount(raw);
    if (raw !== null && raw.trim() !== '' && n === null) issue('not_a_number', name);
    if (n !== null && !(MONEY.has(name) ? isPlausibleAmount(n) : isPlausibleNumber(n))) {
      issue(MONEY.has(name) ? 'implausible_amount' : 'implausible_number', name);
      return null;
    }
    return n;
  };
  const join = (...parts: (string | null)[]): string | null => textOrNull(parts.filter((p) => p !== null).join('\n'));
  const createdAt = time('CreatedDate');

  switch (type) {
    case 'contacts': {
      const emailRaw = str(r.Email);
      const email = cleanEmail(emailRaw);
      if (emailRaw !== null && emailRaw.trim() !== '' && email === null) issues.push(lengthIssue(field('Email'), emailRaw, MAX_EMAIL_CHARS) ?? { code: 'invalid_email', field: field('Email') });
      const phoneRaw = text('Phone') ?? text('MobilePhone');
      const phone = cleanPhone(phoneRaw);
      if (phoneRaw !== null && phone === null) issues.push(lengthIssue(field('Phone'), phoneRaw, MAX_PHONE_CHARS) ?? { code: 'invalid_phone', field: field('Phone') });
      const data: ContactData = { email, emailRaw, phone, phoneRaw, firstName: text('FirstName'), lastName: text('LastName'), createdAt, lifecycleStage: null };
      if (churnDateField !== undefined) data.churnedAt = time(churnDateField);
      return data;
    }
    case 'companies': {
      const website = text('Website');
      const data: CompanyData = {
        name: text('Name'),
        domain: website === null ? null : website.replace(/^https?:\/\//i, '').replace(/^www\./i, '').split('/', 1)[0]?.toLowerCase() ?? null,
        industry: text('Industry'),
        employees: num('NumberOfEmployees'),
        annualRevenue: num('AnnualRevenue'),
        createdAt,
      };
      return data;
    }
    case 'deals': {
      const isClosed = r.IsClosed === true;
      const data: DealData = {
        amount: num('Amount'),
        amountRaw: str(r.Amount),
        stage: text('StageName'),
        isClosed,
        isClosedWon: r.IsWon === true,
        closedAt: isClosed ? time('CloseDate') : null,
        createdAt,
      };
      return data;
    }
    case 'tickets': {
      const closedAt = time('ClosedDate');
      const p = text('Priority')?.toUpperCase() ?? null;
      const priority = p === 'LOW' || p === 'MEDIUM' || p === 'HIGH' ? p : p === 'CRITICAL' || p === 'URGENT' ? 'URGENT' : null;
      const isClosed = r.IsClosed === true;
      const data: TicketData = {
        priority,
        stage: text('Status'),
        isClosed,
        createdAt,
        closedAt,
        timeToCloseMs: isClosed && closedAt !== null && createdAt !== null ? Math.max(0, closedAt - createdAt) : null,
        reopenedCount: Math.max(0, Math.round(num('Reopen_Count__c') ?? 0)),
        source: text('Origin'),
        subject: text('Subject'),
        content: html('Description'),
      };
      return data;
    }
    case 'calls': {
      const ct = text('CallType')?.toLowerCase();
      const secs = num('CallDurationInSeconds');
      const data: EngagementData = {
        at: time('CompletedDateTime') ?? time('ActivityDate') ?? createdAt,
        direction: ct === 'inbound' ? 'inbound' : ct === 'outbound' ? 'outbound' : null,
        durationMs: secs === null ? null : secs * 1000,
        outcome: text('CallDisposition') ?? text('Status'),
        text: join(text('Subject'), html('Description')),
        priority: text('Priority'),
      };
      return data;
    }
    case 'emails': {
      // an EmailMessage, or (orgs without Enhanced Email) a Task of TaskSubtype 'Email', which has no direction
      const data: EngagementData = {
        at: time('MessageDate') ?? time('CompletedDateTime') ?? time('ActivityDate') ?? createdAt,
        direction: r.Incoming === true ? 'inbound' : r.Incoming === false ? 'outbound' : null,
        durationMs: null,
        outcome: text('Status'),
        text: join(text('Subject'), text('TextBody') ?? html('HtmlBody') ?? html('Description')),
        priority: null,
      };
      return data;
    }
    case 'meetings': {
      const minutes = num('DurationInMinutes');
      const data: EngagementData = {
        at: time('StartDateTime') ?? time('ActivityDateTime') ?? createdAt,
        direction: null,
        durationMs: minutes === null ? null : minutes * 60_000,
        outcome: null,
        text: join(text('Subject'), html('Description')),
        priority: null,
      };
      return data;
    }
    case 'notes':
    case 'tasks': {
      const data: EngagementData = {
        at: time('CompletedDateTime') ?? time('ActivityDate') ?? createdAt,
        direction: null,
        durationMs: null,
        outcome: type === 'tasks' ? text('Status') : null,
        text: type === 'notes' ? html('Description') : join(text('Subject'), html('Description')),
        priority: text('Priority'),
      };
      return data;
    }
    case 'feedback_submissions': {
      const t = text('Type__c')?.toUpperCase() ?? null;
      const valueRaw = str(r.Score__c);
      const data: FeedbackData = {
        surveyType: t === 'NPS' || t === 'CSAT' || t === 'CES' ? t : null,
        value: num('Score__c'),
        valueRaw,
        comment: text('Comment__c'),
        at: time('Submitted_At__c') ?? createdAt,
        channel: text('Channel__c'),
      };
      return data;
    }
  }
}
