import type { HubspotObjectType } from '../model.ts';

/**
 * A test probe, not HubSpot behaviour: per record, how many batch-update inputs the API accepted
 * (`inputs`) and how many of them changed a stored value (`changed`). A client that re-sends a
 * batch it already sent shows `inputs > changed` (test/postgres/many-portals.test.ts).
 */
export type WriteCount = { inputs: number; changed: number };

export type WriteCounts = {
  record(hubId: number, type: HubspotObjectType, id: string, changed: boolean): void;
  /** record id → counts, for one portal and type (records never written are absent) */
  of(hubId: number, type: HubspotObjectType): Map<string, WriteCount>;
};

export function createWriteCounts(): WriteCounts {
  const counts = new Map<string, Map<string, WriteCount>>();
  return {
    record(hubId, type, id, changed) {
      const key = `${hubId}/${type}`;
      let byId = counts.get(key);
      if (byId === undefined) counts.set(key, (byId = new Map()));
      const c = byId.get(id) ?? { inputs: 0, changed: 0 };
      c.inputs++;
      if (changed) c.changed++;
      byId.set(id, c);
    },
    of: (hubId, type) => new Map([...(counts.get(`${hubId}/${type}`) ?? new Map<string, WriteCount>())].map(([id, c]) => [id, { ...c }])),
  };
}
