import { CrmError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { parseTime } from '../clean.ts';
import type { CrmRecord, Cursor, ObjectType, Page } from '../types.ts';
import { fetchAssociations, fromInline, needsMore, type AssocMap } from './associations.ts';
import { decodeCursor, encodeCursor, type HubspotCursorState } from './cursor.ts';
import type { HubspotHttp } from './http.ts';
import { ASSOCIATIONS, modifiedProperty, propertiesFor, toRecord, type MappedProperties } from './mapping.ts';
import { BatchRead, ListPage, SearchPage, type HsObject } from './schemas.ts';

export type ChangesContext = {
  http: HubspotHttp;
  portal: () => Promise<string>;
  now: () => number;
  logger: Logger;
  /** list page size, ≤ 100 (https://developers.hubspot.com/docs/guides/crm/using-object-apis) */
  pageSize: number;
  /** search page size, ≤ 200 (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm) */
  searchPageSize: number;
  /** re-read from `since - lookbackMs` at the start of each incremental pass: search indexing lags (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm) */
  lookbackMs: number;
  /** how often the full re-list runs to pick up association changes (https://github.com/airbytehq/airbyte/issues/27199) */
  sweepEveryMs: number;
  /** minimum time between two listings of archived records in incremental passes (0 = every pass) */
  deletionsEveryMs: number;
  /**
   * Every `deepEveryMs` (0 = never) a pass re-searches the last `deepLookbackMs` instead of the
   * last `lookbackMs`: a change the index showed later than the lookback, which the bookmark has
   * passed, is read then, not at the next full re-list (lags up to deepLookbackMs − deepEveryMs).
   */
  deepEveryMs: number;
  deepLookbackMs: number;
  flag: (r: CrmRecord) => void;
  /** the portal's properties mapped onto our fields (a churn date) */
  mapped: MappedProperties;
};

/**
 * `changes(type, cursor)`: backfill = list (associations inline) → archived list → search;
 * incremental = search windows (+ archived listing, + periodic sweep). See cursor.ts for phases.
 * Every yielded page carries the cursor to resume AFTER it; resuming may repeat a boundary page,
 * never skip one.
 */
export async function* hubspotChanges(ctx: ChangesContext, type: ObjectType, cursor: Cursor | null, signal: AbortSignal): AsyncGenerator<Page> {
  const log = ctx.logger.child({ stream: type });
  let state = initialState(ctx, cursor, log);
  const portal = await ctx.portal();
  const passNow = ctx.now();
  // A search cursor that is "caught up" starts a new pass, or a sweep when one is due.
  if (state.phase === 'search' && state.afterId === null && passNow - state.sweptAt >= ctx.sweepEveryMs) {
    log.info({ lastSweep: new Date(state.sweptAt).toISOString() }, 'association sweep: re-listing');
    state = { phase: 'list', after: null, startedAt: passNow, deletedSince: Math.max(0, state.deletionsAt - ctx.lookbackMs) };
  } else if (state.phase === 'search' && state.afterId === null && ctx.deepEveryMs > 0 && passNow - (state.deepAt ?? state.sweptAt) >= ctx.deepEveryMs) {
    // HubSpot's index may show a change later than the lookback (https://developers.hubspot.com/docs/api/crm/search):
    // the bookmark has passed it, so this pass searches a longer window back
    log.debug({ from: new Date(passNow - ctx.deepLookbackMs).toISOString() }, 're-searching a longer window for late-indexed changes');
    state = { ...state, since: Math.min(state.since, Math.max(0, passNow - ctx.deepLookbackMs)), deepAt: passNow };
  }
  const passStart = state.phase === 'search' ? state.since : 0;
  // Page totals are for the whole call (progress bars show records read / total): a search's
  // `total` counts only what still matches from the current bookmark, so the records already
  // read in this call are added to it.
  let read = 0;
  const passTotal = (remaining: number | undefined) => (remaining === undefined ? {} : { total: read + remaining });

  while (true) {
    signal.throwIfAborted();
    if (state.phase === 'list') {
      // The count (a search: its own lane, https://developers.hubspot.com/docs/api/usage-details)
      // goes beside the first list page rather than before it: a backfill's first page, and so
      // the start of its rate-limit window, comes a round trip sooner.
      const counting = state.total === undefined ? countLive(ctx, type, signal) : undefined;
      // a failed list page is what the pass reports; the count's own failure is then moot
      counting?.catch(() => undefined);
      const { objects, after } = await listPage(ctx, type, state.after, false, signal);
      const counted = await counting;
      if (counted !== undefined) state = { ...state, total: counted };
      const records = await toRecords(ctx, portal, type, objects, true, signal);
      const total = state.total;
      const next: HubspotCursorState =
        after !== null
          ? { ...state, after }
          : {
              phase: 'archived',
              after: null,
              deletedSince: state.deletedSince,
              then: { since: Math.max(0, state.startedAt - ctx.lookbackMs), sweptAt: state.startedAt, deletionsAt: state.startedAt, deepAt: state.startedAt },
            };
      yield { records, next: encodeCursor(next), ...(total === undefined ? {} : { total }) };
      read += records.length;
      state = next;
      continue;
    }
    if (state.phase === 'archived') {
      const { objects, after } = await listPage(ctx, type, state.after, true, signal);
      const since = state.deletedSince;
      const gone = since === null ? objects : objects.filter((o) => (parseTime(o.archivedAt ?? null) ?? parseTime(o.updatedAt) ?? 0) >= since);
      const records = gone.map((o) => toRecord(portal, type, { ...o, archived: true }, {}, ctx.now(), ctx.mapped));
      const next: HubspotCursorState =
        after !== null
          ? { ...state, after }
          : {
              phase: 'search',
              since: state.then.since,
              afterId: null,
              sweptAt: state.then.sweptAt,
              deletionsAt: state.then.deletionsAt,
              ...(state.then.deepAt === undefined ? {} : { deepAt: state.then.deepAt }),
            };
      yield { records, next: encodeCursor(next) };
      read += records.length;
      state = next;
      if (after === null) return;
      continue;
    }
    // search
    const page = await searchPage(ctx, type, state.since, state.afterId, signal);
    const records = await toRecords(ctx, portal, type, page.objects, false, signal);
    const full = page.objects.length >= ctx.searchPageSize;
    let next: HubspotCursorState;
    if (state.afterId !== null) {
      // inside a same-timestamp run, keyset on id; when it is exhausted move strictly past the timestamp
      const last = page.objects.at(-1);
      next = full && last !== undefined ? { ...state, afterId: last.id } : { ...state, since: state.since + 1, afterId: null };
    } else {
      const maxT = Math.max(state.since, ...page.objects.map((o) => modifiedOf(type, o)));
      if (full && maxT === state.since) {
        // a whole page shares one timestamp (bulk edit): page that timestamp by id, so >10,000 of them complete (https://github.com/HubSpot/hubspot-api-nodejs/issues/132)
        next = { ...state, afterId: '0' };
        yield { records, next: encodeCursor(next), ...passTotal(page.total) };
        read += records.length;
        state = next;
        continue;
      }
      next = { ...state, since: maxT };
    }
    // a finished same-timestamp run is not the end: records modified after it come next
    const more = full || next.afterId !== null || state.afterId !== null;
    if (!more) {
      // End of the pass. Search indexing lags (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm), so the bookmark never passes
      // "now − lookback": the next pass re-reads only what changed in that recent window
      // (bookmark = min(max modified seen, pass start − lag), as Singer's tap-hubspot does).
      next = { ...next, since: Math.max(passStart, Math.min(next.since, passNow - ctx.lookbackMs)) };
      const now = ctx.now();
      if (now - state.deletionsAt >= ctx.deletionsEveryMs) {
        // The pass is done; list what was archived since the pass began (search never returns archived records, https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm).
        const archived: HubspotCursorState = {
          phase: 'archived',
          after: null,
          deletedSince: Math.max(0, Math.min(passStart, state.deletionsAt) - ctx.lookbackMs),
          then: { since: next.since, sweptAt: next.sweptAt, deletionsAt: now, ...(next.deepAt === undefined ? {} : { deepAt: next.deepAt }) },
        };
        yield { records, next: encodeCursor(archived), ...passTotal(page.total) };
        read += records.length;
        state = archived;
        continue;
      }
    }
    yield { records, next: encodeCursor(next), ...passTotal(page.total) };
    read += records.length;
    state = next;
    if (!more) return;
  }
}

function initialState(ctx: ChangesContext, cursor: Cursor | null, log: Logger): HubspotCursorState {
  const now = ctx.now();
  // A first backfill only needs tombstones for what is archived while it runs: records archived
  // before we ever saw them have nothing to delete in the cache.
  if (cursor === null) return { phase: 'list', after: null, startedAt: now, deletedSince: Math.max(0, now - ctx.lookbackMs) };
  const d = decodeCursor(cursor);
  if (d.ok) return d.state;
  // We do not know what the cache saw: re-list everything, and every archived record as a tombstone.
  log.warn({ phase: d.phase, reason: d.reason }, 'undecodable cursor: restarting from a full list (idempotent, nothing skipped)');
  return { phase: 'list', after: null, startedAt: now, deletedSince: null };
}

function modifiedOf(type: ObjectType, o: HsObject): number {
  return parseTime(o.properties[modifiedProperty(type)] ?? null) ?? parseTime(o.updatedAt) ?? 0;
}

/**
 * The list API does not say how many records there are; one search with `limit: 1` does
 * (`total`), on the search lane so it costs the ten-secondly budget nothing (https://developers.hubspot.com/docs/api/usage-details).
 * Best effort: a count that fails leaves the progress bar without a total, never fails the sync.
 */
async function countLive(ctx: ChangesContext, type: ObjectType, signal: AbortSignal): Promise<number | undefined> {
  try {
    const body = { filterGroups: [], properties: ['hs_object_id'], limit: 1, after: '0' };
    const res = await ctx.http.request({ method: 'POST', path: `/crm/v3/objects/${type}/search`, body, lane: 'search', schema: SearchPage, signal });
    return res.body.total;
  } catch (e) {
    if (e instanceof CrmError && (e.kind === 'auth' || e.kind === 'forbidden')) throw e;
    if (!(e instanceof CrmError)) throw e;
    ctx.logger.debug({ stream: type, kind: e.kind }, 'could not count records for progress');
    return undefined;
  }
}

async function listPage(ctx: ChangesContext, type: ObjectType, after: string | null, archived: boolean, signal: AbortSignal) {
  const query: [string, string][] = [['limit', String(ctx.pageSize)]];
  if (after !== null) query.push(['after', after]);
  if (archived) {
    query.push(['properties', modifiedProperty(type)]);
  } else {
    for (const p of propertiesFor(type, ctx.mapped)) query.push(['properties', p]);
    const assoc = ASSOCIATIONS[type];
    if (assoc.length > 0) query.push(['associations', assoc.join(',')]);
  }
  query.push(['archived', String(archived)]);
  const { body } = await ctx.http.request({ method: 'GET', path: `/crm/v3/objects/${type}`, query, schema: ListPage, signal });
  return { objects: body.results, after: body.paging?.next?.after ?? null };
}

async function searchPage(ctx: ChangesContext, type: ObjectType, since: number, afterId: string | null, signal: AbortSignal) {
  const mod = modifiedProperty(type);
  // One sort only is honoured (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm): by modified normally, by id inside a same-timestamp run.
  const filters =
    afterId === null
      ? [{ propertyName: mod, operator: 'GTE', value: String(since) }]
      : [
          { propertyName: mod, operator: 'EQ', value: String(since) },
          { propertyName: 'hs_object_id', operator: 'GT', value: afterId },
        ];
  const body = {
    filterGroups: [{ filters }],
    sorts: [{ propertyName: afterId === null ? mod : 'hs_object_id', direction: 'ASCENDING' }],
    properties: propertiesFor(type, ctx.mapped),
    limit: ctx.searchPageSize,
    after: '0',
  };
  const res = await ctx.http.request({ method: 'POST', path: `/crm/v3/objects/${type}/search`, body, lane: 'search', schema: SearchPage, signal });
  return { objects: res.body.results, total: res.body.total };
}

/**
 * Every live id of a type: the list API with only `hs_object_id`, 100 a page, no associations
 * (1 call per 100 records). GDPR deletes and purges leave no archived entry (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm;
 * https://knowledge.hubspot.com/privacy-and-consent/how-do-i-perform-a-gdpr-delete-in-hubspot),
 * so only a listing of what exists shows they are gone.
 */
export async function* liveIds(ctx: ChangesContext, type: ObjectType, signal: AbortSignal): AsyncGenerator<string[]> {
  let after: string | null = null;
  do {
    const query: [string, string][] = [['limit', '100'], ['properties', 'hs_object_id'], ['archived', 'false']];
    if (after !== null) query.push(['after', after]);
    const { body } = await ctx.http.request({ method: 'GET', path: `/crm/v3/objects/${type}`, query, schema: ListPage, signal });
    yield body.results.map((o) => o.id);
    after = body.paging?.next?.after ?? null;
  } while (after !== null);
}

/**
 * These records as they are now, with their associations (v3 batch read ≤ 100 ids a call, then
 * v4 associations). Ids HubSpot reports missing (207 OBJECT_NOT_FOUND) are left out.
 */
export async function readRecords(ctx: ChangesContext, type: ObjectType, ids: readonly string[], signal: AbortSignal): Promise<CrmRecord[]> {
  const portal = await ctx.portal();
  const out: CrmRecord[] = [];
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += 100) {
    const inputs = unique.slice(i, i + 100).map((id) => ({ id }));
    const { body } = await ctx.http.request({
      method: 'POST',
      path: `/crm/v3/objects/${type}/batch/read`,
      query: [['archived', 'false']],
      body: { inputs, properties: propertiesFor(type, ctx.mapped), propertiesWithHistory: [] },
      schema: BatchRead,
      signal,
    });
    out.push(...(await toRecords(ctx, portal, type, body.results, false, signal)));
  }
  return out;
}

/**
 * Objects → records, fetching associations the call could not inline (v4 batch read, ≤1,000 ids a
 * call): all of them after a search, only capped inline lists after a list. A list result with no
 * `associations` key for a type simply has none (HubSpot leaves empty types out, https://developers.hubspot.com/docs/guides/crm/using-object-apis).
 */
async function toRecords(
  ctx: ChangesContext,
  portal: string,
  type: ObjectType,
  objects: HsObject[],
  inlined: boolean,
  signal: AbortSignal,
): Promise<CrmRecord[]> {
  const now = ctx.now();
  const assoc: AssocMap = new Map();
  for (const toType of ASSOCIATIONS[type]) {
    const missing: string[] = [];
    for (const o of objects) {
      if (!inlined || needsMore(o.associations, toType)) missing.push(o.id);
      else mergeInto(assoc, o.id, toType, fromInline(type, o.associations ?? {}, toType));
    }
    if (missing.length > 0) {
      const fetched = await fetchAssociations(ctx.http, type, toType, missing, signal);
      for (const id of missing) mergeInto(assoc, id, toType, fetched.get(id) ?? []);
    }
  }
  return objects.map((o) => {
    const r = toRecord(portal, type, o, assoc.get(o.id) ?? {}, now, ctx.mapped);
    ctx.flag(r);
    return r;
  });
}

function mergeInto(map: AssocMap, id: string, toType: 'contacts' | 'companies', links: { id: string; primary: boolean }[]) {
  const entry = map.get(id) ?? {};
  if (toType === 'contacts') entry.contacts = links.map((l) => l.id);
  else entry.companies = links;
  map.set(id, entry);
}
