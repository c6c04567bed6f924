/** Hand-made CrmRecords for scoring tests: small builders with sensible defaults. */
import { join } from 'node:path';
import type {
  CrmRecord,
  DealData,
  EngagementData,
  FeedbackData,
  TicketData,
  ContactData,
  EngagementType,
} from '../../../src/connectors/types.ts';
import type { ContactInput } from '../../../src/scoring/features.ts';
import { createStore, type Store } from '../../../src/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

export const PORTAL = 'hubspot:42';
export const DAY = 86_400_000;
/** "now" for every test: 2026-06-01T00:00:00Z */
export const NOW = Date.UTC(2026, 5, 1);
export const daysAgo = (d: number) => Math.round(NOW - d * DAY);

let seq = 0;
const nextId = (p: string) => `${p}${++seq}`;

export function contact(id: string, data: Partial<ContactData> = {}, extra: Partial<CrmRecord> = {}): CrmRecord {
  return {
    portal: PORTAL,
    type: 'contacts',
    id,
    contactIds: undefined,
    companyId: null,
    updatedAt: NOW - DAY,
    deleted: false,
    data: {
      email: `${id}@example.com`,
      emailRaw: `${id}@example.com`,
      phone: null,
      phoneRaw: null,
      firstName: 'Ann',
      lastName: 'Lee',
      createdAt: daysAgo(400),
      lifecycleStage: 'customer',
      ...data,
    },
    ...extra,
  };
}

export function purchase(contactId: string, closedDaysAgo: number, amount: number | null = 1000, raw?: string): CrmRecord {
  const data: DealData = {
    amount,
    amountRaw: raw ?? (amount === null ? null : String(amount)),
    stage: 'closedwon',
    isClosed: true,
    isClosedWon: true,
    closedAt: daysAgo(closedDaysAgo),
    createdAt: daysAgo(closedDaysAgo + 20),
  };
  return linked('deals', contactId, data, daysAgo(closedDaysAgo));
}

export function ticket(contactId: string, createdDaysAgo: number, opts: Partial<TicketData> = {}): CrmRecord {
  const data: TicketData = {
    priority: 'MEDIUM',
    stage: 'closed',
    isClosed: true,
    createdAt: daysAgo(createdDaysAgo),
    closedAt: daysAgo(createdDaysAgo) + DAY,
    timeToCloseMs: DAY,
    reopenedCount: 0,
    source: 'EMAIL',
    subject: 'Question',
    content: 'How do I export?',
    ...opts,
  };
  return linked('tickets', contactId, data, daysAgo(Math.max(0, createdDaysAgo - 1)));
}

export function survey(contactId: string, type: 'NPS' | 'CSAT' | 'CES', value: number | null, atDaysAgo: number, comment: string | null = null, raw?: string): CrmRecord {
  const data: FeedbackData = {
    surveyType: type,
    value,
    valueRaw: raw ?? (value === null ? null : String(value)),
    comment,
    at: daysAgo(atDaysAgo),
    channel: 'EMAIL',
  };
  return linked('feedback_submissions', contactId, data, daysAgo(atDaysAgo));
}

export function engagement(
  type: EngagementType,
  contactId: string,
  atDaysAgo: number,
  direction: 'inbound' | 'outbound',
  text: string | null = null,
): CrmRecord {
  const data: EngagementData = { at: daysAgo(atDaysAgo), direction, durationMs: null, outcome: null, text, priority: null };
  return linked(type, contactId, data, daysAgo(atDaysAgo));
}

function linked(type: CrmRecord['type'], contactId: string, data: CrmRecord['data'], updatedAt: number): CrmRecord {
  return { portal: PORTAL, type, id: nextId(type.slice(0, 2)), contactIds: [contactId], companyId: null, updatedAt, deleted: false, data };
}

export function openStore(now: () => number = () => NOW): { store: Store; cleanup: () => Promise<void> } {
  const dir = tempDir('rapport-scoring-');
  const store = createStore({ path: join(dir.path, 'r.db'), now });
  return {
    store,
    cleanup: async () => {
      await store.close();
      dir.cleanup();
    },
  };
}

export async function load(store: Store, records: readonly CrmRecord[]): Promise<void> {
  await store.records.upsertPage(records);
}

/**
 * A contact and its live linked records as scoring reads them, assembled in memory (no store):
 * what `readContacts` returns for these records, for the pure feature and label tests.
 */
export function inputOf(records: readonly CrmRecord[], id: string): ContactInput {
  const c = records.find((r) => r.type === 'contacts' && r.id === id && !r.deleted);
  if (c === undefined) throw new Error(`no live contact ${id}`);
  const linked = records
    .filter((r) => r.type !== 'contacts' && !r.deleted && (r.contactIds ?? []).includes(id))
    .map((r) => ({ type: r.type, id: r.id, data: r.data, issues: r.issues ?? [] }));
  return { id, companyId: c.companyId, data: c.data as ContactData, issues: c.issues ?? [], linked };
}
