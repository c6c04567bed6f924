/**
 * The webhook load generator shared by `bench:webhooks` and `bench:scale`: signed HubSpot
 * deliveries (v3 + v1, signed ahead so the client's cost is not the server's), posted over
 * node:http with a keep-alive agent, open loop at a fixed rate (`paced`) or closed loop with a
 * fixed number in flight (`closedLoop`).
 */
import { Agent, request } from 'node:http';
import { signV1, signV3 } from '../src/connectors/hubspot/signature.ts';

export const WEBHOOK_PATH = '/webhooks/hubspot';

export type Delivery = { body: string; headers: Record<string, string> };

/** One delivery of these events, signed for `publicUrl` + WEBHOOK_PATH with `secret`. */
export function signedDelivery(o: { secret: string; publicUrl: string; events: readonly object[]; now?: number }): Delivery {
  const now = o.now ?? Date.now();
  const body = JSON.stringify(o.events);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-hubspot-request-timestamp': String(now),
      'x-hubspot-signature-v3': signV3({ clientSecret: o.secret, method: 'POST', uri: o.publicUrl + WEBHOOK_PATH, body, timestamp: now }),
      'x-hubspot-signature-version': 'v1',
      'x-hubspot-signature': signV1({ clientSecret: o.secret, body }),
    },
  };
}

/** node:http with a keep-alive agent: light on the client side, and no dependency beyond Node. */
export function post(url: string, agent: Agent, d: Delivery): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url + WEBHOOK_PATH, { method: 'POST', agent, headers: { ...d.headers, 'content-length': String(Buffer.byteLength(d.body)) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(d.body);
  });
}

export const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

export type PacedResult = { p50: number; p99: number; max: number; errors: number; sent: number; achievedRate: number; latencies: number[]; seconds: number };

/** Several paced runs as one. */
export function merged(runs: readonly PacedResult[]): PacedResult {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const sent = runs.reduce((a, r) => a + r.sent, 0);
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  const errors = runs.reduce((a, r) => a + r.errors, 0);
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1) ?? NaN, errors, sent, achievedRate: sent / seconds, latencies, seconds };
}

/**
 * Open loop: `rate` deliveries/s for `seconds`, each timed from its send to the end of its
 * response; a slow answer does not slow the sender (what HubSpot does).
 */
export async function paced(url: string, agent: Agent, rate: number, seconds: number, make: (i: number) => Delivery): Promise<PacedResult> {
  const total = Math.round(rate * seconds);
  // sign ahead (the client's cost is not the server's); timestamps stay well inside the 5-minute window
  const prepared = Array.from({ length: total }, (_, i) => make(i));
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    inflight.push(
      post(url, agent, prepared[i]!)
        .then((status) => {
          if (status !== 200) errors++;
          latencies.push(performance.now() - t0);
        })
        .catch(() => void errors++),
    );
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1) ?? NaN, errors, sent: total, achievedRate: total / elapsed, latencies, seconds: elapsed };
}

/** Closed loop: `count` deliveries with `concurrency` in flight (throughput; also the warm-up). */
export async function closedLoop(url: string, agent: Agent, concurrency: number, count: number, make: (i: number) => Delivery): Promise<{ perSecond: number; errors: number }> {
  const prepared = Array.from({ length: count }, (_, i) => make(i));
  let next = 0;
  let errors = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const d = prepared[next++];
        if (d === undefined) return;
        if ((await post(url, agent, d)) !== 200) errors++;
      }
    }),
  );
  return { perSecond: count / ((performance.now() - start) / 1000), errors };
}
