import { createHash, randomUUID } from 'node:crypto';
import type { SandboxClock } from '../hubspot/clock.ts';
import { fieldOf, sobjectOf } from './objects.ts';
import type { FieldValue, SalesforceChange, SalesforceData } from './storage.ts';

/**
 * Change Data Capture on the emulated org: every write the org makes (REST API, the admin API that
 * plays a rep, generator loads) becomes a change event on the event bus, with a replay id, kept
 * for 72 hours. `cometd.ts` delivers them over Bayeux as Salesforce's CometD endpoint does.
 *
 * What is emulated, and where Salesforce says so (Change Data Capture Developer Guide):
 * - channels `/data/<Entity>ChangeEvent` (custom objects `/data/<Name>__ChangeEvent`) and
 *   `/data/ChangeEvents` for every selected entity; only entities selected in Setup publish
 *   (https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_subscribe_channels.htm,
 *   https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_select_objects.htm)
 * - the message `{schema, payload: {ChangeEventHeader, …fields}, event: {replayId}}`
 *   (https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_message_structure.htm)
 * - the header: entityName, recordIds, changeType, changeOrigin (`…;client=<id>` from
 *   `Sforce-Call-Options`), transactionKey, sequenceNumber, commitTimestamp, commitNumber,
 *   commitUser, nulledFields, diffFields, changedFields
 *   (https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_event_fields_header.htm)
 * - the body: CREATE all non-null fields, UPDATE only the changed ones plus LastModifiedDate,
 *   DELETE none; never IsDeleted or SystemModstamp
 *   (https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_event_fields_body.htm)
 * - gap events (GAP_CREATE/UPDATE/DELETE/UNDELETE: header with record ids, no fields) and
 *   overflow events (GAP_OVERFLOW: header only, no record ids, one per entity)
 *   (https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_other_events_gap.htm,
 *   https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_other_events_overflow.htm)
 * - retention for 72 hours, replay from -1 (new), -2 (all retained) or a replay id; an id the bus
 *   no longer (or never) had is refused
 *   (https://developer.salesforce.com/docs/atlas.en-us.api_streaming.meta/api_streaming/using_streaming_api_durability.htm)
 *
 * Simplifications, none kinder to a subscriber that reads only the header: every write is its
 * own transaction (sequenceNumber 1); a CREATE's body is rendered from the record as it is when
 * the event is delivered (updates keep the values they set); at most MAX_RETAINED_EVENTS are
 * kept (below); events are delivered at once (a real org's publish delay is not emulated).
 */

export type ChangeType = 'CREATE' | 'UPDATE' | 'DELETE' | 'UNDELETE' | 'GAP_CREATE' | 'GAP_UPDATE' | 'GAP_DELETE' | 'GAP_UNDELETE' | 'GAP_OVERFLOW';

export type ChangeEvent = {
  replayId: number;
  entityName: string;
  recordIds: string[];
  changeType: ChangeType;
  changeOrigin: string;
  transactionKey: string;
  commitTimestamp: number;
  commitNumber: number;
  /** fields set by an UPDATE (their values at the time), or by a CREATE (rendered on delivery) */
  fields: string[];
  values: Record<string, FieldValue> | null;
};

/** The entities Rapport's install guide selects (docs/install-salesforce.md). */
export const DEFAULT_CDC_ENTITIES: readonly string[] = ['Contact', 'Account', 'Opportunity', 'OpportunityContactRole', 'Case', 'Task', 'Event'];

export const ALL_CHANGE_EVENTS = '/data/ChangeEvents';
/** `/data/ContactChangeEvent`; a custom object `Survey_Response__c` → `/data/Survey_Response__ChangeEvent` */
export const channelOfEntity = (entity: string): string => `/data/${entity.endsWith('__c') ? entity.slice(0, -1) : entity}ChangeEvent`;
/** the entity of a `/data/…ChangeEvent` channel, or undefined for another name */
export function entityOfChannel(channel: string): string | undefined {
  const m = /^\/data\/(\w+?)(__)?ChangeEvent$/.exec(channel);
  if (m === null) return undefined;
  return m[2] === undefined ? m[1] : `${m[1]}__c`;
}

export const RETENTION_MS = 72 * 3_600_000;

export type ChangeEventLog = {
  /** the newest replay id (0: none yet) */
  latest(): number;
  /** events after `replayId` on `channel`, or an error when the bus cannot replay from there */
  since(channel: string, replayId: number): ChangeEvent[] | { invalid: true };
  /** called for each new event (cometd.ts fans them out to subscribers) */
  listen(l: (e: ChangeEvent) => void): () => void;
  /** whether an event is delivered on `channel` */
  onChannel(e: ChangeEvent, channel: string): boolean;
  /** the CometD `data` of an event */
  render(e: ChangeEvent): Record<string, unknown>;
  /** while on, writes publish gap events instead of change events (an org whose events could not be generated) */
  setGapMode(on: boolean): void;
  /** publishes a GAP_OVERFLOW event for an entity (a transaction past 100,000 changes) */
  overflow(entity: string): ChangeEvent;
  /** entities selected for Change Data Capture (Setup) */
  select(entities: readonly string[]): void;
  selected(): string[];
  size(): number;
  close(): void;
};

/**
 * The emulator keeps at most this many events (the oldest go first), whatever their age: a large
 * generated org (hundreds of thousands of records, each load a CREATE) would otherwise hold
 * millions in memory. Stricter than Salesforce, which keeps 72 hours whatever the count: a replay
 * id from before the cut is refused, and the subscriber falls back as after a long outage.
 */
export const MAX_RETAINED_EVENTS = 100_000;

export function createChangeEventLog(opts: { clock: SandboxClock; data: SalesforceData; commitUser: string; entities?: readonly string[]; maxEvents?: number }): ChangeEventLog {
  const { clock, data } = opts;
  const events: ChangeEvent[] = [];
  const listeners = new Set<(e: ChangeEvent) => void>();
  let seq = 0;
  let commitNumber = 10_651_207_138;
  const txBase = randomUUID().slice(0, 24);
  let gapMode = false;
  let selected = new Set(opts.entities ?? DEFAULT_CDC_ENTITIES);
  // the schema id names the event's Avro schema; one fixed value per entity is enough for CometD JSON
  const schemaOf = (entity: string) => createHash('sha256').update(entity).digest('base64url').slice(0, 22);

  const prune = () => {
    const cutoff = clock.now() - RETENTION_MS;
    let n = 0;
    while (n < events.length && events[n]!.commitTimestamp < cutoff) n++;
    // past the cap, drop a tenth at once rather than one event per write
    const max = opts.maxEvents ?? MAX_RETAINED_EVENTS;
    if (events.length - n >= max) n = Math.max(n, events.length - Math.floor(max * 0.9));
    if (n > 0) events.splice(0, n);
  };
  const publish = (e: Omit<ChangeEvent, 'replayId' | 'transactionKey' | 'commitTimestamp' | 'commitNumber'>): ChangeEvent => {
    prune();
    // one random base per org, the commit number in the last group: unique, uuid-shaped, cheap
    const event: ChangeEvent = { ...e, replayId: ++seq, transactionKey: `${txBase}${(++commitNumber).toString(16).padStart(12, '0').slice(-12)}`, commitTimestamp: clock.now(), commitNumber };
    events.push(event);
    for (const l of listeners) l(event);
    return event;
  };
  const kindOf: Record<SalesforceChange['kind'], 'CREATE' | 'UPDATE' | 'DELETE'> = { create: 'CREATE', update: 'UPDATE', delete: 'DELETE' };
  const stop = data.onChange((c) => {
    if (!selected.has(c.sobject)) return;
    const type = kindOf[c.kind];
    if (gapMode) {
      publish({ entityName: c.sobject, recordIds: [c.id], changeType: `GAP_${type}`, changeOrigin: c.origin, fields: [], values: null });
      return;
    }
    const row = data.get(c.sobject, c.id);
    const values: Record<string, FieldValue> | null = type === 'UPDATE' && row !== undefined ? Object.fromEntries([...c.fields, 'LastModifiedDate'].map((f) => [f, row[f] ?? null])) : null;
    publish({ entityName: c.sobject, recordIds: [c.id], changeType: type, changeOrigin: c.origin, fields: type === 'UPDATE' ? [...c.fields, 'LastModifiedDate'] : type === 'CREATE' ? c.fields : [], values });
  });

  const onChannel = (e: ChangeEvent, channel: string) => channel === ALL_CHANGE_EVENTS || channelOfEntity(e.entityName) === channel;
  /** datetimes as ISO strings, as CometD JSON carries them */
  const wireValue = (entity: string, field: string, v: FieldValue): FieldValue => {
    const def = sobjectOf(entity);
    const f = def === undefined ? undefined : fieldOf(def, field);
    return f?.type === 'datetime' && typeof v === 'number' ? new Date(v).toISOString() : v;
  };

  return {
    latest: () => seq,
    since(channel, replayId) {
      prune();
      if (replayId === -1) return [];
      const oldest = events[0]?.replayId ?? seq + 1;
      if (replayId !== -2 && (replayId < oldest - 1 || replayId > seq || (replayId < -2))) return { invalid: true };
      const from = replayId === -2 ? 0 : replayId;
      return events.filter((e) => e.replayId > from && onChannel(e, channel));
    },
    listen(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    onChannel,
    render(e) {
      const header = {
        entityName: e.entityName,
        recordIds: e.recordIds,
        changeType: e.changeType,
        changeOrigin: e.changeOrigin,
        transactionKey: e.transactionKey,
        sequenceNumber: 1,
        commitTimestamp: e.commitTimestamp,
        commitNumber: e.commitNumber,
        commitUser: opts.commitUser,
        nulledFields: e.values === null ? [] : Object.entries(e.values).filter(([, v]) => v === null).map(([k]) => k),
        diffFields: [],
        changedFields: e.changeType === 'UPDATE' ? e.fields : [],
      };
      const body: Record<string, FieldValue> = {};
      if (e.changeType === 'UPDATE' && e.values !== null) for (const [k, v] of Object.entries(e.values)) body[k] = wireValue(e.entityName, k, v);
      if (e.changeType === 'CREATE') {
        const row = data.get(e.entityName, e.recordIds[0]!);
        if (row !== undefined) for (const [k, v] of Object.entries(row)) if (v !== null && !['Id', 'IsDeleted', 'SystemModstamp'].includes(k)) body[k] = wireValue(e.entityName, k, v);
      }
      return { schema: schemaOf(e.entityName), payload: { ChangeEventHeader: header, ...body }, event: { replayId: e.replayId } };
    },
    setGapMode(on) {
      gapMode = on;
    },
    overflow(entity) {
      return publish({ entityName: entity, recordIds: [], changeType: 'GAP_OVERFLOW', changeOrigin: '', fields: [], values: null });
    },
    select(entities) {
      selected = new Set(entities);
    },
    selected: () => [...selected],
    size: () => events.length,
    close() {
      stop();
      listeners.clear();
    },
  };
}
