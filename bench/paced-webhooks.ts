/**
 * The webhook load generator shared by `bench:webhooks` and `bench:scale`: signed HubSpot
 * deliveries (v3 + v1, signed and serialised ahead so the client's cost is not the server's),
 * posted on kept-alive connections, open loop at a fixed rate (`paced`) or closed loop with a
 * fixed number in flight (`closedLoop`).
 */
import { connect, type Socket } from 'node:net';
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

export type WebhookClient = {
  /** the delivery as the bytes of one HTTP/1.1 request (ahead of the clock) */
  encode(d: Delivery): Buffer;
  /** opens connections until `n` are open, resolved once each is connected (idle, for the next requests) */
  connect(n: number): Promise<void>;
  /** sends one encoded request on an idle connection (a new one when none is idle, up to the cap; else it waits for one); resolves with the response's status */
  post(request: Buffer): Promise<number>;
  close(): void;
};

const HEADERS_END = Buffer.from('\r\n\r\n');

/**
 * The load's HTTP/1.1 client, hand-written for speed: the load generator shares this machine's
 * cores with the server it measures, and node:http's client used 0.41–0.58 ms of CPU a delivery
 * here, undici's Pool 0.32–0.72 ms, this one 0.17 ms (500 deliveries/s against a bare hono server,
 * 5 Dec) — at 500/s the difference is a fifth of a core taken from the server under test. It does
 * what a load generator such as wrk does: each request written in one piece on a connection that
 * carries one request at a time (no pipelining), the response read up to its content-length
 * (every answer of the webhook receiver has one; anything else fails loudly).
 */
export function webhookClient(baseUrl: string, maxConnections = 64): WebhookClient {
  const { hostname, port } = new URL(baseUrl);
  // requests waiting for a connection (all `maxConnections` busy), oldest first
  const waiting: Array<{ request: Buffer; resolve: (status: number) => void; reject: (e: Error) => void }> = [];
  type Conn = { socket: Socket; buf: Buffer; done: ((status: number) => void) | undefined; fail: ((e: Error) => void) | undefined };
  const idle: Conn[] = [];
  const all = new Set<Conn>();
  const settle = (c: Conn, outcome: { status: number } | { error: Error }) => {
    const { done, fail } = c;
    c.done = c.fail = undefined;
    if ('status' in outcome) done?.(outcome.status);
    else fail?.(outcome.error);
  };
  const open = (): Conn => {
    const socket = connect(Number(port), hostname);
    socket.setNoDelay(true);
    const c: Conn = { socket, buf: Buffer.alloc(0), done: undefined, fail: undefined };
    all.add(c);
    socket.on('data', (chunk: Buffer) => {
      c.buf = c.buf.length === 0 ? chunk : Buffer.concat([c.buf, chunk]);
      const end = c.buf.indexOf(HEADERS_END);
      if (end < 0) return;
      const head = c.buf.toString('latin1', 0, end);
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
      if (length === undefined) {
        socket.destroy();
        settle(c, { error: new Error(`a response without content-length: ${head.split('\r\n')[0]}`) });
        return;
      }
      if (c.buf.length < end + 4 + Number(length)) return;
      c.buf = Buffer.alloc(0);
      // "HTTP/1.1 200 OK": the status is the three digits after the version
      settle(c, { status: Number(head.slice(9, 12)) });
      const next = waiting.shift();
      if (next === undefined) idle.push(c);
      else send(c, next.request, next.resolve, next.reject);
    });
    const gone = (error: Error) => {
      all.delete(c);
      const i = idle.indexOf(c);
      if (i >= 0) idle.splice(i, 1);
      settle(c, { error });
    };
    socket.on('error', gone);
    socket.on('close', () => gone(new Error('connection closed before the response')));
    return c;
  };
  const send = (c: Conn, request: Buffer, resolve: (status: number) => void, reject: (e: Error) => void) => {
    c.done = resolve;
    c.fail = reject;
    c.socket.write(request);
  };
  return {
    encode(d) {
      const body = Buffer.from(d.body);
      const head = Object.entries({ ...d.headers, 'content-length': String(body.length) }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      return Buffer.concat([Buffer.from(`POST ${WEBHOOK_PATH} HTTP/1.1\r\nhost: ${hostname}:${port}\r\n${head}\r\n`, 'latin1'), body]);
    },
    async connect(n) {
      const fresh = Array.from({ length: Math.max(0, Math.min(n, maxConnections) - all.size) }, open);
      await Promise.all(fresh.map((c) => new Promise((resolve, reject) => c.socket.once('connect', resolve).once('error', reject))));
      idle.push(...fresh);
    },
    post(request) {
      return new Promise((resolve, reject) => {
        const c = idle.pop() ?? (all.size < maxConnections ? open() : undefined);
        if (c === undefined) waiting.push({ request, resolve, reject });
        else send(c, request, resolve, reject);
      });
    },
    close() {
      for (const c of all) c.socket.destroy();
    },
  };
}

export const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** clientCpuMs: the CPU this process (the load generator) used while sending, signing ahead excluded; firstError: what the first failed delivery met */
export type PacedResult = {
  p50: number;
  p99: number;
  max: number;
  errors: number;
  sent: number;
  achievedRate: number;
  latencies: number[];
  /** per delivery in send order: [ms from the load's start to its send, its latency in ms] (0 for a failed one) */
  trace?: ReadonlyArray<readonly [number, number]>;
  seconds: number;
  clientCpuMs: number;
  firstError?: string;
};

/** Several paced runs as one. */
export function merged(runs: readonly PacedResult[]): PacedResult {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const sent = runs.reduce((a, r) => a + r.sent, 0);
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  const errors = runs.reduce((a, r) => a + r.errors, 0);
  const clientCpuMs = runs.reduce((a, r) => a + r.clientCpuMs, 0);
  const firstError = runs.find((r) => r.firstError !== undefined)?.firstError;
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1) ?? NaN, errors, sent, achievedRate: sent / seconds, latencies, seconds, clientCpuMs, ...(firstError === undefined ? {} : { firstError }) };
}

/**
 * Open loop: `rate` deliveries/s for `seconds`, each timed from its send to the end of its
 * response; a slow answer does not slow the sender (what HubSpot does).
 */
export async function paced(client: WebhookClient, rate: number, seconds: number, make: (i: number) => Delivery): Promise<PacedResult> {
  const total = Math.round(rate * seconds);
  // sign and encode ahead (the client's cost is not the server's); timestamps stay well inside the 5-minute window
  const prepared = Array.from({ length: total }, (_, i) => client.encode(make(i)));
  const latencies: number[] = [];
  /** each delivery's send, ms from the start (the trace) */
  const sentAt = new Float64Array(total);
  const took = new Float64Array(total);
  let errors = 0;
  let firstError: string | undefined;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    sentAt[i] = t0 - start;
    inflight.push(
      client.post(prepared[i]!)
        .then((status) => {
          if (status !== 200) {
            errors++;
            firstError ??= `HTTP ${status}`;
          }
          latencies.push((took[i] = performance.now() - t0));
        })
        .catch((e: unknown) => {
          errors++;
          firstError ??= (e as Error).message;
        }),
    );
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const trace = Array.from(sentAt, (at, i) => [at, took[i]!] as const);
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1) ?? NaN, errors, sent: total, achievedRate: total / elapsed, latencies, trace, seconds: elapsed, clientCpuMs: (cpu.user + cpu.system) / 1000, ...(firstError === undefined ? {} : { firstError }) };
}

/** Closed loop: `count` deliveries with `concurrency` in flight (throughput; also the warm-up). */
export async function closedLoop(client: WebhookClient, concurrency: number, count: number, make: (i: number) => Delivery): Promise<{ perSecond: number; errors: number }> {
  const prepared = Array.from({ length: count }, (_, i) => client.encode(make(i)));
  let next = 0;
  let errors = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const d = prepared[next++];
        if (d === undefined) return;
        if ((await client.post(d).catch(() => 0)) !== 200) errors++;
      }
    }),
  );
  return { perSecond: count / ((performance.now() - start) / 1000), errors };
}
