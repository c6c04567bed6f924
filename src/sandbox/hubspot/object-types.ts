import { HUBSPOT_OBJECT_TYPES, HUBSPOT_OBJECT_TYPE_NAMES, type HubspotObjectType } from '../model.ts';

/**
 * Accepts plural name, singular name and `0-x` id for every object (https://developers.hubspot.com/docs/guides/crm/using-object-apis), case-insensitively.
 */
const aliases = new Map<string, HubspotObjectType>();
for (const name of HUBSPOT_OBJECT_TYPE_NAMES) {
  const info = HUBSPOT_OBJECT_TYPES[name];
  aliases.set(name, name);
  aliases.set(info.singular, name);
  aliases.set(info.typeId, name);
}
// The client's own name for feedback submissions in camel case; HubSpot also knows the hyphenated form.
aliases.set('feedbacksubmissions', 'feedback_submissions');
aliases.set('feedback-submissions', 'feedback_submissions');

export const resolveObjectType = (name: string): HubspotObjectType | undefined => aliases.get(name.toLowerCase());

/** HubSpot types that exist but that the sandbox does not emulate: these get 501, not 400. */
const KNOWN_UNEMULATED = new Set([
  'line_items', 'line_item', '0-8', 'products', 'product', '0-7', 'quotes', 'quote', '0-14',
  'communications', 'communication', '0-18', 'leads', 'lead', '0-136', 'postal_mail', '0-116',
  'goal_targets', '0-74', 'invoices', '0-53', 'orders', '0-123', 'carts', '0-142', 'users', '0-115',
]);
export const isKnownButUnemulated = (name: string): boolean => KNOWN_UNEMULATED.has(name.toLowerCase()) || /^2-\d+$/.test(name);

/** Read-only objects: feedback submissions have no create/update/delete API (https://developers.hubspot.com/docs/api/crm/properties). */
export const isReadOnlyType = (type: HubspotObjectType): boolean => type === 'feedback_submissions';

const ENGAGEMENTS: ReadonlySet<HubspotObjectType> = new Set(['calls', 'emails', 'meetings', 'notes', 'tasks']);

/** The property holding the creation time: engagements and feedback use `hs_createdate`. */
export const createdProperty = (type: HubspotObjectType): string =>
  ENGAGEMENTS.has(type) || type === 'feedback_submissions' ? 'hs_createdate' : 'createdate';

export const modifiedProperty = (type: HubspotObjectType): string => HUBSPOT_OBJECT_TYPES[type].modifiedProperty;

/** Properties HubSpot maintains itself and always returns (id, created, modified). */
export const alwaysReturnedProperties = (type: HubspotObjectType): string[] => [
  createdProperty(type),
  modifiedProperty(type),
  'hs_object_id',
];

/** Returned when the request names no properties (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm table; list assumed equal to search). */
export const DEFAULT_PROPERTIES: Record<HubspotObjectType, readonly string[]> = {
  contacts: ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'],
  companies: ['createdate', 'domain', 'hs_lastmodifieddate', 'hs_object_id', 'name'],
  deals: ['amount', 'closedate', 'createdate', 'dealname', 'dealstage', 'hs_lastmodifieddate', 'hs_object_id', 'pipeline'],
  tickets: [
    'content', 'createdate', 'hs_lastmodifieddate', 'hs_object_id', 'hs_pipeline', 'hs_pipeline_stage',
    'hs_ticket_category', 'hs_ticket_priority', 'subject',
  ],
  calls: ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'],
  emails: ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'],
  meetings: ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'],
  notes: ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'],
  tasks: ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'],
  feedback_submissions: ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'],
};

/** Fields the free-text `query` of a search looks in (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm). */
export const QUERY_FIELDS: Record<HubspotObjectType, readonly string[]> = {
  contacts: ['firstname', 'lastname', 'email', 'phone', 'hs_additional_emails', 'fax', 'mobilephone', 'company'],
  companies: ['name', 'domain', 'website', 'phone'],
  deals: ['dealname', 'pipeline', 'dealstage', 'description', 'dealtype'],
  tickets: ['subject', 'content', 'hs_pipeline_stage', 'hs_ticket_category'],
  calls: ['hs_call_title', 'hs_body_preview'],
  emails: ['hs_email_subject'],
  meetings: ['hs_meeting_title', 'hs_meeting_body'],
  notes: ['hs_note_body'],
  tasks: ['hs_task_body', 'hs_task_subject'],
  feedback_submissions: ['hs_submission_name', 'hs_content'],
};

/**
 * Scopes per operation, from the `security` lists of HubSpot's public OpenAPI specs (vendored in test/fixtures/hubspot-specs).
 * Each inner list must be held in full. Where we read a spec's alternatives as
 * "and" (emails, feedback submissions) we demand all of them: stricter than HubSpot at worst.
 */
const RECORD_SCOPES: Record<HubspotObjectType, { read: string[]; write: string[] }> = {
  contacts: { read: ['crm.objects.contacts.read'], write: ['crm.objects.contacts.write'] },
  companies: { read: ['crm.objects.companies.read'], write: ['crm.objects.companies.write'] },
  deals: { read: ['crm.objects.deals.read'], write: ['crm.objects.deals.write'] },
  tickets: { read: ['tickets'], write: ['tickets'] },
  calls: { read: ['crm.objects.contacts.read'], write: ['crm.objects.contacts.write'] },
  emails: { read: ['crm.objects.contacts.read', 'sales-email-read'], write: ['crm.objects.contacts.write', 'sales-email-read'] },
  meetings: { read: ['crm.objects.contacts.read'], write: ['crm.objects.contacts.write'] },
  notes: { read: ['crm.objects.contacts.read'], write: ['crm.objects.contacts.write'] },
  tasks: { read: ['crm.objects.contacts.read'], write: ['crm.objects.contacts.write'] },
  feedback_submissions: {
    read: ['crm.objects.contacts.read', 'crm.objects.feedback_submissions.read'],
    write: [],
  },
};

export const recordScopes = (type: HubspotObjectType, access: 'read' | 'write'): readonly string[] => RECORD_SCOPES[type][access];

/** Property definitions: readable with the object's read scope or `crm.schemas.<type>.read`. */
export function propertyReadScopeOptions(type: HubspotObjectType): string[][] {
  return [RECORD_SCOPES[type].read, [`crm.schemas.${type}.read`]];
}

/** Property definitions: writable with `crm.schemas.<type>.write` (engagements sit under contacts; tickets also `tickets`). */
export function propertyWriteScopeOptions(type: HubspotObjectType): string[][] {
  if (type === 'tickets') return [['crm.schemas.tickets.write'], ['tickets']];
  if (ENGAGEMENTS.has(type)) return [['crm.schemas.contacts.write']];
  return [[`crm.schemas.${type}.write`]];
}
