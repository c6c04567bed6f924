import type { HubspotObjectType } from '../model.ts';

/**
 * A test probe, not HubSpot behaviour: per record, how many batch-update inputs the API accepted
 * (`inputs`) and how many of them changed a stored value (`changed`). A client that re-sends a
 * batch it already sent shows `inputs > changed` (test/postgres/many-portals.test.ts).
 */
export type WriteCount = { inputs: number; changed: number };

export type WriteCounts<Account = number, Type extends string = HubspotObjectType> = {
  record(account: Account, type: Type, id: string, changed: boolean): void;
  /** record id → counts, for one account (HubSpot portal, Salesforce org) and type (records never written are absent) */
  of(account: Account, type: Type): Map<string, WriteCount>;
};

/** Also the Salesforce emulator's (per org and sObject, sObject Collections updates). */
export function createWriteCounts<Account = number, Type extends string = HubspotObjectType>(): WriteCounts<Account, Type> {
  const counts = new Map<string, Map<string, WriteCount>>();
  return {
    record(account, type, id, changed) {
      const key = `${String(account)}/${type}`;
      let byId = counts.get(key);
      if (byId === undefined) counts.set(key, (byId = new Map()));
      const c = byId.get(id) ?? { inputs: 0, changed: 0 };
      c.inputs++;
      if (changed) c.changed++;
      byId.set(id, c);
    },
    of: (account, type) => new Map([...(counts.get(`${String(account)}/${type}`) ?? new Map<string, WriteCount>())].map(([id, c]) => [id, { ...c }])),
  };
}
