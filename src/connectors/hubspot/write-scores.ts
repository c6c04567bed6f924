import { CrmError, MISSING_PROPERTY } from '../../errors.ts';
import type { ScoreUpdate, WriteResult } from '../types.ts';
import type { HubspotHttp } from './http.ts';
import { BatchUpdate } from './schemas.ts';

/** HubSpot batch endpoints take at most 100 inputs (hubspot.md §1.5). */
const BATCH = 100;

/** Neutral score keys (contracts.md) → HubSpot property names (ARCHITECTURE §6). */
export const SCORE_KEYS = ['satisfaction', 'loyalty', 'churn_risk', 'service_need', 'health', 'reasons', 'scored_at', 'model_version'] as const;
const KNOWN = new Set<string>(SCORE_KEYS);

/**
 * Batch-updates contacts 100 at a time. A 207 resolves with per-record errors (hubspot.md §1.5,
 * §6.11); a whole batch refused (400, 404, retries exhausted) fails those records, not the call.
 * Only auth and missing scopes throw: nothing else in the run can succeed either.
 */
export async function writeScoresHubspot(http: HubspotHttp, updates: readonly ScoreUpdate[], signal: AbortSignal): Promise<WriteResult[]> {
  const out: WriteResult[] = [];
  // `objectWriteTraceId` makes HubSpot report a bad value per input in a 207 instead of failing
  // the whole batch with 400 (hubspot.md §1.5 example); we trace by contact id.
  const byId = new Map<string, { id: string; objectWriteTraceId: string; properties: Record<string, string> }>();
  for (const u of updates) {
    const unknown = Object.keys(u.properties).filter((k) => !KNOWN.has(k));
    if (unknown.length > 0) {
      out.push({
        contactId: u.contactId,
        ok: false,
        error: new CrmError('invalid_request', `unknown score field(s): ${unknown.join(', ')}`, { crm: 'hubspot', code: 'UNKNOWN_FIELD' }),
      });
      continue;
    }
    const properties = Object.fromEntries(Object.entries(u.properties).map(([k, v]) => [`rapport_${k}`, v]));
    // duplicate ids in one batch are a 400 for all of it: merge, later values win
    const prev = byId.get(u.contactId);
    byId.set(u.contactId, { id: u.contactId, objectWriteTraceId: u.contactId, properties: { ...prev?.properties, ...properties } });
  }
  const valid = [...byId.values()];
  for (let i = 0; i < valid.length; i += BATCH) {
    const inputs = valid.slice(i, i + BATCH);
    try {
      const { body } = await http.request({ method: 'POST', path: '/crm/v3/objects/contacts/batch/update', body: { inputs }, schema: BatchUpdate, signal });
      const ok = new Set(body.results.map((r) => r.id));
      const errors = body.errors ?? [];
      for (const input of inputs) {
        if (ok.has(input.id)) {
          out.push({ contactId: input.id, ok: true });
          continue;
        }
        const err = errors.find((e) => Object.values(e.context ?? {}).some((ids) => ids.includes(input.id))) ?? errors[0];
        const notFound = err?.category === 'OBJECT_NOT_FOUND';
        // A property we write that the portal lacks comes back as a VALIDATION_ERROR whose message
        // embeds `"error":"PROPERTY_DOESNT_EXIST"` per property
        // (https://developers.hubspot.com/docs/api/error-handling, 207 multi-status example): give
        // it its own code, so write-back can provision the properties and retry.
        const missingProperty = err?.category === 'VALIDATION_ERROR' && (err.message ?? '').includes('PROPERTY_DOESNT_EXIST');
        out.push({
          contactId: input.id,
          ok: false,
          error: new CrmError('invalid_request', err?.message ?? 'HubSpot did not update this contact', {
            crm: 'hubspot',
            status: 207,
            code: missingProperty ? MISSING_PROPERTY : (err?.category ?? (notFound ? 'OBJECT_NOT_FOUND' : 'NOT_UPDATED')),
          }),
        });
      }
    } catch (e) {
      if (!(e instanceof CrmError) || e.kind === 'auth' || e.kind === 'forbidden') throw e;
      for (const input of inputs) out.push({ contactId: input.id, ok: false, error: e });
    }
  }
  return out;
}
