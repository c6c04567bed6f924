import { z } from 'zod';
import { CrmError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Cursor, ObjectType, Page } from '../types.ts';
import { planQuery, type DescribeCache, type QueryPlan } from './describe.ts';
import { bulkBackfill, BulkStateSchema, countRows, type BulkDeps } from './bulk.ts';
import type { SalesforceHttp } from './http.ts';
import { parseSfTime, SPECS, toRecord, type SfRecord } from './mapping.ts';

/**
 * Incremental sync for one type (ARCHITECTURE §3): `queryAll` (so IsDeleted rows arrive as
 * tombstones) ordered by SystemModstamp, Id.
 *
 * - A run starts at `SystemModstamp >= since`, INCLUSIVE: Salesforce stamps have whole-second
 *   precision, so a record changed in the same second as the cursor's last record, after we read
 *   it, has the same stamp and a possibly smaller Id; a strict (stamp, Id) keyset would skip it.
 *   The boundary second is therefore re-read each run (the port allows repeats).
 * - Within a run, one query pages through `nextRecordsUrl` (never persisted: locators expire);
 *   each batch is a Page. A query is capped by `LIMIT queryLimit`; when the cap is hit the next
 *   query continues strictly after the last (stamp, Id), so a same-second run of any length is
 *   followed by the later changes in the SAME run.
 * - The cursor `{since, lastId}` is the last record delivered; `lastId` only says where the run
 *   was, a resumed run starts inclusively at `since` again.
 * - Late commits: a record's SystemModstamp is taken when its transaction writes it, not when it
 *   commits, so a long transaction (a bulk load, a flow) can make rows visible after we read past
 *   their stamp. Each run therefore first asks Get Updated for `latestDateCovered`
 *   (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getupdated.htm):
 *   the time before which every change is committed — the start of a long-running transaction
 *   still open on the instance, else about now (GetUpdatedResult,
 *   https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getupdated_getupdatedresult.htm).
 *   It is kept in the cursor (`covered`) and the next run starts at min(since, covered): exactly as
 *   far back as a transaction still open could reach, however long it runs. One call per 30 s for
 *   all streams of a connector, on a two-minute window (the answer's ids are not used). Where Get Updated is refused (an object
 *   not replicable) the run falls back to re-reading `lookbackMs` (60 s) before the cursor.
 */
const CursorSchema = z.object({
  v: z.literal(1),
  since: z.number().int().nonnegative(),
  lastId: z.string(),
  /** when the last ids-only sweep ran (absent in cursors written before sweeps existed) */
  sweptAt: z.number().int().nonnegative().optional(),
  /** Get Updated's latestDateCovered when the run started: changes stamped after it may commit later */
  covered: z.number().int().nonnegative().optional(),
  /** a backfill running through Bulk API 2.0 jobs (bulk.ts): which jobs, where in their results */
  bulk: BulkStateSchema.optional(),
});
type SfCursor = z.infer<typeof CursorSchema>;

export const encodeCursor = (c: SfCursor): Cursor => JSON.stringify(c) as Cursor;
export function decodeCursor(raw: Cursor | null): SfCursor | null | 'invalid' {
  if (raw === null) return null;
  try {
    const parsed = CursorSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : 'invalid';
  } catch {
    return 'invalid';
  }
}

const QueryPage = z.object({
  totalSize: z.number(),
  done: z.boolean(),
  nextRecordsUrl: z.string().optional(),
  records: z.array(z.looseObject({ Id: z.string(), SystemModstamp: z.string(), IsDeleted: z.boolean().optional() })),
});

/** SOQL datetime literal, whole seconds (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm). */
const soqlTime = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
export const soqlString = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export type ChangesDeps = {
  http: SalesforceHttp;
  portal: () => Promise<string>;
  now: () => number;
  logger: Logger;
  pageSize: number;
  queryLimit: number;
  /** re-read this much before the cursor when Get Updated gives no latestDateCovered (see below) */
  lookbackMs: number;
  /** what the integration user can see (describe.ts) */
  describe: DescribeCache;
  /** how often an incremental run ends with an ids-only sweep for deletes past the recycle bin */
  sweepEveryMs: number;
  /** the Contact field an admin maps as the churn date (RAPPORT_CHURN signals.churnDateProperty) */
  churnDateField?: string | undefined;
  /** the connector's last latestDateCovered and when it was asked (shared by its streams; see latestDateCovered) */
  coveredMark?: { at: number; value: number };
  /** a backfill of this many rows or more goes through Bulk API 2.0 (bulk.ts); null: never */
  bulkThreshold: number | null;
  bulk: Omit<BulkDeps, 'http' | 'logger' | 'now'>;
};

/** how long one latestDateCovered serves the connector's other streams */
const COVERED_TTL_MS = 30_000;

/** The full query of a type; `plan` narrows it to what the org lets the integration user see. */
export function buildSoql(type: ObjectType, where: string | null, limit: number, plan?: QueryPlan): string {
  const spec = plan?.spec ?? SPECS[type];
  const select = [...(plan?.fields ?? spec.fields)];
  // IsDeleted: queryAll may return deleted children too (a removed contact role), which must not link
  if (spec.contacts !== undefined && (plan?.contacts ?? true)) select.push(`(SELECT ${spec.contacts.field}, IsDeleted FROM ${spec.contacts.relationship})`);
  const conds = [spec.filter, where].filter((x): x is string => x !== undefined && x !== null).map((c) => `(${c})`);
  return `SELECT ${select.join(', ')} FROM ${spec.sobject}${conds.length > 0 ? ` WHERE ${conds.join(' AND ')}` : ''} ORDER BY SystemModstamp, Id LIMIT ${limit}`;
}

export async function* salesforceChanges(deps: ChangesDeps, type: ObjectType, cursor: Cursor | null, signal: AbortSignal): AsyncGenerator<Page> {
  let start = decodeCursor(cursor);
  if (start === 'invalid') {
    deps.logger.warn({ type }, 'unreadable Salesforce cursor: restarting this stream from a full sync');
    start = null;
  }
  const portal = await deps.portal();
  let plan = await planFor(deps, type, signal);
  if (plan === null) return;
  // a backfill (or one already running through bulk) of a big object: Bulk API 2.0 jobs, then REST from their start
  if (deps.bulkThreshold !== null && (start === null || start.bulk !== undefined)) {
    const resume = start?.bulk?.job == null ? null : start.bulk;
    if (resume !== null || (await countRows(deps.http, plan, signal)) >= deps.bulkThreshold) {
      const schema = await deps.describe.get(plan.spec.sobject, signal);
      const types = new Map([...(schema?.fields.values() ?? [])].map((f) => [f.name.toLowerCase(), f.type]));
      const startSweep = deps.now();
      yield* bulkBackfill(
        { ...deps.bulk, http: deps.http, logger: deps.logger, now: deps.now },
        type,
        { plan, types },
        portal,
        resume,
        (bulk) => encodeCursor({ v: 1, since: 0, lastId: '', bulk }),
        // every live row was read: it counts as a sweep
        (startedAt) => encodeCursor({ v: 1, since: startedAt, lastId: '', sweptAt: startSweep }),
        signal,
      );
      return;
    }
    // below the threshold: a REST backfill, from nothing
    start = null;
  }
  const label = `queryAll ${plan.spec.sobject}`;
  // a backfill reads every live row: it counts as a sweep
  const sweptAt = start?.sweptAt ?? (start === null ? deps.now() : 0);
  // asked before reading: what this run reads after it may be joined by late commits, next run re-reads from there
  const covered = (await latestDateCovered(deps, plan.spec.sobject, signal)) ?? start?.covered;
  const withCovered = (c: Omit<SfCursor, 'covered'>): SfCursor => ({ ...c, ...(covered === undefined ? {} : { covered }) });
  let latest: SfCursor | null = start === null ? null : withCovered({ ...start, sweptAt });
  // the lower bound as SOQL (from where late commits can land, or the keyset after the last row read) and as time
  const from = start === null ? 0 : start.covered !== undefined ? Math.min(start.since, start.covered) : Math.max(0, start.since - deps.lookbackMs);
  let lower: string | null = start === null ? null : `SystemModstamp >= ${soqlTime(from)}`;
  let lowerMs = from;
  let delivered = false;
  // QUERY_TIMEOUT: the org gave up on the query (https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm).
  // Retrying it as is fails every cycle; instead the run reads SystemModstamp windows [lowerMs, lowerMs + window),
  // halving the window on each timeout and doubling it after a window that passed. null = no upper bound.
  let window: number | null = null;
  let firstQuery = true;
  run: for (;;) {
    const upper = window === null ? null : Math.ceil((lowerMs + window) / 1000) * 1000;
    const where = (): string | null => {
      const conds = [lower === null ? null : `(${lower})`, upper === null ? null : `SystemModstamp < ${soqlTime(upper)}`].filter((c): c is string => c !== null);
      return conds.length === 0 ? null : conds.join(' AND ');
    };
    let url: string | undefined = `/queryAll?q=${encodeURIComponent(buildSoql(type, where(), deps.queryLimit, plan))}`;
    let inQuery = 0;
    let last: SfRecord | undefined;
    let described = false;
    let timedOut = false;
    while (url !== undefined) {
      let page: z.infer<typeof QueryPage>;
      try {
        page = await deps.http.request({ method: 'GET', path: url, headers: { 'Sforce-Query-Options': `batchSize=${deps.pageSize}` }, schema: QueryPage, signal, label });
      } catch (e) {
        const code = e instanceof CrmError ? e.details.code : undefined;
        if (code === 'QUERY_TIMEOUT' && inQuery === 0) {
          timedOut = true;
          break;
        }
        // a field or object hidden since we described it (an admin changed permissions): describe
        // again and rerun this query once, narrowed (nothing of it was delivered yet)
        if (described || inQuery > 0 || (code !== 'INVALID_FIELD' && code !== 'INVALID_TYPE')) throw e;
        described = true;
        deps.describe.forget(plan.spec.sobject);
        const fresh = await planFor(deps, type, signal);
        if (fresh === null) return;
        plan = fresh;
        url = `/queryAll?q=${encodeURIComponent(buildSoql(type, where(), deps.queryLimit, plan))}`;
        continue;
      }
      const spec = plan.spec;
      if (spec.contacts !== undefined && plan.contacts) await completeChildren(deps, page.records, spec.contacts.relationship, signal, label);
      const now = deps.now();
      const records = page.records.map((r) => toRecord(portal, type, r as SfRecord, now, spec));
      inQuery += records.length;
      const tail = page.records.at(-1) as SfRecord | undefined;
      if (tail !== undefined) last = tail;
      url = nextQueryUrl(page);
      if (!page.done && url === undefined) {
        throw new CrmError('bad_response', `Salesforce ${label}: done is false but there is no nextRecordsUrl`, { crm: 'salesforce', code: 'SCHEMA' });
      }
      if (records.length === 0) continue;
      // never behind the cursor we started from: a pass that only re-read the lookback window (its
      // newest row hard-deleted since) must not move the next pass further back each time
      latest = withCovered({ v: 1, since: Math.max(start?.since ?? 0, parseSfTime(tail!.SystemModstamp) ?? 0), lastId: tail!.Id, sweptAt });
      const next = encodeCursor(latest);
      delivered = true;
      // the first query's totalSize is the whole run's size unless it hit the LIMIT or a window
      yield firstQuery && upper === null && page.totalSize < deps.queryLimit ? { records, next, total: page.totalSize } : { records, next };
    }
    if (timedOut) {
      const span = window ?? Math.max(1000, deps.now() + 1000 - lowerMs);
      if (span <= 1000) throw new CrmError('unavailable', `Salesforce ${label}: QUERY_TIMEOUT even for one second of changes`, { crm: 'salesforce', code: 'QUERY_TIMEOUT' });
      window = Math.floor(span / 2);
      firstQuery = false;
      deps.logger.info({ type, windowMs: window }, 'Salesforce query timed out: reading a narrower SystemModstamp window');
      continue;
    }
    firstQuery = false;
    if (inQuery >= deps.queryLimit && last !== undefined) {
      // the LIMIT was hit: continue strictly after the last (stamp, Id), inside the same window
      const ts = soqlTime(parseSfTime(last.SystemModstamp) ?? 0);
      lower = `SystemModstamp > ${ts} OR (SystemModstamp = ${ts} AND Id > ${soqlString(last.Id)})`;
      lowerMs = parseSfTime(last.SystemModstamp) ?? lowerMs;
      continue;
    }
    if (upper === null) break run;
    // the window is done: the next one starts at its end, twice as wide (open once it reaches now)
    lower = `SystemModstamp >= ${soqlTime(upper)}`;
    lowerMs = upper;
    window = window === null ? null : window * 2;
    if (lowerMs + (window ?? 0) > deps.now()) window = null;
  }
  // nothing changed, but the covered mark moved: keep it, so the next run does not start further back
  if (!delivered && latest !== null && start !== null && latest.covered !== start.covered) yield { records: [], next: encodeCursor(latest) };
  if (latest !== null && deps.now() - sweptAt >= deps.sweepEveryMs) {
    try {
      for await (const p of relinks(deps, type, plan, latest, portal, signal)) yield p;
    } catch (e) {
      if (!(e instanceof CrmError) || e.details.code !== 'QUERY_TIMEOUT') throw e;
      deps.logger.warn({ type }, 'Salesforce relation sweep timed out; retrying in a day');
    }
    let swept: Page;
    try {
      swept = await sweep(deps, plan, latest, signal);
    } catch (e) {
      // an org too big to list in one query: skip until tomorrow rather than fail every pass
      if (!(e instanceof CrmError) || e.details.code !== 'QUERY_TIMEOUT') throw e;
      deps.logger.warn({ type }, 'Salesforce delete sweep timed out; retrying in a day');
      swept = { records: [], next: encodeCursor({ ...latest, sweptAt: deps.now() }) };
    }
    yield swept;
  }
}

/**
 * Deletes the change feed cannot show: queryAll lists deleted rows only while they are in the
 * recycle bin (15 days, or until it is emptied; hard deletes never), and getDeleted has the same
 * horizon (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm).
 * So now and then a run ends by listing every live id (ids only, one call per 2,000 ids); the store
 * tombstones cached records missing from it (`Page.liveIds`).
 */
async function sweep(deps: ChangesDeps, plan: QueryPlan, latest: SfCursor, signal: AbortSignal): Promise<Page> {
  const spec = plan.spec;
  // queryAll with IsDeleted = false, not query: query leaves out archived activities (Tasks and
  // Events older than a year, https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_guidelines_archive.htm),
  // which are live records a sweep must not tombstone
  const soql = `SELECT Id FROM ${spec.sobject} WHERE IsDeleted = false${spec.filter === undefined ? '' : ` AND (${spec.filter})`} ORDER BY Id`;
  const label = `sweep ${spec.sobject}`;
  const ids: string[] = [];
  let url: string | undefined = `/queryAll?q=${encodeURIComponent(soql)}`;
  while (url !== undefined) {
    const page: z.infer<typeof IdsPage> = await deps.http.request({ method: 'GET', path: url, headers: { 'Sforce-Query-Options': 'batchSize=2000' }, schema: IdsPage, signal, label });
    for (const r of page.records) ids.push(r.Id);
    url = nextQueryUrl(page);
    if (!page.done && url === undefined) throw new CrmError('bad_response', `Salesforce ${label}: done is false but there is no nextRecordsUrl`, { crm: 'salesforce', code: 'SCHEMA' });
  }
  return { records: [], next: encodeCursor({ ...latest, sweptAt: deps.now() }), liveIds: ids };
}

/**
 * Link drift: a contact role or activity relation added or removed later does not change its
 * parent's SystemModstamp (docs/install-salesforce.md §3), so the incremental passes do not see it.
 * The daily sweep reads which parents have relation rows changed since the last sweep (queryAll:
 * removed rows too) and reads those parents again, with their contacts.
 */
async function* relinks(deps: ChangesDeps, type: ObjectType, plan: QueryPlan, latest: SfCursor, portal: string, signal: AbortSignal): AsyncGenerator<Page> {
  if (plan.child === undefined || plan.spec.contacts === undefined) return;
  const since = Math.max(0, (latest.sweptAt ?? 0) - deps.lookbackMs);
  const label = `sweep ${plan.child.sobject}`;
  const parents = new Set<string>();
  let url: string | undefined = `/queryAll?q=${encodeURIComponent(`SELECT ${plan.child.field} FROM ${plan.child.sobject} WHERE SystemModstamp >= ${soqlTime(since)}`)}`;
  while (url !== undefined) {
    const page: z.infer<typeof ChildPage> = await deps.http.request({ method: 'GET', path: url, headers: { 'Sforce-Query-Options': 'batchSize=2000' }, schema: ChildPage, signal, label });
    for (const r of page.records) {
      const id = r[plan.child.field];
      if (typeof id === 'string') parents.add(id);
    }
    url = nextQueryUrl(page);
  }
  const ids = [...parents].sort();
  const next = encodeCursor(latest);
  for (let i = 0; i < ids.length; i += 200) {
    const chunk = ids.slice(i, i + 200);
    let q: string | undefined = `/queryAll?q=${encodeURIComponent(buildSoql(type, `Id IN (${chunk.map(soqlString).join(', ')})`, chunk.length, plan))}`;
    while (q !== undefined) {
      const page: z.infer<typeof QueryPage> = await deps.http.request({ method: 'GET', path: q, headers: { 'Sforce-Query-Options': `batchSize=${deps.pageSize}` }, schema: QueryPage, signal, label: `sweep ${plan.spec.sobject}` });
      await completeChildren(deps, page.records, plan.spec.contacts.relationship, signal, label);
      const now = deps.now();
      const records = page.records.map((r) => toRecord(portal, type, r as SfRecord, now, plan.spec));
      if (records.length > 0) yield { records, next };
      q = nextQueryUrl(page);
    }
  }
}

const Updated = z.object({ ids: z.array(z.string()), latestDateCovered: z.string() });
/** Get Updated's date-times: `2024-01-01T00:00:00+00:00`, UTC, whole seconds */
const replicationTime = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00');

/**
 * Get Updated's `latestDateCovered` for the last two minutes (the bound depends on `end` and the
 * instance's open transactions, not on `start`; a short window keeps the id list small). The long
 * transaction it reports is the instance's, whatever the object, so one answer serves every stream
 * of the connector for 30 s: an older mark only makes the next run start earlier, never later.
 * undefined when the org refuses the call for this object (not replicable, or a version without
 * the resource): the run then falls back to the fixed lookback.
 */
async function latestDateCovered(deps: ChangesDeps, sobject: string, signal: AbortSignal): Promise<number | undefined> {
  const end = deps.now();
  const mark = deps.coveredMark;
  if (mark !== undefined && end - mark.at < COVERED_TTL_MS && end >= mark.at) return mark.value;
  const path = `/sobjects/${sobject}/updated?start=${encodeURIComponent(replicationTime(end - 120_000))}&end=${encodeURIComponent(replicationTime(end))}`;
  try {
    const r = await deps.http.request({ method: 'GET', path, schema: Updated, signal, label: `getUpdated ${sobject}` });
    const at = parseSfTime(r.latestDateCovered);
    if (at === null) throw new CrmError('bad_response', `Salesforce getUpdated ${sobject}: latestDateCovered is not a date-time`, { crm: 'salesforce', code: 'SCHEMA' });
    if (mark !== undefined) Object.assign(mark, { at: end, value: at });
    return at;
  } catch (e) {
    if (!(e instanceof CrmError) || e.kind !== 'invalid_request') throw e;
    deps.logger.info({ sobject, code: e.details.code }, 'Salesforce getUpdated refused: falling back to the fixed lookback');
    return undefined;
  }
}

export const IdsPage = z.object({ done: z.boolean(), nextRecordsUrl: z.string().optional(), records: z.array(z.looseObject({ Id: z.string() })) });

/**
 * The next page of a query, or none: jsforce keeps only the locator of nextRecordsUrl
 * (jsforce src/query.ts); so do we (the version in the URL is the one the query ran under).
 */
export function nextQueryUrl(page: { done: boolean; nextRecordsUrl?: string | undefined }): string | undefined {
  return page.done || page.nextRecordsUrl === undefined ? undefined : `/query/${page.nextRecordsUrl.split('/').pop() ?? ''}`;
}

const ChildPage = z.object({ done: z.boolean(), nextRecordsUrl: z.string().optional(), records: z.array(z.looseObject({})) });

/**
 * A parent with many children (an Account with 300 contacts) gets only the first child rows inline;
 * the nested result has `done: false` and its own `nextRecordsUrl`
 * (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_relationships_query_limits.htm).
 * Reading only the inline rows would unlink the rest, so they are fetched before the page is mapped.
 */
async function completeChildren(deps: ChangesDeps, parents: Record<string, unknown>[], relationship: string, signal: AbortSignal, label: string): Promise<void> {
  for (const parent of parents) {
    const sub = parent[relationship] as { done?: unknown; nextRecordsUrl?: unknown; records?: unknown } | null | undefined;
    if (sub === null || sub === undefined || sub.done !== false) continue;
    const rows = Array.isArray(sub.records) ? [...(sub.records as Record<string, unknown>[])] : [];
    let next = typeof sub.nextRecordsUrl === 'string' ? sub.nextRecordsUrl : undefined;
    if (next === undefined) throw new CrmError('bad_response', `Salesforce ${label}: a child result is not done but has no nextRecordsUrl`, { crm: 'salesforce', code: 'SCHEMA' });
    while (next !== undefined) {
      const more: z.infer<typeof ChildPage> = await deps.http.request({ method: 'GET', path: `/query/${next.split('/').pop() ?? ''}`, schema: ChildPage, signal, label: `${label} ${relationship}` });
      rows.push(...more.records);
      next = more.done ? undefined : more.nextRecordsUrl;
      if (!more.done && next === undefined) throw new CrmError('bad_response', `Salesforce ${label}: a child page is not done but has no nextRecordsUrl`, { crm: 'salesforce', code: 'SCHEMA' });
    }
    parent[relationship] = { ...sub, done: true, records: rows };
  }
}

async function planFor(deps: ChangesDeps, type: ObjectType, signal: AbortSignal): Promise<QueryPlan | null> {
  const plan = await planQuery(deps.describe, type, signal, deps.churnDateField);
  if ('absent' in plan) {
    // not a failure: this org has no such data for Rapport to read (docs/install-salesforce.md §3)
    deps.logger.info({ type, reason: plan.absent }, 'Salesforce stream skipped: not in this org or not visible to the integration user');
    return null;
  }
  if (plan.missing.length > 0) deps.logger.debug({ type, fields: plan.missing }, 'Salesforce fields not visible to the integration user: read as empty');
  if (deps.churnDateField !== undefined && plan.missing.includes(deps.churnDateField)) {
    deps.logger.warn({ type, field: deps.churnDateField, code: 'CHURN_DATE_FIELD_MISSING' }, 'the Contact field mapped as the churn date does not exist or is hidden from the integration user: no churn dates are read');
  }
  return plan;
}
