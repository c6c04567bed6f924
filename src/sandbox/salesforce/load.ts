import { parseAmount, parseTime } from '../../connectors/clean.ts';
import type { GeneratedBatch, HubspotObjectType, SandboxObject } from '../model.ts';
import type { FieldValue, Row, SalesforceData } from './storage.ts';

/**
 * The generator speaks HubSpot (src/sandbox/generator); this maps its batches onto a Salesforce
 * org, keeping every timestamp, so `rapport demo --crm salesforce` scores the same synthetic
 * customers. The mapping (also in docs/install-salesforce.md):
 *
 *   companies → Account          contacts → Contact (AccountId)
 *   deals     → Opportunity (StageName 'Closed Won' …, Amount, CloseDate, IsWon) + OpportunityContactRole
 *   tickets   → Case (Priority Low/Medium/High/Critical, Status, ClosedDate, Origin, custom Reopen_Count__c)
 *   calls     → Task TaskSubtype 'Call' (CallType, CallDurationInSeconds, CallDisposition) + TaskWhoRelation
 *   emails    → EmailMessage (Incoming, MessageDate, TextBody) + EmailMessageRelation
 *   meetings  → Event (StartDateTime, EndDateTime, DurationInMinutes) + EventWhoRelation
 *   notes     → Task TaskSubtype 'Task', Type 'Note' (Description) + TaskWhoRelation
 *   tasks     → Task TaskSubtype 'Task', Type Email/Call/Other, Status, Priority + TaskWhoRelation
 *   feedback  → Survey_Response__c (Type__c NPS/CSAT/CES, Score__c, Comment__c, Contact__c, Case__c)
 *
 * HubSpot ids are remembered per loader, so later batches (live activity) may point at contacts
 * loaded earlier. A value Salesforce could not store (a non-numeric amount in a currency field)
 * is left empty, as a Salesforce import would reject it.
 */
export type SalesforceLoader = {
  load(batch: GeneratedBatch): void;
  /** the Salesforce id given to a generator (HubSpot-shaped) id */
  idOf(type: HubspotObjectType, hubspotId: string): string | undefined;
  /** generator ids of the contacts loaded so far (for createLiveActivity.next) */
  contactIds(): string[];
};

const ORDER: HubspotObjectType[] = ['companies', 'contacts', 'tickets', 'deals', 'calls', 'emails', 'meetings', 'notes', 'tasks', 'feedback_submissions'];

const DEAL_STAGES: Record<string, string> = {
  closedwon: 'Closed Won',
  closedlost: 'Closed Lost',
  appointmentscheduled: 'Prospecting',
  qualifiedtobuy: 'Qualification',
  presentationscheduled: 'Needs Analysis',
  decisionmakerboughtin: 'Id. Decision Makers',
  contractsent: 'Negotiation/Review',
};
const CASE_PRIORITY: Record<string, string> = { LOW: 'Low', MEDIUM: 'Medium', HIGH: 'High', URGENT: 'Critical' };
const TASK_PRIORITY: Record<string, string> = { LOW: 'Low', MEDIUM: 'Normal', HIGH: 'High' };
const TASK_TYPE: Record<string, string> = { EMAIL: 'Email', CALL: 'Call', TODO: 'Other' };

const date = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString().slice(0, 10));
const titleCase = (s: string | null): string | null => (s === null ? null : s.charAt(0).toUpperCase() + s.slice(1).toLowerCase().replace(/_/g, ' '));

export function createSalesforceLoader(data: SalesforceData): SalesforceLoader {
  const ids = new Map<string, string>();
  const key = (type: HubspotObjectType, id: string) => `${type}:${id}`;

  return {
    idOf: (type, id) => ids.get(key(type, id)),
    contactIds: () => [...ids.keys()].filter((k) => k.startsWith('contacts:')).map((k) => k.slice('contacts:'.length)),
    load(batch) {
      const links = new Map<string, { type: HubspotObjectType; id: string }[]>();
      const link = (fromType: HubspotObjectType, fromId: string, toType: HubspotObjectType, toId: string) => {
        const k = key(fromType, fromId);
        const list = links.get(k) ?? [];
        list.push({ type: toType, id: toId });
        links.set(k, list);
      };
      for (const a of batch.associations) {
        link(a.fromType, a.fromId, a.toType, a.toId);
        link(a.toType, a.toId, a.fromType, a.fromId);
      }
      const linked = (o: SandboxObject, to: HubspotObjectType): string[] =>
        (links.get(key(o.type, o.id)) ?? [])
          .filter((l) => l.type === to)
          .map((l) => ids.get(key(to, l.id)))
          .filter((x): x is string => x !== undefined);
      const first = (o: SandboxObject, to: HubspotObjectType): string | null => linked(o, to)[0] ?? null;

      const byType = new Map<HubspotObjectType, SandboxObject[]>();
      for (const o of batch.objects) byType.set(o.type, [...(byType.get(o.type) ?? []), o]);
      for (const type of ORDER) {
        for (const o of byType.get(type) ?? []) {
          const mapped = map(o, first, linked);
          const opts = { at: o.createdAt, modifiedAt: o.updatedAt };
          const row = data.create(mapped.sobject, mapped.fields, opts);
          ids.set(key(o.type, o.id), row.Id as string);
          if (o.archived) data.remove(mapped.sobject, row.Id as string);
          for (const rel of mapped.relations(row.Id as string)) data.create(rel.sobject, rel.fields, opts);
        }
      }
    },
  };
}

type Mapped = { sobject: string; fields: Row; relations: (id: string) => { sobject: string; fields: Row }[] };

function map(o: SandboxObject, first: (o: SandboxObject, to: HubspotObjectType) => string | null, linked: (o: SandboxObject, to: HubspotObjectType) => string[]): Mapped {
  const p = (name: string): string | null => {
    const v = o.properties[name];
    return v === undefined || v === null || v.trim() === '' ? null : v;
  };
  const time = (name: string): number | null => parseTime(p(name));
  const num = (name: string): number | null => parseAmount(p(name));
  const none = () => [];
  const who = (relation: string, parentField: string, extra: (id: string) => Row = () => ({})) => (id: string) =>
    linked(o, 'contacts').map((contactId) => ({ sobject: relation, fields: { [parentField]: id, RelationId: contactId, ...extra(contactId) } }));
  const at = time('hs_timestamp');
  const fields = (f: Record<string, FieldValue>): Row => f;

  switch (o.type) {
    case 'companies':
      return {
        sobject: 'Account',
        fields: fields({ Name: p('name'), Website: p('domain'), Industry: p('industry'), NumberOfEmployees: num('numberofemployees'), AnnualRevenue: num('annualrevenue') }),
        relations: none,
      };
    case 'contacts':
      return {
        sobject: 'Contact',
        fields: fields({ FirstName: p('firstname'), LastName: p('lastname'), Email: p('email'), Phone: p('phone'), MobilePhone: p('mobilephone'), AccountId: first(o, 'companies') }),
        relations: none,
      };
    case 'deals': {
      const stage = p('dealstage');
      return {
        sobject: 'Opportunity',
        fields: fields({
          Name: p('dealname') ?? 'Deal',
          Amount: num('amount'),
          StageName: stage === null ? 'Prospecting' : (DEAL_STAGES[stage] ?? stage),
          IsClosed: p('hs_is_closed') === 'true',
          IsWon: p('hs_is_closed_won') === 'true',
          CloseDate: date(time('closedate')),
          AccountId: first(o, 'companies'),
        }),
        relations: (id) => linked(o, 'contacts').map((contactId, i) => ({ sobject: 'OpportunityContactRole', fields: { OpportunityId: id, ContactId: contactId, IsPrimary: i === 0, Role: 'Decision Maker' } })),
      };
    }
    case 'tickets': {
      const closedAt = time('closed_date');
      const priority = p('hs_ticket_priority');
      return {
        sobject: 'Case',
        fields: fields({
          Subject: p('subject'),
          Description: p('content'),
          Priority: priority === null ? null : (CASE_PRIORITY[priority] ?? priority),
          Status: closedAt !== null ? 'Closed' : p('hs_pipeline_stage') === '1' ? 'New' : 'Working',
          IsClosed: closedAt !== null,
          ClosedDate: closedAt,
          Origin: titleCase(p('source_type')),
          Reopen_Count__c: num('reopen_count'),
          ContactId: first(o, 'contacts'),
          AccountId: first(o, 'companies'),
        }),
        relations: none,
      };
    }
    case 'calls': {
      const direction = p('hs_call_direction');
      const ms = num('hs_call_duration');
      return {
        sobject: 'Task',
        fields: fields({
          TaskSubtype: 'Call',
          Type: 'Call',
          Subject: p('hs_call_title') ?? 'Call',
          Description: p('hs_call_body'),
          CallType: direction === 'INBOUND' ? 'Inbound' : direction === 'OUTBOUND' ? 'Outbound' : null,
          CallDurationInSeconds: ms === null ? null : Math.round(ms / 1000),
          CallDisposition: titleCase(p('hs_call_status')),
          Status: 'Completed',
          IsClosed: true,
          ActivityDate: date(at),
          CompletedDateTime: at,
          WhoId: first(o, 'contacts'),
        }),
        relations: who('TaskWhoRelation', 'TaskId', () => ({ Type: 'Contact' })),
      };
    }
    case 'emails': {
      const incoming = p('hs_email_direction') === 'INCOMING_EMAIL';
      return {
        sobject: 'EmailMessage',
        fields: fields({ Subject: p('hs_email_subject'), TextBody: p('hs_email_text'), Incoming: incoming, MessageDate: at, Status: incoming ? '0' : '3' }),
        relations: who('EmailMessageRelation', 'EmailMessageId', () => ({ RelationType: incoming ? 'FromAddress' : 'ToAddress' })),
      };
    }
    case 'meetings': {
      const start = time('hs_meeting_start_time') ?? at;
      const end = time('hs_meeting_end_time');
      return {
        sobject: 'Event',
        fields: fields({
          Subject: p('hs_meeting_title') ?? 'Meeting',
          Description: p('hs_meeting_body'),
          StartDateTime: start,
          EndDateTime: end,
          ActivityDateTime: start,
          DurationInMinutes: start !== null && end !== null ? Math.round((end - start) / 60_000) : null,
          EventSubtype: 'Event',
          IsChild: false,
          WhoId: first(o, 'contacts'),
        }),
        relations: who('EventWhoRelation', 'EventId', () => ({ Type: 'Contact' })),
      };
    }
    case 'notes':
      return {
        sobject: 'Task',
        fields: fields({ TaskSubtype: 'Task', Type: 'Note', Subject: 'Note', Description: p('hs_note_body'), Status: 'Completed', IsClosed: true, ActivityDate: date(at), CompletedDateTime: at, WhoId: first(o, 'contacts') }),
        relations: who('TaskWhoRelation', 'TaskId', () => ({ Type: 'Contact' })),
      };
    case 'tasks': {
      const status = p('hs_task_status');
      const priority = p('hs_task_priority');
      const type = p('hs_task_type');
      return {
        sobject: 'Task',
        fields: fields({
          TaskSubtype: 'Task',
          Type: type === null ? null : (TASK_TYPE[type] ?? 'Other'),
          Subject: p('hs_task_subject'),
          Description: p('hs_task_body'),
          Status: status === 'COMPLETED' ? 'Completed' : status === 'NOT_STARTED' ? 'Not Started' : 'In Progress',
          Priority: priority === null ? null : (TASK_PRIORITY[priority] ?? priority),
          IsClosed: status === 'COMPLETED',
          ActivityDate: date(at),
          WhoId: first(o, 'contacts'),
        }),
        relations: who('TaskWhoRelation', 'TaskId', () => ({ Type: 'Contact' })),
      };
    }
    case 'feedback_submissions':
      return {
        sobject: 'Survey_Response__c',
        fields: fields({
          Type__c: p('hs_survey_type'),
          Score__c: p('hs_value'),
          Comment__c: p('hs_content'),
          Submitted_At__c: time('hs_submission_timestamp'),
          Channel__c: p('hs_survey_channel'),
          Contact__c: first(o, 'contacts'),
          Case__c: first(o, 'tickets'),
        }),
        relations: none,
      };
  }
}
