import { createHash, createHmac } from 'node:crypto';
import type { Logger } from '../../log.ts';
import { silentLogger } from '../../log.ts';
import { HUBSPOT_OBJECT_TYPES, type HubspotObjectType } from '../model.ts';
import type { Clock } from './clock.ts';
import { createRandom } from '../../stats/random.ts';
import type { SandboxChange, SandboxData, SandboxWebhooks } from './types.ts';

/**
 * Signed webhook delivery, as HubSpot does it for an app's CRM-object subscriptions (https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide):
 * every `data.onChange` event becomes one HubSpot-shaped event, batched per (subscription, portal)
 * for a short window, POSTed as a JSON array of ≤100 events with v1 and v3 signatures, and retried
 * with exponential backoff and jitter on any non-2xx, connection failure or timeout (https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide).
 *
 * What a subscription receives (the sandbox subscribes to everything; `properties` narrows
 * propertyChange events):
 * - contacts, companies, deals: the legacy `contact.creation`, `company.propertyChange`,
 *   `deal.deletion`, `contact.associationChange` … types (https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide);
 * - tickets, calls, emails, meetings, notes, tasks, feedback_submissions: the generic
 *   `object.creation|propertyChange|deletion|associationChange` types with `objectTypeId`
 *   (`0-5`, `0-48`, …) — engagements and feedback exist only there (https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide).
 * - `lastmodifieddate` / `hs_lastmodifieddate` never produce propertyChange events (not
 *   subscribable, https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide).
 *
 * Timing: the batching window and retry delays use real timers (the sandbox clock may be frozen),
 * while `occurredAt` and `X-HubSpot-Request-Timestamp` come from the sandbox clock, so a receiver
 * that shares that clock checks its 5-minute window consistently. HubSpot spreads 10 retries
 * over 24 h; here the schedule is `baseMs · 2^attempt` (capped at `maxMs`) with ±50 % jitter,
 * defaulting to seconds so a demo sees retries, and tests shrink it further. `flush()` delivers
 * everything now, firing pending retries without waiting for their delay.
 */

export type WebhookSubscription = {
  targetUrl: string;
  clientSecret: string;
  appId: number;
  /** hub ids whose events this subscription receives; default all */
  portals?: number[];
  /** property names whose changes are sent; default all (except the last-modified ones) */
  properties?: string[];
};

/** One HubSpot webhook event as it goes on the wire (https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide). */
export type HubspotWebhookEvent = {
  eventId: number;
  subscriptionId: number;
  portalId: number;
  appId: number;
  occurredAt: number;
  subscriptionType: string;
  attemptNumber: number;
  objectId: number;
  objectTypeId?: string;
  propertyName?: string;
  propertyValue?: string;
  changeFlag?: string;
  changeSource: string;
  sourceId?: string;
  isSensitive?: boolean;
  primaryObjectId?: number;
  mergedObjectIds?: number[];
  newObjectId?: number;
  numberOfPropertiesMoved?: number;
  associationType?: string;
  fromObjectId?: number;
  toObjectId?: number;
  fromObjectTypeId?: string;
  toObjectTypeId?: string;
  associationRemoved?: boolean;
  isPrimaryAssociation?: boolean;
};

export type WebhookStats = {
  /** events acknowledged with a 2xx */
  delivered: number;
  /** events given up after the last retry */
  failed: number;
  /** events queued, in flight or waiting for a retry */
  pending: number;
  /** HTTP requests sent (attempts) */
  requests: number;
  /** of which retries */
  retries: number;
  /** batches delivered a second time on purpose (`duplicateRate`) */
  duplicates: number;
};

/**
 * HubSpot promises neither order nor uniqueness (https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide): receivers must cope with both.
 * `duplicateRate` re-sends that share of successfully delivered batches (same eventIds, same
 * attemptNumber); `shuffle` sends each batch's events in random order.
 */
export type DeliveryModes = { duplicateRate: number; shuffle: boolean };

export type SandboxWebhooksImpl = Omit<SandboxWebhooks, 'subscribe' | 'stats'> & {
  /** Returns the subscription id; subscribing the same (targetUrl, appId) again replaces it. */
  subscribe(opts: WebhookSubscription): number;
  unsubscribe(id: number): void;
  subscriptions(): Array<{ id: number; targetUrl: string; appId: number; portals?: number[] }>;
  stats(): WebhookStats;
  setModes(modes: Partial<DeliveryModes>): DeliveryModes;
  /** stop listening, cancel timers and in-flight requests; pending events are dropped */
  close(): Promise<void>;
};

export type WebhookOptions = {
  data: Pick<SandboxData, 'onChange'>;
  clock: Clock;
  /** false drops a portal's events (e.g. the app was uninstalled: `portals.isRevoked`) */
  isActive?: (hubId: number) => boolean;
  logger?: Logger;
  fetch?: typeof fetch;
  /** how long events gather before a POST (default 200 ms) */
  batchWindowMs?: number;
  /** events per POST (default and maximum 100, https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide) */
  maxEventsPerRequest?: number;
  /** in-flight POSTs per portal and subscription (default 10, https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide) */
  maxConcurrentPerPortal?: number;
  /** a slower target counts as failed (default 5,000 ms, https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide) */
  timeoutMs?: number;
  retry?: { maxRetries?: number; baseMs?: number; maxMs?: number };
  seed?: number;
} & Partial<DeliveryModes>;

const LEGACY_NAMES: Partial<Record<HubspotObjectType, string>> = { contacts: 'contact', companies: 'company', deals: 'deal' };
const NOT_SUBSCRIBABLE = new Set(['lastmodifieddate', 'hs_lastmodifieddate']);
const USER_AGENT = 'HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon';

/** https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation step 2: the only %xx sequences decoded in the URI before signing/validating. */
const DECODED_SEQUENCES: Record<string, string> = {
  '%3A': ':', '%2F': '/', '%3F': '?', '%40': '@', '%21': '!', '%24': '$', '%27': "'", '%28': '(', '%29': ')', '%2A': '*', '%2C': ',', '%3B': ';',
};
export const decodeSignedUri = (uri: string): string =>
  uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => DECODED_SEQUENCES[m.toUpperCase()] ?? m);

/** https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation: base64(HMAC-SHA256(secret, method + uri + body + timestamp)). */
export const signV3 = (clientSecret: string, method: string, uri: string, body: string, timestamp: number): string =>
  createHmac('sha256', clientSecret).update(`${method}${decodeSignedUri(uri)}${body}${timestamp}`, 'utf8').digest('base64');

/** https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation: hex(SHA-256(secret + body)). */
export const signV1 = (clientSecret: string, body: string): string => createHash('sha256').update(clientSecret + body, 'utf8').digest('hex');

type Subscription = WebhookSubscription & { id: number; typeIds: Map<string, number> };
type Batch = { sub: Subscription; hubId: number; events: HubspotWebhookEvent[]; attempt: number; duplicate?: boolean };
type Queue = { sub: Subscription; hubId: number; events: HubspotWebhookEvent[]; ready: Batch[]; inflight: number; timer?: NodeJS.Timeout | undefined };

export function createSandboxWebhooks(opts: WebhookOptions): SandboxWebhooksImpl {
  const logger = opts.logger ?? silentLogger;
  const doFetch = opts.fetch ?? fetch;
  const windowMs = opts.batchWindowMs ?? 200;
  const perRequest = Math.min(100, Math.max(1, opts.maxEventsPerRequest ?? 100));
  const maxConcurrent = Math.max(1, opts.maxConcurrentPerPortal ?? 10);
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const maxRetries = opts.retry?.maxRetries ?? 10;
  const baseMs = opts.retry?.baseMs ?? 1_000;
  const maxMs = opts.retry?.maxMs ?? 60_000;
  const random = createRandom(opts.seed ?? 1);

  const subs = new Map<number, Subscription>();
  const queues = new Map<string, Queue>();
  const waitingRetries = new Map<Batch, NodeJS.Timeout>();
  const inflight = new Set<Promise<void>>();
  const inflightBatches = new Set<Batch>();
  const closing = new AbortController();
  const counters = { delivered: 0, failed: 0, requests: 0, retries: 0, duplicates: 0 };
  const modes: DeliveryModes = checkModes({ duplicateRate: opts.duplicateRate ?? 0, shuffle: opts.shuffle ?? false });
  let nextSubscriptionId = 100_000 + Math.floor(random() * 900_000);
  let nextEventId = 1_000_000_000 + Math.floor(random() * 1_000_000_000);
  let nextSubId = 1;
  let closed = false;

  const stopListening = opts.data.onChange((change) => {
    if (closed || (opts.isActive !== undefined && !opts.isActive(change.hubId))) return;
    for (const sub of subs.values()) {
      if (sub.portals !== undefined && !sub.portals.includes(change.hubId)) continue;
      const event = toEvent(sub, change);
      if (event !== undefined) enqueue(sub, change.hubId, event);
    }
  });

  function subscriptionIdFor(sub: Subscription, key: string): number {
    let id = sub.typeIds.get(key);
    if (id === undefined) {
      id = nextSubscriptionId++;
      sub.typeIds.set(key, id);
    }
    return id;
  }

  function toEvent(sub: Subscription, ch: SandboxChange): HubspotWebhookEvent | undefined {
    if (ch.kind === 'propertyChange') {
      if (ch.propertyName === undefined || NOT_SUBSCRIBABLE.has(ch.propertyName)) return undefined;
      if (sub.properties !== undefined && !sub.properties.includes(ch.propertyName)) return undefined;
    }
    const legacy = LEGACY_NAMES[ch.type];
    const objectTypeId = HUBSPOT_OBJECT_TYPES[ch.type].typeId;
    const subscriptionType = `${legacy ?? 'object'}.${ch.kind}`;
    const key = `${subscriptionType}|${legacy === undefined ? objectTypeId : ''}|${ch.kind === 'propertyChange' ? (ch.propertyName ?? '') : ''}`;
    const e: HubspotWebhookEvent = {
      eventId: nextEventId++,
      subscriptionId: subscriptionIdFor(sub, key),
      portalId: ch.hubId,
      appId: sub.appId,
      occurredAt: ch.at,
      subscriptionType,
      attemptNumber: 0,
      objectId: Number(ch.id),
      changeSource: ch.source === 'admin' ? 'CRM_UI' : 'INTEGRATION',
      sourceId: ch.source === 'admin' ? 'userId:1000001' : String(sub.appId),
    };
    if (legacy === undefined) e.objectTypeId = objectTypeId;
    if (ch.kind === 'creation') e.changeFlag = legacy === undefined ? 'CREATED' : 'NEW';
    if (ch.kind === 'deletion') e.changeFlag = 'DELETED';
    if (ch.kind === 'propertyChange') {
      e.propertyName = ch.propertyName ?? '';
      // A cleared property arrives as an empty string.
      e.propertyValue = ch.propertyValue ?? '';
      if (legacy === undefined) e.isSensitive = false;
    }
    if (ch.kind === 'merge') {
      // merge events name the winner and the merged ids (https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide)
      e.primaryObjectId = Number(ch.id);
      e.mergedObjectIds = (ch.mergedIds ?? []).map(Number);
      e.newObjectId = Number(ch.id);
      e.numberOfPropertiesMoved = ch.propertiesMoved ?? 0;
    }
    if (ch.kind === 'associationChange' && ch.toType !== undefined && ch.toId !== undefined) {
      const from = HUBSPOT_OBJECT_TYPES[ch.type].singular.toUpperCase();
      const to = HUBSPOT_OBJECT_TYPES[ch.toType].singular.toUpperCase();
      e.associationType = `${from}_TO_${to}`;
      e.fromObjectId = Number(ch.id);
      e.toObjectId = Number(ch.toId);
      if (legacy === undefined) {
        e.fromObjectTypeId = objectTypeId;
        e.toObjectTypeId = HUBSPOT_OBJECT_TYPES[ch.toType].typeId;
      }
      e.associationRemoved = ch.associationAdded === false;
      e.isPrimaryAssociation = ch.primary === true;
    }
    return e;
  }

  function queueFor(sub: Subscription, hubId: number): Queue {
    const key = `${sub.id}:${hubId}`;
    let q = queues.get(key);
    if (q === undefined) {
      q = { sub, hubId, events: [], ready: [], inflight: 0 };
      queues.set(key, q);
    }
    return q;
  }

  function enqueue(sub: Subscription, hubId: number, event: HubspotWebhookEvent): void {
    const q = queueFor(sub, hubId);
    q.events.push(event);
    if (q.events.length >= perRequest) pump(q);
    else if (q.timer === undefined) {
      q.timer = setTimeout(() => pump(q), windowMs);
      q.timer.unref();
    }
  }

  /** Start as many POSTs as the concurrency limit allows: retries first, then fresh batches. */
  function pump(q: Queue): void {
    if (q.timer !== undefined) {
      clearTimeout(q.timer);
      q.timer = undefined;
    }
    while (!closed && q.inflight < maxConcurrent) {
      let batch = q.ready.shift();
      if (batch === undefined) {
        if (q.events.length === 0) break;
        batch = { sub: q.sub, hubId: q.hubId, events: q.events.splice(0, perRequest), attempt: 0 };
        if (modes.shuffle) shuffleInPlace(batch.events, random);
      }
      start(q, batch);
    }
    // Leftovers wait for a slot; `finish` pumps again.
  }

  function start(q: Queue, batch: Batch): void {
    q.inflight++;
    inflightBatches.add(batch);
    const p = send(batch)
      .then((ok) => finish(q, batch, ok))
      .finally(() => {
        q.inflight--;
        inflight.delete(p);
        inflightBatches.delete(batch);
        pump(q);
      });
    inflight.add(p);
  }

  async function send(batch: Batch): Promise<boolean> {
    const body = JSON.stringify(batch.events.map((e) => ({ ...e, attemptNumber: batch.attempt })));
    const timestamp = opts.clock.now();
    const { targetUrl, clientSecret } = batch.sub;
    counters.requests++;
    if (batch.attempt > 0) counters.retries++;
    try {
      const res = await doFetch(targetUrl, {
        method: 'POST',
        body,
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': USER_AGENT,
          'X-HubSpot-Signature': signV1(clientSecret, body),
          'X-HubSpot-Signature-Version': 'v1',
          'X-HubSpot-Signature-v3': signV3(clientSecret, 'POST', targetUrl, body, timestamp),
          'X-HubSpot-Request-Timestamp': String(timestamp),
        },
        signal: AbortSignal.any([closing.signal, AbortSignal.timeout(timeoutMs)]),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return true;
      logger.debug({ status: res.status, attempt: batch.attempt, events: batch.events.length }, 'sandbox webhook delivery refused');
      return false;
    } catch (e) {
      logger.debug({ error: (e as Error).name, attempt: batch.attempt, events: batch.events.length }, 'sandbox webhook delivery failed');
      return false;
    }
  }

  function finish(q: Queue, batch: Batch, ok: boolean): void {
    if (ok) {
      if (batch.duplicate === true) return;
      counters.delivered += batch.events.length;
      if (!closed && modes.duplicateRate > 0 && random() < modes.duplicateRate) {
        counters.duplicates++;
        q.ready.push({ ...batch, duplicate: true });
      }
      return;
    }
    if (batch.duplicate === true) return;
    if (closed) return;
    if (batch.attempt >= maxRetries) {
      counters.failed += batch.events.length;
      logger.warn({ hubId: batch.hubId, events: batch.events.length, attempts: batch.attempt + 1 }, 'sandbox webhook delivery given up');
      return;
    }
    const next: Batch = { ...batch, attempt: batch.attempt + 1 };
    const delay = Math.min(maxMs, baseMs * 2 ** batch.attempt) * (0.5 + random());
    const timer = setTimeout(() => {
      waitingRetries.delete(next);
      q.ready.push(next);
      pump(q);
    }, delay);
    timer.unref();
    waitingRetries.set(next, timer);
  }

  const pendingEvents = (): number => {
    let n = 0;
    for (const q of queues.values()) {
      n += q.events.length;
      for (const b of q.ready) n += b.events.length;
    }
    for (const b of waitingRetries.keys()) n += b.events.length;
    return n;
  };
  return {
    subscribe(s: WebhookSubscription): number {
      if (!/^https?:\/\//.test(s.targetUrl)) throw new Error(`webhook target must be an http(s) URL, got "${s.targetUrl}"`);
      if (s.clientSecret === '') throw new Error('webhook subscription needs the app client secret (it signs the requests)');
      for (const existing of subs.values()) if (existing.targetUrl === s.targetUrl && existing.appId === s.appId) subs.delete(existing.id);
      const id = nextSubId++;
      const sub: Subscription = { ...s, id, typeIds: new Map() };
      if (s.portals !== undefined) sub.portals = [...s.portals];
      if (s.properties !== undefined) sub.properties = [...s.properties];
      subs.set(id, sub);
      return id;
    },
    unsubscribe(id) {
      subs.delete(id);
    },
    subscriptions: () =>
      [...subs.values()].map((s) => ({ id: s.id, targetUrl: s.targetUrl, appId: s.appId, ...(s.portals === undefined ? {} : { portals: [...s.portals] }) })),

    setModes(m) {
      Object.assign(modes, checkModes({ ...modes, ...m }));
      return { ...modes };
    },

    async flush() {
      for (;;) {
        for (const [batch, timer] of waitingRetries) {
          clearTimeout(timer);
          waitingRetries.delete(batch);
          queueFor(batch.sub, batch.hubId).ready.push(batch);
        }
        for (const q of queues.values()) pump(q);
        if (inflight.size === 0) {
          if (pendingEvents() === 0 || closed) return;
          continue;
        }
        await Promise.allSettled([...inflight]);
      }
    },

    stats() {
      let inFlight = 0;
      for (const b of inflightBatches) inFlight += b.events.length;
      return { ...counters, pending: pendingEvents() + inFlight };
    },

    async close() {
      closed = true;
      stopListening();
      closing.abort();
      for (const timer of waitingRetries.values()) clearTimeout(timer);
      waitingRetries.clear();
      for (const q of queues.values()) if (q.timer !== undefined) clearTimeout(q.timer);
      queues.clear();
      await Promise.allSettled([...inflight]);
    },
  };
}

function checkModes(m: DeliveryModes): DeliveryModes {
  if (!(m.duplicateRate >= 0 && m.duplicateRate <= 1)) throw new RangeError(`duplicateRate is a probability between 0 and 1, got ${m.duplicateRate}`);
  return m;
}

function shuffleInPlace<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}
