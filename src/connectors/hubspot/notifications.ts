import type { Context } from 'hono';
import { z } from 'zod';
import type { ObjectType } from '../types.ts';
import type { PortalState, PortalStatus } from '../provider.ts';
import type { Logger } from '../../log.ts';
import type { Store } from '../../store/index.ts';
import { ASSOCIATIONS } from './mapping.ts';
import { hubspotSignature, type SignatureRejection, type SignedRequestEnv } from './signature.ts';

/**
 * HubSpot webhook receiver (https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide), the provider's `notifications`. A delivery is
 * verified over the RAW body by signature.ts (the same middleware as the card API's), parsed and
 * filtered, then acknowledged; right after the response, its events are deduplicated by event id
 * (persisted) and turned into nudges: the webhook never carries data into the cache
 * (ARCHITECTURE §1), the incremental sync fetches the truth. Every rejection writes nothing: a 4xx,
 * or a 503 while no client secret is configured (HubSpot retries it).
 */

/** Our own write-back properties (ARCHITECTURE §6): changes to them must never trigger us. */
export const OWN_PROPERTY_PREFIX = 'rapport_';

// ---------------------------------------------------------------- payload

const id = z.number().int().nonnegative();

/**
 * One event (https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide; every example and capture has numeric ids): the fields
 * the receiver reads are checked; the others (occurredAt, attemptNumber, changeSource,
 * propertyValue, and what HubSpot adds over time) pass through untouched (loose: copying is
 * slower), unchecked because nothing reads them: each checked field costs allocations on every
 * event of every delivery (zod's per-field results were most of the web process's garbage, 5 Dec).
 */
export const hubspotEventSchema = z.looseObject({
  eventId: id,
  subscriptionId: id,
  portalId: z.number().int().positive(),
  appId: id.optional(),
  subscriptionType: z.string().min(1).max(200),
  objectId: id.optional(),
  objectTypeId: z.string().max(50).optional(),
  propertyName: z.string().max(500).optional(),
  associationType: z.string().max(200).optional(),
  fromObjectId: id.optional(),
  toObjectId: id.optional(),
  fromObjectTypeId: z.string().max(50).optional(),
  toObjectTypeId: z.string().max(50).optional(),
});
export type HubspotEvent = z.infer<typeof hubspotEventSchema>;
export const hubspotDeliverySchema = z.array(hubspotEventSchema).min(1).max(1000);

/** https://developers.hubspot.com/docs/guides/crm/using-object-apis: objectTypeId of generic (`object.*`) events → our stream. */
const BY_TYPE_ID = new Map<string, ObjectType>(Object.entries({
  '0-1': 'contacts', '0-2': 'companies', '0-3': 'deals', '0-5': 'tickets',
  '0-48': 'calls', '0-49': 'emails', '0-47': 'meetings', '0-46': 'notes', '0-27': 'tasks',
  '0-19': 'feedback_submissions',
}) as [string, ObjectType][]);
/** Legacy `<object>.<event>` prefixes and association-type words → our stream (Maps: no prototype keys). */
const BY_NAME = new Map<string, ObjectType>(Object.entries({
  contact: 'contacts', company: 'companies', deal: 'deals', ticket: 'tickets',
  call: 'calls', email: 'emails', meeting: 'meetings', meeting_event: 'meetings', note: 'notes', task: 'tasks',
  feedback_submission: 'feedback_submissions',
}) as [string, ObjectType][]);

/**
 * Streams an event concerns; [] when it is none of ours (products, conversations, custom
 * objects). Association changes concern both sides: HubSpot does not bump lastmodified for
 * them (https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associate-records/guide), so both streams are worth a look.
 */
export function streamsForEvent(e: HubspotEvent): ObjectType[] {
  const [prefix, action] = e.subscriptionType.split('.', 2);
  if (prefix === undefined || action === undefined) return [];
  const out = new Set<ObjectType>();
  if (prefix === 'object') {
    const t = e.objectTypeId === undefined ? undefined : BY_TYPE_ID.get(e.objectTypeId);
    if (t !== undefined) out.add(t);
  } else {
    const t = BY_NAME.get(prefix);
    if (t !== undefined) out.add(t);
  }
  if (action === 'associationChange') {
    // e.g. CONTACT_TO_COMPANY, CALL_TO_CONTACT; generic events also name both type ids
    const sides = new Set<ObjectType>();
    for (const side of (e.associationType ?? '').toLowerCase().split('_to_')) {
      const t = BY_NAME.get(side);
      if (t !== undefined) sides.add(t);
    }
    for (const typeId of [e.fromObjectTypeId, e.toObjectTypeId]) {
      const t = typeId === undefined ? undefined : BY_TYPE_ID.get(typeId);
      if (t !== undefined) sides.add(t);
    }
    // The cache keeps a record's link to its contacts on the record (deal, ticket, engagement,
    // survey), and a contact's own link only to its company: re-reading contacts helps only for
    // contact↔company changes, and is a full lookback pass after a bulk write otherwise.
    for (const t of sides) out.add(t);
    if (!sides.has('companies') && [...sides].some((t) => t !== 'contacts')) out.delete('contacts');
  }
  return [...out];
}

/**
 * Which records to re-read for an association change: association changes do not bump
 * last-modified, so no search finds them (https://github.com/airbytehq/airbyte/issues/27199); the record that holds the link in
 * our cache (an engagement, deal, ticket or survey → its contacts; a contact, deal or ticket →
 * its primary company; a company → its contacts) is read again directly. HubSpot sends one event
 * per direction (https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide), so each event names both ids; [] when it is not an association change.
 */
export function recordsForAssociationChange(e: HubspotEvent): Array<{ type: ObjectType; id: string }> {
  if (!e.subscriptionType.endsWith('.associationChange')) return [];
  const [fromWord, toWord] = (e.associationType ?? '').toLowerCase().split('_to_', 2);
  const fromType = (e.fromObjectTypeId === undefined ? undefined : BY_TYPE_ID.get(e.fromObjectTypeId)) ?? (fromWord === undefined ? undefined : BY_NAME.get(fromWord));
  const toType = (e.toObjectTypeId === undefined ? undefined : BY_TYPE_ID.get(e.toObjectTypeId)) ?? (toWord === undefined ? undefined : BY_NAME.get(toWord));
  const fromId = e.fromObjectId ?? e.objectId;
  const toId = e.toObjectId;
  if (fromType === undefined || toType === undefined || fromId === undefined) return [];
  const out: Array<{ type: ObjectType; id: string }> = [];
  if (HOLDS_LINK[fromType].includes(toType)) out.push({ type: fromType, id: String(fromId) });
  if (toId !== undefined && HOLDS_LINK[toType].includes(fromType)) out.push({ type: toType, id: String(toId) });
  return out;
}

/** Which links each record type keeps in the cache: the connector's own list. */
const HOLDS_LINK: Record<ObjectType, readonly ObjectType[]> = ASSOCIATIONS;

export const isOwnPropertyChange = (e: HubspotEvent): boolean =>
  e.subscriptionType.endsWith('.propertyChange') && e.propertyName !== undefined && e.propertyName.startsWith(OWN_PROPERTY_PREFIX);

// ---------------------------------------------------------------- handler

export type WebhookRejection = SignatureRejection | 'method' | 'malformed_json' | 'invalid_events';
export type EventOutcome = 'nudged' | 'duplicate' | 'own_property' | 'unknown_portal' | 'disconnected_portal' | 'wrong_app' | 'unsupported_type';

export type WebhookStats = {
  deliveries: number;
  events: number;
  rejected: Partial<Record<WebhookRejection, number>>;
  outcomes: Partial<Record<EventOutcome, number>>;
};

export type HubspotWebhookDeps = {
  store: Pick<Store, 'portals' | 'webhookEvents'>;
  clientSecret: string | undefined;
  /** our app id: events for another app are dropped (when set) */
  appId?: string | undefined;
  /** the public base URL HubSpot calls (signatures cover the full URL) */
  publicUrl: string;
  /** accept v1/v2 signatures without v3 (HUBSPOT_LEGACY_SIGNATURES; default off) */
  legacySignatures?: boolean;
  now(): number;
  /** the process's portal-state cache (src/server/portal-status.ts); without it, a lookup per delivery */
  portalStatus?: PortalStatus | undefined;
  nudge(portal: string, types: ObjectType[]): void;
  /** re-read these records directly (association changes); without it their streams are nudged */
  refresh?(portal: string, type: ObjectType, ids: string[]): void;
  /** events waiting for their dedupe at most (default MAX_QUEUED_EVENTS) */
  maxQueuedEvents?: number;
  logger: Logger;
};

const PRUNE_EVERY_MS = 3600_000;
/**
 * Flushes start at least this far apart (group commit). At 500 deliveries/s the deliveries arrive
 * one per turn, and a commit of its own for each cost ~0.6 ms of the serving thread's ~1.5 ms a
 * delivery (SQLite WAL; bench:webhooks, 4 Dec): ten milliseconds gather ~5 deliveries per commit.
 * A lone delivery still flushes on the next turn; nudges wait at most this long, next to a sync
 * that takes seconds.
 */
export const FLUSH_INTERVAL_MS = 10;
/**
 * Events waiting for their dedupe, at most. One flush runs at a time and takes every event queued
 * meanwhile, so a slow database gets fewer, larger statements instead of a pile of concurrent
 * ones (bench:scale, 5 Dec: with the Postgres server starved during a backfill, 161 flushes were
 * in flight at once, their events kept alive long enough to be promoted, and the scavenges that
 * copied them held up the acknowledgements). Past this many (the database has stalled), new
 * events are nudged without a dedupe, which bounds the memory: a nudge too many is harmless, a
 * lost one is not. Deliveries of 100 events: 500 deliveries' worth, a few MB.
 */
export const MAX_QUEUED_EVENTS = 50_000;

/**
 * One accepted event waiting for its dedupe: shaped as the store's `rememberAll` input, so a flush
 * hands the queue over as it is. It may wait for a slow database long enough to be promoted to
 * the old generation (bench:scale, 5 Dec: ~0.6 MB a scavenge at 500 deliveries/s), so it holds as
 * little of its own as it can: the portal name and the stream lists are shared, only the id is new.
 */
type Fresh = { portal: string; eventId: string; types: readonly ObjectType[]; records: ReadonlyArray<{ type: ObjectType; id: string }> };
const NO_RECORDS: Fresh['records'] = Object.freeze([]);
const NO_TYPES: readonly ObjectType[] = Object.freeze([]);
/** one shared array per distinct list of streams (a handful exist) */
const streamLists = new Map<string, readonly ObjectType[]>();
const sharedList = (types: ObjectType[]): readonly ObjectType[] => {
  if (types.length === 0) return NO_TYPES;
  const key = types.join(',');
  let list = streamLists.get(key);
  if (list === undefined) streamLists.set(key, (list = Object.freeze(types)));
  return list;
};

/** Nudges and record refreshes gathered per portal (a set each: a burst of events for one portal is one nudge). */
function gathered() {
  const nudges = new Map<string, Set<ObjectType>>();
  const refreshes = new Map<string, Map<ObjectType, Set<string>>>();
  let events = 0;
  return {
    nudges,
    refreshes,
    events: () => events,
    add(f: Fresh): void {
      events += 1;
      if (f.types.length > 0) {
        let set = nudges.get(f.portal);
        if (set === undefined) nudges.set(f.portal, (set = new Set()));
        for (const t of f.types) set.add(t);
      }
      for (const r of f.records) {
        let byType = refreshes.get(f.portal);
        if (byType === undefined) refreshes.set(f.portal, (byType = new Map()));
        let ids = byType.get(r.type);
        if (ids === undefined) byType.set(r.type, (ids = new Set()));
        ids.add(r.id);
      }
    },
  };
}

export function createHubspotWebhookHandler(deps: HubspotWebhookDeps) {
  const stats: WebhookStats = { deliveries: 0, events: 0, rejected: {}, outcomes: {} };
  const maxQueued = deps.maxQueuedEvents ?? MAX_QUEUED_EVENTS;
  let lastPrune = 0;
  let queue: Fresh[] = [];
  // events past maxQueued, nudged at the next flush without a dedupe
  let overflow = gathered();
  let scheduled = false;
  let flushing = false;
  let lastFlushAt = -Infinity;
  const schedule = () => {
    if (scheduled || flushing) return;
    scheduled = true;
    const wait = lastFlushAt + FLUSH_INTERVAL_MS - performance.now();
    if (wait <= 0) setImmediate(() => void flush());
    else setTimeout(() => void flush(), wait);
  };
  const log = deps.logger.child({ route: 'webhooks/hubspot' });
  // without a shared cache (tests, single-purpose tools) every delivery reads the store
  const status: PortalStatus = deps.portalStatus ?? {
    state: async (portal) => {
      const p = await deps.store.portals.get(portal);
      return p === undefined ? 'unknown' : p.status === 'connected' ? 'connected' : 'disconnected';
    },
  };

  const reject = (c: Context, status: 400 | 401 | 405 | 413 | 503, reason: WebhookRejection): Response => {
    stats.rejected[reason] = (stats.rejected[reason] ?? 0) + 1;
    log.warn({ status, reason }, 'webhook rejected');
    if (status === 405) c.header('allow', 'POST');
    return c.json({ error: reason }, status);
  };
  const count = (o: EventOutcome, n = 1) => {
    stats.outcomes[o] = (stats.outcomes[o] ?? 0) + n;
  };

  // the same verifier as the card API's (signature.ts): v3 over the raw body, 5-minute window
  const signed = hubspotSignature({
    clientSecret: deps.clientSecret,
    publicUrl: deps.publicUrl,
    allowLegacy: deps.legacySignatures === true,
    now: deps.now,
    onReject: (c, reason, status) => reject(c, status, reason),
  });

  async function handle(c: Context): Promise<Response> {
    if (c.req.method !== 'POST') return reject(c, 405, 'method');
    const refused = await signed(c as Context<SignedRequestEnv>, async () => {
      c.res = await accept(c as Context<SignedRequestEnv>);
    });
    return refused ?? c.res;
  }

  async function accept(c: Context<SignedRequestEnv>): Promise<Response> {
    let json: unknown;
    try {
      const raw = c.get('rawBody');
      // a view, not a copy, of the bytes the signature covered
      json = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
    } catch {
      return reject(c, 400, 'malformed_json');
    }
    const parsed = hubspotDeliverySchema.safeParse(json);
    if (!parsed.success) return reject(c, 400, 'invalid_events');

    const fresh: Fresh[] = [];
    const portalState = new Map<string, PortalState>();
    // one portal name per portal of the delivery, shared by its events
    const portalOf = new Map<number, string>();
    for (const e of parsed.data) {
      let portal = portalOf.get(e.portalId);
      if (portal === undefined) portalOf.set(e.portalId, (portal = `hubspot:${e.portalId}`));
      let state = portalState.get(portal);
      if (state === undefined) {
        // from memory for a portal connected a moment ago (no database round trip before the 200)
        const s = status.state(portal);
        state = typeof s === 'string' ? s : await s;
        portalState.set(portal, state);
      }
      if (state === 'unknown') count('unknown_portal');
      else if (state === 'disconnected') count('disconnected_portal');
      else if (deps.appId !== undefined && e.appId !== undefined && String(e.appId) !== deps.appId) count('wrong_app');
      else if (isOwnPropertyChange(e)) count('own_property');
      else {
        const types = streamsForEvent(e);
        const records = deps.refresh === undefined ? NO_RECORDS : recordsForAssociationChange(e);
        if (types.length === 0) count('unsupported_type');
        // HubSpot says eventId is "not guaranteed to be unique" (https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide): scope it by subscription.
        // An association change the cache can take by re-reading the records needs no stream pass.
        else fresh.push({ portal, eventId: `${e.subscriptionId}:${e.eventId}`, types: records.length > 0 ? NO_TYPES : sharedList(types), records: records.length > 0 ? records : NO_RECORDS });
      }
    }
    stats.deliveries += 1;
    stats.events += parsed.data.length;
    if (fresh.length > 0) {
      for (const f of fresh) {
        if (queue.length < maxQueued) queue.push(f);
        else {
          if (overflow.events() === 0) log.warn({ queued: queue.length }, 'webhook dedupe backlog full (the database is slow): nudging without dedupe until it drains');
          overflow.add(f);
        }
      }
      // acknowledge first (HubSpot retries after 5 s, https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide): dedupe and nudges run right after the response
      schedule();
    }
    return c.json({ received: parsed.data.length }, 200);
  }

  /**
   * Dedupe and nudge everything accepted since the last flush: under load many deliveries share a
   * statement (group commit), which is what keeps 500 deliveries/s cheap. One flush at a time.
   */
  async function flush(): Promise<void> {
    scheduled = false;
    flushing = true;
    lastFlushAt = performance.now();
    const batch = queue;
    queue = [];
    const undeduped = overflow;
    overflow = gathered();
    const out = gathered();
    try {
      try {
        const fresh = await deps.store.webhookEvents.rememberAll(batch);
        batch.forEach((f, i) => {
          if (fresh[i] === true) out.add(f);
        });
      } catch (e) {
        // the dedupe table is an optimisation: a nudge too many is harmless, a lost one is not
        log.error({ err: (e as Error).message, events: batch.length }, 'webhook dedupe failed; nudging without it');
        for (const f of batch) out.add(f);
      }
      count('nudged', out.events() + undeduped.events());
      count('duplicate', batch.length - out.events());
      for (const g of [out, undeduped]) send(g);
      const now = deps.now();
      if (now - lastPrune > PRUNE_EVERY_MS) {
        lastPrune = now;
        // runs after the response, outside any request's try: a locked database (another
        // process's write) must cost one late prune, not the process (issue 15 item 4)
        try {
          await deps.store.webhookEvents.prune();
        } catch (e) {
          log.warn({ err: (e as Error).message }, 'pruning webhook ids failed; retrying in an hour');
        }
      }
    } finally {
      flushing = false;
      // what arrived meanwhile, FLUSH_INTERVAL_MS after this flush began (at once if it took longer)
      if (queue.length > 0 || overflow.events() > 0) schedule();
    }
  }

  function send(g: ReturnType<typeof gathered>): void {
    for (const [portal, types] of g.nudges) {
      try {
        deps.nudge(portal, [...types]);
      } catch (e) {
        log.error({ portal, err: (e as Error).message }, 'nudge failed');
      }
    }
    for (const [portal, byType] of g.refreshes) {
      for (const [type, ids] of byType) {
        try {
          deps.refresh?.(portal, type, [...ids]);
        } catch (e) {
          log.error({ portal, err: (e as Error).message }, 'refresh failed');
        }
      }
    }
  }

  return { handle, stats: (): WebhookStats => structuredClone(stats) };
}
