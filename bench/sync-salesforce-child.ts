/**
 * Child process for `bench/sync.ts`'s Salesforce figures: one backfill of the org's contacts into a
 * fresh SQLite store, through Bulk API 2.0 (`bulk`) or REST queryAll pages (`rest`), so each path's
 * peak RSS is its own. Args: baseUrl token orgId mode. Prints one JSON line with the figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSalesforceConnector } from '../src/connectors/salesforce/index.ts';
import { silentLogger } from '../src/log.ts';
import { createStore } from '../src/store/index.ts';
import { syncStream } from '../src/sync/sync-stream.ts';

const [baseUrl, token, orgId, mode] = process.argv.slice(2);
if (baseUrl === undefined || token === undefined || orgId === undefined || (mode !== 'bulk' && mode !== 'rest')) throw new Error('usage: sync-salesforce-child.ts baseUrl token orgId bulk|rest');
const dir = mkdtempSync(join(tmpdir(), 'rapport-bench-sf-'));
const store = createStore({ path: join(dir, 'bench.db') });
const portal = `salesforce:${orgId}`;
const connector = createSalesforceConnector({
  instanceUrl: baseUrl,
  accessToken: async () => token,
  apiVersion: '62.0',
  portal,
  // the product's defaults (50,000-row threshold and results pages), a shorter poll than the 2 s default: the emulator's jobs complete at once
  ...(mode === 'bulk' ? { bulkPollMs: 100 } : { bulkThreshold: null }),
  timeoutMs: 120_000,
});
let peak = process.memoryUsage().rss;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
const started = performance.now();
const result = await syncStream({ store, connector, portal, logger: silentLogger }, 'contacts', {
  signal: new AbortController().signal,
  onProgress: () => (peak = Math.max(peak, process.memoryUsage().rss)),
});
clearInterval(sampler);
const seconds = (performance.now() - started) / 1000;
await store.close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ mode, status: result.status, records: result.records, calls: connector.stats().calls, seconds, peakMb: Math.round(peak / 2 ** 20) })}\n`);
