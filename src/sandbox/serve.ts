import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';

/**
 * Serves an emulator's fetch handler on `host` (port 0 = any free port). `close` also drops
 * keep-alive connections (a client's fetch pool would otherwise hold it open), then runs
 * `onClose` (the emulator's own shutdown).
 */
export async function serveEmulator(
  fetch: (req: Request) => Response | Promise<Response>,
  opts: { port?: number | undefined; host?: string | undefined },
  onClose: () => Promise<void>,
): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const host = opts.host ?? '127.0.0.1';
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch, hostname: host, port: opts.port ?? 0 }, () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  let closed = false;
  return {
    baseUrl: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    async close() {
      if (closed) return;
      closed = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await onClose();
      await stopped;
    },
  };
}
