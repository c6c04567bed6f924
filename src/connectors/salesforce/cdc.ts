import { Connection } from 'jsforce';
import { StreamingExtension } from 'jsforce/lib/api/streaming.js';
import { z } from 'zod';
import type { Logger } from '../../log.ts';
import { CHANGE_STREAM_CURSOR, type ChangeStream, type ChangeStreamState, type ChangeStreamStatus } from '../provider.ts';
import type { Cursor, ObjectType } from '../types.ts';
import { OBJECT_TYPES } from '../types.ts';
import { SPECS } from './mapping.ts';

/**
 * Change Data Capture for one org (ARCHITECTURE.md §3, "Change notifications"): a CometD
 * subscription to `/data/ChangeEvents` (every entity the admin selected) through jsforce's
 * streaming client (faye, long-polling) with the replay extension. Like HubSpot's webhooks, an
 * event never writes into the cache: it nudges the streams of its entity and the incremental sync
 * reads the truth, so ordering, duplicates and the event body do not matter.
 *
 * - Echoes: our own writes carry `Sforce-Call-Options: client=rapport` (http.ts), which CDC reports
 *   in `changeOrigin` (https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_event_fields_header.htm):
 *   they are dropped, or every write-back would start another pass.
 * - Gap and overflow events (GAP_*: no fields; GAP_OVERFLOW: no record ids either,
 *   https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_other_events.htm)
 *   fall back to the windowed query: the entity's streams run from their cursors
 *   (`SystemModstamp >= cursor`), which sees whatever the event could not describe.
 * - The replay id is stored per portal (cursors, stream `change-events`) once the pass an event
 *   nudged is over, so a restart resumes after the last event handled: nothing is lost, and what
 *   was handled is not replayed. Events are kept 72 hours
 *   (https://developer.salesforce.com/docs/atlas.en-us.api_streaming.meta/api_streaming/using_streaming_api_durability.htm);
 *   a replay id the org refuses (too old) falls back to every stream's windowed query and new events.
 * - Errors reconnect with exponential backoff; a refused session (`401::Authentication invalid`,
 *   jsforce's AuthFailure extension) asks for a fresh token first: faye keeps the token it was
 *   created with, so the client is recreated.
 */

export const CDC_CHANNEL = '/data/ChangeEvents';
/** the cursors row that holds the replay id (and, for `rapport status`, the stream's state) */
export const CHANGE_EVENTS_STREAM = CHANGE_STREAM_CURSOR;

/** child objects whose changes alter the contacts of a stream's records (mapping.ts `contacts`) */
const RELATION_OBJECTS: Record<string, string> = {
  OpportunityContactRole: 'Opportunity',
  TaskWhoRelation: 'Task',
  EventWhoRelation: 'Event',
  EmailMessageRelation: 'EmailMessage',
};

/** Rapport's streams fed by an sObject (mapping.ts SPECS, fallbacks included); [] for one Rapport does not read. */
export function streamsOfEntity(entity: string): ObjectType[] {
  const sobject = Object.hasOwn(RELATION_OBJECTS, entity) ? RELATION_OBJECTS[entity]! : entity;
  return OBJECT_TYPES.filter((t) => SPECS[t].sobject === sobject || SPECS[t].fallback?.sobject === sobject);
}

const Header = z.looseObject({
  entityName: z.string().max(255),
  changeType: z.string().max(40),
  changeOrigin: z.string().max(2000).nullish(),
  recordIds: z.array(z.string().max(40)).max(100_000).nullish(),
});
const EventData = z.looseObject({
  payload: z.looseObject({ ChangeEventHeader: Header }),
  event: z.looseObject({ replayId: z.number().int() }),
});
const Stored = z.looseObject({ replayId: z.number().int() });

export type CdcOptions = {
  portal: string;
  instanceUrl: string;
  apiVersion: string;
  accessToken: () => Promise<string>;
  /** a fresh token after the org refused the session, or null */
  onUnauthorized?: () => Promise<string | null>;
  store: { cursors: { get(portal: string, stream: string): Promise<Cursor | null>; set(portal: string, stream: string, cursor: Cursor): Promise<void> } };
  /** sync these streams soon; resolves when that pass is over */
  nudge: (types: ObjectType[]) => Promise<void>;
  logger: Logger;
  now: () => number;
  /** how often the daemon still polls every stream while the subscription is live */
  pollEveryMs: number;
  backoff?: { baseMs: number; maxMs: number };
};

type Counters = Pick<ChangeStreamStatus, 'events' | 'echoes' | 'gaps' | 'overflows' | 'nudges' | 'reconnects'>;

export function startSalesforceCdc(opts: CdcOptions): ChangeStream {
  const logger = opts.logger.child({ portal: opts.portal, crm: 'salesforce', part: 'cdc' });
  const backoff = opts.backoff ?? { baseMs: 1_000, maxMs: 60_000 };
  const counters: Counters = { events: 0, echoes: 0, gaps: 0, overflows: 0, nudges: 0, reconnects: 0 };
  let state: ChangeStreamState = 'connecting';
  let lastError: string | null = null;
  let stopped = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  // faye's client (jsforce re-exports it untyped)
  let client: { subscribe(ch: string, cb: (m: unknown) => void): PromiseLike<unknown>; disconnect(): PromiseLike<unknown> | undefined; on(e: string, cb: () => void): void } | undefined;
  let token: string | null = null;
  /** where the next subscription starts: the last event received (in this process) or stored */
  let resumeFrom: number | null = null;
  /** the last replay id whose event has been handled and stored */
  let handled: number | null = null;
  /** replay ids received, oldest first, with whether their pass is over */
  const inFlight: { replayId: number; done: boolean }[] = [];
  let saving: Promise<void> = Promise.resolve();
  /** the passes nudged by events, not over yet */
  const passes = new Set<Promise<void>>();
  /** every stream runs its windowed query once the subscription is live (events were lost) */
  let catchUp = false;
  const ready = { resolve: () => {}, promise: Promise.resolve() };
  ready.promise = new Promise<void>((r) => (ready.resolve = r));

  const save = () => {
    const value = JSON.stringify({ replayId: handled, position: handled, channel: CDC_CHANNEL, state, pollEveryMs: opts.pollEveryMs, lastError, ...counters });
    saving = saving.then(() => opts.store.cursors.set(opts.portal, CHANGE_EVENTS_STREAM, value as Cursor)).catch((e: unknown) => {
      logger.warn({ err: (e as Error).message }, 'could not store the change events replay id; it is stored with the next event');
    });
  };
  const setState = (s: ChangeStreamState, error: string | null = lastError) => {
    if (s === state && error === lastError) return;
    state = s;
    lastError = error;
    save();
  };

  /** marks an event handled; the stored replay id advances over every leading handled event */
  const finish = (entry: { replayId: number; done: boolean }) => {
    entry.done = true;
    let advanced = false;
    while (inFlight.length > 0 && inFlight[0]!.done) {
      handled = inFlight.shift()!.replayId;
      advanced = true;
    }
    if (advanced) save();
  };

  function onMessage(raw: unknown): void {
    const parsed = EventData.safeParse(raw);
    if (!parsed.success) {
      logger.warn({ issues: parsed.error.issues.length }, 'change event of an unexpected shape ignored');
      return;
    }
    const { payload, event } = parsed.data;
    const h = payload.ChangeEventHeader;
    // a redelivery of what this process already took (a reconnect replays from the last id received)
    if (resumeFrom !== null && event.replayId <= resumeFrom) return;
    resumeFrom = event.replayId;
    counters.events++;
    const entry = { replayId: event.replayId, done: false };
    inFlight.push(entry);
    if (/(?:^|;)client=rapport(?:;|$)/.test(h.changeOrigin ?? '')) {
      counters.echoes++;
      finish(entry);
      return;
    }
    const types = streamsOfEntity(h.entityName);
    if (h.changeType === 'GAP_OVERFLOW') counters.overflows++;
    else if (h.changeType.startsWith('GAP_')) counters.gaps++;
    if (types.length === 0) {
      finish(entry);
      return;
    }
    counters.nudges++;
    logger.debug({ entity: h.entityName, changeType: h.changeType, replayId: event.replayId }, 'change event: nudging its streams');
    // (a pass cut short by shutdown counts as done: every start of the daemon polls every stream first)
    const passed = opts.nudge(types).then(
      () => finish(entry),
      () => finish(entry),
    );
    passes.add(passed);
    void passed.finally(() => passes.delete(passed));
  }

  function retry(reason: string, opts2: { auth?: boolean; replayRefused?: boolean } = {}): void {
    if (stopped) return;
    const old = client;
    client = undefined;
    if (old !== undefined) void shutdown(old);
    counters.reconnects++;
    setState('retrying', reason);
    const delay = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt, 16)) * (0.75 + Math.random() / 2);
    attempt++;
    logger.warn({ reason, retryInMs: Math.round(delay) }, 'change events subscription lost; reconnecting');
    timer = setTimeout(() => {
      void (async () => {
        if (opts2.auth === true) token = (await opts.onUnauthorized?.().catch(() => null)) ?? null;
        if (opts2.replayRefused === true) {
          // the org no longer has the events after our replay id: take new events from now on, and
          // once that subscription is live every stream's windowed query catches up on the rest
          resumeFrom = null;
          handled = null;
          catchUp = true;
        }
        connect();
      })();
    }, delay);
    timer.unref?.();
  }

  function connect(): void {
    if (stopped) return;
    void (async () => {
      let accessToken: string;
      try {
        accessToken = token ?? (await opts.accessToken());
        token = null;
      } catch (e) {
        retry(`no access token: ${(e as Error).message}`);
        return;
      }
      if (stopped) return;
      const conn = new Connection({ instanceUrl: opts.instanceUrl.replace(/\/+$/, ''), version: opts.apiVersion, accessToken });
      const replayId = resumeFrom ?? -1;
      const c = conn.streaming.createClient([
        new StreamingExtension.AuthFailure((m: unknown) => {
          if (client === c) retry(`the org refused the session: ${failureOf(m)}`, { auth: true });
        }),
        new StreamingExtension.Replay(CDC_CHANNEL, replayId),
      ]) as unknown as NonNullable<typeof client>;
      client = c;
      c.on('transport:down', () => {
        if (client === c && state === 'live') setState('retrying', 'transport down; the client reconnects');
      });
      c.on('transport:up', () => {
        if (client === c && state === 'retrying') setState('live', null);
      });
      c.subscribe(CDC_CHANNEL, onMessage).then(
        () => {
          if (client !== c) return;
          attempt = 0;
          logger.info({ replayId }, 'change events subscription live');
          setState('live', null);
          ready.resolve();
          if (catchUp) {
            catchUp = false;
            counters.nudges++;
            void opts.nudge([...OBJECT_TYPES]).catch(() => undefined);
          }
        },
        (e: unknown) => {
          if (client !== c) return;
          const message = failureOf(e);
          retry(`subscribe refused: ${message}`, { replayRefused: /replayId/i.test(message), auth: /^401/.test(message) });
        },
      );
    })();
  }

  void (async () => {
    try {
      const stored = await opts.store.cursors.get(opts.portal, CHANGE_EVENTS_STREAM);
      const parsed = stored === null ? undefined : Stored.safeParse(JSON.parse(stored));
      if (parsed?.success === true) handled = resumeFrom = parsed.data.replayId;
    } catch (e) {
      logger.warn({ err: (e as Error).message }, 'stored change events replay id unreadable; starting with new events');
    }
    connect();
  })();

  return {
    status: () => ({ state, position: handled, lastError, pollEveryMs: opts.pollEveryMs, ...counters }),
    pollEveryMs: () => (state === 'live' ? opts.pollEveryMs : undefined),
    ready: () => ready.promise,
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      const c = client;
      client = undefined;
      if (c !== undefined) await shutdown(c);
      // the replay id advances as the nudged passes end (the daemon stops them): wait for them, boundedly
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...passes]), new Promise<void>((r) => (t = setTimeout(r, 10_000)))]);
      clearTimeout(t);
      state = 'stopped';
      save();
      await saving;
    },
  };
}

type FayeEnvelope = { timer?: NodeJS.Timeout | null; request?: PromiseLike<{ abort?: () => void } | undefined> | null };

/**
 * Ends a faye client for good: `/meta/disconnect` (answered within 2 s, or not at all), then what
 * faye leaves behind — its held long poll and the retry timers of unanswered messages, which would
 * keep resending to a server that is gone and keep the process alive (faye src/protocol/dispatcher.js).
 */
async function shutdown(c: { disconnect(): PromiseLike<unknown> | undefined }): Promise<void> {
  try {
    const bye = c.disconnect();
    if (bye !== undefined) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((r) => void bye.then(() => r(), () => r())), new Promise<void>((r) => (t = setTimeout(r, 2_000)))]);
      clearTimeout(t);
    }
  } catch {
    // not connected: nothing to say goodbye to
  }
  const dispatcher = (c as unknown as { _dispatcher?: { _envelopes?: Map<string, FayeEnvelope>; close?: () => void } })._dispatcher;
  for (const envelope of dispatcher?._envelopes?.values() ?? []) {
    if (envelope.timer) clearTimeout(envelope.timer);
    void envelope.request?.then((req) => req?.abort?.());
  }
  dispatcher?._envelopes?.clear();
  dispatcher?.close?.();
}

/** the Bayeux error of a failed subscribe / handshake (`"400::The replayId …"`), for logs and status; never record data */
function failureOf(e: unknown): string {
  const m = e as { code?: unknown; message?: unknown; error?: unknown; ext?: { sfdc?: { failureReason?: unknown } } } | undefined;
  // faye parses "400::text" into {code: 400, message: 'text'}
  const text = m?.ext?.sfdc?.failureReason ?? m?.error ?? (typeof m?.code === 'number' ? `${m.code}::${String(m.message)}` : undefined) ?? m?.message ?? String(e);
  return String(text).slice(0, 300);
}
