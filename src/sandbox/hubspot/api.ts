import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { HubspotObjectType } from '../model.ts';
import { HUBSPOT_OBJECT_TYPES } from '../model.ts';
import { associationLabel, associationTypeInfo, typeKey, v3AssociationTypeNames } from './association-types.ts';
import {
  hubspotError,
  missingScopes,
  notImplemented,
  objectNotFound,
  propertyValuesInvalid,
  validationError,
  type PropertyProblem,
} from './errors.ts';
import { isKnownButUnemulated, isReadOnlyType, propertyReadScopeOptions, propertyWriteScopeOptions, recordScopes, resolveObjectType } from './object-types.ts';
import type { PropertyRegistry } from './properties.ts';
import { defaultGroupName, definitionFrom, FIELD_TYPES_BY_TYPE, PROPERTY_TYPES, type PropertyDefinition } from './property-definitions.ts';
import { normalizePropertyValue } from './property-values.ts';
import { isoTime, jsonResponse, noContent } from './responses.ts';
import { runSearch, SearchRequestSchema } from './search.ts';
import type { SandboxStorage, StoredObject } from './storage.ts';
import type { WriteCounts } from './write-counts.ts';
import { queryBoolean, queryList, readBody, selectProperties, simplePublicObject, wireGroup, wireProperty } from './wire.ts';
import type { Clock } from './clock.ts';

/**
 * The HubSpot CRM routes the sandbox emulates (https://developers.hubspot.com/docs/guides/crm/using-object-apis): objects v3 (list, get, batch read,
 * batch update, search), associations v4 (batch read, per-record list) and properties v3
 * (definitions and groups). Authentication, limits and faults run before these (app.ts); the
 * handlers see an authenticated `hubId` and its scopes.
 */
export type ApiEnv = { Variables: { hubId: number; scopes: readonly string[] } };

export const LIST_MAX_LIMIT = 100;
export const BATCH_MAX_INPUTS = 100;
export const ASSOCIATION_BATCH_MAX_INPUTS = 1_000;
/** Page size of one from-object's associations in v4 (the single-record GET's documented default, https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associate-records/guide). */
export const ASSOCIATION_PAGE_SIZE = 500;
/**
 * Associations embedded in a v3 list or read are capped at 100 ids per type and record, with a
 * `paging.next` for the rest, which only the v4 API can fetch (https://github.com/HubSpot/hubspot-api-python/issues/135: "v3 … capped
 * (~100)", https://github.com/HubSpot/hubspot-api-python/issues/187; the v3 spec gives
 * `associations.<type>` a `paging` object, CRM/Objects v3 `CollectionResponseAssociatedId`).
 */
export const INLINE_ASSOCIATION_PAGE_SIZE = 100;

/** Knobs tests turn to make HubSpot fail in ways it really can (never on by default). */
export type ApiBehaviour = {
  /** from-ids whose v4 association batch read fails per input with a real (not "no associations") error */
  associationReadFailures: Set<string>;
  /**
   * How batch update answers ids it cannot update (missing, archived or merged away). HubSpot's
   * behaviour is not documented and reports differ, so the sandbox can do each:
   * `multi-status` 207 with per-input errors (the spec's BatchResponse…WithErrors, https://developers.hubspot.com/docs/guides/crm/using-object-apis);
   * `reject-naming` the whole batch fails 400 naming the ids in `context.ids`, nothing written;
   * `reject-silent` the whole batch fails 404 without naming them, nothing written.
   */
  batchUpdateMissing: BatchUpdateMissingMode;
  /** how far the search index trails writes (ms); 0 = searchable at once */
  searchLagMs: number;
};

export type BatchUpdateMissingMode = 'multi-status' | 'reject-naming' | 'reject-silent';

const encodeAfter = (id: number) => Buffer.from(String(id)).toString('base64url');

/** Our list cursors are base64url of the last id; a plain number is read as "ids above it". */
function decodeAfter(after: string | undefined): number | undefined {
  if (after === undefined || after === '') return -1;
  if (/^\d+$/.test(after)) return Number(after) - 1;
  const text = Buffer.from(decodeURIComponent(after), 'base64url').toString('utf8').trim();
  return /^\d{1,15}$/.test(text) ? Number(text) : undefined;
}

function hasScopes(granted: readonly string[], alternatives: readonly (readonly string[])[]): boolean {
  return alternatives.some((needed) => needed.every((s) => granted.includes(s)));
}

const BatchReadSchema = z.object({
  inputs: z.array(z.object({ id: z.string().min(1) })),
  properties: z.array(z.string()).optional(),
  propertiesWithHistory: z.array(z.string()).optional(),
  idProperty: z.string().optional(),
});
const propertyValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const BatchUpdateSchema = z.object({
  inputs: z.array(
    z.object({
      id: z.string().min(1),
      properties: z.record(z.string(), propertyValue),
      idProperty: z.string().optional(),
      objectWriteTraceId: z.string().optional(),
    }),
  ),
});
const CreateSchema = z.object({
  properties: z.record(z.string(), propertyValue),
  associations: z
    .array(z.object({ to: z.object({ id: z.string().min(1) }), types: z.array(z.object({ associationCategory: z.string(), associationTypeId: z.number().int() })) }))
    .optional(),
});
const PatchSchema = z.object({ properties: z.record(z.string(), propertyValue) });
const AssociationBatchSchema = z.object({ inputs: z.array(z.object({ id: z.string().min(1), after: z.string().optional() })) });
const PropertyCreateSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'name must start with a letter and use lower-case letters, digits and underscores'),
  label: z.string().min(1),
  type: z.enum(PROPERTY_TYPES),
  fieldType: z.string().min(1),
  groupName: z.string().min(1),
  description: z.string().optional(),
  options: z
    .array(z.object({ label: z.string(), value: z.string(), hidden: z.boolean().optional(), displayOrder: z.number().int().optional(), description: z.string().optional() }))
    .optional(),
  displayOrder: z.number().int().optional(),
  hasUniqueValue: z.boolean().optional(),
  hidden: z.boolean().optional(),
  formField: z.boolean().optional(),
  externalOptions: z.boolean().optional(),
  calculationFormula: z.string().optional(),
  referencedObjectType: z.string().optional(),
  numberDisplayHint: z.enum(['unformatted', 'formatted', 'currency', 'percentage', 'duration', 'probability']).optional(),
  textDisplayHint: z.string().optional(),
  showCurrencySymbol: z.boolean().optional(),
  currencyPropertyName: z.string().optional(),
  dataSensitivity: z.enum(['non_sensitive', 'sensitive', 'highly_sensitive']).optional(),
});
const GroupCreateSchema = z.object({ name: z.string().regex(/^[a-z][a-z0-9_]*$/), label: z.string().min(1), displayOrder: z.number().int().optional() });

export function createApiRoutes(deps: { storage: SandboxStorage; properties: PropertyRegistry; clock: Clock; behaviour?: ApiBehaviour; writeCounts?: WriteCounts }): Hono<ApiEnv> {
  const { storage, properties, clock } = deps;
  const behaviour: ApiBehaviour = deps.behaviour ?? { associationReadFailures: new Set<string>(), batchUpdateMissing: 'multi-status', searchLagMs: 0 };
  const api = new Hono<ApiEnv>();

  /** Resolves `:type` and checks scopes; a Response is the error to send. */
  const objectType = (c: Context<ApiEnv>, access: 'read' | 'write'): HubspotObjectType | Response => {
    const raw = c.req.param('type') ?? '';
    const type = resolveObjectType(raw);
    if (type === undefined) {
      if (isKnownButUnemulated(raw)) return notImplemented(c.req.method, c.req.path);
      return validationError(`Unable to infer object type from: ${raw}`);
    }
    if (access === 'write' && isReadOnlyType(type)) return notImplemented(c.req.method, c.req.path);
    const needed = recordScopes(type, access);
    if (!hasScopes(c.get('scopes'), [needed])) return missingScopes(needed);
    return type;
  };

  /** A list page's inline associations read up front, per wanted type, in one query each. */
  type Prefetched = Map<HubspotObjectType, Map<string, Array<{ toId: number; typeKeys: number[] }>>>;
  const prefetchAssociations = (hubId: number, type: HubspotObjectType, objs: readonly StoredObject[], wanted: readonly string[] | undefined): Prefetched | undefined => {
    if (wanted === undefined || wanted.length === 0 || objs.length === 0) return undefined;
    const out: Prefetched = new Map();
    for (const name of wanted) {
      const toType = resolveObjectType(name);
      if (toType !== undefined && !out.has(toType)) out.set(toType, storage.associationRowsOf(hubId, type, objs.map((o) => o.id), toType, INLINE_ASSOCIATION_PAGE_SIZE + 1));
    }
    return out;
  };

  const embedAssociations = (hubId: number, obj: StoredObject, wanted: readonly string[], prefetched?: Prefetched): Record<string, unknown> | Response => {
    const out: Record<string, unknown> = {};
    for (const name of wanted) {
      const toType = resolveObjectType(name);
      // "If any of the specified associations do not exist, they will be ignored" (the
      // `associations` parameter of GET /crm/v3/objects/{objectType}, CRM/Objects v3 spec,
      // https://developers.hubspot.com/docs/api-reference/crm-objects-v3/basic/get-crm-v3-objects-objectType)
      if (toType === undefined) continue;
      const rows = prefetched === undefined ? storage.associationRows(hubId, obj.type, obj.id, toType, -1, INLINE_ASSOCIATION_PAGE_SIZE + 1) : (prefetched.get(toType)?.get(obj.id) ?? []);
      const page = rows.slice(0, INLINE_ASSOCIATION_PAGE_SIZE);
      const names = v3AssociationTypeNames(obj.type, toType);
      const results: Array<{ id: string; type: string }> = [];
      for (const r of page) {
        for (const k of r.typeKeys) {
          const type = names.get(k);
          if (type !== undefined) results.push({ id: String(r.toId), type });
        }
      }
      // HubSpot leaves out object types with no associations (https://developers.hubspot.com/docs/guides/crm/using-object-apis)
      if (results.length === 0) continue;
      const collection: Record<string, unknown> = { results };
      const last = page.at(-1);
      if (rows.length > INLINE_ASSOCIATION_PAGE_SIZE && last !== undefined) {
        const after = encodeAfter(last.toId);
        collection.paging = { next: { after, link: `/crm/v4/objects/${obj.type}/${obj.id}/associations/${toType}?after=${after}` } };
      }
      out[toType] = collection;
    }
    return out;
  };

  const withAssociations = (hubId: number, obj: StoredObject, props: Record<string, string | null>, wanted: readonly string[] | undefined, prefetched?: Prefetched): Record<string, unknown> | Response => {
    const wire = simplePublicObject(obj, props);
    if (wanted === undefined || wanted.length === 0) return wire;
    const associations = embedAssociations(hubId, obj, wanted, prefetched);
    if (associations instanceof Response) return associations;
    if (Object.keys(associations).length > 0) wire.associations = associations;
    return wire;
  };

  // ---- objects v3 ------------------------------------------------------------------------

  api.get('/crm/v3/objects/:type', (c) => {
    const type = objectType(c, 'read');
    if (type instanceof Response) return type;
    if (c.req.query('propertiesWithHistory') !== undefined) return notImplemented(c.req.method, `${c.req.path}?propertiesWithHistory`);
    const hubId = c.get('hubId');
    const limitText = c.req.query('limit') ?? '10';
    const limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1 || limit > LIST_MAX_LIMIT) {
      return validationError(`limit must be an integer between 1 and ${LIST_MAX_LIMIT}, got ${JSON.stringify(limitText)}.`);
    }
    const afterId = decodeAfter(c.req.query('after'));
    if (afterId === undefined) return validationError(`Invalid paging cursor: ${JSON.stringify(c.req.query('after'))}`);
    const archived = queryBoolean(c, 'archived');
    if (archived instanceof Response) return archived;
    const requested = queryList(c, 'properties');
    const wanted = queryList(c, 'associations');
    const rows = storage.listPage(hubId, type, { archived, afterId, limit: limit + 1 });
    const page = rows.slice(0, limit);
    const results: unknown[] = [];
    const prefetched = prefetchAssociations(hubId, type, page, wanted);
    for (const obj of page) {
      const wire = withAssociations(hubId, obj, selectProperties(type, obj.properties, requested), wanted, prefetched);
      if (wire instanceof Response) return wire;
      results.push(wire);
    }
    const body: Record<string, unknown> = { results };
    const last = page.at(-1);
    if (rows.length > limit && last !== undefined) {
      const after = encodeAfter(Number(last.id));
      body.paging = { next: { after, link: `${new URL(c.req.url).origin}${c.req.path}?after=${after}` } };
    }
    return jsonResponse(200, body);
  });

  api.get('/crm/v3/objects/:type/:id', (c) => {
    const type = objectType(c, 'read');
    if (type instanceof Response) return type;
    if (c.req.query('propertiesWithHistory') !== undefined) return notImplemented(c.req.method, `${c.req.path}?propertiesWithHistory`);
    const hubId = c.get('hubId');
    const archived = queryBoolean(c, 'archived');
    if (archived instanceof Response) return archived;
    const id = c.req.param('id');
    const idProperty = c.req.query('idProperty');
    const obj = idProperty === undefined || idProperty === 'hs_object_id' ? storage.getStored(hubId, type, id, archived) : findByProperty(hubId, type, idProperty, id, archived);
    if (obj === undefined) return objectNotFound(id);
    const wire = withAssociations(hubId, obj, selectProperties(type, obj.properties, queryList(c, 'properties')), queryList(c, 'associations'));
    return wire instanceof Response ? wire : jsonResponse(200, wire);
  });

  /** Unique-property lookups (idProperty); a scan, fine for the emails of test portals. */
  const findByProperty = (hubId: number, type: HubspotObjectType, name: string, value: string, archived: boolean): StoredObject | undefined => {
    const row = storage.db
      .prepare<[number, string, number, string, string], { id: number }>(
        `SELECT id FROM objects WHERE hub_id = ? AND type = ? AND archived = ? AND json_extract(properties, '$."' || ? || '"') = ? LIMIT 1`,
      )
      .get(hubId, type, archived ? 1 : 0, name, value);
    return row === undefined ? undefined : storage.getStored(hubId, type, String(row.id));
  };

  const batchTimes = (startedAt: number) => ({ startedAt: isoTime(startedAt), completedAt: isoTime(clock.now()) });

  api.post('/crm/v3/objects/:type/batch/read', async (c) => {
    const type = objectType(c, 'read');
    if (type instanceof Response) return type;
    const startedAt = clock.now();
    const body = await readBody(c, BatchReadSchema);
    if (body instanceof Response) return body;
    if (body.propertiesWithHistory !== undefined && body.propertiesWithHistory.length > 0) return notImplemented(c.req.method, `${c.req.path} (propertiesWithHistory)`);
    if (body.inputs.length > BATCH_MAX_INPUTS) return validationError(`Batch input is limited to ${BATCH_MAX_INPUTS} inputs, got ${body.inputs.length}.`);
    const archived = queryBoolean(c, 'archived');
    if (archived instanceof Response) return archived;
    const hubId = c.get('hubId');
    const results: unknown[] = [];
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const { id } of body.inputs) {
      if (seen.has(id)) continue;
      seen.add(id);
      const obj =
        body.idProperty === undefined || body.idProperty === 'hs_object_id' ? storage.getStored(hubId, type, id, archived) : findByProperty(hubId, type, body.idProperty, id, archived);
      if (obj === undefined) missing.push(id);
      else results.push(simplePublicObject(obj, selectProperties(type, obj.properties, body.properties)));
    }
    if (missing.length === 0) return jsonResponse(200, { status: 'COMPLETE', results, ...batchTimes(startedAt) });
    // https://developers.hubspot.com/docs/guides/crm/using-object-apis: missing ids → 207 with an OBJECT_NOT_FOUND error listing them (text UNCONFIRMED)
    const errors = [
      {
        status: 'error',
        category: 'OBJECT_NOT_FOUND',
        message: `Could not get some ${HUBSPOT_OBJECT_TYPES[type].singular.toUpperCase()} objects, they may be deleted or not exist. Check that ids are valid.`,
        context: { ids: missing },
        errors: [],
        links: {},
      },
    ];
    return jsonResponse(207, { status: 'COMPLETE', results, numErrors: errors.length, errors, ...batchTimes(startedAt) });
  });

  api.post('/crm/v3/objects/:type/batch/update', async (c) => {
    const type = objectType(c, 'write');
    if (type instanceof Response) return type;
    const startedAt = clock.now();
    const body = await readBody(c, BatchUpdateSchema);
    if (body instanceof Response) return body;
    const n = body.inputs.length;
    if (n === 0 || n > BATCH_MAX_INPUTS) return validationError(`Batch input must have between 1 and ${BATCH_MAX_INPUTS} inputs, got ${n}.`);
    const ids = body.inputs.map((i) => i.id);
    const dupes = [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))];
    if (dupes.length > 0) return validationError(`Duplicate IDs found in batch input: [${dupes.join(', ')}]. IDs must be unique`);
    const hubId = c.get('hubId');

    type Valid = { id: string; properties: Record<string, string | null>; changed: boolean };
    const valid: Valid[] = [];
    const missing: string[] = [];
    const invalid: Array<{ traceId: string | undefined; id: string; problems: PropertyProblem[] }> = [];
    for (const input of body.inputs) {
      const obj =
        input.idProperty === undefined || input.idProperty === 'hs_object_id'
          ? storage.getStored(hubId, type, input.id, false)
          : findByProperty(hubId, type, input.idProperty, input.id, false);
      const { props, problems } = checkProperties(hubId, type, input.properties);
      if (problems.length > 0) invalid.push({ traceId: input.objectWriteTraceId, id: input.id, problems });
      else if (obj === undefined) missing.push(input.id);
      else valid.push({ id: obj.id, properties: props, changed: Object.entries(props).some(([k, v]) => (obj.properties[k] ?? null) !== v) });
    }
    // A bad value fails the whole request with 400 (observed for batch update, https://developers.hubspot.com/docs/api-reference/error-handling);
    // with objectWriteTraceId HubSpot reports it per input in a 207 instead (https://developers.hubspot.com/docs/guides/crm/using-object-apis example).
    const untraced = invalid.filter((i) => i.traceId === undefined);
    if (untraced.length > 0) return propertyValuesInvalid(untraced.flatMap((i) => i.problems), String(hubId));
    if (missing.length > 0 && behaviour.batchUpdateMissing === 'reject-naming') {
      return hubspotError(400, {
        message: `Could not update some ${HUBSPOT_OBJECT_TYPES[type].singular} objects, they may be deleted or merged: ${missing.join(', ')}`,
        category: 'VALIDATION_ERROR',
        context: { ids: missing },
      });
    }
    if (missing.length > 0 && behaviour.batchUpdateMissing === 'reject-silent') {
      return hubspotError(404, { message: 'One or more objects could not be found.', category: 'OBJECT_NOT_FOUND' });
    }
    const updated = valid.length === 0 ? [] : storage.applyUpdates(hubId, type, valid.map(({ id, properties }) => ({ id, properties })), 'api');
    for (const v of valid) deps.writeCounts?.record(hubId, type, v.id, v.changed);
    const results = updated.map((obj) => simplePublicObject(obj, selectProperties(type, obj.properties, Object.keys(valid.find((v) => v.id === obj.id)?.properties ?? {}))));
    const errors: unknown[] = invalid.map((i) => ({
      status: 'error',
      category: 'VALIDATION_ERROR',
      message: `Property values were not valid: ${JSON.stringify(i.problems.map((p) => ({ isValid: false, message: p.message, error: p.error, name: p.name })))}`,
      context: { objectWriteTraceId: [i.traceId ?? ''] },
      errors: [],
      links: {},
    }));
    if (missing.length > 0) {
      errors.push({ status: 'error', category: 'OBJECT_NOT_FOUND', message: `Could not find ${HUBSPOT_OBJECT_TYPES[type].singular} objects with these ids.`, context: { ids: missing }, errors: [], links: {} });
    }
    if (errors.length === 0) return jsonResponse(200, { status: 'COMPLETE', results, ...batchTimes(startedAt) });
    return jsonResponse(207, { status: 'COMPLETE', results, numErrors: errors.length, errors, ...batchTimes(startedAt) });
  });

  /** Validates written values against the portal's definitions (https://developers.hubspot.com/docs/api-reference/error-handling). */
  const checkProperties = (hubId: number, type: HubspotObjectType, input: Record<string, string | number | boolean | null>) => {
    const problems: PropertyProblem[] = [];
    const props: Record<string, string | null> = {};
    for (const [name, raw] of Object.entries(input)) {
      const def = properties.definition(hubId, type, name);
      if (def === undefined) {
        problems.push({ name, error: 'PROPERTY_DOESNT_EXIST', message: `Property "${name}" does not exist`, ...(typeof raw === 'string' ? { value: raw } : {}) });
        continue;
      }
      const v = normalizePropertyValue(def, raw);
      if (v.ok) props[name] = v.value;
      else problems.push(v.problem);
    }
    return { props, problems };
  };

  // Single-record writes (the client's generated services, https://github.com/HubSpot/hubspot-api-nodejs): create 201, update 200, archive 204.
  api.post('/crm/v3/objects/:type', async (c) => {
    const type = objectType(c, 'write');
    if (type instanceof Response) return type;
    const body = await readBody(c, CreateSchema);
    if (body instanceof Response) return body;
    const hubId = c.get('hubId');
    const { props, problems } = checkProperties(hubId, type, body.properties);
    if (problems.length > 0) return propertyValuesInvalid(problems, String(hubId));
    const associations: Array<{ type: HubspotObjectType; id: string; typeId: number }> = [];
    for (const a of body.associations ?? []) {
      for (const t of a.types) {
        // a type is its category and typeId together: a USER_DEFINED typeId may equal a HUBSPOT_DEFINED one
        // (https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associate-records/guide)
        const category = t.associationCategory === 'HUBSPOT_DEFINED' || t.associationCategory === 'USER_DEFINED' ? t.associationCategory : undefined;
        const k = category === undefined ? undefined : typeKey(category, t.associationTypeId);
        const toType = (['contacts', 'companies', 'deals', 'tickets', 'calls', 'emails', 'meetings', 'notes', 'tasks', 'feedback_submissions'] as const).find(
          (candidate) => k !== undefined && associationTypeInfo(type, candidate, k) !== undefined && storage.getStored(hubId, candidate, a.to.id, false) !== undefined,
        );
        if (toType === undefined || k === undefined) {
          return validationError(`Association type ${t.associationCategory} ${t.associationTypeId} to ${a.to.id} is not valid from ${type}.`);
        }
        associations.push({ type: toType, id: a.to.id, typeId: k });
      }
    }
    const created = storage.createFrom(hubId, type, props, associations, 'api');
    return jsonResponse(201, simplePublicObject(created, selectProperties(type, created.properties, Object.keys(props))));
  });

  api.patch('/crm/v3/objects/:type/:id', async (c) => {
    const type = objectType(c, 'write');
    if (type instanceof Response) return type;
    const body = await readBody(c, PatchSchema);
    if (body instanceof Response) return body;
    const hubId = c.get('hubId');
    const id = c.req.param('id');
    const idProperty = c.req.query('idProperty');
    const obj = idProperty === undefined || idProperty === 'hs_object_id' ? storage.getStored(hubId, type, id, false) : findByProperty(hubId, type, idProperty, id, false);
    if (obj === undefined) return objectNotFound(id);
    const { props, problems } = checkProperties(hubId, type, body.properties);
    if (problems.length > 0) return propertyValuesInvalid(problems, String(hubId));
    const [updated] = storage.applyUpdates(hubId, type, [{ id: obj.id, properties: props }], 'api');
    if (updated === undefined) return objectNotFound(id);
    return jsonResponse(200, simplePublicObject(updated, selectProperties(type, updated.properties, Object.keys(props))));
  });

  api.delete('/crm/v3/objects/:type/:id', (c) => {
    const type = objectType(c, 'write');
    if (type instanceof Response) return type;
    const hubId = c.get('hubId');
    const id = c.req.param('id');
    // archiving a missing or already archived record answers 204 as well (idempotent delete)
    if (storage.getStored(hubId, type, id, false) !== undefined) storage.archiveFrom(hubId, type, id, 'api');
    return noContent();
  });

  api.post('/crm/v3/objects/:type/search', async (c) => {
    const type = objectType(c, 'read');
    if (type instanceof Response) return type;
    const body = await readBody(c, SearchRequestSchema);
    if (body instanceof Response) return body;
    const hubId = c.get('hubId');
    const lag = behaviour.searchLagMs;
    const outcome = runSearch(
      { storage, hubId, type, definition: (name) => properties.definition(hubId, type, name), ...(lag > 0 ? { indexLag: { now: clock.now(), lagMs: lag } } : {}) },
      body,
    );
    if (outcome instanceof Response) return outcome;
    const out: Record<string, unknown> = {
      total: outcome.total,
      results: outcome.results.map((o) => simplePublicObject(o, selectProperties(type, o.properties, body.properties))),
    };
    if (outcome.nextAfter !== undefined) out.paging = { next: { after: outcome.nextAfter } };
    return jsonResponse(200, out);
  });

  // ---- associations v4 ---------------------------------------------------------------------

  const associationTypes = (fromType: HubspotObjectType, toType: HubspotObjectType, keys: readonly number[]) =>
    keys.flatMap((k) => {
      const info = associationTypeInfo(fromType, toType, k);
      return info === undefined ? [] : [{ category: info.category, typeId: info.typeId, label: associationLabel(info) }];
    });

  const associationPair = (c: Context<ApiEnv>, from: string, to: string): [HubspotObjectType, HubspotObjectType] | Response => {
    const fromType = resolveObjectType(from);
    const toType = resolveObjectType(to);
    if (fromType === undefined || toType === undefined) {
      if (isKnownButUnemulated(from) || isKnownButUnemulated(to)) return notImplemented(c.req.method, c.req.path);
      return validationError(`Unable to infer object type from: ${fromType === undefined ? from : to}`);
    }
    const needed = [...new Set([...recordScopes(fromType, 'read'), ...recordScopes(toType, 'read')])];
    if (!hasScopes(c.get('scopes'), [needed])) return missingScopes(needed);
    return [fromType, toType];
  };

  api.post('/crm/v4/associations/:from/:to/batch/read', async (c) => {
    const pair = associationPair(c, c.req.param('from'), c.req.param('to'));
    if (pair instanceof Response) return pair;
    const [fromType, toType] = pair;
    const startedAt = clock.now();
    const body = await readBody(c, AssociationBatchSchema);
    if (body instanceof Response) return body;
    if (body.inputs.length > ASSOCIATION_BATCH_MAX_INPUTS) {
      return validationError(`Batch input is limited to ${ASSOCIATION_BATCH_MAX_INPUTS} inputs, got ${body.inputs.length}.`);
    }
    const hubId = c.get('hubId');
    const results: unknown[] = [];
    const errors: unknown[] = [];
    for (const input of body.inputs) {
      const afterId = decodeAfter(input.after);
      if (afterId === undefined) return validationError(`Invalid paging cursor: ${JSON.stringify(input.after)}`);
      if (behaviour.associationReadFailures.has(input.id)) {
        // A per-input failure that is not "no associations": the reader must not take it as "none".
        errors.push({
          status: 'error',
          category: 'INTERNAL_ERROR',
          message: `Could not read the associations of ${HUBSPOT_OBJECT_TYPES[fromType].singular} ${input.id}.`,
          context: { fromObjectId: [input.id] },
          errors: [],
          links: {},
        });
        continue;
      }
      const rows = storage.associationRows(hubId, fromType, input.id, toType, afterId, ASSOCIATION_PAGE_SIZE + 1);
      if (rows.length === 0 && input.after === undefined) {
        // Ids without associations come back in `errors` (207) with this subCategory, singular object
        // names in the message and context (the subCategory is the only way to tell it from a real
        // failure; the error shape is https://developers.hubspot.com/docs/api-reference/crm-associations-v4/batch/post-crm-v4-associations-fromObjectType-toObjectType-batch-read,
        // the message text and context keys are as integrators quote real replies: UNCONFIRMED by HubSpot's docs).
        const [fromName, toName] = [HUBSPOT_OBJECT_TYPES[fromType].singular, HUBSPOT_OBJECT_TYPES[toType].singular];
        errors.push({
          status: 'error',
          category: 'OBJECT_NOT_FOUND',
          subCategory: 'crm.associations.NO_ASSOCIATIONS_FOUND',
          message: `No ${toName} is associated with ${fromName} ${input.id}.`,
          context: { fromObjectId: [input.id], fromObjectType: [fromName], toObjectType: [toName] },
          errors: [],
          links: {},
        });
        continue;
      }
      const page = rows.slice(0, ASSOCIATION_PAGE_SIZE);
      // toObjectId is a JSON number in HubSpot's replies (https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associate-records/guide)
      const result: Record<string, unknown> = {
        from: { id: input.id },
        to: page.map((r) => ({ toObjectId: r.toId, associationTypes: associationTypes(fromType, toType, r.typeKeys) })),
      };
      const last = page.at(-1);
      if (rows.length > ASSOCIATION_PAGE_SIZE && last !== undefined) {
        result.paging = { next: { after: encodeAfter(last.toId) } };
      }
      results.push(result);
    }
    if (errors.length === 0) return jsonResponse(200, { status: 'COMPLETE', results, ...batchTimes(startedAt) });
    return jsonResponse(207, { status: 'COMPLETE', results, numErrors: errors.length, errors, ...batchTimes(startedAt) });
  });

  api.get('/crm/v4/objects/:type/:id/associations/:toType', (c) => {
    const pair = associationPair(c, c.req.param('type'), c.req.param('toType'));
    if (pair instanceof Response) return pair;
    const [fromType, toType] = pair;
    const hubId = c.get('hubId');
    const id = c.req.param('id');
    if (storage.getStored(hubId, fromType, id, false) === undefined) return objectNotFound(id);
    const limitText = c.req.query('limit') ?? String(ASSOCIATION_PAGE_SIZE);
    const limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1 || limit > ASSOCIATION_PAGE_SIZE) return validationError(`limit must be between 1 and ${ASSOCIATION_PAGE_SIZE}.`);
    const afterId = decodeAfter(c.req.query('after'));
    if (afterId === undefined) return validationError(`Invalid paging cursor: ${JSON.stringify(c.req.query('after'))}`);
    const rows = storage.associationRows(hubId, fromType, id, toType, afterId, limit + 1);
    const page = rows.slice(0, limit);
    const body: Record<string, unknown> = {
      results: page.map((r) => ({ toObjectId: r.toId, associationTypes: associationTypes(fromType, toType, r.typeKeys) })),
    };
    const last = page.at(-1);
    if (rows.length > limit && last !== undefined) body.paging = { next: { after: encodeAfter(last.toId) } };
    return jsonResponse(200, body);
  });

  // ---- properties v3 -----------------------------------------------------------------------

  const propertyType = (c: Context<ApiEnv>, access: 'read' | 'write'): HubspotObjectType | Response => {
    const raw = c.req.param('type') ?? '';
    const type = resolveObjectType(raw);
    if (type === undefined) {
      if (isKnownButUnemulated(raw)) return notImplemented(c.req.method, c.req.path);
      return validationError(`Unable to infer object type from: ${raw}`);
    }
    const options = access === 'read' ? propertyReadScopeOptions(type) : propertyWriteScopeOptions(type);
    if (!hasScopes(c.get('scopes'), options)) return missingScopes(options.flat());
    return type;
  };

  api.get('/crm/v3/properties/:type/groups', (c) => {
    const type = propertyType(c, 'read');
    if (type instanceof Response) return type;
    return jsonResponse(200, { results: properties.groups(c.get('hubId'), type).map(wireGroup) });
  });

  api.post('/crm/v3/properties/:type/groups', async (c) => {
    const type = propertyType(c, 'write');
    if (type instanceof Response) return type;
    const body = await readBody(c, GroupCreateSchema);
    if (body instanceof Response) return body;
    const hubId = c.get('hubId');
    if (properties.groups(hubId, type).some((g) => g.name === body.name)) {
      // 409 per https://developers.hubspot.com/docs/api/crm/properties (text UNCONFIRMED)
      return hubspotError(409, { message: `A property group named '${body.name}' already exists.`, category: 'OBJECT_ALREADY_EXISTS', context: { name: [body.name] } });
    }
    const group = { name: body.name, label: body.label, displayOrder: body.displayOrder ?? -1, archived: false };
    properties.addGroup(hubId, type, group);
    return jsonResponse(201, wireGroup(group));
  });

  api.get('/crm/v3/properties/:type', (c) => {
    const type = propertyType(c, 'read');
    if (type instanceof Response) return type;
    const archived = queryBoolean(c, 'archived');
    if (archived instanceof Response) return archived;
    const wanted = queryList(c, 'properties');
    const defs = properties
      .definitions(c.get('hubId'), type)
      .filter((d) => d.archived === archived && (wanted === undefined || wanted.includes(d.name)));
    return jsonResponse(200, { results: defs.map(wireProperty) });
  });

  api.get('/crm/v3/properties/:type/:name', (c) => {
    const type = propertyType(c, 'read');
    if (type instanceof Response) return type;
    const name = c.req.param('name');
    const def = properties.definition(c.get('hubId'), type, name);
    if (def === undefined) {
      return hubspotError(404, { message: `Unable to find property ${name} for object type ${HUBSPOT_OBJECT_TYPES[type].typeId}`, category: 'OBJECT_NOT_FOUND', context: { name: [name] } });
    }
    return jsonResponse(200, wireProperty(def));
  });

  api.post('/crm/v3/properties/:type', async (c) => {
    const type = propertyType(c, 'write');
    if (type instanceof Response) return type;
    // "Feedback-submission properties cannot be created via API" (https://developers.hubspot.com/docs/api/crm/properties)
    if (isReadOnlyType(type)) return validationError(`Properties of ${type} cannot be created through the API.`);
    const body = await readBody(c, PropertyCreateSchema);
    if (body instanceof Response) return body;
    const hubId = c.get('hubId');
    if (!FIELD_TYPES_BY_TYPE[body.type].includes(body.fieldType)) {
      return validationError(`fieldType ${body.fieldType} is not valid for a property of type ${body.type}; allowed: ${FIELD_TYPES_BY_TYPE[body.type].join(', ')}.`);
    }
    if (body.type === 'enumeration' && (body.options === undefined || body.options.length === 0) && body.externalOptions !== true) {
      return validationError(`Enumeration property ${body.name} needs options.`);
    }
    if (!properties.groups(hubId, type).some((g) => g.name === body.groupName)) {
      return validationError(`Property group ${body.groupName} does not exist.`);
    }
    if (properties.definition(hubId, type, body.name) !== undefined) {
      // 409 per https://developers.hubspot.com/docs/api/crm/properties (text UNCONFIRMED)
      return hubspotError(409, { message: `Property named '${body.name}' already exists.`, category: 'OBJECT_ALREADY_EXISTS', context: { name: [body.name] } });
    }
    const at = clock.now();
    const base = definitionFrom({ name: body.name, type: body.type, fieldType: body.fieldType, label: body.label }, body.groupName ?? defaultGroupName(type), false, at);
    const def: PropertyDefinition = {
      ...base,
      description: body.description ?? '',
      options: (body.options ?? []).map((o, i) => ({ label: o.label, value: o.value, hidden: o.hidden ?? false, displayOrder: o.displayOrder ?? i, ...(o.description === undefined ? {} : { description: o.description }) })),
      displayOrder: body.displayOrder ?? -1,
      hasUniqueValue: body.hasUniqueValue ?? false,
      hidden: body.hidden ?? false,
      formField: body.formField ?? false,
      externalOptions: body.externalOptions ?? false,
      calculated: body.calculationFormula !== undefined,
    };
    for (const k of ['numberDisplayHint', 'textDisplayHint', 'showCurrencySymbol', 'currencyPropertyName', 'dataSensitivity', 'referencedObjectType', 'calculationFormula'] as const) {
      const v = body[k];
      if (v !== undefined) (def as Record<string, unknown>)[k] = v;
    }
    properties.addDefinition(hubId, type, def);
    return jsonResponse(201, wireProperty(def));
  });

  return api;
}
