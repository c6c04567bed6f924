import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createStore } from '../../src/store/index.ts';
import { signV3 } from '../../src/connectors/hubspot/signature.ts';
import { rapportChild } from '../support/cli.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * Issue 15 item 4: another process (`rapport sync`, an operator's sqlite3 shell) holds the write
 * lock while a valid webhook arrives. Before the fix, `prune()` threw SQLITE_BUSY from a
 * setImmediate outside any try and `rapport serve` exited; every tenant lost its webhooks.
 */
const SECRET = 'locked-db-client-secret';
const PUBLIC_URL = 'https://rapport.example.test';
const PORTAL_ID = 62515;

let dir: ReturnType<typeof tempDir> | undefined;
let stopChild: (() => void) | undefined;
afterEach(() => {
  stopChild?.();
  dir?.cleanup();
});

const waitFor = async (what: string, ok: () => boolean, ms: number) => {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

function signedDelivery(eventId: number) {
  const body = JSON.stringify([
    { eventId, subscriptionId: 1, portalId: PORTAL_ID, appId: 1, occurredAt: Date.now(), subscriptionType: 'contact.propertyChange', attemptNumber: 0, objectId: 101, propertyName: 'email', propertyValue: 'x@y.z', changeSource: 'CRM' },
  ]);
  const timestamp = Date.now();
  const signature = signV3({ clientSecret: SECRET, method: 'POST', uri: `${PUBLIC_URL}/webhooks/hubspot`, body, timestamp });
  return {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': String(timestamp) },
  };
}

describe('a database locked by another process', () => {
  it('does not take the server down: the webhook is acknowledged and it keeps serving', async () => {
    dir = tempDir();
    const dbPath = join(dir.path, 'rapport.db');
    const setup = createStore({ path: dbPath });
    await setup.portals.upsert({ portal: `hubspot:${PORTAL_ID}`, crm: 'hubspot', externalId: String(PORTAL_ID), baseUrl: 'http://127.0.0.1:9', scopes: [] });
    await setup.close();

    const { child, done } = rapportChild(['serve', '--port', '0'], {
      RAPPORT_DB: dbPath,
      RAPPORT_PUBLIC_URL: PUBLIC_URL,
      HUBSPOT_CLIENT_ID: 'client-id',
      HUBSPOT_CLIENT_SECRET: SECRET,
      RAPPORT_LOG_LEVEL: 'warn',
    });
    let exited = false;
    void done.then(() => (exited = true));
    stopChild = () => {
      if (!exited) child.kill('SIGKILL');
    };
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    await waitFor('the server to listen', () => /listening on (http:\/\/\S+)/.test(stderr) || exited, 30_000);
    const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
    expect(url, stderr).toBeDefined();

    // another connection takes the write lock and keeps it
    const holder = new Database(dbPath);
    holder.exec('BEGIN IMMEDIATE');
    holder.prepare("UPDATE portals SET updated_at = updated_at WHERE portal = ?").run(`hubspot:${PORTAL_ID}`);

    const res = await fetch(`${url}/webhooks/hubspot`, signedDelivery(1));
    expect(res.status).toBe(200);
    // the dedupe transaction and the prune both run after the response and both meet the lock:
    // wait until both have given up (or, before the fix, until the process died)
    await waitFor('the background work to meet the lock', () => exited || /pruning webhook ids failed/.test(stderr), 20_000);
    expect(exited, `the server exited:\n${stderr}`).toBe(false);
    expect(stderr).toMatch(/webhook dedupe failed/);
    expect(stderr).not.toContain('x@y.z'); // the failure is logged without the record payload

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBeLessThan(500);
    expect(exited).toBe(false);

    // the lock goes away: the next delivery is deduplicated and recorded as usual
    holder.exec('COMMIT');
    holder.close();
    const again = await fetch(`${url}/webhooks/hubspot`, signedDelivery(2));
    expect(again.status).toBe(200);
    await waitFor('the event id to be recorded', () => {
      const check = new Database(dbPath, { readonly: true });
      try {
        return (check.prepare('SELECT COUNT(*) FROM webhook_events WHERE event_id = ?').pluck().get('1:2') as number) === 1;
      } finally {
        check.close();
      }
    }, 10_000);

    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(0);
  }, 90_000);
});
