import { Connection } from 'jsforce';
import { StreamingExtension } from 'jsforce/lib/api/streaming.js';

export type CometdMessage = {
  schema: string;
  payload: { ChangeEventHeader: { entityName: string; recordIds: string[]; changeType: string; changeOrigin: string; changedFields: string[]; commitTimestamp: number; transactionKey: string; sequenceNumber: number; commitUser: string } } & Record<string, unknown>;
  event: { replayId: number };
};

/**
 * Subscribes to a channel of an org's CometD endpoint with jsforce's streaming client (faye,
 * long-polling) and the replay extension, as a real subscriber does. `subscribed` settles with the
 * subscribe answer; `failure` holds a refused handshake (AuthFailure extension).
 */
export function subscribe(baseUrl: string, accessToken: string, channel: string, replayId: number, version = '62.0') {
  const messages: CometdMessage[] = [];
  let failure: unknown;
  const conn = new Connection({ instanceUrl: baseUrl, accessToken, version });
  const client = conn.streaming.createClient([
    new StreamingExtension.AuthFailure((m: unknown) => {
      failure = m;
    }),
    new StreamingExtension.Replay(channel, replayId),
  ]) as unknown as {
    subscribe(ch: string, cb: (m: CometdMessage) => void): PromiseLike<unknown>;
    disconnect(): PromiseLike<unknown> | undefined;
    _dispatcher: { _envelopes: Map<string, { timer?: NodeJS.Timeout | null }>; close(): void };
  };
  const sub = client.subscribe(channel, (m) => messages.push(m));
  const subscribed = new Promise<void>((resolve, reject) => void sub.then(() => resolve(), (e: unknown) => reject(e as Error)));
  subscribed.catch(() => undefined);
  return {
    messages,
    subscribed,
    failure: () => failure,
    /** waits until `n` messages arrived (or fails after `ms`) */
    async waitFor(n: number, ms = 5_000): Promise<CometdMessage[]> {
      const t0 = Date.now();
      while (messages.length < n) {
        if (Date.now() - t0 > ms) throw new Error(`${messages.length} of ${n} messages after ${ms} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return messages;
    },
    async close() {
      try {
        const bye = client.disconnect();
        if (bye !== undefined) await Promise.race([new Promise<void>((r) => void bye.then(() => r(), () => r())), new Promise((r) => setTimeout(r, 1_000))]);
      } catch {
        // not connected
      }
      for (const e of client._dispatcher._envelopes.values()) if (e.timer) clearTimeout(e.timer);
      client._dispatcher._envelopes.clear();
      client._dispatcher.close();
    },
  };
}
