/**
 * Shared vocabulary of the HubSpot sandbox: what its storage holds and what the synthetic
 * account generator produces. The wire shapes (SimplePublicObject, …) are built from these.
 */

/** Canonical (plural) HubSpot object names the sandbox serves, with their `0-x` ids. */
export const HUBSPOT_OBJECT_TYPES = {
  contacts: { typeId: '0-1', singular: 'contact', modifiedProperty: 'lastmodifieddate' },
  companies: { typeId: '0-2', singular: 'company', modifiedProperty: 'hs_lastmodifieddate' },
  deals: { typeId: '0-3', singular: 'deal', modifiedProperty: 'hs_lastmodifieddate' },
  tickets: { typeId: '0-5', singular: 'ticket', modifiedProperty: 'hs_lastmodifieddate' },
  calls: { typeId: '0-48', singular: 'call', modifiedProperty: 'hs_lastmodifieddate' },
  emails: { typeId: '0-49', singular: 'email', modifiedProperty: 'hs_lastmodifieddate' },
  meetings: { typeId: '0-47', singular: 'meeting', modifiedProperty: 'hs_lastmodifieddate' },
  notes: { typeId: '0-46', singular: 'note', modifiedProperty: 'hs_lastmodifieddate' },
  tasks: { typeId: '0-27', singular: 'task', modifiedProperty: 'hs_lastmodifieddate' },
  feedback_submissions: {
    typeId: '0-19',
    singular: 'feedback_submission',
    modifiedProperty: 'hs_lastmodifieddate',
  },
} as const;

export type HubspotObjectType = keyof typeof HUBSPOT_OBJECT_TYPES;

export const HUBSPOT_OBJECT_TYPE_NAMES = Object.keys(HUBSPOT_OBJECT_TYPES) as HubspotObjectType[];

/** One stored CRM object. Property values are strings (or null), exactly as on HubSpot's wire. */
export type SandboxObject = {
  type: HubspotObjectType;
  id: string;
  properties: Record<string, string | null>;
  /** epoch milliseconds */
  createdAt: number;
  /** epoch milliseconds; also mirrored into the type's modified property */
  updatedAt: number;
  archived: boolean;
};

/** One directed association; the sandbox stores and serves both directions. */
export type SandboxAssociation = {
  fromType: HubspotObjectType;
  fromId: string;
  toType: HubspotObjectType;
  toId: string;
  /** HubSpot-defined association type id (e.g. 279 contact→company unlabeled, 1 primary). */
  typeId: number;
};

/** Latent truth of one synthetic customer: never served by the API, written with `--truth FILE`. */
export type ContactTruth = {
  contactId: string;
  /** latent satisfaction in [0, 1] */
  satisfaction: number;
  /** BG/NBD purchase rate λ (purchases per week) */
  purchaseRate: number;
  /** BG/NBD dropout probability p after each purchase */
  dropoutProbability: number;
  /** P(alive) at the generation's "now" */
  pAlive: number;
  /** P(churn within the next 90 days) */
  churnProbability90d: number;
  /** whether the customer actually churns in the 90 days after "now" (a draw from the above) */
  churnedNext90d: boolean;
  /** tickets per 30 days */
  ticketRate: number;
  /** P(at least one new ticket in the next 30 days) */
  ticketProbability30d: number;
  /** whether a ticket actually arrives in the next 30 days (a draw from the above) */
  ticketNext30d: boolean;
  /** the channel the customer prefers for contact */
  preferredChannel: 'calls' | 'emails' | 'meetings' | 'tickets';
};

/** What the generator yields, in bounded batches, so 1,000,000 contacts never sit in memory. */
export type GeneratedBatch = {
  objects: SandboxObject[];
  associations: SandboxAssociation[];
  truth: ContactTruth[];
};
