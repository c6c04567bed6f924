import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { CrmError } from '../../errors.ts';
import type { Cursor, ObjectType, Page } from '../types.ts';
import type { QueryPlan } from './describe.ts';
import type { SalesforceHttp } from './http.ts';
import { parseSfTime, toRecord, type SfRecord } from './mapping.ts';
import type { Logger } from '../../log.ts';

/**
 * The backfill of a big object through Bulk API 2.0 query jobs
 * (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/queries.htm) instead of
 * REST queryAll pages: one job reads the whole object as CSV in pages of `maxRecords` rows, a few
 * calls where REST needs one per 2,000 rows (and child rows count toward those 2,000).
 *
 * - Whether: a `SELECT COUNT() FROM …` with the stream's filter; at or above `threshold` rows the
 *   backfill goes through bulk, below it nothing changes (REST). A COUNT() that times out means a
 *   big table: bulk.
 * - Plain HTTP through http.ts, not jsforce's `conn.bulk2`: jsforce's query() crashes when results
 *   span more than one `Sforce-Locator` page (jsforce/jsforce#1546, #1693) and it hides the job id
 *   and locator, which a resumable backfill must keep.
 * - No child subqueries in bulk (same page, "SOQL Considerations"): the relation a REST query reads
 *   as `(SELECT … FROM OpportunityContactRoles)` (contact roles, TaskWhoRelations, EventWhoRelations,
 *   EmailMessageRelations, an Account's Contacts) is its own job, `SELECT <parent>, <contact> FROM
 *   <child>`, read first into a parent → contacts map that the main job's rows are linked from. The
 *   map holds two ids per relation row: tens of MB for millions of rows.
 * - queryAll (deleted rows arrive as tombstones, as in REST); no ORDER BY: it disables PK chunking
 *   (same page), and pages need no order.
 * - Resumable: the cursor holds the job ids and the locator of the next page. A restart resumes
 *   paging the same job (the links job is re-read: the map is not stored); a job gone (results are
 *   kept 7 days, https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_bulkapi.htm)
 *   or a locator refused starts new jobs. The last page's cursor hands over to the incremental REST
 *   path from the moment the first job was created (createdDate), so what changed while the jobs
 *   ran is read again by REST.
 * - A job that Fails or is Aborted is a CrmError BULK_JOB_FAILED naming Salesforce's errorMessage;
 *   its cursor is dropped first, so the next attempt starts a new job.
 */
export const BulkStateSchema = z.object({
  /** the main job; null: start new jobs */
  job: z.string().nullable(),
  links: z.string().nullable(),
  /** the next results page of the main job (null: the first) */
  locator: z.string().nullable(),
  /** the earliest createdDate of the jobs: where the incremental REST path continues */
  startedAt: z.number().int().nonnegative(),
});
export type BulkState = z.infer<typeof BulkStateSchema>;

export type BulkDeps = {
  http: SalesforceHttp;
  logger: Logger;
  now: () => number;
  /** rows per results page (`maxRecords`) */
  pageRows: number;
  /** wait between job-info polls */
  pollMs: number;
  /** give up on a job that is not complete after this long */
  pollTimeoutMs: number;
};

const JobInfo = z.looseObject({
  id: z.string(),
  state: z.enum(['Open', 'UploadComplete', 'InProgress', 'JobComplete', 'Failed', 'Aborted']),
  createdDate: z.string(),
  numberRecordsProcessed: z.number().optional(),
  errorMessage: z.string().optional(),
});
type JobInfo = z.infer<typeof JobInfo>;
const CountAnswer = z.object({ totalSize: z.number() });
const Text = z.object({ body: z.string(), headers: z.record(z.string(), z.string()) });

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason as Error)), { once: true });
  });

/** the job (or its results) is gone: expired or deleted */
const isGone = (e: unknown) => e instanceof CrmError && (e.details.code === 'NOT_FOUND' || e.details.code === 'INVALIDLOCATOR');

/** rows of the stream's object: whether its backfill goes through bulk */
export async function countRows(http: SalesforceHttp, plan: QueryPlan, signal: AbortSignal): Promise<number> {
  const soql = `SELECT COUNT() FROM ${plan.spec.sobject}${plan.spec.filter === undefined ? '' : ` WHERE ${plan.spec.filter}`}`;
  try {
    const r = await http.request({ method: 'GET', path: `/query?q=${encodeURIComponent(soql)}`, schema: CountAnswer, signal, label: `count ${plan.spec.sobject}` });
    return r.totalSize;
  } catch (e) {
    if (e instanceof CrmError && e.details.code === 'QUERY_TIMEOUT') return Number.POSITIVE_INFINITY;
    throw e;
  }
}

async function createJob(http: SalesforceHttp, operation: 'query' | 'queryAll', query: string, label: string, signal: AbortSignal): Promise<JobInfo> {
  return http.request({ method: 'POST', path: '/jobs/query', body: { operation, query }, schema: JobInfo, signal, label: `create bulk job ${label}` });
}

/** polls until JobComplete; Failed / Aborted / a poll timeout are BULK_JOB_FAILED */
async function awaitJob(deps: BulkDeps, id: string, label: string, signal: AbortSignal): Promise<JobInfo> {
  const started = Date.now();
  for (;;) {
    const info = await deps.http.request({ method: 'GET', path: `/jobs/query/${id}`, schema: JobInfo, signal, label: `bulk job ${label}` });
    if (info.state === 'JobComplete') return info;
    if (info.state === 'Failed' || info.state === 'Aborted') {
      throw new CrmError('unavailable', `Salesforce bulk job ${label} ${info.state === 'Failed' ? 'failed' : 'was aborted'}: ${info.errorMessage ?? 'no errorMessage'}`, { crm: 'salesforce', code: 'BULK_JOB_FAILED' });
    }
    if (Date.now() - started > deps.pollTimeoutMs) {
      throw new CrmError('unavailable', `Salesforce bulk job ${label} still ${info.state} after ${deps.pollTimeoutMs} ms`, { crm: 'salesforce', code: 'BULK_JOB_FAILED' });
    }
    await sleep(deps.pollMs, signal);
  }
}

/** one results page: its rows (header → value, '' for null) and the next locator (null: last page) */
async function resultsPage(deps: BulkDeps, id: string, locator: string | null, label: string, signal: AbortSignal): Promise<{ rows: Record<string, string>[]; next: string | null }> {
  const q = new URLSearchParams({ maxRecords: String(deps.pageRows), ...(locator === null ? {} : { locator }) });
  const res = await deps.http.request({ method: 'GET', path: `/jobs/query/${id}/results?${q.toString()}`, headers: { accept: 'text/csv' }, schema: Text, signal, label: `bulk results ${label}`, text: true });
  const next = res.headers['sforce-locator'];
  if (next === undefined) throw new CrmError('bad_response', `Salesforce bulk results ${label}: no Sforce-Locator header`, { crm: 'salesforce', code: 'SCHEMA' });
  let rows: Record<string, string>[];
  try {
    rows = parse(res.body, { columns: true, skip_empty_lines: true }) as Record<string, string>[];
  } catch (e) {
    throw new CrmError('bad_response', `Salesforce bulk results ${label}: unreadable CSV (${(e as Error).message.slice(0, 120)})`, { crm: 'salesforce', code: 'SCHEMA' });
  }
  const count = res.headers['sforce-numberofrecords'];
  if (count !== undefined && Number(count) !== rows.length) {
    throw new CrmError('bad_response', `Salesforce bulk results ${label}: ${rows.length} rows where Sforce-NumberOfRecords says ${count}`, { crm: 'salesforce', code: 'SCHEMA' });
  }
  return { rows, next: next === 'null' ? null : next };
}

/** CSV text → the JSON value REST would have sent, by the field's describe type ('' is null: Bulk CSV cannot tell an empty string apart) */
function typed(raw: string, type: string | undefined): unknown {
  if (raw === '') return null;
  switch (type) {
    case 'boolean':
      return raw === 'true';
    case 'double':
    case 'int':
    case 'currency':
    case 'percent': {
      const n = Number(raw);
      return Number.isFinite(n) ? n : raw;
    }
    default:
      return raw;
  }
}

export type BulkPlan = { plan: QueryPlan; types: Map<string, string> };

/**
 * The bulk backfill of one stream, from `state` (null: new jobs). Yields Pages whose cursor is
 * `cursorOf(state)` while paging and `done(startedAt)` on the last page.
 */
export async function* bulkBackfill(
  deps: BulkDeps,
  type: ObjectType,
  { plan, types }: BulkPlan,
  portal: string,
  state: BulkState | null,
  cursorOf: (s: BulkState) => Cursor,
  done: (startedAt: number) => Cursor,
  signal: AbortSignal,
): AsyncGenerator<Page> {
  const spec = plan.spec;
  const label = spec.sobject;
  const linked = plan.contacts && plan.child !== undefined && spec.contacts !== undefined;
  for (let attempt = 0; ; attempt++) {
    let current = state !== null && state.job !== null && attempt === 0 ? state : null;
    if (current === null) {
      const main = await createJob(deps.http, 'queryAll', `SELECT ${plan.fields.join(', ')} FROM ${spec.sobject}${spec.filter === undefined ? '' : ` WHERE ${spec.filter}`}`, label, signal);
      // live relation rows only: a removed contact role no longer links
      const links = linked ? await createJob(deps.http, 'query', `SELECT ${plan.child!.field}, ${spec.contacts!.field} FROM ${plan.child!.sobject}`, `${label} ${plan.child!.sobject}`, signal) : null;
      const startedAt = Math.min(...[main, links].filter((j): j is JobInfo => j !== null).map((j) => parseSfTime(j.createdDate) ?? deps.now()));
      current = { job: main.id, links: links?.id ?? null, locator: null, startedAt };
      deps.logger.info({ type, job: main.id }, 'Salesforce backfill through a Bulk API 2.0 query job');
      // kept at once: a restart while the job runs waits for the same job
      yield { records: [], next: cursorOf(current) };
    }
    try {
      let contactsOf: Map<string, string[]> | null = null;
      if (current.links !== null && linked) {
        await awaitJob(deps, current.links, `${label} ${plan.child!.sobject}`, signal);
        contactsOf = new Map();
        let loc: string | null = null;
        do {
          const page = await resultsPage(deps, current.links, loc, `${label} ${plan.child!.sobject}`, signal);
          for (const r of page.rows) {
            const parent = r[plan.child!.field];
            const contact = r[spec.contacts!.field];
            if (parent === undefined || parent === '' || contact === undefined || contact === '') continue;
            const list = contactsOf.get(parent);
            if (list === undefined) contactsOf.set(parent, [contact]);
            else list.push(contact);
          }
          loc = page.next;
        } while (loc !== null);
      }
      const info = await awaitJob(deps, current.job!, label, signal);
      let locator = current.locator;
      for (;;) {
        const page = await resultsPage(deps, current.job!, locator, label, signal);
        const now = deps.now();
        const records = page.rows.map((row) => {
          const r: Record<string, unknown> = {};
          for (const [k, v] of Object.entries(row)) r[k] = typed(v, types.get(k.toLowerCase()));
          // the shape toRecord reads from a REST child subquery
          if (contactsOf !== null) r[spec.contacts!.relationship] = { records: (contactsOf.get(String(r.Id)) ?? []).map((id) => ({ [spec.contacts!.field]: id })) };
          return toRecord(portal, type, r as SfRecord, now, spec);
        });
        locator = page.next;
        const next = locator === null ? done(current.startedAt) : cursorOf({ ...current, locator });
        yield { records, next, ...(info.numberRecordsProcessed === undefined ? {} : { total: info.numberRecordsProcessed }) };
        if (locator === null) return;
      }
    } catch (e) {
      if (isGone(e) && attempt === 0) {
        deps.logger.info({ type }, 'Salesforce bulk job expired or its locator was refused: starting a new job');
        continue;
      }
      if (e instanceof CrmError && e.details.code === 'BULK_JOB_FAILED') {
        // the next attempt starts new jobs rather than poll a failed one forever
        yield { records: [], next: cursorOf({ job: null, links: null, locator: null, startedAt: 0 }) };
      }
      throw e;
    }
  }
}
