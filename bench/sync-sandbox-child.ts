/**
 * Child process for `bench/sync.ts`'s memory figure: serves a sandbox portal of N contacts (with
 * company associations) so that the parent's RSS is the sync's alone. Prints one JSON line
 * `{ baseUrl, token, hubId }` when ready and exits when its stdin closes.
 */
import { startHubspotSandbox } from '../src/sandbox/hubspot/index.ts';
import { seedContacts } from './sync-seed.ts';

const n = Number(process.argv[2] ?? 200_000);
const served = await startHubspotSandbox({ limits: false });
const { hubId, token } = served.sandbox.portals.create({ privateAppToken: 'pat-bench-rss' });
seedContacts(served.sandbox, hubId, n);
process.stdout.write(`${JSON.stringify({ baseUrl: served.baseUrl, token, hubId })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void served.close().then(() => process.exit(0));
});
