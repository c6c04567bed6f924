import { readFileSync } from 'node:fs';

/**
 * A small validator for the subset of OpenAPI 3.0 schemas HubSpot's spec files use: $ref,
 * type, required, properties, additionalProperties, items, enum, format (date-time, uuid,
 * int32/int64), allOf / oneOf / anyOf and nullable. `strict` also reports keys a schema does not
 * declare — what an emulator should never invent on a success reply.
 */
type Schema = {
  $ref?: string;
  type?: string;
  required?: string[];
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  enum?: unknown[];
  format?: string;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  nullable?: boolean;
};

type Operation = {
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses: Record<string, { $ref?: string; content?: Record<string, { schema?: Schema }> }>;
};

export type OpenApiSpec = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; responses?: Record<string, { content?: Record<string, { schema?: Schema }> }> };
};

export const loadSpec = (file: string): OpenApiSpec => JSON.parse(readFileSync(file, 'utf8')) as OpenApiSpec;

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function resolve(spec: OpenApiSpec, schema: Schema): Schema {
  let s = schema;
  for (let depth = 0; s.$ref !== undefined; depth++) {
    if (depth > 20) throw new Error(`$ref loop at ${s.$ref}`);
    const name = /^#\/components\/schemas\/(.+)$/.exec(s.$ref)?.[1];
    const target = name === undefined ? undefined : spec.components.schemas[name];
    if (target === undefined) throw new Error(`unresolved $ref ${s.$ref}`);
    s = target;
  }
  return s;
}

export function validate(spec: OpenApiSpec, schema: Schema, value: unknown, opts: { strict: boolean }, path = '$'): string[] {
  const s = resolve(spec, schema);
  if (value === null) return s.nullable === true ? [] : [`${path}: null is not allowed`];
  const errors: string[] = [];
  if (s.allOf) for (const sub of s.allOf) errors.push(...validate(spec, sub, value, opts, path));
  if (s.oneOf || s.anyOf) {
    const alternatives = (s.oneOf ?? s.anyOf) as Schema[];
    const passing = alternatives.filter((alt) => validate(spec, alt, value, opts, path).length === 0).length;
    if (s.oneOf ? passing !== 1 : passing === 0) errors.push(`${path}: matches ${passing} of the ${s.oneOf ? 'oneOf' : 'anyOf'} alternatives`);
  }
  if (s.enum !== undefined && !s.enum.includes(value)) errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(s.enum)}`);
  switch (s.type) {
    case undefined:
      break;
    case 'string':
      if (typeof value !== 'string') return [...errors, `${path}: expected string, got ${typeof value}`];
      if (s.format === 'date-time' && !ISO_DATE_TIME.test(value)) errors.push(`${path}: ${value} is not an ISO date-time`);
      if (s.format === 'uuid' && !UUID.test(value)) errors.push(`${path}: ${value} is not a uuid`);
      break;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) errors.push(`${path}: expected integer, got ${JSON.stringify(value)}`);
      break;
    case 'number':
      if (typeof value !== 'number') errors.push(`${path}: expected number, got ${typeof value}`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') errors.push(`${path}: expected boolean, got ${typeof value}`);
      break;
    case 'array':
      if (!Array.isArray(value)) return [...errors, `${path}: expected array`];
      if (s.items !== undefined) value.forEach((v, i) => errors.push(...validate(spec, s.items as Schema, v, opts, `${path}[${i}]`)));
      break;
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return [...errors, `${path}: expected object`];
      const obj = value as Record<string, unknown>;
      for (const key of s.required ?? []) if (!(key in obj)) errors.push(`${path}: missing required ${key}`);
      for (const [key, v] of Object.entries(obj)) {
        const declared = s.properties?.[key];
        if (declared !== undefined) errors.push(...validate(spec, declared, v, opts, `${path}.${key}`));
        else if (typeof s.additionalProperties === 'object') errors.push(...validate(spec, s.additionalProperties, v, opts, `${path}.${key}`));
        else if (s.additionalProperties === false || (opts.strict && s.properties !== undefined)) errors.push(`${path}: unexpected key ${key}`);
      }
      break;
    }
    default:
      errors.push(`${path}: unsupported schema type ${s.type}`);
  }
  return errors;
}

/** The operation for a concrete method + spec path template. */
export function operation(spec: OpenApiSpec, method: string, template: string): Operation {
  const op = spec.paths[template]?.[method.toLowerCase()];
  if (op === undefined) throw new Error(`the spec has no ${method} ${template}`);
  return op;
}

export function requestSchema(spec: OpenApiSpec, method: string, template: string): Schema {
  const schema = operation(spec, method, template).requestBody?.content?.['application/json']?.schema;
  if (schema === undefined) throw new Error(`${method} ${template} takes no JSON body in the spec`);
  return schema;
}

/** The response schema for a status: the exact code, else `default` (HubSpot's Error). */
export function responseSchema(spec: OpenApiSpec, method: string, template: string, status: number): Schema {
  const responses = operation(spec, method, template).responses;
  let r = responses[String(status)] ?? responses.default;
  if (r === undefined) throw new Error(`${method} ${template} declares no response ${status}`);
  if (r.$ref !== undefined) {
    const name = /^#\/components\/responses\/(.+)$/.exec(r.$ref)?.[1];
    r = name === undefined ? undefined : spec.components.responses?.[name];
    if (r === undefined) throw new Error(`unresolved response $ref`);
  }
  const content = r.content ?? {};
  const schema = (content['application/json'] ?? content['*/*'])?.schema;
  if (schema === undefined) throw new Error(`${method} ${template} ${status} has no body schema`);
  return schema;
}
