import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import type { Config } from '../../../src/config.ts';
import { loadConfig } from '../../../src/config.ts';
import { FLUSH_INTERVAL_MS } from '../../../src/connectors/hubspot/notifications.ts';
import type { ObjectType } from '../../../src/connectors/types.ts';
import { createLogger, type Logger } from '../../../src/log.ts';
import { createApps } from '../../../src/server/app.ts';
import { createStore, type Store } from '../../../src/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

/** Test support: Rapport's HTTP app on a real socket (127.0.0.1, port 0) over a real SQLite file. */

export const CLIENT_SECRET = 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy';
export const ENCRYPTION_KEY_HEX = 'a1'.repeat(32);

export type Harness = {
  url: string;
  /** the operator listener (preview, report, metrics), also on 127.0.0.1 */
  operatorUrl: string;
  store: Store;
  config: Config;
  dbPath: string;
  nudges: { portal: string; types: ObjectType[] }[];
  /** records the webhook handler asked to re-read (association changes) */
  refreshes: { portal: string; type: ObjectType; ids: string[] }[];
  installed: string[];
  logLines: string[];
  logger: Logger;
  close(): Promise<void>;
};

export async function listen(fetch: (req: Request, env?: unknown) => Response | Promise<Response>): Promise<{ url: string; close(): Promise<void> }> {
  let server: ReturnType<typeof serve> | undefined;
  const info = await new Promise<AddressInfo>((resolve) => {
    server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, resolve);
  });
  const s = server as ReturnType<typeof serve>;
  return {
    url: `http://127.0.0.1:${info.port}`,
    close: () =>
      new Promise<void>((res) => {
        if ('closeAllConnections' in s) s.closeAllConnections();
        s.close(() => res());
      }),
  };
}

export async function startRapport(
  opts: {
    env?: Record<string, string>;
    now?: () => number;
    publicUrl?: string;
    fetch?: (url: string, init?: RequestInit) => Promise<Response>;
    /** the daemon's rescore (default: does nothing) */
    rescore?: (portal: string, contactId: string) => Promise<void>;
  } = {},
): Promise<Harness> {
  const dir = tempDir('rapport-server-');
  const dbPath = join(dir.path, 'rapport.db');
  const logLines: string[] = [];
  const logger: Logger = createLogger({ level: 'debug', destination: { write: (s: string) => void logLines.push(s) } });
  // the public URL is what HubSpot signs; if not given, it is the socket's own URL (learned after listen)
  const holder: { apps?: Awaited<ReturnType<typeof createApps>> } = {};
  const server = await listen((req) => (holder.apps === undefined ? new Response('starting', { status: 503 }) : holder.apps.app.fetch(req)));
  // the env carries the socket: the preview and report check the peer address
  const operator = await listen((req, env) => (holder.apps === undefined ? new Response('starting', { status: 503 }) : holder.apps.operator.fetch(req, env)));
  const config = loadConfig(
    {
      RAPPORT_DB: dbPath,
      RAPPORT_PUBLIC_URL: opts.publicUrl ?? server.url,
      RAPPORT_ENCRYPTION_KEY: ENCRYPTION_KEY_HEX,
      HUBSPOT_CLIENT_ID: 'client-id-test',
      HUBSPOT_CLIENT_SECRET: CLIENT_SECRET,
      ...opts.env,
    },
    join(dir.path, 'no-config-file.json'),
  );
  const now = opts.now ?? Date.now;
  const store = createStore({ path: dbPath, encryptionKey: config.encryptionKey, now });
  const nudges: Harness['nudges'] = [];
  const refreshes: Harness['refreshes'] = [];
  const installed: string[] = [];
  holder.apps = await createApps({
    store,
    config,
    logger,
    now,
    nudge: (portal, types) => void nudges.push({ portal, types }),
    refresh: (portal, type, ids) => void refreshes.push({ portal, type, ids }),
    onInstalled: (portal) => void installed.push(portal),
    rescore: opts.rescore ?? (async () => {}),
    ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
  });
  return {
    url: server.url,
    operatorUrl: operator.url,
    store,
    config,
    dbPath,
    nudges,
    refreshes,
    installed,
    logLines,
    logger,
    async close() {
      await server.close();
      await operator.close();
      await store.close();
      dir.cleanup();
    },
  };
}

/**
 * Lets the webhook receiver's post-ack dedupe and nudges run: queued on the next turn, or at most
 * FLUSH_INTERVAL_MS after the previous flush (group commit). Timers fire in order of expiry, so a
 * flush queued before this longer timer has run when it fires.
 */
export const settle = (): Promise<void> => new Promise((r) => setTimeout(r, FLUSH_INTERVAL_MS + 1));
