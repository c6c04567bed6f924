/** Helpers for the hostile-request suite: raw HTTP clients that can misbehave on purpose. */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { signV3 } from '../../src/connectors/hubspot/signature.ts';
import { CLIENT_SECRET } from '../unit/server/harness.ts';

export { CLIENT_SECRET };

/** HubSpot's card-fetch headers for a request it signed over `publicUrl + pathAndQuery`. */
export function cardHeaders(o: { method: 'GET' | 'POST'; publicUrl: string; pathAndQuery: string; body?: string; now?: number; secret?: string }): Record<string, string> {
  const ts = String(o.now ?? Date.now());
  return {
    'x-hubspot-signature-v3': signV3({ clientSecret: o.secret ?? CLIENT_SECRET, method: o.method, uri: `${o.publicUrl.replace(/\/+$/, '')}${o.pathAndQuery}`, body: o.body ?? '', timestamp: ts }),
    'x-hubspot-request-timestamp': ts,
  };
}

/**
 * POSTs a body of `totalBytes` as it is produced (chunked unless a content-length header is
 * given) and resolves at the first response: its status, how many bytes the client had managed
 * to write by then (a server that reads the whole upload first lets all of them through), and
 * how long it took.
 */
export function streamingPost(url: string, headers: Record<string, string>, totalBytes: number): Promise<{ status: number; sentAtResponse: number; ms: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', headers });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const t0 = performance.now();
    let sent = 0;
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const sentAtResponse = sent;
      const ms = performance.now() - t0;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      const finish = () => {
        resolve({ status: res.statusCode ?? 0, sentAtResponse, ms, body: Buffer.concat(parts).toString('utf8') });
        req.destroy();
      };
      res.on('end', finish);
      res.on('error', finish);
      res.on('close', finish);
    });
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    const pump = () => {
      while (!answered && sent < totalBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}

/** Opens a raw TCP connection; resolves with the socket once connected. */
export function rawSocket(url: string): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect({ host: u.hostname, port: Number(u.port) }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends raw bytes and resolves with everything the server answered before closing (or after `waitMs`). */
export async function rawExchange(url: string, bytes: string, waitMs = 3000): Promise<string> {
  const s = await rawSocket(url);
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(Buffer.concat(parts).toString('utf8'));
    };
    const timer = setTimeout(done, waitMs);
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('close', done);
    s.on('error', done);
    s.write(bytes);
  });
}

/** Two portals as in test/unit/cards/fixtures.ts, on a harness's store: A has 101 (scored), 102; B has 201. */
export async function seedTwoPortals(store: import('../../src/store/index.ts').Store): Promise<void> {
  const { contact, scores, PORTAL_A, PORTAL_B, NOW, DAY } = await import('../unit/cards/fixtures.ts');
  await store.portals.upsert({ portal: PORTAL_A, crm: 'hubspot', externalId: '62515', baseUrl: 'https://api.hubapi.com', scopes: ['oauth'] });
  await store.portals.upsert({ portal: PORTAL_B, crm: 'hubspot', externalId: '99999', baseUrl: 'https://api.hubapi.com', scopes: ['oauth'] });
  await store.records.upsertPage([contact(PORTAL_A, '101'), contact(PORTAL_A, '102'), contact(PORTAL_B, '201')]);
  await store.saveScores(PORTAL_A, [{ properties: {}, scores: scores('101', NOW - 2 * DAY) }], { clearIds: [], readAt: 0, volatile: [] });
  await store.saveScores(PORTAL_B, [{ properties: {}, scores: scores('201', NOW - 1 * DAY, { sat: 11, health: 'red' }) }], { clearIds: [], readAt: 0, volatile: [] });
}
