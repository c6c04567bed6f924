/**
 * The sObjects the Salesforce emulator serves, as data: fields with their SOAP types (what
 * `describe` reports and what SOQL literals are compared as), key prefixes, and the child
 * relationships Rapport's subqueries use. Standard names are Salesforce's own (https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/);
 * `Survey_Response__c`, `Case.Reopen_Count__c` and the `Rapport_*__c` score fields are custom
 * (documented in docs/install-salesforce.md).
 */

export type FieldType = 'id' | 'reference' | 'string' | 'textarea' | 'picklist' | 'email' | 'phone' | 'url' | 'boolean' | 'int' | 'double' | 'currency' | 'date' | 'datetime';

/** Custom fields a customer's org may have and a fresh one does not (org setting `customFields`). */
export const CUSTOMER_FIELDS: readonly string[] = ['Contact.Churn_Date__c'];

export type FieldDef = { name: string; type: FieldType; custom?: boolean; updateable?: boolean; referenceTo?: string };
export type ChildRelationship = { relationshipName: string; childSObject: string; field: string };
export type SObjectDef = { name: string; keyPrefix: string; custom: boolean; fields: FieldDef[]; childRelationships: ChildRelationship[] };

const SYSTEM: FieldDef[] = [
  { name: 'Id', type: 'id' },
  { name: 'IsDeleted', type: 'boolean' },
  { name: 'CreatedDate', type: 'datetime' },
  { name: 'LastModifiedDate', type: 'datetime' },
  { name: 'SystemModstamp', type: 'datetime' },
];
const f = (name: string, type: FieldType, extra: Partial<FieldDef> = {}): FieldDef => ({ name, type, updateable: true, ...extra });
const ref = (name: string, to: string): FieldDef => f(name, 'reference', { referenceTo: to, ...(name.endsWith('__c') ? { custom: true } : {}) });

/** The Rapport score fields on Contact (ARCHITECTURE §6), deployed with the SFDX project. */
export const RAPPORT_CONTACT_FIELDS: FieldDef[] = [
  f('Rapport_Satisfaction__c', 'double', { custom: true }),
  f('Rapport_Loyalty__c', 'double', { custom: true }),
  f('Rapport_Churn_Risk__c', 'double', { custom: true }),
  f('Rapport_Service_Need__c', 'double', { custom: true }),
  f('Rapport_Health__c', 'picklist', { custom: true }),
  f('Rapport_Reasons__c', 'textarea', { custom: true }),
  f('Rapport_Scored_At__c', 'datetime', { custom: true }),
  f('Rapport_Model_Version__c', 'string', { custom: true }),
];

const ACTIVITY_WHO: ChildRelationship = { relationshipName: 'TaskWhoRelations', childSObject: 'TaskWhoRelation', field: 'TaskId' };

export const SOBJECTS: Record<string, SObjectDef> = {
  Organization: {
    name: 'Organization',
    keyPrefix: '00D',
    custom: false,
    fields: [...SYSTEM, f('Name', 'string'), f('OrganizationType', 'string')],
    childRelationships: [],
  },
  Account: {
    name: 'Account',
    keyPrefix: '001',
    custom: false,
    fields: [...SYSTEM, f('Name', 'string'), f('Website', 'url'), f('Industry', 'picklist'), f('NumberOfEmployees', 'int'), f('AnnualRevenue', 'currency')],
    childRelationships: [{ relationshipName: 'Contacts', childSObject: 'Contact', field: 'AccountId' }],
  },
  Contact: {
    name: 'Contact',
    keyPrefix: '003',
    custom: false,
    fields: [
      ...SYSTEM,
      ref('AccountId', 'Account'),
      f('FirstName', 'string'),
      f('LastName', 'string'),
      f('Email', 'email'),
      f('Phone', 'phone'),
      f('MobilePhone', 'phone'),
      f('LeadSource', 'picklist'),
      // present in every org the emulator serves; `describe` and queries hide them until they are "deployed"
      ...RAPPORT_CONTACT_FIELDS,
      // a customer's own custom field, in no fresh org: only orgs whose settings list it in
      // `customFields` have it (api.ts accessOf); an admin may map it as the churn date
      f('Churn_Date__c', 'date', { custom: true }),
    ],
    childRelationships: [],
  },
  Opportunity: {
    name: 'Opportunity',
    keyPrefix: '006',
    custom: false,
    fields: [
      ...SYSTEM,
      ref('AccountId', 'Account'),
      f('Name', 'string'),
      f('Amount', 'currency'),
      f('StageName', 'picklist'),
      f('IsClosed', 'boolean'),
      f('IsWon', 'boolean'),
      f('CloseDate', 'date'),
    ],
    childRelationships: [{ relationshipName: 'OpportunityContactRoles', childSObject: 'OpportunityContactRole', field: 'OpportunityId' }],
  },
  OpportunityContactRole: {
    name: 'OpportunityContactRole',
    keyPrefix: '00K',
    custom: false,
    fields: [...SYSTEM, ref('OpportunityId', 'Opportunity'), ref('ContactId', 'Contact'), f('IsPrimary', 'boolean'), f('Role', 'picklist')],
    childRelationships: [],
  },
  Case: {
    name: 'Case',
    keyPrefix: '500',
    custom: false,
    fields: [
      ...SYSTEM,
      ref('ContactId', 'Contact'),
      ref('AccountId', 'Account'),
      f('Subject', 'string'),
      f('Description', 'textarea'),
      f('Status', 'picklist'),
      f('Priority', 'picklist'),
      f('Origin', 'picklist'),
      f('IsClosed', 'boolean'),
      f('ClosedDate', 'datetime'),
      f('Reopen_Count__c', 'double', { custom: true }),
    ],
    childRelationships: [],
  },
  Task: {
    name: 'Task',
    keyPrefix: '00T',
    custom: false,
    fields: [
      ...SYSTEM,
      ref('WhoId', 'Contact'),
      ref('WhatId', 'Account'),
      ref('AccountId', 'Account'),
      f('Subject', 'string'),
      f('Description', 'textarea'),
      f('Status', 'picklist'),
      f('Priority', 'picklist'),
      f('Type', 'picklist'),
      f('TaskSubtype', 'picklist'),
      f('ActivityDate', 'date'),
      f('CompletedDateTime', 'datetime'),
      f('CallType', 'picklist'),
      f('CallDurationInSeconds', 'int'),
      f('CallDisposition', 'string'),
      f('IsClosed', 'boolean'),
    ],
    childRelationships: [ACTIVITY_WHO],
  },
  TaskWhoRelation: {
    name: 'TaskWhoRelation',
    keyPrefix: '0RT',
    custom: false,
    fields: [...SYSTEM, ref('TaskId', 'Task'), ref('RelationId', 'Contact'), f('Type', 'string')],
    childRelationships: [],
  },
  EmailMessage: {
    name: 'EmailMessage',
    keyPrefix: '02s',
    custom: false,
    fields: [
      ...SYSTEM,
      ref('ParentId', 'Case'),
      ref('RelatedToId', 'Account'),
      f('Subject', 'string'),
      f('TextBody', 'textarea'),
      f('HtmlBody', 'textarea'),
      f('Incoming', 'boolean'),
      f('MessageDate', 'datetime'),
      f('Status', 'picklist'),
      f('FromAddress', 'email'),
      f('ToAddress', 'string'),
    ],
    childRelationships: [{ relationshipName: 'EmailMessageRelations', childSObject: 'EmailMessageRelation', field: 'EmailMessageId' }],
  },
  EmailMessageRelation: {
    name: 'EmailMessageRelation',
    keyPrefix: '0Rr',
    custom: false,
    fields: [...SYSTEM, ref('EmailMessageId', 'EmailMessage'), ref('RelationId', 'Contact'), f('RelationType', 'picklist')],
    childRelationships: [],
  },
  Event: {
    name: 'Event',
    keyPrefix: '00U',
    custom: false,
    fields: [
      ...SYSTEM,
      ref('WhoId', 'Contact'),
      ref('WhatId', 'Account'),
      ref('AccountId', 'Account'),
      f('Subject', 'string'),
      f('Description', 'textarea'),
      f('ActivityDateTime', 'datetime'),
      f('StartDateTime', 'datetime'),
      f('EndDateTime', 'datetime'),
      f('DurationInMinutes', 'int'),
      f('EventSubtype', 'picklist'),
      f('ShowAs', 'picklist'),
      // an invitee's copy of a group event (set by Salesforce, not updateable)
      { name: 'IsChild', type: 'boolean' },
    ],
    childRelationships: [{ relationshipName: 'EventWhoRelations', childSObject: 'EventWhoRelation', field: 'EventId' }],
  },
  EventWhoRelation: {
    name: 'EventWhoRelation',
    keyPrefix: '0RE',
    custom: false,
    fields: [...SYSTEM, ref('EventId', 'Event'), ref('RelationId', 'Contact'), f('Type', 'string')],
    childRelationships: [],
  },
  Survey_Response__c: {
    name: 'Survey_Response__c',
    keyPrefix: 'a0S',
    custom: true,
    fields: [
      ...SYSTEM,
      ref('Contact__c', 'Contact'),
      ref('Case__c', 'Case'),
      f('Type__c', 'picklist', { custom: true }),
      // Text, not Number: survey tools hand over "9/10" and the like; the connector cleans it
      f('Score__c', 'string', { custom: true }),
      f('Comment__c', 'textarea', { custom: true }),
      f('Submitted_At__c', 'datetime', { custom: true }),
      f('Channel__c', 'picklist', { custom: true }),
    ],
    childRelationships: [],
  },
};

export const fieldOf = (obj: SObjectDef, name: string): FieldDef | undefined => {
  const lower = name.toLowerCase();
  return obj.fields.find((x) => x.name.toLowerCase() === lower);
};

/** sObject names are case-insensitive in the API; this returns the canonical definition. */
export const sobjectOf = (name: string): SObjectDef | undefined => {
  const lower = name.toLowerCase();
  return Object.values(SOBJECTS).find((o) => o.name.toLowerCase() === lower);
};

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/**
 * An 18-character Salesforce id: key prefix + pod + base-62 counter, then the case-safe suffix
 * (one character per 5-character chunk, encoding which characters are upper case). The counter is
 * zero-padded and base-62 digits are in ASCII order, so ids sort in creation order, as `Id > 'x'`
 * keyset paging expects.
 */
export function salesforceId(keyPrefix: string, n: number): string {
  let digits = '';
  let v = n;
  do {
    digits = BASE62[v % 62]! + digits;
    v = Math.floor(v / 62);
  } while (v > 0);
  const id15 = `${keyPrefix}5g000${digits.padStart(7, '0')}`.slice(0, 15);
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const ch = id15[chunk * 5 + i]!;
      if (ch >= 'A' && ch <= 'Z') bits |= 1 << i;
    }
    suffix += SUFFIX[bits]!;
  }
  return id15 + suffix;
}

/** Accepts 15- or 18-character ids made of base-62 characters (what Salesforce calls a well-formed id). */
export const isWellFormedId = (id: string): boolean => /^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$/.test(id);
