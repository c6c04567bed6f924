import type { Context } from 'hono';
import type { SObjectDef } from './objects.ts';
import type { FieldValue, Row } from './storage.ts';

/** Salesforce answers JSON as `application/json;charset=UTF-8`; jsforce only parses it with that type (jsforce src/http-api.ts, github.com/jsforce/jsforce). */
export const JSON_TYPE = 'application/json;charset=UTF-8';

/** Datetimes on the wire: `2013-05-20T20:49:32.000+0000` (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm). */
export const sfDateTime = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('Z', '+0000');

export function json(c: Context, status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': JSON_TYPE, ...headers } });
}

/** REST API errors are arrays of `{message, errorCode, fields?}` (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm). */
export const sfError = (c: Context, status: number, errorCode: string, message: string, headers: Record<string, string> = {}): Response =>
  json(c, status, [{ message, errorCode }], headers);

/** One record as the query resource shows it: `attributes` first, then the selected fields. */
export function wireRecord(def: SObjectDef, row: Row, version: string, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {
    attributes: { type: def.name, url: `/services/data/v${version}/sobjects/${def.name}/${String(row.Id)}` },
  };
  for (const name of fields) out[name] = wireValue(def, name, row[name] ?? null);
  return out;
}

function wireValue(def: SObjectDef, name: string, v: FieldValue): FieldValue {
  if (v === null) return null;
  const type = def.fields.find((f) => f.name === name)?.type;
  return type === 'datetime' && typeof v === 'number' ? sfDateTime(v) : v;
}
