import type { ObjectType } from '../types.ts';
import type { HubspotHttp } from './http.ts';
import type { Associated } from './mapping.ts';
import { AssocBatchRead, type HsObject } from './schemas.ts';

export type Link = { id: string; primary: boolean };
export type AssocMap = Map<string, Associated>;

/** v4 batch read takes at most 1,000 inputs (hubspot.md §1.7, changelog Feb 2025). */
const BATCH = 1_000;

/**
 * HubSpot's "Primary" company association type ids: contact→company 1, deal→company 5,
 * ticket→company 26 (hubspot.md §1.7, the client's AssociationTypes enum).
 */
const PRIMARY_TYPE_IDS = new Set([1, 5, 26]);

type Inline = NonNullable<HsObject['associations']>;

/** Inline associations of a list result (keys are plural names, hubspot.md §1.3). */
export function fromInline(associations: Inline, toType: 'contacts' | 'companies'): Link[] {
  const col = associations[toType];
  if (col === undefined) return [];
  const byId = new Map<string, boolean>();
  for (const r of col.results) {
    // HubSpot may list one id twice (labelled + `_unlabeled`); the labelled one is the primary
    const primary = r.type !== undefined && !r.type.endsWith('_unlabeled') && toType === 'companies';
    byId.set(r.id, (byId.get(r.id) ?? false) || primary);
  }
  return [...byId].map(([id, primary]) => ({ id, primary }));
}

/** Inline lists are capped: a `paging.next` means the rest must come from the v4 API. */
export const needsMore = (associations: Inline | undefined, toType: string): boolean =>
  associations?.[toType]?.paging?.next?.after !== undefined;

/**
 * All associations of `ids` to `toType`, following per-input paging (hubspot.md §1.7: resend the
 * same id with `after`). Ids without associations may be absent or reported in `errors`; both mean none.
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
      const again: { id: string; after: string }[] = [];
      for (const r of body.results) {
        const links = out.get(r.from.id) ?? new Map<string, boolean>();
        for (const t of r.to) {
          const primary = (t.associationTypes ?? []).some((a) => a.label === 'Primary' || (a.typeId !== undefined && PRIMARY_TYPE_IDS.has(a.typeId)));
          links.set(t.toObjectId, (links.get(t.toObjectId) ?? false) || (primary && toType === 'companies'));
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
