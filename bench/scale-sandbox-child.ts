/**
 * Child process for `bench/scale.ts`: a HubSpot sandbox with its per-account limits ON, an OAuth
 * app, and N portals of M contacts each (one company per 10 contacts), so the bench's own process
 * (the webhook load generator) shares no event loop with it. Prints one JSON line
 * `{ baseUrl, hubIds }` when ready; when its stdin closes, one more with what each portal was sent
 * (`{ portals: [{ requests, rateLimited }] }`), then exits.
 */
import { startHubspotSandbox } from '../src/sandbox/hubspot/index.ts';
import { seedContacts } from './sync-seed.ts';

const [portals = 1, contacts = 1000] = process.argv.slice(2).map(Number);
const app = JSON.parse(process.env['BENCH_SCALE_APP'] ?? '{}') as { clientId: string; clientSecret: string; appId: number };
const served = await startHubspotSandbox({ oauth: app, limits: { per10s: 110, searchPerSecond: 5 }, searchLagMs: 0 });
const hubIds: number[] = [];
for (let i = 0; i < portals; i++) {
  const { hubId } = served.sandbox.portals.create();
  seedContacts(served.sandbox, hubId, contacts);
  hubIds.push(hubId);
}
process.stdout.write(`${JSON.stringify({ baseUrl: served.baseUrl, hubIds })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  const sent = hubIds.map((h) => served.sandbox.stats(h)).map((s) => ({ requests: s.requests, rateLimited: s.rateLimited }));
  process.stdout.write(`${JSON.stringify({ portals: sent })}\n`, () => void served.close().then(() => process.exit(0)));
});
