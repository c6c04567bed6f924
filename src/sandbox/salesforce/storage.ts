import type { SandboxClock } from '../hubspot/clock.ts';
import { fieldOf, salesforceId, sobjectOf, type SObjectDef } from './objects.ts';

/**
 * The emulated org's records, in memory. Values are kept as Salesforce types: strings, numbers,
 * booleans, null; `datetime` fields as epoch ms (serialized by wire.ts), `date` fields as
 * 'YYYY-MM-DD'. Salesforce datetimes have whole-second precision (the API always shows `.000`,
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm), so every stamp is truncated to the second: runs of records sharing one
 * SystemModstamp are normal, and the connector's cursor has to cope with them.
 */
export type FieldValue = string | number | boolean | null;
export type Row = Record<string, FieldValue>;

/**
 * One write, as Change Data Capture reports it (sandbox cdc.ts): which fields it set and where it
 * came from (`changeOrigin`: the API client named by `Sforce-Call-Options`, empty for the UI).
 */
export type SalesforceChange = { kind: 'create' | 'update' | 'delete'; sobject: string; id: string; at: number; fields: string[]; origin: string };
/** who makes a write: `com/salesforce/api/rest/62.0;client=rapport` for an API call with call options, '' otherwise */
export type WriteOrigin = { origin?: string };

export type SalesforceData = {
  /** creates a record; `at` (epoch ms) backdates it (generator loads), default the clock */
  create(sobject: string, fields: Row, opts?: { at?: number; modifiedAt?: number } & WriteOrigin): Row;
  /** sets fields and bumps LastModifiedDate and SystemModstamp */
  update(sobject: string, id: string, fields: Row, opts?: WriteOrigin): Row;
  /** moves the record to the recycle bin: IsDeleted = true, SystemModstamp bumped; queryAll still sees it */
  remove(sobject: string, id: string, opts?: WriteOrigin): void;
  /** hard delete (the recycle bin emptied): the record is gone, queryAll included */
  purge(sobject: string, id: string): void;
  get(sobject: string, id: string): Row | undefined;
  /** all rows of an sObject, deleted ones included, in id order */
  rows(sobject: string): Row[];
  count(sobject: string, opts?: { deleted?: boolean }): number;
  onChange(listener: (c: SalesforceChange) => void): () => void;
};

export const truncateToSecond = (ms: number): number => Math.floor(ms / 1000) * 1000;

export function createSalesforceStorage(clock: SandboxClock): SalesforceData {
  const tables = new Map<string, Map<string, Row>>();
  const counters = new Map<string, number>();
  const listeners = new Set<(c: SalesforceChange) => void>();

  const def = (name: string): SObjectDef => {
    const d = sobjectOf(name);
    if (d === undefined) throw new Error(`unknown sObject ${name}`);
    return d;
  };
  const table = (d: SObjectDef): Map<string, Row> => {
    let t = tables.get(d.name);
    if (t === undefined) {
      t = new Map();
      tables.set(d.name, t);
    }
    return t;
  };
  const canonical = (d: SObjectDef, fields: Row): Row => {
    const out: Row = {};
    for (const [k, v] of Object.entries(fields)) {
      const field = fieldOf(d, k);
      if (field === undefined) throw new Error(`No such column '${k}' on sobject of type ${d.name}`);
      out[field.name] = v;
    }
    return out;
  };
  const emit = (c: SalesforceChange) => {
    for (const l of listeners) l(c);
  };
  const mustGet = (d: SObjectDef, id: string): Row => {
    const row = table(d).get(id);
    if (row === undefined) throw new Error(`no ${d.name} ${id}`);
    return row;
  };

  return {
    create(sobject, fields, opts = {}) {
      const d = def(sobject);
      const n = (counters.get(d.name) ?? 0) + 1;
      counters.set(d.name, n);
      const created = truncateToSecond(opts.at ?? clock.now());
      const modified = truncateToSecond(opts.modifiedAt ?? opts.at ?? clock.now());
      const set = canonical(d, fields);
      const row: Row = { Id: salesforceId(d.keyPrefix, n), IsDeleted: false, ...set, CreatedDate: created, LastModifiedDate: modified, SystemModstamp: modified };
      table(d).set(row.Id as string, row);
      if (listeners.size > 0) emit({ kind: 'create', sobject: d.name, id: row.Id as string, at: modified, fields: Object.keys(set), origin: opts.origin ?? '' });
      return row;
    },
    update(sobject, id, fields, opts = {}) {
      const d = def(sobject);
      const row = mustGet(d, id);
      if (row.IsDeleted === true) throw new Error(`${d.name} ${id} is deleted`);
      const now = truncateToSecond(clock.now());
      const set = canonical(d, fields);
      Object.assign(row, set, { LastModifiedDate: now, SystemModstamp: now });
      emit({ kind: 'update', sobject: d.name, id, at: now, fields: Object.keys(set), origin: opts.origin ?? '' });
      return row;
    },
    remove(sobject, id, opts = {}) {
      const d = def(sobject);
      const row = mustGet(d, id);
      if (row.IsDeleted === true) return;
      const now = truncateToSecond(clock.now());
      // a delete bumps SystemModstamp (not LastModifiedDate): queryAll ordered by it sees the tombstone
      Object.assign(row, { IsDeleted: true, SystemModstamp: now });
      emit({ kind: 'delete', sobject: d.name, id, at: now, fields: [], origin: opts.origin ?? '' });
    },
    purge(sobject, id) {
      table(def(sobject)).delete(id);
    },
    get: (sobject, id) => table(def(sobject)).get(id),
    rows: (sobject) => [...table(def(sobject)).values()],
    count(sobject, opts = {}) {
      let n = 0;
      for (const r of table(def(sobject)).values()) if (opts.deleted === true || r.IsDeleted !== true) n++;
      return n;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
