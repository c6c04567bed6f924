import type { PropertyProblem } from './errors.ts';
import type { PropertyDefinition } from './property-definitions.ts';

/**
 * Checks and normalizes one written value the way HubSpot validates non-string properties
 * (https://developers.hubspot.com/docs/api-reference/error-handling; since April 2025 surrounding whitespace is an error too, per HubSpot's
 * changelog "enhanced validations for non-string properties"). Values are stored as strings;
 * an empty string clears the property.
 */
export type NormalizedValue = { ok: true; value: string | null } | { ok: false; problem: PropertyProblem };

const NUMBER = /^-?\d+(\.\d+)?$/;
const EPOCH_MS = /^-?\d{1,15}$/;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** ISO-8601 or epoch-ms text → epoch ms; HubSpot accepts both for date and datetime (https://developers.hubspot.com/docs/api/crm/properties). */
export function parseHubspotTime(text: string): number | undefined {
  if (EPOCH_MS.test(text)) return Number(text);
  if (!ISO_DATE_TIME.test(text)) return undefined;
  const ms = Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text);
  return Number.isNaN(ms) ? undefined : ms;
}

export function normalizePropertyValue(definition: PropertyDefinition, raw: unknown): NormalizedValue {
  if (raw === null || raw === '') return { ok: true, value: null };
  const value = typeof raw === 'string' ? raw : typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : undefined;
  const fail = (error: string, message: string): NormalizedValue => ({
    ok: false,
    problem: { name: definition.name, error, message, ...(value === undefined ? {} : { value }) },
  });
  if (value === undefined) return fail('INVALID_PROPERTY_VALUE', `${JSON.stringify(raw)} is not a valid value for ${definition.name}.`);
  if (definition.readOnlyValue || definition.calculated) {
    return fail('READ_ONLY_VALUE', `${definition.name} is a read only property; its value cannot be set.`);
  }
  switch (definition.type) {
    case 'number':
      return NUMBER.test(value) ? { ok: true, value } : fail('INVALID_INTEGER', `${value} was not a valid number.`);
    case 'bool': {
      const lower = value.toLowerCase();
      return lower === 'true' || lower === 'false' ? { ok: true, value: lower } : fail('INVALID_BOOLEAN', `${value} was not a valid boolean.`);
    }
    case 'datetime': {
      const ms = parseHubspotTime(value);
      return ms === undefined ? fail('INVALID_DATE', `${value} was not a valid date-time.`) : { ok: true, value: new Date(ms).toISOString() };
    }
    case 'date': {
      const ms = parseHubspotTime(value);
      if (ms === undefined) return fail('INVALID_DATE', `${value} was not a valid date.`);
      if (ms % 86_400_000 !== 0) return fail('INVALID_DATE', `${value} is not at midnight UTC: date properties need a UTC midnight timestamp.`);
      return { ok: true, value: new Date(ms).toISOString().slice(0, 10) };
    }
    case 'enumeration': {
      if (definition.externalOptions) return { ok: true, value };
      const allowed = new Set(definition.options.map((o) => o.value));
      const parts = definition.fieldType === 'checkbox' ? value.split(';') : [value];
      const bad = parts.find((p) => !allowed.has(p));
      if (bad === undefined) return { ok: true, value };
      return fail('INVALID_OPTION', `${bad} was not one of the allowed options: [${[...allowed].join(', ')}]`);
    }
    case 'string':
    case 'phone_number':
      return value.length > 65_536
        ? fail('INVALID_PROPERTY_VALUE', `${definition.name} is longer than the maximum of 65536 characters.`)
        : { ok: true, value };
  }
}
