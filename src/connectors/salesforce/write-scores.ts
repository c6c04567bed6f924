import { z } from 'zod';
import { CrmError, isBudgetPause } from '../../errors.ts';
import type { ScoreUpdate, WriteResult } from '../types.ts';
import { asScoreField, type ScoreField } from '../../scores.ts';
import type { SalesforceHttp } from './http.ts';
import { IdsPage, nextQueryUrl, soqlString } from './changes.ts';
import type { DescribeCache } from './describe.ts';

/**
 * Score write-back (ARCHITECTURE §6): neutral keys → the Rapport_*__c fields on Contact, sent as
 * sObject Collections of ≤ 200 records with allOrNone=false, so one bad record fails alone
 * (https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-update.html). Per-record errors carry `statusCode` (not `errorCode`) and keep the org's
 * message (a validation rule's text), which `rapport status` shows. A chunk failing whole on an Apex
 * governor limit is halved and retried. Only auth, missing permissions and the daily-budget pause
 * (before anything was sent) throw: nothing else in the run could succeed either.
 */
/** Every score field → its Contact custom field: a field left out does not compile. */
export const FIELD_OF: Record<ScoreField, { field: string; number: boolean }> = {
  satisfaction: { field: 'Rapport_Satisfaction__c', number: true },
  loyalty: { field: 'Rapport_Loyalty__c', number: true },
  churnRisk: { field: 'Rapport_Churn_Risk__c', number: true },
  serviceNeed: { field: 'Rapport_Service_Need__c', number: true },
  health: { field: 'Rapport_Health__c', number: false },
  reasons: { field: 'Rapport_Reasons__c', number: false },
  scoredAt: { field: 'Rapport_Scored_At__c', number: false },
  modelVersion: { field: 'Rapport_Model_Version__c', number: false },
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
      const name = asScoreField(k);
      const spec = name === undefined ? undefined : FIELD_OF[name];
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

/**
 * How long one check's query URL may grow. A REST call's URI and headers together may not exceed
 * 16,384 bytes (414 / 431 beyond; https://help.salesforce.com/s/articleView?id=000386264&type=1),
 * far below SOQL's own 100,000-character limit
 * (https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_soslsoql.htm).
 * A collection's 200 ids (about 30 bytes each once quoted and encoded) and our eight fields take
 * ~6.5 KB: one query per batch, and a second only for ids longer than Salesforce's.
 */
const MAX_QUERY_URL = 10_000;

/**
 * The contacts that already hold exactly these values in the org: write-back asks before re-sending
 * a batch another process may have sent just before it died (ARCHITECTURE §6), so a re-sent batch
 * writes nothing new. One SOQL query (`/query`, live rows only) per batch for the Rapport_*__c
 * fields of its Contact ids.
 *
 * Field-level security: a field the integration user cannot read is absent from describe and fails
 * SOQL with INVALID_FIELD (https://help.salesforce.com/s/articleView?id=sf.admin_fls.htm), so only
 * visible fields are queried, and an update naming a field the user cannot read is never "already
 * written": it is sent (and its write reports the problem). Values compare as the org holds them:
 * numbers by value, datetimes by the second (Salesforce keeps whole seconds), '' as null. Ids the
 * org does not return (deleted, merged away) are not "already written" either.
 */
export async function scoresAlreadyWrittenSalesforce(http: SalesforceHttp, describe: DescribeCache, updates: readonly ScoreUpdate[], signal: AbortSignal): Promise<Set<string>> {
  const out = new Set<string>();
  const schema = await describe.get('Contact', signal);
  if (schema === null) return out;
  const visible = (f: string) => schema.fields.get(f.toLowerCase());
  const checkable = updates.filter((u) =>
    Object.keys(u.properties).every((k) => {
      const field = asScoreField(k);
      return field !== undefined && visible(FIELD_OF[field].field) !== undefined;
    }),
  );
  const fields = [...new Set(checkable.flatMap((u) => Object.keys(u.properties).map((k) => FIELD_OF[asScoreField(k)!].field)))];
  if (checkable.length === 0 || fields.length === 0) return out;
  const ids = [...new Set(checkable.map((u) => u.contactId))];
  const held = new Map<string, Record<string, unknown>>();
  const head = `SELECT Id, ${fields.join(', ')} FROM Contact WHERE Id IN (`;
  for (let i = 0; i < ids.length; ) {
    const chunk: string[] = [];
    let length = encodeURIComponent(head).length + 20;
    while (i < ids.length && (chunk.length === 0 || length + encodeURIComponent(`${soqlString(ids[i]!)}, `).length <= MAX_QUERY_URL)) {
      length += encodeURIComponent(`${soqlString(ids[i]!)}, `).length;
      chunk.push(ids[i++]!);
    }
    let url: string | undefined = `/query?q=${encodeURIComponent(`${head}${chunk.map(soqlString).join(', ')})`)}`;
    while (url !== undefined) {
      let page: z.infer<typeof IdsPage>;
      try {
        page = await http.request({ method: 'GET', path: url, schema: IdsPage, signal, label: 'query Contact scores' });
      } catch (e) {
        // an admin hid a field since describe was read: read it again next time (the batch is sent now)
        if (e instanceof CrmError && e.details.code === 'INVALID_FIELD') describe.forget('Contact');
        throw e;
      }
      for (const r of page.records) held.set(r.Id.slice(0, 15), r);
      url = nextQueryUrl(page);
    }
  }
  for (const u of checkable) {
    const row = held.get(u.contactId.slice(0, 15));
    if (row === undefined) continue;
    const same = Object.entries(u.properties).every(([k, v]) => {
      const spec = FIELD_OF[asScoreField(k)!];
      return sameValue(visible(spec.field)!.type, spec.number, row[spec.field], v);
    });
    if (same) out.add(u.contactId);
  }
  return out;
}

/** A value as the org holds it (JSON from a query) vs as write-back sends it (text; '' clears the field). */
function sameValue(type: string, number: boolean, held: unknown, sent: string): boolean {
  if (sent === '') return held === null || held === undefined;
  if (held === null || held === undefined) return false;
  if (number) return typeof held === 'number' ? held === Number(sent) : String(held) === sent;
  if (type === 'datetime') {
    const a = Date.parse(String(held));
    const b = Date.parse(sent);
    return Number.isFinite(a) && Number.isFinite(b) && Math.floor(a / 1000) === Math.floor(b / 1000);
  }
  return String(held) === sent;
}
