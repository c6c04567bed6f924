import { CrmError, MISSING_PROPERTY } from '../../errors.ts';
import type { ScoreUpdate, WriteResult } from '../types.ts';
import { asScoreField, type ScoreField } from '../../scores.ts';
import type { HubspotHttp } from './http.ts';
import { PROPERTY_OF } from './provision.ts';
import { BatchRead, BatchUpdate } from './schemas.ts';

/** HubSpot batch endpoints take at most 100 inputs (https://developers.hubspot.com/docs/guides/crm/using-object-apis). */
const BATCH = 100;


/**
 * Batch-updates contacts 100 at a time. A 207 resolves with per-record errors (https://developers.hubspot.com/docs/api-reference/error-handling
 * "Multi-status errors"). HubSpot may instead refuse a whole batch (400/404) for a few bad ids — missing, merged,
 * deleted (not documented which, so both are handled): the bad inputs are isolated, from the
 * error's `context.ids` when it names them, else by splitting the batch in halves, and the rest
 * is written in the same call. Only auth and missing scopes throw: nothing else in the run can
 * succeed either; a batch that stays unavailable after retries fails its records (retried later).
 */
export async function writeScoresHubspot(http: HubspotHttp, updates: readonly ScoreUpdate[], signal: AbortSignal): Promise<WriteResult[]> {
  const out: WriteResult[] = [];
  // `objectWriteTraceId` makes HubSpot report a bad value per input in a 207 instead of failing
  // the whole batch with 400 (https://developers.hubspot.com/docs/guides/crm/using-object-apis example); we trace by contact id.
  const byId = new Map<string, Input>();
  for (const u of updates) {
    const unknown = Object.keys(u.properties).filter((k) => asScoreField(k) === undefined);
    if (unknown.length > 0) {
      out.push({
        contactId: u.contactId,
        ok: false,
        error: new CrmError('invalid_request', `unknown score field(s): ${unknown.join(', ')}`, { crm: 'hubspot', code: 'UNKNOWN_FIELD' }),
      });
      continue;
    }
    const properties = Object.fromEntries(Object.entries(u.properties).map(([k, v]) => [PROPERTY_OF[k as ScoreField].name, v]));
    // duplicate ids in one batch are a 400 for all of it: merge, later values win
    const prev = byId.get(u.contactId);
    byId.set(u.contactId, { id: u.contactId, objectWriteTraceId: u.contactId, properties: { ...prev?.properties, ...properties } });
  }
  const valid = [...byId.values()];
  for (let i = 0; i < valid.length; i += BATCH) await writeBatch(http, valid.slice(i, i + BATCH), out, signal);
  return out;
}

type Input = { id: string; objectWriteTraceId: string; properties: Record<string, string> };

async function writeBatch(http: HubspotHttp, inputs: readonly Input[], out: WriteResult[], signal: AbortSignal): Promise<void> {
  if (inputs.length === 0) return;
  let body;
  try {
    ({ body } = await http.request({ method: 'POST', path: '/crm/v3/objects/contacts/batch/update', body: { inputs }, schema: BatchUpdate, signal }));
  } catch (e) {
    if (!(e instanceof CrmError) || e.kind === 'auth' || e.kind === 'forbidden') throw e;
    if (e.kind !== 'invalid_request' || inputs.length === 1) {
      for (const input of inputs) out.push({ contactId: input.id, ok: false, error: e });
      return;
    }
    const named = new Set((e.details.ids ?? []).filter((id) => inputs.some((i) => i.id === id)));
    if (named.size > 0) {
      for (const input of inputs) if (named.has(input.id)) out.push({ contactId: input.id, ok: false, error: e });
      await writeBatch(http, inputs.filter((i) => !named.has(i.id)), out, signal);
      return;
    }
    // nothing named: halve until the bad inputs stand alone (≤ 2·log2(100) extra calls per bad id)
    const mid = Math.ceil(inputs.length / 2);
    await writeBatch(http, inputs.slice(0, mid), out, signal);
    await writeBatch(http, inputs.slice(mid), out, signal);
    return;
  }
  const ok = new Set(body.results.map((r) => r.id));
  const asked = new Set(inputs.map((i) => i.id));
  // HubSpot answers a merged-away id with its survivor (issue 13): the write landed on another
  // contact. Say so, and never retry it: the merge reaches the cache with the next sync.
  const redirected = body.results.some((r) => !asked.has(r.id));
  const errors = body.errors ?? [];
  for (const input of inputs) {
    if (ok.has(input.id)) {
      out.push({ contactId: input.id, ok: true });
      continue;
    }
    if (redirected && errors.length === 0) {
      out.push({
        contactId: input.id,
        ok: false,
        error: new CrmError('invalid_request', `HubSpot applied the update of contact ${input.id} to another record: it was merged`, { crm: 'hubspot', status: 200, code: 'MERGED' }),
      });
      continue;
    }
    const err = errors.find((x) => Object.values(x.context ?? {}).some((ids) => ids.includes(input.id))) ?? errors[0];
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
}

/**
 * The contacts that already hold exactly these values in HubSpot (read back with batch read,
 * https://developers.hubspot.com/docs/guides/crm/using-object-apis): write-back asks before
 * re-sending a batch another process may have sent just before it died, so a re-sent batch
 * writes nothing new. HubSpot normalises what it stores (numbers, datetimes as ISO text), so
 * values compare by their property's type. Ids it does not return (deleted, merged) are not
 * "already written": the write reports them.
 */
export async function scoresAlreadyWrittenHubspot(http: HubspotHttp, updates: readonly ScoreUpdate[], signal: AbortSignal): Promise<Set<string>> {
  const out = new Set<string>();
  const properties = [...new Set(updates.flatMap((u) => Object.keys(u.properties).flatMap((k) => {
    const field = asScoreField(k);
    return field === undefined ? [] : [PROPERTY_OF[field].name];
  })))];
  if (properties.length === 0) return out;
  for (let i = 0; i < updates.length; i += BATCH) {
    const chunk = updates.slice(i, i + BATCH);
    const inputs = [...new Set(chunk.map((u) => u.contactId))].map((id) => ({ id }));
    const { body } = await http.request({ method: 'POST', path: '/crm/v3/objects/contacts/batch/read', query: [['archived', 'false']], body: { inputs, properties, propertiesWithHistory: [] }, schema: BatchRead, signal });
    const current = new Map(body.results.map((r) => [r.id, r.properties]));
    for (const u of chunk) {
      const held = current.get(u.contactId);
      if (held === undefined) continue;
      const same = Object.entries(u.properties).every(([k, v]) => {
        const field = asScoreField(k);
        return field !== undefined && sameValue(PROPERTY_OF[field].type, held[PROPERTY_OF[field].name] ?? null, v);
      });
      if (same) out.add(u.contactId);
    }
  }
  return out;
}

/** A value as HubSpot holds it vs as we send it: numbers by value, datetimes by instant, the rest as text. */
function sameValue(type: 'number' | 'enumeration' | 'string' | 'datetime', held: string | null, sent: string): boolean {
  if (held === null) return false;
  if (held === sent) return true;
  if (type === 'number') return held.trim() !== '' && Number(held) === Number(sent);
  if (type === 'datetime') {
    const t = (s: string) => (/^\d+$/.test(s) ? Number(s) : Date.parse(s));
    return Number.isFinite(t(held)) && t(held) === t(sent);
  }
  return false;
}
