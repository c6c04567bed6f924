import type { CrmError, CrmName } from '../errors.ts';
import type { ScoreValues } from '../scores.ts';

/** The objects Rapport syncs, by HubSpot's plural names (Salesforce maps onto the same set). */
export const OBJECT_TYPES = [
  'companies',
  'contacts',
  'deals',
  'tickets',
  'calls',
  'emails',
  'meetings',
  'notes',
  'tasks',
  'feedback_submissions',
] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];

export const ENGAGEMENT_TYPES = ['calls', 'emails', 'meetings', 'notes', 'tasks'] as const;
export type EngagementType = (typeof ENGAGEMENT_TYPES)[number];

/** Normalized per-type data. Every field is nullable: CRMs are messy; scoring copes. */
export type ContactData = {
  /** trimmed, lower-cased; null when absent or not an email */
  email: string | null;
  emailRaw: string | null;
  /** digits only with a leading + when international (e.g. +15550102345); null when unusable */
  phone: string | null;
  phoneRaw: string | null;
  firstName: string | null;
  lastName: string | null;
  createdAt: number | null;
  lifecycleStage: string | null;
  /**
   * The date the customer left, from the contact property an admin maps as the churn date
   * (RAPPORT_CHURN `signals.churnDateProperty`, docs/scores.md "The churn definition"); absent
   * when none is mapped, null when mapped but empty or not a date.
   */
  churnedAt?: number | null;
};
export type CompanyData = {
  name: string | null;
  domain: string | null;
  industry: string | null;
  employees: number | null;
  annualRevenue: number | null;
  createdAt: number | null;
};
export type DealData = {
  amount: number | null;
  amountRaw: string | null;
  stage: string | null;
  isClosed: boolean;
  isClosedWon: boolean;
  closedAt: number | null;
  createdAt: number | null;
};
export type TicketData = {
  priority: 'LOW' | 'MEDIUM' | 'HIGH' | 'URGENT' | null;
  stage: string | null;
  isClosed: boolean;
  createdAt: number | null;
  closedAt: number | null;
  timeToCloseMs: number | null;
  reopenedCount: number;
  source: string | null;
  subject: string | null;
  content: string | null;
};
export type EngagementData = {
  /** when it happened (hs_timestamp) */
  at: number | null;
  direction: 'inbound' | 'outbound' | null;
  durationMs: number | null;
  /** call disposition/status, meeting outcome, task status */
  outcome: string | null;
  /** subject + body text, HTML stripped, for sentiment */
  text: string | null;
  priority: string | null;
};
export type FeedbackData = {
  surveyType: 'NPS' | 'CSAT' | 'CES' | null;
  /** raw answer as a number; null when missing or non-numeric */
  value: number | null;
  valueRaw: string | null;
  comment: string | null;
  at: number | null;
  channel: string | null;
};
export type RecordData = ContactData | CompanyData | DealData | TicketData | EngagementData | FeedbackData;

export type CrmRecord = {
  /** 'hubspot:<hubId>' | 'salesforce:<orgId>' */
  portal: string;
  type: ObjectType;
  id: string;
  /** contacts this record belongs to; undefined when this page does not say (keep what we have) */
  contactIds: string[] | undefined;
  /** owning company (contacts, deals, tickets), when known */
  companyId: string | null;
  /** epoch ms of the CRM's last modification: what "newer" means for the store */
  updatedAt: number;
  /** tombstone */
  deleted: boolean;
  data: RecordData;
  /** problems found while cleaning (future date, non-numeric amount, …), kept for confidence */
  issues?: DataIssue[];
  /**
   * Records merged into this one (HubSpot `hs_merged_object_ids`): they left the CRM without an
   * archived entry, so the store turns them into tombstones pointing here.
   */
  mergedIds?: string[];
};

/** Opaque to everything but the connector that produced it. */
export type Cursor = string & { readonly __brand: 'Cursor' };

export type Page = {
  records: CrmRecord[];
  /** resume point after this page; commit it with the page */
  next: Cursor;
  /** best-effort total for progress bars, when the CRM tells */
  total?: number;
  /**
   * A sweep: every live id of this type in the CRM when the page was read. Cached live records
   * missing from it were deleted past the CRM's change feed (hard deletes, a purged recycle bin)
   * and are tombstoned (sync-stream.ts).
   */
  liveIds?: readonly string[];
};

export type { ScoreField, ScoreValues } from '../scores.ts';

export type ScoreUpdate = {
  contactId: string;
  /**
   * Score field (src/scores.ts) → value as text. Each connector maps every `ScoreField` onto its
   * own property name in a `Record<ScoreField, …>` (ARCHITECTURE §6), so an unmapped field does
   * not compile; a key that is not a field (an old outbox row) fails that record, not the batch.
   */
  properties: ScoreValues;
};

export type WriteResult = { contactId: string; ok: true } | { contactId: string; ok: false; error: CrmError };

export interface CrmConnector {
  readonly crm: CrmName;
  /** How many contacts one writeScores call should carry (the CRM's batch size); default 100. */
  readonly writeBatchSize?: number;
  /** Changes since `cursor` (null = backfill), oldest first; may repeat boundary records. */
  changes(type: ObjectType, cursor: Cursor | null, signal: AbortSignal): AsyncIterable<Page>;
  /** Create our property group / custom fields if missing (idempotent). */
  provision(signal: AbortSignal): Promise<void>;
  /** Write score values onto contacts; partial failure is returned per record, not thrown. */
  writeScores(updates: readonly ScoreUpdate[], signal: AbortSignal): Promise<WriteResult[]>;
  /**
   * The contacts among `updates` that already hold exactly these values in the CRM (optional):
   * write-back checks the batch a process may have sent just before it died (ARCHITECTURE §6),
   * so re-sending it writes nothing new.
   */
  scoresAlreadyWritten?(updates: readonly ScoreUpdate[], signal: AbortSignal): Promise<Set<string>>;
  /** Cheap authenticated call: which portal/org is this. */
  whoAmI(): Promise<{ portal: string }>;
  /**
   * Re-read these records now, with their associations (optional). For changes the incremental
   * feed cannot see, e.g. HubSpot association changes, which do not bump last-modified. Ids the
   * CRM no longer has are left out (the feed's deletions handle them).
   */
  records?(type: ObjectType, ids: readonly string[], signal: AbortSignal): Promise<CrmRecord[]>;
  /**
   * Every live id of a type, pages of ids only (optional): for the reconciliation that finds
   * records the CRM dropped without telling (GDPR deletes, purges).
   */
  liveIds?(type: ObjectType, signal: AbortSignal): AsyncIterable<string[]>;
}

/**
 * What can be wrong with a value a CRM holds. Connectors find the first ones while mapping;
 * scoring adds what only a contact's whole history shows (a missing close date on a won deal).
 */
export const DATA_ISSUE_CODES = [
  'duplicate_email',
  'invalid_email',
  'invalid_phone',
  'negative_amount',
  'too_long',
  'unparsable_date',
  'implausible_date',
  'future_date',
  'not_a_number',
  'implausible_amount',
  'implausible_number',
  'missing',
  'unknown_type',
  'out_of_range',
  'unreadable',
] as const;
export type DataIssueCode = (typeof DATA_ISSUE_CODES)[number];

/**
 * A data problem as data: what is wrong (`code`) with which of our fields (`field`:
 * `<object type>.<RecordData key>`, e.g. `deals.closedAt`; never a CRM's own property name, so
 * the words a rep reads are Rapport's, src/scoring/explain.ts `describeIssue`).
 */
export type DataIssue = { code: DataIssueCode; field: string };
