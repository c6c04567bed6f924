import { z } from 'zod';

/**
 * Wire shapes we rely on (https://developers.hubspot.com/docs/guides/crm/using-object-apis, https://developers.hubspot.com/docs/api/crm/properties). Only the fields we read are required; the rest
 * pass through, so a HubSpot addition never breaks us but a missing `id` or `results` does.
 */

/** The first property whose value is neither a string nor null; `''` when `v` is not an object of properties at all. */
function badProperty(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return '';
  // for…in over a JSON.parse result (own keys only): Object.entries made an array a property
  for (const k in v) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== null && typeof x !== 'string') return k;
  }
  return undefined;
}
// HubSpot sends every property value as a string, or null when unset. Checked in place:
// z.record(z.string(), z.string().nullable()) copied each record's properties into a new object:
// a list page's validation took 2.5 µs a record with it, 1.4 without (measured side by side).
const Props = z.custom<Record<string, string | null>>((v) => badProperty(v) === undefined, {
  error: (issue) => {
    const k = badProperty(issue.input);
    return k === '' ? 'properties is not an object' : `property ${JSON.stringify(k)} is neither a string nor null`;
  },
});

/** An inline association: `{ id, type }`, the id a string or a number (fromInline reads it as a string). */
type AssociatedId = { id: string | number; type?: string };
const isAssociatedId = (v: unknown): boolean => {
  if (typeof v !== 'object' || v === null) return false;
  const { id, type } = v as Record<string, unknown>;
  return (typeof id === 'string' || typeof id === 'number') && (type === undefined || typeof type === 'string');
};
// Checked in place, as Props is: z.array(z.object({ id: z.union(…).transform(String), … })) built a
// new object per entry, and a companies page inlines ten contacts a company. A page took 1,140 µs to
// validate with it and 190 without (100 companies, 1,000 links; 195 against 110 for a page of
// contacts, one company each; measured side by side).
const AssociatedIds = z.custom<AssociatedId[]>((v) => Array.isArray(v) && v.every(isAssociatedId), {
  error: 'results is not a list of { id, type } (ids strings or numbers)',
});
const AssocCollection = z.object({
  results: AssociatedIds,
  paging: z.object({ next: z.object({ after: z.string() }).optional() }).optional(),
});

export const HsObject = z.object({
  id: z.string().min(1),
  properties: Props,
  createdAt: z.string().optional(),
  updatedAt: z.string(),
  archived: z.boolean().optional(),
  archivedAt: z.string().optional(),
  associations: z.record(z.string(), AssocCollection).optional(),
});
export type HsObject = z.infer<typeof HsObject>;

const NextPage = z.object({ next: z.object({ after: z.string().min(1) }).optional() }).optional();

export const ListPage = z.object({ results: z.array(HsObject), paging: NextPage });
export const SearchPage = z.object({ total: z.number().optional(), results: z.array(HsObject), paging: NextPage });
/** v3 batch read: 200, or 207 with the missing ids in `errors` (https://developers.hubspot.com/docs/guides/crm/using-object-apis). */
export const BatchRead = z.object({ results: z.array(HsObject) });

export const AssocBatchRead = z.object({
  results: z.array(
    z.object({
      from: z.object({ id: z.union([z.string(), z.number()]).transform(String) }),
      to: z.array(
        z.object({
          toObjectId: z.union([z.string(), z.number()]).transform(String),
          associationTypes: z
            .array(z.object({ category: z.string().optional(), typeId: z.number().optional(), label: z.string().nullable().optional() }))
            .optional(),
        }),
      ),
      paging: z.object({ next: z.object({ after: z.string() }).optional() }).optional(),
    }),
  ),
  errors: z
    .array(
      z.looseObject({
        category: z.string().optional(),
        subCategory: z.unknown().optional(),
        message: z.string().optional(),
        context: z.record(z.string(), z.array(z.string())).optional(),
      }),
    )
    .optional(),
});

export const StandardError = z.object({
  status: z.string().optional(),
  category: z.string().optional(),
  message: z.string().optional(),
  context: z.record(z.string(), z.array(z.string())).optional(),
});

export const BatchUpdate = z.object({
  status: z.string().optional(),
  results: z.array(z.object({ id: z.string() })),
  numErrors: z.number().optional(),
  errors: z.array(StandardError).optional(),
});

export const Property = z.object({ name: z.string(), type: z.string(), fieldType: z.string().optional(), groupName: z.string().optional() });
export const PropertyList = z.object({ results: z.array(Property) });
export const Group = z.object({ name: z.string() });
export const GroupList = z.object({ results: z.array(Group) });

export const TokenInfo = z.object({ hub_id: z.number(), scopes: z.array(z.string()).optional() });
export const AccountInfo = z.object({ portalId: z.number() });

/** A private app's daily usage (https://developers.hubspot.com/docs/api-reference/legacy/account/account-information/get-usage-details): when the daily limit resets. */
export const DailyUsage = z.object({
  results: z.array(z.object({ name: z.string(), usageLimit: z.number().optional(), currentUsage: z.number().optional(), resetsAt: z.string() })),
});

export const Empty = z.unknown();

/** Error replies: every field optional (https://developers.hubspot.com/docs/api-reference/error-handling "all fields optional in practice"). */
export const ErrorBody = z.object({
  message: z.string().optional(),
  correlationId: z.string().optional(),
  context: z.record(z.string(), z.array(z.string())).optional(),
  category: z.string().optional(),
  errorType: z.string().optional(),
  policyName: z.string().optional(),
  errors: z
    .array(z.object({ message: z.string().optional(), context: z.record(z.string(), z.array(z.string())).optional() }))
    .optional(),
});
export type ErrorBody = {
  message?: string | undefined;
  correlationId?: string | undefined;
  context?: Record<string, string[]> | undefined;
  category?: string | undefined;
  errorType?: string | undefined;
  policyName?: string | undefined;
  errors?: { message?: string | undefined; context?: Record<string, string[]> | undefined }[] | undefined;
};
