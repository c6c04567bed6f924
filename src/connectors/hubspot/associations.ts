import { CrmError } from '../../errors.ts';
import type { ObjectType } from '../types.ts';
import type { HubspotHttp } from './http.ts';
import type { Associated } from './mapping.ts';
import { AssocBatchRead, type HsObject } from './schemas.ts';

export type Link = { id: string; primary: boolean };
export type AssocMap = Map<string, Associated>;

/** v4 batch read takes at most 1,000 inputs (https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associate-records/guide, changelog Feb 2025). */
const BATCH = 1_000;

/**
 * HubSpot's "Primary" company association type per pair: contact→company 1, deal→company 5,
 * ticket→company 26 (https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associate-records/guide, the client's AssociationTypes enum). Only with
 * `category: "HUBSPOT_DEFINED"`: user-defined labels have small portal-scoped typeIds that are
 * unique only within a pair, so a label on contact→company can well be typeId 5 or 26
 * (https://developers.hubspot.com/docs/api-reference/crm-associations-schema-v4/guide).
 */
const PRIMARY_TYPE_ID: Partial<Record<ObjectType, number>> = { contacts: 1, deals: 5, tickets: 26 };

/** v3's name for the primary company association, e.g. `contact_to_company` (https://developers.hubspot.com/docs/guides/crm/using-object-apis). */
const PRIMARY_V3_NAME: Partial<Record<ObjectType, string>> = { contacts: 'contact_to_company', deals: 'deal_to_company', tickets: 'ticket_to_company' };

type Inline = NonNullable<HsObject['associations']>;

/**
 * Inline associations of a list result (keys are plural names, https://developers.hubspot.com/docs/guides/crm/using-object-apis). HubSpot lists
 * one id once per type it has (primary, `…_unlabeled`, user labels); only the exact
 * HubSpot-defined primary name makes it the primary — never "any label".
 */
export function fromInline(fromType: ObjectType, associations: Inline, toType: 'contacts' | 'companies'): Link[] {
  const col = associations[toType];
  if (col === undefined) return [];
  const primaryName = toType === 'companies' ? PRIMARY_V3_NAME[fromType] : undefined;
  const byId = new Map<string, boolean>();
  for (const r of col.results) {
    const primary = primaryName !== undefined && r.type === primaryName;
    const id = String(r.id);
    byId.set(id, (byId.get(id) ?? false) || primary);
  }
  return [...byId].map(([id, primary]) => ({ id, primary }));
}

/** The subCategory v4 batch read gives an input that simply has no associations. */
const NO_ASSOCIATIONS = 'crm.associations.NO_ASSOCIATIONS_FOUND';

/** Inline lists are capped: a `paging.next` means the rest must come from the v4 API. */
export const needsMore = (associations: Inline | undefined, toType: string): boolean =>
  associations?.[toType]?.paging?.next?.after !== undefined;

/**
 * All associations of `ids` to `toType`, following per-input paging (https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associate-records/guide: resend the
 * same id with `after`). Ids without associations may be absent, or reported in `errors` with
 * subCategory NO_ASSOCIATIONS_FOUND: both mean none. Any other error is a failure: reading it as
 * "none" would wipe the record's links, so the whole call fails (retryable, nothing written).
 */
export async function fetchAssociations(
  http: HubspotHttp,
  fromType: ObjectType,
  toType: 'contacts' | 'companies',
  ids: readonly string[],
  signal: AbortSignal,
): Promise<Map<string, Link[]>> {
  const out = new Map<string, Map<string, boolean>>();
  for (let i = 0; i < ids.length; i += BATCH) {
    let inputs: { id: string; after?: string }[] = ids.slice(i, i + BATCH).map((id) => ({ id }));
    while (inputs.length > 0) {
      const { body } = await http.request({
        method: 'POST',
        path: `/crm/v4/associations/${fromType}/${toType}/batch/read`,
        body: { inputs },
        schema: AssocBatchRead,
        signal,
      });
      const failed = (body.errors ?? []).filter((e) => e.subCategory !== NO_ASSOCIATIONS);
      if (failed.length > 0) {
        const first = failed[0];
        const ids = failed.flatMap((e) => e.context?.fromObjectId ?? []);
        throw new CrmError(
          'unavailable',
          `HubSpot could not read the ${toType} associations of ${fromType} ${ids.slice(0, 5).join(', ') || '(unnamed)'}${ids.length > 5 ? ` and ${ids.length - 5} more` : ''}: ${first?.category ?? 'error'} ${first?.message ?? ''}`.trim(),
          { crm: 'hubspot', code: first?.category ?? 'ASSOCIATION_READ_FAILED' },
        );
      }
      const primaryTypeId = toType === 'companies' ? PRIMARY_TYPE_ID[fromType] : undefined;
      const again: { id: string; after: string }[] = [];
      for (const r of body.results) {
        const links = out.get(r.from.id) ?? new Map<string, boolean>();
        for (const t of r.to) {
          const primary = primaryTypeId !== undefined && (t.associationTypes ?? []).some((a) => a.category === 'HUBSPOT_DEFINED' && a.typeId === primaryTypeId);
          links.set(t.toObjectId, (links.get(t.toObjectId) ?? false) || primary);
        }
        out.set(r.from.id, links);
        const after = r.paging?.next?.after;
        if (after !== undefined) again.push({ id: r.from.id, after });
      }
      inputs = again;
    }
  }
  return new Map([...out].map(([id, links]) => [id, [...links].map(([to, primary]) => ({ id: to, primary }))]));
}
