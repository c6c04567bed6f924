import type { CrmConnector, ObjectType } from '../connectors/types.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import type { StoredRecord } from '../store/records.ts';

export type ReconcileResult = { type: ObjectType; live: number; cached: number; tombstoned: number; pages: number };

/**
 * Finds records the CRM dropped without an archived entry (e.g. GDPR deletes and purged recycle bins):
 * lists every live id (ids only, no properties: one call per 100 records) and tombstones the
 * cached records that are not among them. Records modified at or after `startedAt` are left
 * alone: they may have been created while the listing ran. The tombstones go through
 * `upsertPage`, so the contacts they were linked to are marked dirty and rescored.
 */
export async function reconcileIds(
  deps: { store: Store; connector: CrmConnector; portal: string; logger: Logger; now: () => number },
  type: ObjectType,
  signal: AbortSignal,
): Promise<ReconcileResult | undefined> {
  const { store, connector, portal } = deps;
  if (connector.liveIds === undefined) return undefined;
  const startedAt = deps.now();
  const live = new Set<string>();
  let pages = 0;
  for await (const ids of connector.liveIds(type, signal)) {
    pages++;
    for (const id of ids) live.add(id);
  }
  const gone: StoredRecord[] = [];
  let cached = 0;
  for (const r of store.records.iterate(portal, type)) {
    cached++;
    if (!live.has(r.id) && r.updatedAt < startedAt) gone.push(r);
  }
  let at = startedAt;
  for (const r of gone) at = Math.max(at, r.updatedAt + 1);
  const tombstoned = gone.length === 0
    ? 0
    : store.transaction(() =>
        store.records.upsertPage(gone.map((r) => ({ portal, type, id: r.id, contactIds: undefined, companyId: r.companyId, updatedAt: at, deleted: true, data: r.data }))),
      );
  if (tombstoned > 0) deps.logger.info({ portal, stream: type, tombstoned, live: live.size }, 'reconciliation: records gone from the CRM without a deletion');
  return { type, live: live.size, cached, tombstoned, pages };
}
