import { randomBytes } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { SalesforceOrgSettings } from './api.ts';
import { ALL_CHANGE_EVENTS, entityOfChannel, type ChangeEvent, type ChangeEventLog } from './cdc.ts';
import { sobjectOf } from './objects.ts';
import type { SalesforceSessions } from './sessions.ts';

/**
 * `/cometd/<version>`: the Streaming API's Bayeux endpoint (long-polling only), as jsforce's faye
 * client talks to it (`conn.streaming`, https://jsforce.github.io/document/#streaming-api), for
 * Change Data Capture channels (cdc.ts).
 *
 * Why not faye's own server (`faye.NodeAdapter`): it has no replay (the `ext.replay` map of a
 * subscribe), no per-client backlog and none of Salesforce's answers below, which are the point.
 *
 * Salesforce's behaviour emulated (Streaming API Developer Guide and jsforce's streaming extension):
 * - `Authorization: OAuth <token>` (jsforce; Bearer accepted too) on every request; a bad token on
 *   handshake is `403::Handshake denied` with `ext.sfdc.failureReason "401::Authentication invalid"`
 *   and `advice.reconnect "none"` (the reply jsforce's AuthFailure extension documents, from
 *   https://releasenotes.docs.salesforce.com/en-us/spring18/release-notes/rn_messaging_cometd_auth_validation.htm);
 *   on connect `401::Authentication invalid`, reconnect none
 * - an unknown or expired client id: `403::Unknown client`, advice reconnect "handshake"
 *   (https://developer.salesforce.com/docs/atlas.en-us.api_streaming.meta/api_streaming/using_streaming_api_timeouts.htm:
 *   a client that does not reconnect within 40 s is dropped)
 * - `ext.replay: {<channel>: replayId}` on subscribe: -1 new events, -2 every retained event, or
 *   the events after a given id; an id outside the retention window is refused with
 *   `400::The replayId {…} you provided was invalid…`
 *   (https://developer.salesforce.com/docs/atlas.en-us.api_streaming.meta/api_streaming/using_streaming_api_durability.htm)
 * - CDC channels exist from API 44.0 (https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_subscribe_cometd.htm);
 *   an unknown channel is `400::The channel you requested to subscribe to does not exist {…}`
 * - a WebSocket upgrade is not offered: `supportedConnectionTypes` is `long-polling`
 */
export type CometdDeps = {
  log: ChangeEventLog;
  sessions: SalesforceSessions;
  org(): SalesforceOrgSettings;
  /** how long a `/meta/connect` is held without events (Salesforce: 110 s) */
  holdMs?: number;
  /** a client that has not connected for this long is forgotten (Salesforce: 40 s) */
  clientTtlMs?: number;
};

type Client = {
  id: string;
  subs: Set<string>;
  queue: Record<string, unknown>[];
  wake: (() => void) | undefined;
  seenAt: number;
};

const Message = z.looseObject({
  channel: z.string(),
  id: z.string().optional(),
  clientId: z.string().optional(),
  subscription: z.string().optional(),
  advice: z.looseObject({ timeout: z.number().optional() }).optional(),
  ext: z.looseObject({ replay: z.record(z.string(), z.union([z.number(), z.string()])).optional() }).optional(),
});
type Message = z.infer<typeof Message>;

export type CometdServer = { app: Hono; clients(): number; close(): void };

export function createCometd(deps: CometdDeps): CometdServer {
  const holdMs = deps.holdMs ?? 110_000;
  const ttlMs = deps.clientTtlMs ?? 40_000 + holdMs;
  const clients = new Map<string, Client>();
  let closed = false;

  const stopListening = deps.log.listen((e: ChangeEvent) => {
    for (const c of clients.values()) {
      let queued = false;
      for (const channel of c.subs) {
        if (!deps.log.onChannel(e, channel)) continue;
        c.queue.push({ channel, data: deps.log.render(e) });
        queued = true;
      }
      if (queued) c.wake?.();
    }
  });

  const tokenOf = (c: Context) => /^(?:OAuth|Bearer) (.+)$/.exec(c.req.header('authorization') ?? '')?.[1];
  const expire = () => {
    const now = Date.now();
    for (const [id, c] of clients) if (c.wake === undefined && now - c.seenAt > ttlMs) clients.delete(id);
  };

  const reply = (m: Message, rest: Record<string, unknown>) => ({ channel: m.channel, ...(m.id === undefined ? {} : { id: m.id }), ...(m.clientId === undefined ? {} : { clientId: m.clientId }), ...rest });
  const unknownClient = (m: Message) => reply(m, { successful: false, error: '403::Unknown client', advice: { reconnect: 'handshake', interval: 0 } });

  function subscribe(m: Message, client: Client, version: number): Record<string, unknown> {
    const channel = m.subscription ?? '';
    const entity = entityOfChannel(channel);
    const exists = version >= 44 && (channel === ALL_CHANGE_EVENTS || (entity !== undefined && sobjectOf(entity) !== undefined && !deps.org().missingObjects.includes(entity)));
    if (!exists) return reply(m, { subscription: channel, successful: false, error: `400::The channel you requested to subscribe to does not exist {${channel}}` });
    const raw = m.ext?.replay?.[channel];
    const replayId = raw === undefined ? -1 : Number(raw);
    const backlog = Number.isInteger(replayId) ? deps.log.since(channel, replayId) : { invalid: true as const };
    if (!Array.isArray(backlog)) {
      return reply(m, {
        subscription: channel,
        successful: false,
        error: `400::The replayId {${String(raw)}} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.`,
      });
    }
    client.subs.add(channel);
    for (const e of backlog) client.queue.push({ channel, data: deps.log.render(e) });
    if (backlog.length > 0) client.wake?.();
    return reply(m, { subscription: channel, successful: true });
  }

  async function connect(m: Message, client: Client): Promise<Record<string, unknown>[]> {
    client.seenAt = Date.now();
    // the first connect after a handshake asks for an immediate answer (advice.timeout 0)
    const hold = m.advice?.timeout === 0 ? 0 : holdMs;
    if (client.queue.length === 0 && hold > 0 && !closed) {
      // a second connect of the same client replaces the first, which answers now
      client.wake?.();
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, hold);
        function done() {
          clearTimeout(t);
          if (client.wake === done) client.wake = undefined;
          resolve();
        }
        client.wake = done;
      });
    }
    client.seenAt = Date.now();
    const events = client.queue.splice(0);
    const gone = !clients.has(client.id) || closed;
    return [...events, reply(m, { successful: !gone, advice: { reconnect: gone ? 'none' : 'retry', interval: 0, timeout: holdMs } })];
  }

  const app = new Hono();
  app.get('/cometd/:version', (c) => c.json([{ channel: '/meta/handshake', successful: false, error: '400::GET is not supported: use long-polling POST' }], 400));
  app.post('/cometd/:version', async (c) => {
    const v = /^(\d+)\.0$/.exec(c.req.param('version'));
    const versions = deps.org().apiVersions;
    if (v === null || Number(v[1]) < versions.min || Number(v[1]) > versions.max) return c.json([{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }], 404);
    const version = Number(v[1]);
    const parsed = z.union([z.array(Message), Message]).safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json([{ channel: '/meta/unsuccessful', successful: false, error: '400::Bad Request: not a Bayeux message' }], 400);
    const messages = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
    expire();
    const authed = deps.sessions.authenticate(tokenOf(c)) === 'ok';
    const out: (Record<string, unknown>[] | undefined)[] = messages.map(() => undefined);
    const pending: Promise<void>[] = [];
    // everything but /meta/connect first: a subscribe in the same batch counts before the connect is held
    messages.forEach((m, i) => {
      if (m.channel === '/meta/connect') return;
      if (m.channel === '/meta/handshake') {
        if (!authed) {
          out[i] = [reply(m, { successful: false, error: '403::Handshake denied', advice: { reconnect: 'none' }, ext: { sfdc: { failureReason: '401::Authentication invalid' }, replay: true } })];
          return;
        }
        const id = randomBytes(12).toString('base64url');
        clients.set(id, { id, subs: new Set(), queue: [], wake: undefined, seenAt: Date.now() });
        out[i] = [
          reply(m, {
            version: '1.0',
            minimumVersion: '1.0',
            successful: true,
            clientId: id,
            supportedConnectionTypes: ['long-polling'],
            advice: { reconnect: 'retry', interval: 0, timeout: holdMs },
            ext: { replay: true, 'payload.format': true },
          }),
        ];
        return;
      }
      const client = m.clientId === undefined ? undefined : clients.get(m.clientId);
      if (!authed) out[i] = [reply(m, { successful: false, error: '401::Authentication invalid', advice: { reconnect: 'none' } })];
      else if (client === undefined) out[i] = [unknownClient(m)];
      else if (m.channel === '/meta/subscribe') out[i] = [subscribe(m, client, version)];
      else if (m.channel === '/meta/unsubscribe') {
        client.subs.delete(m.subscription ?? '');
        out[i] = [reply(m, { subscription: m.subscription, successful: true })];
      } else if (m.channel === '/meta/disconnect') {
        clients.delete(client.id);
        client.wake?.();
        out[i] = [reply(m, { successful: true })];
      } else out[i] = [reply(m, { successful: false, error: `403::Publishing is not allowed on ${m.channel}` })];
    });
    messages.forEach((m, i) => {
      if (m.channel !== '/meta/connect') return;
      const client = m.clientId === undefined ? undefined : clients.get(m.clientId);
      if (!authed) out[i] = [reply(m, { successful: false, error: '401::Authentication invalid', advice: { reconnect: 'none' } })];
      else if (client === undefined) out[i] = [unknownClient(m)];
      else pending.push(connect(m, client).then((r) => void (out[i] = r)));
    });
    await Promise.all(pending);
    return c.json(out.flatMap((r) => r ?? []));
  });

  return {
    app,
    clients: () => clients.size,
    close() {
      closed = true;
      stopListening();
      for (const c of clients.values()) c.wake?.();
      clients.clear();
    },
  };
}
