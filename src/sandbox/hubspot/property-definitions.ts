import type { HubspotObjectType } from '../model.ts';

/**
 * Property definitions: the built-in ones each object starts with, and the shape custom ones take.
 * Types and field types and the built-in names and values follow https://developers.hubspot.com/docs/api/crm/properties.
 */
export const PROPERTY_TYPES = ['bool', 'date', 'datetime', 'enumeration', 'number', 'phone_number', 'string'] as const;
export type PropertyType = (typeof PROPERTY_TYPES)[number];

/** Which `fieldType`s each `type` accepts (https://developers.hubspot.com/docs/api/crm/properties table; html/phonenumber from the spec enum). */
export const FIELD_TYPES_BY_TYPE: Record<PropertyType, readonly string[]> = {
  bool: ['booleancheckbox', 'calculation_equation'],
  enumeration: ['booleancheckbox', 'checkbox', 'radio', 'select', 'calculation_equation'],
  date: ['date'],
  datetime: ['date'],
  string: ['text', 'textarea', 'html', 'phonenumber', 'file', 'calculation_equation'],
  number: ['number', 'calculation_equation'],
  phone_number: ['phonenumber'],
};

export type PropertyOption = { label: string; value: string; hidden: boolean; displayOrder: number; description?: string };

export type PropertyDefinition = {
  name: string;
  label: string;
  type: PropertyType;
  fieldType: string;
  groupName: string;
  description: string;
  options: PropertyOption[];
  displayOrder: number;
  hasUniqueValue: boolean;
  hidden: boolean;
  formField: boolean;
  hubspotDefined: boolean;
  calculated: boolean;
  /** options live elsewhere (pipelines, owners): values are not checked against `options` */
  externalOptions: boolean;
  /** maintained by HubSpot; writes are refused */
  readOnlyValue: boolean;
  createdAt: number;
  updatedAt: number;
  archived: boolean;
  numberDisplayHint?: string;
  textDisplayHint?: string;
  showCurrencySymbol?: boolean;
  currencyPropertyName?: string;
  dataSensitivity?: string;
  referencedObjectType?: string;
  calculationFormula?: string;
};

export type PropertyGroup = { name: string; label: string; displayOrder: number; archived: boolean };

/** The group built-in properties live in; HubSpot's real names for some types are UNCONFIRMED. */
export const defaultGroupName = (type: HubspotObjectType): string =>
  ({
    contacts: 'contactinformation',
    companies: 'companyinformation',
    deals: 'dealinformation',
    tickets: 'ticketinformation',
    calls: 'call',
    emails: 'email',
    meetings: 'meeting',
    notes: 'note',
    tasks: 'task',
    feedback_submissions: 'feedback_submission_information',
  })[type];

export const builtInGroups = (type: HubspotObjectType): PropertyGroup[] => [
  { name: defaultGroupName(type), label: `${labelFor(defaultGroupName(type))}`, displayOrder: -1, archived: false },
];

type Spec = { name: string; type: PropertyType; fieldType?: string; options?: readonly string[]; external?: boolean; readOnly?: boolean; label?: string };

const text = (name: string): Spec => ({ name, type: 'string', fieldType: 'text' });
const area = (name: string): Spec => ({ name, type: 'string', fieldType: 'textarea' });
const num = (name: string): Spec => ({ name, type: 'number', fieldType: 'number' });
const when = (name: string): Spec => ({ name, type: 'datetime', fieldType: 'date' });
const pick = (name: string, options: readonly string[]): Spec => ({ name, type: 'enumeration', fieldType: 'select', options });
const external = (name: string): Spec => ({ name, type: 'enumeration', fieldType: 'select', external: true });
const flag = (name: string): Spec => ({ name, type: 'bool', fieldType: 'booleancheckbox', options: ['true', 'false'] });
const system = (spec: Spec): Spec => ({ ...spec, readOnly: true });

const objectCore = (created: string, modified: string[]): Spec[] => [
  when(created),
  ...modified.map((m) => system(when(m))),
  system(num('hs_object_id')),
  // ids merged into this record, ";"-separated (https://knowledge.hubspot.com/records/merge-records)
  system({ name: 'hs_merged_object_ids', type: 'enumeration', fieldType: 'checkbox', external: true }),
  external('hubspot_owner_id'),
];

const engagement = (created = 'hs_createdate'): Spec[] => [...objectCore(created, ['hs_lastmodifieddate']), when('hs_timestamp')];

const BUILT_IN: Record<HubspotObjectType, Spec[]> = {
  contacts: [
    ...objectCore('createdate', ['lastmodifieddate', 'hs_lastmodifieddate']),
    text('email'), text('firstname'), text('lastname'), text('phone'), text('mobilephone'), text('company'),
    text('jobtitle'), text('city'), text('country'), text('hs_additional_emails'), text('fax'), text('website'),
    // https://developers.hubspot.com/docs/api/crm/properties: internal stage values; custom stages (numeric ids) are not modelled.
    pick('lifecyclestage', ['subscriber', 'lead', 'marketingqualifiedlead', 'salesqualifiedlead', 'opportunity', 'customer', 'evangelist', 'other']),
    external('hs_lead_status'), when('lastcontacteddate'), when('notes_last_contacted'), num('num_associated_deals'),
  ],
  companies: [
    ...objectCore('createdate', ['hs_lastmodifieddate']),
    text('name'), text('domain'), text('website'), text('phone'), text('city'), text('country'), text('industry'),
    num('numberofemployees'), num('annualrevenue'), external('lifecyclestage'), when('notes_last_contacted'),
    num('num_associated_contacts'), num('num_associated_deals'),
  ],
  deals: [
    ...objectCore('createdate', ['hs_lastmodifieddate']),
    text('dealname'), num('amount'), when('closedate'), external('pipeline'), external('dealstage'), text('dealtype'),
    area('description'), system(flag('hs_is_closed_won')), system(flag('hs_is_closed')),
  ],
  tickets: [
    ...objectCore('createdate', ['hs_lastmodifieddate']),
    text('subject'), area('content'), external('hs_pipeline'), external('hs_pipeline_stage'),
    pick('hs_ticket_priority', ['LOW', 'MEDIUM', 'HIGH', 'URGENT']), external('hs_ticket_category'),
    when('closed_date'), num('time_to_close'), when('first_agent_reply_date'), num('time_to_first_agent_reply'),
  ],
  calls: [
    ...engagement(),
    text('hs_call_title'), area('hs_call_body'), area('hs_body_preview'), num('hs_call_duration'),
    pick('hs_call_direction', ['INBOUND', 'OUTBOUND']), text('hs_call_disposition'),
    pick('hs_call_status', ['BUSY', 'CALLING_CRM_USER', 'CANCELED', 'COMPLETED', 'CONNECTING', 'FAILED', 'IN_PROGRESS', 'NO_ANSWER', 'QUEUED', 'RINGING']),
    text('hs_call_from_number'), text('hs_call_to_number'), text('hs_call_recording_url'),
  ],
  emails: [
    ...engagement(),
    pick('hs_email_direction', ['EMAIL', 'INCOMING_EMAIL', 'FORWARDED_EMAIL']),
    pick('hs_email_status', ['BOUNCED', 'FAILED', 'SCHEDULED', 'SENDING', 'SENT']),
    text('hs_email_subject'), area('hs_email_text'), { name: 'hs_email_html', type: 'string', fieldType: 'html' }, area('hs_email_headers'),
  ],
  meetings: [
    ...engagement(),
    text('hs_meeting_title'), area('hs_meeting_body'), when('hs_meeting_start_time'), when('hs_meeting_end_time'),
    // Internal values UNCONFIRMED (https://developers.hubspot.com/docs/api/crm/properties), so not checked against a list.
    text('hs_meeting_outcome'), area('hs_internal_meeting_notes'),
  ],
  notes: [...engagement(), area('hs_note_body')],
  tasks: [
    ...engagement(),
    text('hs_task_subject'), area('hs_task_body'),
    pick('hs_task_status', ['NOT_STARTED', 'IN_PROGRESS', 'WAITING', 'COMPLETED', 'DEFERRED']),
    pick('hs_task_priority', ['NONE', 'LOW', 'MEDIUM', 'HIGH']), pick('hs_task_type', ['EMAIL', 'CALL', 'TODO']),
  ],
  feedback_submissions: [
    ...engagement(),
    text('hs_survey_id'), text('hs_survey_name'), text('hs_survey_type'), text('hs_survey_channel'), num('hs_value'),
    text('hs_response_group'), area('hs_content'), text('hs_submission_name'), when('hs_submission_timestamp'),
    text('hs_sentiment'), text('hs_ingestion_id'), text('hs_contact_id'), text('hs_ticket_id'), text('hs_knowledge_article_id'),
  ],
};

function labelFor(name: string): string {
  const words = name.replace(/^hs_/, '').split('_').filter(Boolean);
  const label = words.join(' ');
  return label.charAt(0).toUpperCase() + label.slice(1);
}

/** The complete definition for a property known only by name and type (built-ins, generator extras). */
export function definitionFrom(spec: Spec, groupName: string, hubspotDefined: boolean, at: number): PropertyDefinition {
  return {
    name: spec.name,
    label: spec.label ?? labelFor(spec.name),
    type: spec.type,
    fieldType: spec.fieldType ?? (spec.type === 'string' ? 'text' : spec.type === 'number' ? 'number' : 'date'),
    groupName,
    description: '',
    options: (spec.options ?? []).map((value, i) => ({ label: value === 'true' ? 'Yes' : value === 'false' ? 'No' : labelFor(value.toLowerCase()), value, hidden: false, displayOrder: i })),
    displayOrder: -1,
    hasUniqueValue: false,
    hidden: false,
    formField: false,
    hubspotDefined,
    calculated: false,
    externalOptions: spec.external ?? false,
    readOnlyValue: spec.readOnly ?? false,
    createdAt: at,
    updatedAt: at,
    archived: false,
  };
}

export function builtInProperties(type: HubspotObjectType, at: number): PropertyDefinition[] {
  const group = defaultGroupName(type);
  return BUILT_IN[type].map((spec) => definitionFrom(spec, group, true, at));
}

/** A property that arrived in seeded data without a definition: served as a plain string. */
export const implicitStringProperty = (type: HubspotObjectType, name: string, at: number): PropertyDefinition =>
  definitionFrom(text(name), defaultGroupName(type), true, at);
