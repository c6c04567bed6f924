import { z } from 'zod';
import type { HubspotObjectType } from '../model.ts';
import { validationError } from './errors.ts';
import { createdProperty, modifiedProperty, QUERY_FIELDS, resolveObjectType } from './object-types.ts';
import type { PropertyDefinition } from './property-definitions.ts';
import { parseHubspotTime } from './property-values.ts';
import type { ColumnCondition, IndexedColumn, SandboxStorage, StoredObject } from './storage.ts';

/**
 * `POST /crm/v3/objects/{type}/search` semantics (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm): filters AND within a group,
 * groups OR; one sort; limit ≤ 200; numeric-offset `after`; `total`; and the 10,000-result cap.
 * Conditions on indexed columns (id, created, modified) are pushed down to SQL; everything is
 * also checked in JS, so the pushdown is only ever an optimisation.
 */
const OPERATORS = ['EQ', 'NEQ', 'LT', 'LTE', 'GT', 'GTE', 'BETWEEN', 'IN', 'NOT_IN', 'HAS_PROPERTY', 'NOT_HAS_PROPERTY', 'CONTAINS_TOKEN', 'NOT_CONTAINS_TOKEN'] as const;
type Operator = (typeof OPERATORS)[number];

const scalar = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));
const FilterSchema = z.object({
  propertyName: z.string().min(1),
  operator: z.enum(OPERATORS),
  value: scalar.optional(),
  highValue: scalar.optional(),
  values: z.array(scalar).optional(),
});
export const SearchRequestSchema = z.object({
  filterGroups: z.array(z.object({ filters: z.array(FilterSchema) })).optional(),
  // the client's model types sorts as string[] ("-createdate"), the docs use objects: accept both (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm)
  sorts: z
    .array(z.union([z.string(), z.object({ propertyName: z.string().min(1), direction: z.enum(['ASCENDING', 'DESCENDING']).optional() })]))
    .optional(),
  query: z.string().optional(),
  properties: z.array(z.string()).optional(),
  limit: z.number().int().optional(),
  after: z.union([z.string(), z.number()]).optional(),
});
export type SearchRequest = z.infer<typeof SearchRequestSchema>;
type Filter = z.infer<typeof FilterSchema>;

export const SEARCH_MAX_LIMIT = 200;
export const SEARCH_RESULT_CAP = 10_000;

export type SearchOutcome = { total: number; results: StoredObject[]; nextAfter?: string } | Response;

type Kind = 'number' | 'time' | 'enum' | 'bool' | 'string';

function kindOf(def: PropertyDefinition | undefined): Kind {
  switch (def?.type) {
    case 'number':
      return 'number';
    case 'date':
    case 'datetime':
      return 'time';
    case 'enumeration':
      return 'enum';
    case 'bool':
      return 'bool';
    default:
      return 'string';
  }
}

function numeric(kind: Kind, v: string): number | undefined {
  if (kind === 'time') return parseHubspotTime(v);
  if (kind === 'number') {
    const n = Number(v);
    return v.trim() === '' || Number.isNaN(n) ? undefined : n;
  }
  return undefined;
}

/** <0, 0, >0, or undefined when the two cannot be compared. Strings compare case-insensitively, enumerations exactly (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm). */
function compare(kind: Kind, a: string, b: string): number | undefined {
  if (kind === 'number' || kind === 'time') {
    const x = numeric(kind, a);
    const y = numeric(kind, b);
    return x === undefined || y === undefined ? undefined : x - y;
  }
  const [x, y] = kind === 'enum' ? [a, b] : [a.toLowerCase(), b.toLowerCase()];
  return x < y ? -1 : x > y ? 1 : 0;
}

const tokens = (text: string) => text.toLowerCase().split(/[^\p{L}\p{N}@._-]+/u).filter(Boolean);

function tokenMatch(text: string, token: string): boolean {
  const pattern = new RegExp(`^${token.toLowerCase().replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  return tokens(text).some((t) => pattern.test(t));
}

type Ctx = {
  storage: SandboxStorage;
  hubId: number;
  type: HubspotObjectType;
  definition: (name: string) => PropertyDefinition | undefined;
  /**
   * The search index trails writes by up to `lagMs` (a per-record share of it), as of `now`.
   * HubSpot: new and updated records "may take a few moments" to appear (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm,
   * https://developers.hubspot.com/docs/api/crm/search "Limitations"), reportedly up to ~30 s.
   */
  indexLag?: { now: number; lagMs: number };
};

function indexedColumn(type: HubspotObjectType, name: string): IndexedColumn | undefined {
  if (name === 'hs_object_id') return 'id';
  if (name === createdProperty(type)) return 'created_at';
  if (name === modifiedProperty(type)) return 'updated_at';
  return undefined;
}

function columnValue(column: IndexedColumn, v: string): number | undefined {
  return column === 'id' ? numeric('number', v) : parseHubspotTime(v);
}

function pushdown(type: HubspotObjectType, f: Filter): ColumnCondition[] | undefined {
  const column = indexedColumn(type, f.propertyName);
  if (column === undefined) return undefined;
  const ops: Partial<Record<Operator, Extract<ColumnCondition, { op: string }>['op']>> = { EQ: '=', NEQ: '<>', GT: '>', GTE: '>=', LT: '<', LTE: '<=' };
  const op = ops[f.operator];
  if (op !== undefined && f.value !== undefined) {
    const value = columnValue(column, f.value);
    return value === undefined ? undefined : [{ column, op, value }];
  }
  if (f.operator === 'BETWEEN' && f.value !== undefined && f.highValue !== undefined) {
    const low = columnValue(column, f.value);
    const high = columnValue(column, f.highValue);
    return low === undefined || high === undefined ? undefined : [{ column, op: '>=', value: low }, { column, op: '<=', value: high }];
  }
  if (f.operator === 'HAS_PROPERTY') return [];
  return undefined;
}

function makeMatcher(ctx: Ctx, f: Filter): (o: StoredObject) => boolean {
  const name = f.propertyName;
  // Contacts: a filter on hs_lastmodifieddate "silently fails to return objects" (a pitfall users report against https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm).
  if (ctx.type === 'contacts' && name === 'hs_lastmodifieddate') return () => false;
  if (name.startsWith('associations.')) {
    const other = resolveObjectType(name.slice('associations.'.length));
    if (other === undefined || f.value === undefined) return () => false;
    const ids = new Set(ctx.storage.associationsOf(ctx.hubId, other, f.value, ctx.type));
    return f.operator === 'NEQ' ? (o) => !ids.has(o.id) : (o) => ids.has(o.id);
  }
  const kind = kindOf(ctx.definition(name));
  const value = f.value;
  const get = (o: StoredObject): string | null => {
    const v = o.properties[name];
    return v === undefined || v === null || v === '' ? null : v;
  };
  const cmp = (o: StoredObject, test: (d: number) => boolean) => {
    const v = get(o);
    if (v === null || value === undefined) return false;
    const d = compare(kind, v, value);
    return d !== undefined && test(d);
  };
  switch (f.operator) {
    case 'EQ':
      return (o) => cmp(o, (d) => d === 0);
    case 'NEQ':
      return (o) => get(o) === null || cmp(o, (d) => d !== 0);
    case 'GT':
      return (o) => cmp(o, (d) => d > 0);
    case 'GTE':
      return (o) => cmp(o, (d) => d >= 0);
    case 'LT':
      return (o) => cmp(o, (d) => d < 0);
    case 'LTE':
      return (o) => cmp(o, (d) => d <= 0);
    case 'BETWEEN': {
      const high = f.highValue;
      return (o) => {
        const v = get(o);
        if (v === null || value === undefined || high === undefined) return false;
        const lo = compare(kind, v, value);
        const hi = compare(kind, v, high);
        return lo !== undefined && hi !== undefined && lo >= 0 && hi <= 0;
      };
    }
    case 'IN':
    case 'NOT_IN': {
      const values = f.values ?? [];
      const inList = (o: StoredObject) => {
        const v = get(o);
        return v !== null && values.some((x) => compare(kind, v, x) === 0);
      };
      return f.operator === 'IN' ? inList : (o) => !inList(o);
    }
    case 'HAS_PROPERTY':
      return (o) => get(o) !== null;
    case 'NOT_HAS_PROPERTY':
      return (o) => get(o) === null;
    case 'CONTAINS_TOKEN':
      return (o) => {
        const v = get(o);
        return v !== null && value !== undefined && tokenMatch(v, value);
      };
    case 'NOT_CONTAINS_TOKEN':
      return (o) => {
        const v = get(o);
        return v === null || value === undefined || !tokenMatch(v, value);
      };
  }
}

function validate(req: SearchRequest): Response | { limit: number; after: number } {
  const groups = req.filterGroups ?? [];
  // Limits per https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm (5 groups, 6 filters per group, 18 in total; partly UNCONFIRMED).
  if (groups.length > 5) return validationError(`Too many filter groups: ${groups.length}. The maximum is 5.`);
  let total = 0;
  for (const g of groups) {
    if (g.filters.length > 6) return validationError(`Too many filters in a filter group: ${g.filters.length}. The maximum is 6.`);
    total += g.filters.length;
    for (const f of g.filters) {
      const needsValue = !['HAS_PROPERTY', 'NOT_HAS_PROPERTY', 'IN', 'NOT_IN'].includes(f.operator);
      if (needsValue && f.value === undefined) return validationError(`Filter on ${f.propertyName} with operator ${f.operator} needs a value.`);
      if (f.operator === 'BETWEEN' && f.highValue === undefined) return validationError(`BETWEEN filter on ${f.propertyName} needs a highValue.`);
      if ((f.operator === 'IN' || f.operator === 'NOT_IN') && (f.values === undefined || f.values.length === 0)) {
        return validationError(`${f.operator} filter on ${f.propertyName} needs values.`);
      }
      // sending a value with NOT_HAS_PROPERTY is an error (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm)
      if ((f.operator === 'NOT_HAS_PROPERTY' || f.operator === 'HAS_PROPERTY') && f.value !== undefined) {
        return validationError(`Filter on ${f.propertyName} with operator ${f.operator} must not have a value.`);
      }
    }
  }
  if (total > 18) return validationError(`Too many filters: ${total}. The maximum is 18 across all filter groups.`);
  if ((req.query ?? '').length > 3000) return validationError('The query is longer than 3000 characters.');
  const limit = req.limit ?? 10;
  if (limit < 0 || limit > SEARCH_MAX_LIMIT) return validationError(`limit must be between 0 and ${SEARCH_MAX_LIMIT}, got ${limit}.`);
  const afterText = req.after === undefined || req.after === '' ? '0' : String(req.after);
  if (!/^\d+$/.test(afterText)) return validationError(`You must format the value in the after parameter as an integer, got ${JSON.stringify(afterText)}.`);
  const after = Number(afterText);
  // "limited to 10,000 total results for any given query. Attempting to page beyond 10,000 will
  // result in a 400 error" (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm); the body text is UNCONFIRMED.
  if (after + limit > SEARCH_RESULT_CAP) {
    return validationError(`Search results are limited to ${SEARCH_RESULT_CAP} total results for any given query; after (${after}) + limit (${limit}) exceeds it.`, {
      subCategory: 'SearchError.RESULT_WINDOW_EXCEEDED',
      context: { after: [String(after)], limit: [String(limit)] },
    });
  }
  return { limit, after };
}

export function runSearch(ctx: Ctx, req: SearchRequest): SearchOutcome {
  const v = validate(req);
  if (v instanceof Response) return v;
  const { limit, after } = v;
  const { storage, hubId, type } = ctx;
  const groups = (req.filterGroups ?? []).filter((g) => g.filters.length > 0);

  // the one sort honoured (the first); default: by creation, oldest first (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm)
  const first = req.sorts?.[0];
  const sort =
    first === undefined
      ? { propertyName: createdProperty(type), descending: false }
      : typeof first === 'string'
        ? { propertyName: first.replace(/^-/, ''), descending: first.startsWith('-') }
        : { propertyName: first.propertyName, descending: first.direction === 'DESCENDING' };
  const sortColumn = type === 'contacts' && sort.propertyName === 'hs_lastmodifieddate' ? 'updated_at' : indexedColumn(type, sort.propertyName);

  const singleGroup = groups.length === 1 ? (groups[0]?.filters ?? []) : groups.length === 0 ? [] : undefined;
  const pushed = singleGroup?.map((f) => pushdown(type, f));
  const conditions = (pushed ?? []).flatMap((p) => p ?? []);
  if (ctx.indexLag !== undefined) conditions.push({ column: 'indexed_by', lagMs: ctx.indexLag.lagMs, value: ctx.indexLag.now });
  const query = req.query?.trim() ?? '';
  const fullyPushed = pushed !== undefined && pushed.every((p) => p !== undefined) && query === '';

  if (fullyPushed && sortColumn !== undefined) {
    const total = storage.countWhere(hubId, type, conditions);
    const results = limit === 0 ? [] : storage.pageWhere(hubId, type, { orderBy: sortColumn, descending: sort.descending, conditions, offset: after, limit });
    return after + limit < total ? { total, results, nextAfter: String(after + limit) } : { total, results };
  }

  const matchers = groups.map((g) => g.filters.map((f) => makeMatcher(ctx, f)));
  const queryLower = query.toLowerCase();
  const queryFields = QUERY_FIELDS[type];
  const matches = (o: StoredObject) =>
    (matchers.length === 0 || matchers.some((group) => group.every((m) => m(o)))) &&
    (queryLower === '' || queryFields.some((field) => (o.properties[field] ?? '').toLowerCase().includes(queryLower)));

  const scanOpts = { orderBy: sortColumn ?? ('id' as const), descending: sortColumn === undefined ? false : sort.descending, conditions };
  if (sortColumn !== undefined) {
    // stream in sort order: keep only the requested page, count the rest
    let total = 0;
    const results: StoredObject[] = [];
    for (const o of storage.scan(hubId, type, scanOpts)) {
      if (!matches(o)) continue;
      if (total >= after && results.length < limit) results.push(o);
      total++;
    }
    return after + limit < total ? { total, results, nextAfter: String(after + limit) } : { total, results };
  }
  // sort on a non-indexed property: gather the matches (small portals), sort, slice
  const all: StoredObject[] = [];
  for (const o of storage.scan(hubId, type, scanOpts)) if (matches(o)) all.push(o);
  const kind = kindOf(ctx.definition(sort.propertyName));
  all.sort((a, b) => {
    const x = a.properties[sort.propertyName] ?? null;
    const y = b.properties[sort.propertyName] ?? null;
    if (x === null || y === null) return x === y ? Number(a.id) - Number(b.id) : x === null ? 1 : -1;
    const d = (compare(kind, x, y) ?? 0) * (sort.descending ? -1 : 1);
    return d !== 0 ? d : Number(a.id) - Number(b.id);
  });
  const total = all.length;
  const results = all.slice(after, after + limit);
  return after + limit < total ? { total, results, nextAfter: String(after + limit) } : { total, results };
}
