import type { Context } from 'hono';
import type { z } from 'zod';
import type { HubspotObjectType } from '../model.ts';
import { invalidJson, validationError } from './errors.ts';
import { alwaysReturnedProperties, DEFAULT_PROPERTIES } from './object-types.ts';
import type { PropertyDefinition, PropertyGroup } from './property-definitions.ts';
import { isoTime } from './responses.ts';
import type { StoredObject } from './storage.ts';

/** Wire shapes of HubSpot's CRM v3 objects and properties (https://developers.hubspot.com/docs/guides/crm/using-object-apis, https://developers.hubspot.com/docs/api/crm/properties). */

/**
 * Array query params arrive repeated (`properties=a&properties=b`, what the client sends) or
 * comma-separated (what the docs describe); both are accepted (the client's generated services, https://github.com/HubSpot/hubspot-api-nodejs).
 */
export function queryList(c: Context, name: string): string[] | undefined {
  const values = c.req.queries(name);
  if (values === undefined) return undefined;
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

export function queryBoolean(c: Context, name: string): boolean | Response {
  const v = c.req.query(name);
  if (v === undefined || v === '' || v === 'false') return false;
  if (v === 'true') return true;
  return validationError(`Invalid value for query parameter ${name}: ${JSON.stringify(v)} is not a boolean.`);
}

/** Parses and validates a JSON body; a Response is the 400 to send back. */
export async function readBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T> | Response> {
  let raw: unknown;
  try {
    raw = JSON.parse(await c.req.text());
  } catch (e) {
    return invalidJson((e as Error).message);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first === undefined ? '' : first.path.join('.');
    return invalidJson(`${first?.message ?? 'invalid body'}${where === '' ? '' : ` at ${where}`}`);
  }
  return parsed.data;
}

/**
 * Which properties a response carries: the object's defaults when none were asked for, else the
 * requested ones plus id / created / modified. A requested property without a value is left out:
 * the docs say such properties "will not appear in the response" and the spec types property
 * values as plain strings (https://developers.hubspot.com/docs/guides/crm/using-object-apis; the null variant some clients see is UNCONFIRMED).
 * Names that are not properties of the object are dropped silently, as HubSpot does.
 */
export function selectProperties(
  type: HubspotObjectType,
  all: Record<string, string | null>,
  requested: readonly string[] | undefined,
): Record<string, string | null> {
  const names = requested === undefined || requested.length === 0 ? DEFAULT_PROPERTIES[type] : requested;
  const out: Record<string, string | null> = {};
  for (const name of names) {
    const v = all[name];
    if (v !== undefined && v !== null) out[name] = v;
  }
  for (const name of alwaysReturnedProperties(type)) {
    if (name in all) out[name] = all[name] ?? null;
  }
  return out;
}

export function simplePublicObject(obj: StoredObject, properties: Record<string, string | null>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: obj.id,
    properties,
    createdAt: obj.createdIso,
    updatedAt: obj.updatedIso,
    archived: obj.archived,
  };
  if (obj.archived && obj.archivedAt !== null) out.archivedAt = isoTime(obj.archivedAt);
  return out;
}

/** The `Property` schema of properties-v3.json. */
export function wireProperty(def: PropertyDefinition): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: def.name,
    label: def.label,
    type: def.type,
    fieldType: def.fieldType,
    description: def.description,
    groupName: def.groupName,
    options: def.options,
    displayOrder: def.displayOrder,
    calculated: def.calculated,
    externalOptions: def.externalOptions,
    hasUniqueValue: def.hasUniqueValue,
    hidden: def.hidden,
    hubspotDefined: def.hubspotDefined,
    modificationMetadata: {
      archivable: !def.hubspotDefined,
      readOnlyDefinition: def.hubspotDefined,
      readOnlyValue: def.readOnlyValue || def.calculated,
    },
    formField: def.formField,
    createdAt: isoTime(def.createdAt),
    updatedAt: isoTime(def.updatedAt),
    archived: def.archived,
  };
  for (const k of ['numberDisplayHint', 'textDisplayHint', 'showCurrencySymbol', 'currencyPropertyName', 'dataSensitivity', 'referencedObjectType', 'calculationFormula'] as const) {
    if (def[k] !== undefined) out[k] = def[k];
  }
  return out;
}

export const wireGroup = (g: PropertyGroup): Record<string, unknown> => ({ name: g.name, label: g.label, displayOrder: g.displayOrder, archived: g.archived });
