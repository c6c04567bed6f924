import { z } from 'zod';
import { CrmError } from '../../errors.ts';
import type { ScoreUpdate, WriteResult } from '../types.ts';
import type { SalesforceHttp } from './http.ts';

/**
 * Score write-back (ARCHITECTURE §6): neutral keys → the Rapport_*__c fields on Contact, sent as
 * sObject Collections of ≤ 200 records with allOrNone=false, so one bad record fails alone
 * (salesforce.md §1.4). Per-record errors carry `statusCode` (not `errorCode`). Only auth and
 * missing permissions throw: nothing else in the run could succeed either.
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

const COLLECTION = 200;
const CollectionResult = z.array(
  z.object({
    id: z.string().optional(),
    success: z.boolean(),
    errors: z.array(z.looseObject({ statusCode: z.string().optional(), errorCode: z.string().optional(), message: z.string().optional() })),
  }),
);

export async function writeScoresSalesforce(http: SalesforceHttp, updates: readonly ScoreUpdate[], signal: AbortSignal): Promise<WriteResult[]> {
  const out: WriteResult[] = [];
  for (let i = 0; i < updates.length; i += COLLECTION) {
    const chunk = updates.slice(i, i + COLLECTION);
    const records: Record<string, unknown>[] = [];
    const sent: ScoreUpdate[] = [];
    for (const u of chunk) {
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
        out.push({ contactId: u.contactId, ok: false, error: new CrmError('invalid_request', `no Salesforce field for score key '${unknown}'`, { crm: 'salesforce', code: 'UNKNOWN_SCORE_KEY' }) });
        continue;
      }
      records.push({ attributes: { type: 'Contact' }, id: u.contactId, ...fields });
      sent.push(u);
    }
    if (records.length === 0) continue;
    let results: z.infer<typeof CollectionResult>;
    try {
      results = await http.request({ method: 'PATCH', path: '/composite/sobjects', body: { allOrNone: false, records }, schema: CollectionResult, signal, label: 'PATCH composite/sobjects' });
    } catch (e) {
      if (!(e instanceof CrmError) || e.kind === 'auth' || e.kind === 'forbidden') throw e;
      for (const u of sent) out.push({ contactId: u.contactId, ok: false, error: e });
      continue;
    }
    // results come back in request order (salesforce.md §1.4)
    sent.forEach((u, k) => {
      const r = results[k];
      if (r?.success === true) out.push({ contactId: u.contactId, ok: true });
      else {
        const err = r?.errors[0];
        const code = err?.statusCode ?? err?.errorCode ?? 'NO_RESULT';
        const kind = code === 'INSUFFICIENT_ACCESS_OR_READONLY' || code === 'INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY' ? 'forbidden' : code === 'UNABLE_TO_LOCK_ROW' ? 'unavailable' : 'invalid_request';
        out.push({ contactId: u.contactId, ok: false, error: new CrmError(kind, `Salesforce rejected the update: ${code}: ${err?.message ?? 'no result for this record'}`, { crm: 'salesforce', code }) });
      }
    });
  }
  return out;
}
