/**
 * Child process for `bench/scale.ts`: a HubSpot sandbox with its per-account limits ON, an OAuth
 * app, and N portals of M contacts each (one company per 10 contacts), so the bench's own process
 * (the webhook load generator) shares no event loop with it. Prints one JSON line
 * `{ baseUrl, hubIds }` when ready; for each `stats` line on its stdin, one line with what each
 * portal was sent so far (`{ portals: [{ requests, windowed, rateLimited }] }`: `windowed` leaves
 * out searches, which HubSpot limits on a lane of their own); when its stdin closes, that line
 * once more, then exits.
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
// searches are their own lane (src/sandbox/hubspot/index.ts, https://developers.hubspot.com/docs/api/usage-details)
const searches = (byRoute: Record<string, number>) => Object.entries(byRoute).reduce((n, [route, k]) => n + (route.endsWith('/search') ? k : 0), 0);
const sent = () =>
  `${JSON.stringify({
    portals: hubIds.map((h) => served.sandbox.stats(h)).map((s) => ({ requests: s.requests, windowed: s.requests - searches(s.byRoute), rateLimited: s.rateLimited })),
  })}\n`;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  for (const line of chunk.split('\n')) if (line === 'stats') process.stdout.write(sent());
});
process.stdin.on('end', () => {
  process.stdout.write(sent(), () => void served.close().then(() => process.exit(0)));
});
