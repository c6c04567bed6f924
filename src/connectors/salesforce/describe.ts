import { z } from 'zod';
import { CrmError } from '../../errors.ts';
import type { ObjectType } from '../types.ts';
import type { SalesforceHttp } from './http.ts';
import { SPECS, type SfSpec } from './mapping.ts';

/**
 * What the integration user can see of an sObject, from `describe`
 * (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm).
 * Real orgs differ from a fresh one: field-level security hides fields (a hidden field is simply
 * absent from describe, and SOQL naming it fails with INVALID_FIELD), TaskWhoRelations /
 * EventWhoRelations exist only with Shared Activities, EmailMessage only with Enhanced Email, and
 * custom objects only once deployed. Each query's field list is therefore built from describe:
 * a field the user cannot see is read as absent (null), an object the org lacks as an empty stream.
 * Describes are cached per connector and forgotten when a query still answers INVALID_FIELD (an
 * admin changed the permissions since).
 */
const Describe = z.object({
  name: z.string(),
  fields: z.array(z.looseObject({ name: z.string(), type: z.string(), updateable: z.boolean().optional() })),
  childRelationships: z.array(z.looseObject({ relationshipName: z.string().nullable().optional(), childSObject: z.string(), field: z.string() })).optional(),
});
export type SObjectSchema = {
  /** lower-case name → the field (its SOAP type: boolean, double, datetime…, used to read Bulk CSV) */
  fields: Map<string, { name: string; updateable: boolean; type: string }>;
  /** child relationship name (lower case) → the child object and its field pointing at the parent */
  relationships: Map<string, { childSObject: string; field: string }>;
};

export type DescribeCache = {
  /** null: the org has no such object (or the user cannot see it) */
  get(sobject: string, signal: AbortSignal): Promise<SObjectSchema | null>;
  forget(sobject: string): void;
};

export function createDescribeCache(http: SalesforceHttp): DescribeCache {
  const cache = new Map<string, Promise<SObjectSchema | null>>();
  return {
    get(sobject, signal) {
      const key = sobject.toLowerCase();
      let hit = cache.get(key);
      if (hit === undefined) {
        hit = load(http, sobject, signal);
        cache.set(key, hit);
        // a failed describe (network, auth) is not remembered
        hit.catch(() => cache.delete(key));
      }
      return hit;
    },
    forget: (sobject) => void cache.delete(sobject.toLowerCase()),
  };
}

async function load(http: SalesforceHttp, sobject: string, signal: AbortSignal): Promise<SObjectSchema | null> {
  try {
    const d = await http.request({ method: 'GET', path: `/sobjects/${sobject}/describe`, schema: Describe, signal, label: `describe ${sobject}` });
    return {
      fields: new Map(d.fields.map((f) => [f.name.toLowerCase(), { name: f.name, updateable: f.updateable === true, type: f.type }])),
      relationships: new Map(
        (d.childRelationships ?? []).flatMap((r) => (typeof r.relationshipName === 'string' ? [[r.relationshipName.toLowerCase(), { childSObject: r.childSObject, field: r.field }] as const] : [])),
      ),
    };
  } catch (e) {
    // describe of an object the org lacks is 404 NOT_FOUND
    if (e instanceof CrmError && e.details.code === 'NOT_FOUND') return null;
    throw e;
  }
}

/** The query for one type as this org allows it: visible fields, the contacts subquery if it exists. */
export type QueryPlan = {
  spec: SfSpec;
  fields: string[];
  /** the contacts subquery is selected; `child` names the relation object behind it */
  contacts: boolean;
  child?: { sobject: string; field: string };
  missing: string[];
};

const REQUIRED = ['Id', 'SystemModstamp', 'IsDeleted'];

export async function planQuery(cache: DescribeCache, type: ObjectType, signal: AbortSignal, churnDateField?: string): Promise<QueryPlan | { absent: string }> {
  for (const base of [SPECS[type], ...(SPECS[type].fallback === undefined ? [] : [SPECS[type].fallback])]) {
    // a mapped churn date is one more Contact field, read (or found hidden) like the others
    const spec = type === 'contacts' && churnDateField !== undefined ? { ...base, fields: [...base.fields, churnDateField], churnDateField } : base;
    const schema = await cache.get(spec.sobject, signal);
    if (schema === null) continue;
    const has = (f: string) => schema.fields.has(f.toLowerCase());
    // fields the fixed filter names (which Task subtype…): without them the stream cannot be told apart
    const filterFields = [...(spec.filter ?? '').matchAll(/\b([A-Za-z_]\w*)\s*(?:=|!=|<>|\bIN\b)/g)].map((m) => m[1]!);
    const unusable = [...REQUIRED, ...filterFields].filter((f) => !has(f));
    if (unusable.length > 0) return { absent: `${spec.sobject} without ${unusable.join(', ')}` };
    const fields = spec.fields.filter(has);
    const missing = spec.fields.filter((f) => !has(f));
    const rel = spec.contacts === undefined ? undefined : schema.relationships.get(spec.contacts.relationship.toLowerCase());
    return { spec, fields, contacts: rel !== undefined, ...(rel === undefined ? {} : { child: { sobject: rel.childSObject, field: rel.field } }), missing };
  }
  return { absent: `no ${[SPECS[type].sobject, SPECS[type].fallback?.sobject].filter((x) => x !== undefined).join(' or ')} object` };
}
