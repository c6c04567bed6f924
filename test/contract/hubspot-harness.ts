import { createHubspotConnector, type HubspotConnector, type HubspotConnectorOptions } from '../../src/connectors/hubspot/index.ts';
import { createClock } from '../../src/sandbox/hubspot/clock.ts';
import { startHubspotSandbox, type HubspotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { DEFAULT_PRIVATE_APP_SCOPES } from '../../src/sandbox/hubspot/portals.ts';
import type { ContractHarness } from './connector-contract.ts';

const APP = { clientId: 'contract-client', clientSecret: 'contract-secret', appId: 4242 };
export const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

export type HubspotHarness = ContractHarness & {
  connector: HubspotConnector; sandbox: HubspotSandbox; hubId: number; baseUrl: string; token: string };

/**
 * The real HubSpot connector against the real sandbox over HTTP (127.0.0.1, port 0), installed
 * as an OAuth app so whoAmI and token expiry behave like a marketplace install. Limits are off
 * and the clock frozen: tests drive time; the connector reads the same clock.
 */
export async function hubspotHarness(
  over: Partial<HubspotConnectorOptions> = {},
  sandboxOpts: { limits?: { per10s: number; searchPerSecond: number } | false; searchLagMs?: number } = {},
): Promise<HubspotHarness> {
  const clock = createClock({ frozenAt: T0 });
  // The clock is frozen, so a search index lag would hide every record written "now" until a test
  // advances time: lag is off unless a test turns it on (the lag tests do, with 25 s and 45 s).
  const started = await startHubspotSandbox({ clock, limits: sandboxOpts.limits ?? false, oauth: APP, seed: 7, searchLagMs: sandboxOpts.searchLagMs ?? 0 });
  const { sandbox, baseUrl } = started;
  const { hubId } = sandbox.portals.create();
  const code = sandbox.portals.issueCode({ clientId: APP.clientId, redirectUri: 'http://localhost/cb', hubId, scopes: [...DEFAULT_PRIVATE_APP_SCOPES, 'oauth'] });
  const issued = sandbox.portals.redeemCode({ code, clientId: APP.clientId, redirectUri: 'http://localhost/cb' });
  if ('error' in issued) throw new Error(`sandbox install failed: ${issued.error}`);
  // a minimal token manager: refresh shortly before expiry, like the server's (tests move the clock by hours)
  let token = issued.accessToken;
  let refreshToken = issued.refreshToken;
  let refreshing = true;
  const accessToken = async () => {
    const info = sandbox.portals.accessTokenInfo(token);
    if (refreshing && (info === undefined || info.expiresIn < 60)) {
      const next = sandbox.portals.refresh({ refreshToken, clientId: APP.clientId });
      if ('error' in next) throw new Error(`sandbox refresh failed: ${next.error}`);
      token = next.accessToken;
      refreshToken = next.refreshToken;
    }
    return token;
  };
  const pageSize = over.pageSize ?? 10;
  const inner = createHubspotConnector({
    basePath: baseUrl,
    accessToken,
    limits: false,
    pageSize,
    retry: { retries: 2, baseMs: 1, maxMs: 5 },
    timeoutMs: 2_000,
    now: () => clock.now(),
    ...over,
  });
  // With a search lag on, each sync starts `lag` after the writes before it, as a periodic sync
  // does (the frozen clock would otherwise keep every fresh write unsearchable forever).
  const lag = sandboxOpts.searchLagMs ?? 0;
  const connector: HubspotConnector =
    lag === 0
      ? inner
      : {
          ...inner,
          changes(type, cursor, signal) {
            clock.advance(lag);
            return inner.changes(type, cursor, signal);
          },
        };
  const data = sandbox.data;
  return {
    sandbox,
    hubId,
    baseUrl,
    get token() {
      return token;
    },
    connector,
    portal: `hubspot:${hubId}`,
    pageSize,
    async createContact(p) {
      const props: Record<string, string> = { email: p.email };
      if (p.firstname !== undefined) props.firstname = p.firstname;
      return data.create(hubId, 'contacts', props).id;
    },
    async updateContact(id, p) {
      const props: Record<string, string> = {};
      if (p.firstname !== undefined) props.firstname = p.firstname;
      if (p.email !== undefined) props.email = p.email;
      data.update(hubId, 'contacts', id, props);
    },
    async deleteContact(id) {
      data.archive(hubId, 'contacts', id);
    },
    async createNote(contactIds, body) {
      return data.create(
        hubId,
        'notes',
        { hs_timestamp: new Date(clock.now()).toISOString(), hs_note_body: body },
        contactIds.map((id) => ({ type: 'contacts' as const, id })),
      ).id;
    },
    async advance(ms) {
      clock.advance(ms);
    },
    async inject(fault) {
      if (fault === 'rate_limited') sandbox.setFaults({ '429': 1 });
      else if (fault === 'bad_response') sandbox.setFaults({ malformed: 1 });
      else {
        // the token expires and nobody refreshes it
        refreshing = false;
        sandbox.portals.expireAccessTokens(hubId);
      }
    },
    async clearFaults() {
      sandbox.setFaults({});
    },
    close: () => started.close(),
  };
}
