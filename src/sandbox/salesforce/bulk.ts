import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { SandboxClock } from '../hubspot/clock.ts';
import type { SoqlAccess } from './soql.ts';
import { matches, parseSoql, sortRows, SoqlError } from './soql.ts';
import type { FieldValue, SalesforceData } from './storage.ts';
import { json, sfError } from './wire.ts';

/**
 * Bulk API 2.0 query jobs (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/queries.htm):
 *
 *   POST   /services/data/vNN.N/jobs/query                 create {operation: query|queryAll, query}
 *   GET    /services/data/vNN.N/jobs/query/{id}            job info: UploadComplete → InProgress → JobComplete | Failed | Aborted
 *   PATCH  /services/data/vNN.N/jobs/query/{id}            {state: 'Aborted'}
 *   DELETE /services/data/vNN.N/jobs/query/{id}            204
 *   GET    /services/data/vNN.N/jobs/query/{id}/results?locator=&maxRecords=   CSV
 *
 * Strict where Salesforce documents it:
 * - query jobs exist from API 47.0 (same page); older versions are 404 NOT_FOUND like any unknown resource;
 * - parent-to-child (nested) queries and aggregate functions such as COUNT() are not supported (same
 *   page, "SOQL Considerations"): the job is refused at creation. Salesforce's exact errorCode for it
 *   is UNCONFIRMED; the emulator answers 400 INVALIDJOB, which the client treats as any refused job;
 * - results are CSV with a header row, read page by page: each answer carries `Sforce-NumberOfRecords`
 *   and `Sforce-Locator`, the literal string `null` on the last page; `maxRecords` bounds a page
 *   (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_get_job_results.htm);
 * - results before the job is complete: 412 JOB_NOT_COMPLETE (UNCONFIRMED status; the code is the
 *   one clients report);
 * - results are kept for 7 days after the job completes
 *   (https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_bulkapi.htm);
 *   past that, and after DELETE, the job is 404 NOT_FOUND.
 *
 * The emulator fixes the job's rows when it is created (a real org runs the query while the job is
 * InProgress; either way a client must continue from the job's createdDate with its own incremental
 * query). The state moves one step per job-info poll (`org.bulk.pollsToComplete` polls in all), so a
 * client that never polls never sees it complete.
 */
export type BulkSettings = {
  /** job-info polls before a job is JobComplete (the first answers UploadComplete, the next InProgress…) */
  pollsToComplete: number;
  /** the next jobs fail with this errorMessage instead of completing (null: they complete) */
  failWith: string | null;
  /** a results page without maxRecords holds at most this many rows (Salesforce sizes pages itself) */
  defaultPageRows: number;
};
export const DEFAULT_BULK: BulkSettings = { pollsToComplete: 2, failWith: null, defaultPageRows: 50_000 };

export type BulkDeps = {
  clock: SandboxClock;
  data: SalesforceData;
  access: () => SoqlAccess;
  settings: () => BulkSettings;
  /** the org's id prefix source for job ids ("750" is the job key prefix) */
  orgId: string;
};

type Job = {
  id: string;
  operation: 'query' | 'queryAll';
  object: string;
  version: string;
  createdDate: number;
  state: 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';
  polls: number;
  header: string;
  lines: string[];
  failWith: string | null;
  completedAt: number | null;
  errorMessage?: string;
};

const RETENTION_MS = 7 * 24 * 3_600_000;
const MIN_VERSION = 47;

const CreateBody = z.strictObject({
  operation: z.enum(['query', 'queryAll']),
  query: z.string().min(1),
  contentType: z.literal('CSV').optional(),
  columnDelimiter: z.literal('COMMA').optional(),
  lineEnding: z.enum(['LF', 'CRLF']).optional(),
});
const PatchBody = z.strictObject({ state: z.literal('Aborted') });

/** Bulk CSV: every value in double quotes (quotes doubled), an empty field for null, datetimes as `2026-01-05T09:00:00.000Z`. */
function csvValue(v: FieldValue, type: string | undefined): string {
  if (v === null || v === undefined) return '';
  const s = type === 'datetime' && typeof v === 'number' ? new Date(Math.floor(v / 1000) * 1000).toISOString() : String(v);
  return `"${s.replace(/"/g, '""')}"`;
}

export function mountBulkQuery(app: Hono, deps: BulkDeps): void {
  const jobs = new Map<string, Job>();
  let seq = 0;
  const V = '/:version{v\\d+\\.\\d}';
  const versionOk = (c: Context) => Number(c.req.param('version')!.slice(1)) >= MIN_VERSION;
  const notFound = (c: Context) => sfError(c, 404, 'NOT_FOUND', 'The requested resource does not exist');
  const find = (c: Context): Job | undefined => {
    const job = jobs.get(c.req.param('id') ?? '');
    if (job === undefined) return undefined;
    if (job.completedAt !== null && deps.clock.now() - job.completedAt > RETENTION_MS) {
      jobs.delete(job.id);
      return undefined;
    }
    return job;
  };
  const info = (job: Job) => ({
    id: job.id,
    operation: job.operation,
    object: job.object,
    createdById: '005000000000001AAA',
    createdDate: new Date(job.createdDate).toISOString().replace('Z', '+0000'),
    systemModstamp: new Date(deps.clock.now()).toISOString().replace('Z', '+0000'),
    state: job.state,
    concurrencyMode: 'Parallel',
    contentType: 'CSV',
    apiVersion: Number(job.version),
    lineEnding: 'LF',
    columnDelimiter: 'COMMA',
    ...(job.state === 'JobComplete' ? { numberRecordsProcessed: job.lines.length, retries: 0, totalProcessingTime: 1 } : {}),
    ...(job.errorMessage === undefined ? {} : { errorMessage: job.errorMessage }),
  });

  app.post(`${V}/jobs/query`, async (c) => {
    if (!versionOk(c)) return notFound(c);
    let body: z.infer<typeof CreateBody>;
    try {
      body = CreateBody.parse(await c.req.json());
    } catch {
      return sfError(c, 400, 'INVALIDJOB', 'Invalid job: the body must be {operation: query|queryAll, query: SOQL}');
    }
    let soql;
    try {
      soql = parseSoql(body.query, deps.access());
    } catch (e) {
      if (e instanceof SoqlError) return sfError(c, 400, e.errorCode, e.message);
      throw e;
    }
    if (soql.subqueries.length > 0) return sfError(c, 400, 'INVALIDJOB', 'Parent-to-child relationship queries are not supported by Bulk API 2.0 query jobs');
    if (soql.count) return sfError(c, 400, 'INVALIDJOB', 'Aggregate functions such as COUNT() are not supported by Bulk API 2.0 query jobs');
    const all = body.operation === 'queryAll';
    const rows = sortRows(
      deps.data.rows(soql.sobject.name).filter((r) => (all || r.IsDeleted !== true) && matches(soql.where, r)),
      soql.orderBy,
    );
    const limited = soql.limit === null ? rows : rows.slice(0, soql.limit);
    const types = soql.fields.map((f) => f.type);
    const id = `750${deps.orgId.slice(3, 8)}${String(++seq).padStart(7, '0')}AAA`;
    const job: Job = {
      id,
      operation: body.operation,
      object: soql.sobject.name,
      version: c.req.param('version')!.slice(1),
      createdDate: deps.clock.now(),
      state: 'UploadComplete',
      polls: 0,
      header: soql.fields.map((f) => `"${f.name}"`).join(','),
      lines: limited.map((r) => soql.fields.map((f, i) => csvValue(r[f.name] ?? null, types[i])).join(',')),
      failWith: deps.settings().failWith,
      completedAt: null,
    };
    jobs.set(id, job);
    return json(c, 200, info(job));
  });

  app.get(`${V}/jobs/query/:id`, (c) => {
    if (!versionOk(c)) return notFound(c);
    const job = find(c);
    if (job === undefined) return notFound(c);
    if (job.state === 'UploadComplete' || job.state === 'InProgress') {
      job.polls++;
      if (job.polls >= deps.settings().pollsToComplete) {
        if (job.failWith !== null) {
          job.state = 'Failed';
          job.errorMessage = job.failWith;
          job.lines = [];
        } else job.state = 'JobComplete';
        job.completedAt = deps.clock.now();
      } else job.state = 'InProgress';
    }
    return json(c, 200, info(job));
  });

  // https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_abort_job.htm
  app.patch(`${V}/jobs/query/:id`, async (c) => {
    if (!versionOk(c)) return notFound(c);
    const job = find(c);
    if (job === undefined) return notFound(c);
    const parsed = PatchBody.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return sfError(c, 400, 'INVALIDJOB', 'A query job can only be aborted: {"state": "Aborted"}');
    if (job.state === 'JobComplete' || job.state === 'Failed') return sfError(c, 400, 'INVALIDJOBSTATE', `Job is already ${job.state}`);
    job.state = 'Aborted';
    job.completedAt = deps.clock.now();
    job.lines = [];
    return json(c, 200, info(job));
  });

  // https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_delete_job.htm
  app.delete(`${V}/jobs/query/:id`, (c) => {
    if (!versionOk(c)) return notFound(c);
    const job = find(c);
    if (job === undefined) return notFound(c);
    jobs.delete(job.id);
    return c.body(null, 204);
  });

  app.get(`${V}/jobs/query/:id/results`, (c) => {
    if (!versionOk(c)) return notFound(c);
    const job = find(c);
    if (job === undefined) return notFound(c);
    if (job.state !== 'JobComplete') return sfError(c, 412, 'JOB_NOT_COMPLETE', `The job is ${job.state}: results are available once it is JobComplete`);
    const rawMax = c.req.query('maxRecords');
    if (rawMax !== undefined && !/^[1-9]\d*$/.test(rawMax)) return sfError(c, 400, 'INVALIDREQUEST', 'maxRecords must be a positive integer');
    const max = rawMax === undefined ? deps.settings().defaultPageRows : Number(rawMax);
    const rawLocator = c.req.query('locator');
    let offset = 0;
    if (rawLocator !== undefined) {
      // locators are opaque strings handed out by this job; anything else is refused
      const decoded = /^[A-Za-z0-9_-]+$/.test(rawLocator) ? Buffer.from(rawLocator, 'base64url').toString('utf8') : '';
      const m = /^(750\w+):(\d+)$/.exec(decoded);
      if (m === null || m[1] !== job.id || Number(m[2]) <= 0 || Number(m[2]) >= job.lines.length) return sfError(c, 400, 'INVALIDLOCATOR', 'Invalid locator');
      offset = Number(m[2]);
    }
    const page = job.lines.slice(offset, offset + max);
    const end = offset + page.length;
    const locator = end >= job.lines.length ? 'null' : Buffer.from(`${job.id}:${end}`, 'utf8').toString('base64url');
    const body = `${[job.header, ...page].join('\n')}\n`;
    return new Response(body, { status: 200, headers: { 'content-type': 'text/csv', 'Sforce-Locator': locator, 'Sforce-NumberOfRecords': String(page.length) } });
  });
}
