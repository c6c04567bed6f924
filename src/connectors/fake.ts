import { z } from 'zod';
import { CrmError, MISSING_PROPERTY, type CrmErrorKind } from '../errors.ts';
import type { CrmConnector, CrmRecord, Cursor, DataIssue, ObjectType, Page, RecordData, ScoreUpdate, WriteResult } from './types.ts';
import type { ScoreValues } from '../scores.ts';

/**
 * An in-memory connector implementing the port, for tests of code above the port (sync engine,
 * write-back). It follows the same rules as the real ones and passes the same contract suite
 * (test/contract/): backfill in id order including tombstones, then incremental "updatedAt ≥
 * since" with boundary repeats, id keyset inside runs of records sharing one timestamp, opaque
 * zod-checked cursors, and injectable failures.
 */
export type FakeRecordInput = {
  type: ObjectType;
  id: string;
  data: RecordData;
  contactIds?: string[] | undefined;
  companyId?: string | null;
  issues?: DataIssue[];
  /** defaults to now() */
  updatedAt?: number;
};

/** One request the fake served (or refused), in order: what a test reads instead of a hand-rolled spy. */
export type FakeRequest =
  | { op: 'changes'; type: ObjectType }
  | { op: 'writeScores'; updates: ScoreUpdate[] }
  | { op: 'provision' | 'whoAmI' };
export type FakeOp = FakeRequest['op'];

export type FakeConnector = CrmConnector & {
  readonly portal: string;
  /** create or replace a record (bumps updatedAt to now() unless given) */
  put(input: FakeRecordInput): CrmRecord;
  /** archive: the record becomes a tombstone stamped now() */
  remove(type: ObjectType, id: string): void;
  /** change associations WITHOUT touching updatedAt (like HubSpot, https://github.com/airbytehq/airbyte/issues/27199); seen on the next sweep */
  associate(type: ObjectType, id: string, contactIds: string[]): void;
  get(type: ObjectType, id: string): CrmRecord | undefined;
  all(type: ObjectType): CrmRecord[];
  /**
   * the next `times` requests fail with this kind (429 → rate_limited, 401 → auth, malformed →
   * bad_response …); with `op`, only requests of that operation (e.g. a whole writeScores batch);
   * `code` is the CRM's error code the failure carries (default INJECTED)
   */
  failNext(kind: CrmErrorKind, times?: number, on?: { op?: FakeOp; code?: string }): void;
  /** the next `times` writes to this contact fail for it alone, reported per record (a 207 entry) */
  failWrite(contactId: string, kind: CrmErrorKind, times?: number): void;
  /** every request, in order */
  readonly requests: readonly FakeRequest[];
  /** what writeScores stored, per contact */
  readonly written: Map<string, ScoreValues>;
  readonly provisioned: boolean;
  stats(): { calls: number; rateLimited: number; retries: number };
};

const CursorState = z.discriminatedUnion('phase', [
  z.object({ phase: z.literal('list'), afterId: z.string().nullable(), startedAt: z.number() }),
  z.object({ phase: z.literal('changes'), since: z.number(), afterId: z.string().nullable(), sweptAt: z.number() }),
]);
type CursorState = z.infer<typeof CursorState>;

const encode = (s: CursorState): Cursor => Buffer.from(JSON.stringify(s)).toString('base64url') as Cursor;
function decode(c: Cursor): CursorState | null {
  try {
    const r = CursorState.safeParse(JSON.parse(Buffer.from(c, 'base64url').toString('utf8')));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** Ids compare numerically when both are numeric (as HubSpot's hs_object_id), else as strings. */
export function compareIds(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  return a < b ? -1 : a > b ? 1 : 0;
}

export function createFakeConnector(opts: {
  portal?: string;
  pageSize?: number;
  now?: () => number;
  /** full re-list for association changes every this many ms (default never) */
  sweepEveryMs?: number;
  /**
   * the portal lacks our properties until provision() succeeds: writes fail per record with
   * MISSING_PROPERTY, as HubSpot answers a write to a property it does not have (a 207 entry
   * with PROPERTY_DOESNT_EXIST, https://developers.hubspot.com/docs/api/error-handling)
   */
  unprovisioned?: boolean;
  /** awaited before every request: lets a test hold a page in flight or act between pages */
  beforeRequest?: (req: FakeRequest) => void | Promise<void>;
} = {}): FakeConnector {
  const portal = opts.portal ?? 'hubspot:1';
  // the CRM it stands for: the portal id's `<name>:` (a test's own provider, or a real one's)
  const crm = portal.split(':')[0] ?? portal;
  const pageSize = opts.pageSize ?? 100;
  const now = opts.now ?? Date.now;
  const sweepEveryMs = opts.sweepEveryMs ?? Number.POSITIVE_INFINITY;
  const data = new Map<ObjectType, Map<string, CrmRecord>>();
  const written = new Map<string, ScoreValues>();
  const faults: Array<{ kind: CrmErrorKind; op: FakeOp | undefined; code: string }> = [];
  const writeFaults = new Map<string, CrmErrorKind[]>();
  const requests: FakeRequest[] = [];
  let provisioned = opts.unprovisioned !== true;
  const counters = { calls: 0, rateLimited: 0, retries: 0 };

  const table = (type: ObjectType) => {
    let t = data.get(type);
    if (t === undefined) data.set(type, (t = new Map()));
    return t;
  };
  const call = async (req: FakeRequest, signal: AbortSignal) => {
    requests.push(req);
    await opts.beforeRequest?.(req);
    // a request whose signal fired while it was held is cut, as fetch rejects an aborted request
    signal.throwIfAborted();
    counters.calls++;
    const i = faults.findIndex((f) => f.op === undefined || f.op === req.op);
    if (i >= 0) {
      const { kind, code } = faults.splice(i, 1)[0]!;
      if (kind === 'rate_limited') counters.rateLimited++;
      throw new CrmError(kind, `fake connector: injected ${kind} on ${req.op}${'type' in req ? ` ${req.type}` : ''}`, { crm, code });
    }
  };
  const clone = (r: CrmRecord): CrmRecord => structuredClone(r);

  async function* changes(type: ObjectType, cursor: Cursor | null, signal: AbortSignal): AsyncGenerator<Page> {
    let state: CursorState = (cursor === null ? null : decode(cursor)) ?? { phase: 'list', afterId: null, startedAt: now() };
    if (state.phase === 'changes' && state.afterId === null && now() - state.sweptAt >= sweepEveryMs) {
      state = { phase: 'list', afterId: null, startedAt: now() };
    }
    while (true) {
      signal.throwIfAborted();
      await call({ op: 'changes', type }, signal);
      const rows = [...table(type).values()];
      if (state.phase === 'list') {
        const after: string | null = state.afterId;
        const page: CrmRecord[] = rows
          .filter((r) => after === null || compareIds(r.id, after) > 0)
          .sort((a, b) => compareIds(a.id, b.id))
          .slice(0, pageSize);
        const last = page.at(-1);
        const done = page.length < pageSize || last === undefined;
        const next: CursorState =
          done || last === undefined
            ? { phase: 'changes', since: state.startedAt, afterId: null, sweptAt: state.startedAt }
            : { ...state, afterId: last.id };
        yield { records: page.map(clone), next: encode(next) };
        state = next;
        if (done) return;
        continue;
      }
      const since: number = state.since;
      const afterId: string | null = state.afterId;
      const page: CrmRecord[] = rows
        .filter((r) => (afterId === null ? r.updatedAt >= since : r.updatedAt === since && compareIds(r.id, afterId) > 0))
        .sort((a, b) => a.updatedAt - b.updatedAt || compareIds(a.id, b.id))
        .slice(0, pageSize);
      const full: boolean = page.length >= pageSize;
      const maxT: number = Math.max(since, ...page.map((r: CrmRecord) => r.updatedAt));
      let next: CursorState;
      if (afterId !== null) next = full ? { ...state, afterId: page.at(-1)!.id } : { ...state, since: since + 1, afterId: null };
      else if (full && maxT === since) next = { ...state, afterId: '' };
      else next = { ...state, since: maxT };
      yield { records: page.map(clone), next: encode(next) };
      state = next;
      if (!full && next.afterId === null && afterId === null) return;
    }
  }

  return {
    crm,
    portal,
    changes,
    async provision(signal) {
      signal.throwIfAborted();
      await call({ op: 'provision' }, signal);
      provisioned = true;
    },
    async writeScores(updates: readonly ScoreUpdate[], signal: AbortSignal): Promise<WriteResult[]> {
      signal.throwIfAborted();
      let batchError: CrmError | undefined;
      try {
        await call({ op: 'writeScores', updates: structuredClone([...updates]) }, signal);
      } catch (e) {
        // like the real connectors: only a rejected token or missing permission throws (nothing
        // else in the run could succeed); any other failure of the batch fails each of its records
        if (!(e instanceof CrmError) || e.kind === 'auth' || e.kind === 'forbidden') throw e;
        batchError = e;
      }
      return updates.map((u): WriteResult => {
        if (batchError !== undefined) return { contactId: u.contactId, ok: false, error: batchError };
        const injected = writeFaults.get(u.contactId)?.shift();
        if (injected !== undefined) {
          return { contactId: u.contactId, ok: false, error: new CrmError(injected, `fake connector: injected ${injected} on contact ${u.contactId}`, { crm, code: 'INJECTED' }) };
        }
        if (!provisioned) {
          const name = Object.keys(u.properties)[0] ?? 'score';
          return {
            contactId: u.contactId,
            ok: false,
            error: new CrmError('invalid_request', `Property values were not valid: [{"error":"PROPERTY_DOESNT_EXIST","name":"rapport_${name}"}]`, {
              crm,
              status: 207,
              code: MISSING_PROPERTY,
            }),
          };
        }
        const c = table('contacts').get(u.contactId);
        if (c === undefined || c.deleted) {
          return {
            contactId: u.contactId,
            ok: false,
            error: new CrmError('invalid_request', `contact ${u.contactId} does not exist`, { crm, status: 404, code: 'OBJECT_NOT_FOUND' }),
          };
        }
        written.set(u.contactId, { ...written.get(u.contactId), ...u.properties });
        return { contactId: u.contactId, ok: true };
      });
    },
    async whoAmI() {
      await call({ op: 'whoAmI' }, new AbortController().signal);
      return { portal };
    },
    put(input) {
      const r: CrmRecord = {
        portal,
        type: input.type,
        id: input.id,
        contactIds: input.contactIds,
        companyId: input.companyId ?? null,
        updatedAt: input.updatedAt ?? now(),
        deleted: false,
        data: input.data,
      };
      if (input.issues !== undefined) r.issues = input.issues;
      table(input.type).set(input.id, r);
      return clone(r);
    },
    remove(type, id) {
      const r = table(type).get(id);
      if (r === undefined) throw new RangeError(`fake: no ${type} ${id}`);
      table(type).set(id, { ...r, deleted: true, updatedAt: Math.max(now(), r.updatedAt), contactIds: r.contactIds === undefined ? undefined : [] });
    },
    associate(type, id, contactIds) {
      const r = table(type).get(id);
      if (r === undefined) throw new RangeError(`fake: no ${type} ${id}`);
      table(type).set(id, { ...r, contactIds: [...contactIds].sort() });
    },
    get: (type, id) => {
      const r = table(type).get(id);
      return r === undefined ? undefined : clone(r);
    },
    all: (type) => [...table(type).values()].map(clone),
    failNext(kind, times = 1, on = {}) {
      for (let i = 0; i < times; i++) faults.push({ kind, op: on.op, code: on.code ?? 'INJECTED' });
    },
    failWrite(contactId, kind, times = 1) {
      const queue = writeFaults.get(contactId) ?? [];
      for (let i = 0; i < times; i++) queue.push(kind);
      writeFaults.set(contactId, queue);
    },
    requests,
    written,
    get provisioned() {
      return provisioned;
    },
    stats: () => ({ ...counters }),
  };
}
