import { createHubspotConnector, type HubspotConnector, type HubspotConnectorOptions } from '../../src/connectors/hubspot/index.ts';
import { createClock } from '../../src/sandbox/hubspot/clock.ts';
import { startHubspotSandbox, type HubspotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { DEFAULT_PRIVATE_APP_SCOPES } from '../../src/sandbox/hubspot/portals.ts';
import type { CrmRecord } from '../../src/connectors/types.ts';
import { defaultAssociationTypeId, primaryTypeId, userLabelKey } from '../../src/sandbox/hubspot/association-types.ts';
import type { SandboxObject } from '../../src/sandbox/model.ts';
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
  sandboxOpts: { limits?: { per10s: number; searchPerSecond: number } | false; searchLagMs?: number; reality?: boolean } = {},
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
  // the reality variant has 1,000 more contacts: pages of 100 keep the contract's resume-from-every-page cases short
  const pageSize = over.pageSize ?? (sandboxOpts.reality === true ? 100 : 10);
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
  const lagged: HubspotConnector =
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
  const real = sandboxOpts.reality === true ? switchRealityOn(sandbox, hubId, lagged) : undefined;
  const connector = real?.connector ?? lagged;
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
      const id = data.create(hubId, 'contacts', props).id;
      real?.labelled(id);
      return id;
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
      const id = data.create(
        hubId,
        'notes',
        { hs_timestamp: new Date(clock.now()).toISOString(), hs_note_body: body },
        contactIds.map((id) => ({ type: 'contacts' as const, id })),
      ).id;
      real?.crowded(id);
      return id;
    },
    async advance(ms) {
      clock.advance(ms);
      real?.churn();
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

/**
 * Issue 13, the contract with HubSpot's habits switched on (the "reality" variant): besides the
 * search index lag (each sync starting `lag` after the writes), the portal holds 1,000 background
 * contacts; every `advance` merges or purges some of them (merges leave no archived entry, purges
 * no trace at all); every contact the contract creates has a primary company next to user-defined
 * labels whose typeIds collide with primary ids (src/sandbox/hubspot/association-types.ts); every
 * note it creates is also linked to the 1,000 background contacts (inline lists stop at 100, so
 * its links come through the v4 fallback). The contract's assertions are about its own records,
 * so the wrapped connector hides the background ones from them — after checking, on every page,
 * what the contract cannot see: each contract contact's primary company and each note's full
 * list of contacts, against the sandbox's own state.
 */
function switchRealityOn(sandbox: HubspotSandbox, hubId: number, connector: HubspotConnector) {
  const data = sandbox.data;
  const BG = 2_000_000;
  const background = new Set<string>();
  const objects: SandboxObject[] = [];
  const at = T0 - 86_400_000;
  for (let i = 0; i < 1_000; i++) {
    const id = String(BG + i);
    background.add(id);
    objects.push({ type: 'contacts', id, properties: { email: `bg${i}@background.example` }, createdAt: at, updatedAt: at, archived: false });
  }
  data.load(hubId, { objects, associations: [], truth: [] });
  // created after the background contacts: lower company ids come first in inline lists
  const billing = data.create(hubId, 'companies', { name: 'Billing Co' }).id;
  const employer = data.create(hubId, 'companies', { name: 'Employer' }).id;
  // what `advance` does to the background, one step each time: merges and purges
  const steps: (() => void)[] = [];
  for (let k = 0; k < 40; k += 4) {
    const [a, b, c] = [String(BG + k), String(BG + k + 1), String(BG + k + 2)];
    steps.push(() => data.merge(hubId, 'contacts', a, b));
    steps.push(() => data.purge(hubId, 'contacts', c));
  }
  const live = () => [...background].filter((id) => data.get(hubId, 'contacts', id) !== undefined);
  const check = (r: CrmRecord) => {
    if (r.type === 'contacts' && !background.has(r.id) && !r.deleted && r.companyId !== employer) {
      throw new Error(`reality check: contact ${r.id} read with primary company ${String(r.companyId)}, its primary is ${employer} (user labels must not count)`);
    }
    if (r.type === 'notes' && !r.deleted) {
      const want = [...new Set(data.associationsOf(hubId, 'notes', r.id, 'contacts'))].sort();
      const got = [...(r.contactIds ?? [])].sort();
      if (want.length > 100 && JSON.stringify(got) !== JSON.stringify(want)) {
        throw new Error(`reality check: note ${r.id} read with ${got.length} contacts, it has ${want.length} (inline lists stop at 100; the v4 fallback must fetch the rest)`);
      }
    }
  };
  const hide = (r: CrmRecord): CrmRecord | undefined => {
    if (r.type === 'contacts' && background.has(r.id)) return undefined;
    if (r.contactIds === undefined) return r;
    return { ...r, contactIds: r.contactIds.filter((id) => !background.has(id)) };
  };
  const wrapped: HubspotConnector = {
    ...connector,
    async *changes(type, cursor, signal) {
      for await (const page of connector.changes(type, cursor, signal)) {
        for (const r of page.records) check(r);
        yield { ...page, records: page.records.map(hide).filter((r): r is CrmRecord => r !== undefined) };
      }
    },
  };
  return {
    connector: wrapped,
    /** a contract contact: primary company `employer`, plus user labels to `billing` (one reusing the primary's typeId 1) */
    labelled(id: string) {
      data.associate(hubId, 'contacts', id, 'companies', billing, userLabelKey('contacts', 'companies', 'Decision maker'));
      data.associate(hubId, 'contacts', id, 'companies', billing, userLabelKey('contacts', 'companies', 'Billing contact'));
      data.associate(hubId, 'contacts', id, 'companies', employer, primaryTypeId('contacts', 'companies'));
    },
    /** a contract note: also linked to every live background contact (1,000-association record) */
    crowded(noteId: string) {
      const typeId = defaultAssociationTypeId('notes', 'contacts') ?? 202;
      const links = live().map((id) => ({ fromType: 'notes' as const, fromId: noteId, toType: 'contacts' as const, toId: id, typeId }));
      data.load(hubId, { objects: [], associations: links, truth: [] });
    },
    churn() {
      steps.shift()?.();
    },
  };
}
