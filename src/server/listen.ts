import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';

/**
 * Starts one HTTP listener with limits against slow clients and connection floods: a request
 * (headers and body) must arrive within `requestTimeoutMs`, its headers within min(10 s, that),
 * and at most `maxConnections` sockets are open at once (more are closed on accept). Node checks
 * the timeouts every `connectionsCheckingInterval` (30 s by default, too coarse): once a second
 * here. https://nodejs.org/docs/latest-v22.x/api/http.html#serverrequesttimeout,
 * https://nodejs.org/docs/latest-v22.x/api/net.html#servermaxconnections
 */

export const HEADERS_TIMEOUT_MS = 10_000;

export type Listener = { server: ServerType; url: string; port: number; close(): Promise<void> };

export function listenHttp(
  fetch: (req: Request) => Response | Promise<Response>,
  o: { port: number; host: string; requestTimeoutMs: number; maxConnections: number },
): Promise<Listener> {
  const requestTimeout = o.requestTimeoutMs;
  return new Promise((resolve, reject) => {
    const server = serve(
      {
        fetch,
        port: o.port,
        hostname: o.host,
        serverOptions: {
          requestTimeout,
          headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
          connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(requestTimeout / 4))),
        },
      },
      (info: AddressInfo) => {
        server.off('error', reject);
        const host = o.host.includes(':') ? `[${o.host}]` : o.host;
        resolve({
          server,
          port: info.port,
          url: `http://${host}:${info.port}`,
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done());
              if ('closeIdleConnections' in server) server.closeIdleConnections();
            }),
        });
      },
    );
    server.maxConnections = o.maxConnections;
    server.once('error', reject);
  });
}
