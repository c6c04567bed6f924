import { z } from 'zod';
import { CrmError, isBudgetPause } from '../../errors.ts';
import type { ScoreUpdate, WriteResult } from '../types.ts';
import type { SalesforceHttp } from './http.ts';

/**
 * Score write-back (ARCHITECTURE §6): neutral keys → the Rapport_*__c fields on Contact, sent as
 * sObject Collections of ≤ 200 records with allOrNone=false, so one bad record fails alone
 * (https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-update.html). Per-record errors carry `statusCode` (not `errorCode`) and keep the org's
 * message (a validation rule's text), which `rapport status` shows. A chunk failing whole on an Apex
 * governor limit is halved and retried. Only auth, missing permissions and the daily-budget pause
 * (before anything was sent) throw: nothing else in the run could succeed either.
 */
export const SCORE_FIELDS: Record<string, { field: string; number: boolean }> = {
  satisfaction: { field: 'Rapport_Satisfaction__c', number: true },
  loyalty: { field: 'Rapport_Loyalty__c', number: true },
  churn_risk: { field: 'Rapport_Churn_Risk__c', number: true },
  service_need: { field: 'Rapport_Service_Need__c', number: true },
  health: { field: 'Rapport_Health__c', number: false },
  reasons: { field: 'Rapport_Reasons__c', number: false },
  scored_at: { field: 'Rapport_Scored_At__c', number: false },
  model_version: { field: 'Rapport_Model_Version__c', number: false },
};

/** sObject Collections take up to 200 records per call (https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-update.html) */
export const COLLECTION = 200;
/** a chunk that fails whole on an Apex governor limit is halved at most this often (200 → 25) */
const MAX_SPLITS = 3;
const CollectionResult = z.array(
  z.object({
    id: z.string().optional(),
    success: z.boolean(),
    errors: z.array(z.looseObject({ statusCode: z.string().optional(), errorCode: z.string().optional(), message: z.string().optional() })),
  }),
);
type SaveResult = z.infer<typeof CollectionResult>[number];

/**
 * A customer's trigger or flow that hits an Apex governor limit (SOQL queries, CPU time, DML rows per
 * transaction: https://developer.salesforce.com/docs/atlas.en-us.apexcode.meta/apexcode/apex_gov_limits.htm)
 * fails the whole save, so every record of the call reports the same `System.LimitException`. Those
 * limits scale with the records per transaction: a smaller chunk may pass.
 */
const APEX_LIMIT = /System\.LimitException|Apex CPU time limit exceeded|Too many (?:SOQL queries|DML (?:statements|rows)|query rows)/i;


export async function writeScoresSalesforce(http: SalesforceHttp, updates: readonly ScoreUpdate[], signal: AbortSignal): Promise<WriteResult[]> {
  const results = new Map<string, WriteResult>();
  // one collection may not name a record twice (the emulator answers DUPLICATE_VALUE for both, as
  // Salesforce does for an id repeated in one call): the latest update of a contact wins
  const latest = new Map<string, { record: Record<string, unknown> }>();
  for (const u of updates) {
    const fields: Record<string, unknown> = {};
    let unknown: string | undefined;
    for (const [k, v] of Object.entries(u.properties)) {
      const spec = SCORE_FIELDS[k];
      if (spec === undefined) {
        unknown = k;
        break;
      }
      fields[spec.field] = v === '' ? null : spec.number && Number.isFinite(Number(v)) ? Number(v) : v;
    }
    if (unknown !== undefined) {
      latest.delete(u.contactId);
      results.set(u.contactId, { contactId: u.contactId, ok: false, error: new CrmError('invalid_request', `no Salesforce field for score key '${unknown}'`, { crm: 'salesforce', code: 'UNKNOWN_SCORE_KEY' }) });
      continue;
    }
    results.delete(u.contactId);
    latest.set(u.contactId, { record: { attributes: { type: 'Contact' }, id: u.contactId, ...fields } });
  }
  const queue = [...latest.entries()].map(([contactId, { record }]) => ({ contactId, record }));
  let answered = 0;
  let pause: CrmError | undefined;

  const send = async (chunk: typeof queue, splits: number): Promise<void> => {
    if (pause !== undefined) return;
    let saved: SaveResult[];
    try {
      saved = await http.request({
        method: 'PATCH',
        path: '/composite/sobjects',
        body: { allOrNone: false, records: chunk.map((c) => c.record) },
        schema: CollectionResult,
        signal,
        label: 'PATCH composite/sobjects',
      });
    } catch (e) {
      if (!(e instanceof CrmError) || e.kind === 'auth' || e.kind === 'forbidden') throw e;
      if (isBudgetPause(e)) {
        // not sent: the caller keeps these pending without counting an attempt (write-back.ts)
        pause = e;
        return;
      }
      for (const c of chunk) results.set(c.contactId, { contactId: c.contactId, ok: false, error: e });
      answered += chunk.length;
      return;
    }
    const messages = saved.map((r) => (r.success ? null : `${r.errors[0]?.message ?? ''}`));
    if (chunk.length > 1 && splits < MAX_SPLITS && saved.length === chunk.length && messages.every((m) => m !== null && APEX_LIMIT.test(m))) {
      const half = Math.ceil(chunk.length / 2);
      await send(chunk.slice(0, half), splits + 1);
      await send(chunk.slice(half), splits + 1);
      return;
    }
    answered += chunk.length;
    // results come back in request order (same page)
    chunk.forEach((c, k) => {
      const r = saved[k];
      if (r?.success === true) {
        results.set(c.contactId, { contactId: c.contactId, ok: true });
        return;
      }
      const err = r?.errors[0];
      const code = err?.statusCode ?? err?.errorCode ?? 'NO_RESULT';
      const message = err?.message ?? 'no result for this record';
      const kind =
        code === 'INSUFFICIENT_ACCESS_OR_READONLY' || code === 'INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY'
          ? 'forbidden'
          : code === 'UNABLE_TO_LOCK_ROW' || APEX_LIMIT.test(message)
            ? 'unavailable'
            : 'invalid_request';
      // the CRM's own message (a validation rule's text, the trigger's exception) is what the admin needs in `rapport status`
      results.set(c.contactId, { contactId: c.contactId, ok: false, error: new CrmError(kind, `Salesforce rejected the update: ${code}: ${message}`, { crm: 'salesforce', code }) });
    });
  };

  for (let i = 0; i < queue.length && pause === undefined; i += COLLECTION) await send(queue.slice(i, i + COLLECTION), 0);
  if (pause !== undefined) {
    // nothing reached Salesforce: the whole batch waits for the budget
    if (answered === 0) throw pause;
    for (const c of queue) if (!results.has(c.contactId)) results.set(c.contactId, { contactId: c.contactId, ok: false, error: pause });
  }
  const seen = new Set<string>();
  const out: WriteResult[] = [];
  for (const u of updates) {
    if (seen.has(u.contactId)) continue;
    seen.add(u.contactId);
    out.push(results.get(u.contactId)!);
  }
  return out;
}
