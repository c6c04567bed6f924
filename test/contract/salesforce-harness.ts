import { createSalesforceConnector, type SalesforceConnector, type SalesforceConnectorOptions } from '../../src/connectors/salesforce/index.ts';
import { createClock } from '../../src/sandbox/hubspot/clock.ts';
import { startSalesforceSandbox, type SalesforceSandbox, type SalesforceSandboxOptions } from '../../src/sandbox/salesforce/index.ts';
import type { ContractHarness } from './connector-contract.ts';

export const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
export const APP = { clientId: 'contract-client', clientSecret: 'contract-secret' };

export type SalesforceHarness = ContractHarness & { connector: SalesforceConnector; sandbox: SalesforceSandbox; baseUrl: string };

/**
 * The real Salesforce connector (jsforce) against the emulator over HTTP (127.0.0.1, port 0),
 * installed through the OAuth authorization-code flow so the token and org id come from the
 * emulator's own token endpoint. The clock is frozen; tests drive it. Salesforce's smallest
 * query batch is 200, so the page size here is 200, and a small `queryLimit` makes every run cross
 * both a nextRecordsUrl page and a new keyset query.
 */
export async function salesforceHarness(over: Partial<SalesforceConnectorOptions> = {}, org: Omit<SalesforceSandboxOptions, 'clock' | 'oauth'> = {}): Promise<SalesforceHarness> {
  const clock = createClock({ frozenAt: T0 });
  const started = await startSalesforceSandbox({ seed: 7, ...org, clock, oauth: APP });
  const { sandbox, baseUrl } = started;
  // the install: authorize → code → token endpoint (what the server's /oauth/salesforce/callback does)
  const redirectUri = 'http://localhost/cb';
  const auth = await fetch(`${baseUrl}/services/oauth2/authorize?response_type=code&client_id=${APP.clientId}&redirect_uri=${encodeURIComponent(redirectUri)}&state=s1`, { redirect: 'manual' });
  const code = new URL(auth.headers.get('location') ?? '').searchParams.get('code') ?? '';
  const tokenRes = await fetch(`${baseUrl}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, client_id: APP.clientId, client_secret: APP.clientSecret, redirect_uri: redirectUri }),
  });
  const issued = (await tokenRes.json()) as { access_token: string; instance_url: string; id: string };
  const token = issued.access_token;
  const pageSize = over.pageSize ?? 200;
  const connector = createSalesforceConnector({
    instanceUrl: issued.instance_url,
    accessToken: async () => token,
    apiVersion: '62.0',
    pageSize,
    queryLimit: 450,
    retry: { retries: 2, baseMs: 1, maxMs: 5 },
    timeoutMs: 5_000,
    now: () => clock.now(),
    ...over,
  });
  const data = sandbox.data;
  return {
    sandbox,
    baseUrl,
    connector,
    portal: `salesforce:${issued.id.split('/').at(-2) ?? ''}`,
    pageSize,
    async createContact(p) {
      return data.create('Contact', { Email: p.email, FirstName: p.firstname ?? null, LastName: 'Test' }).Id as string;
    },
    async updateContact(id, p) {
      const fields: Record<string, string> = {};
      if (p.firstname !== undefined) fields.FirstName = p.firstname;
      if (p.email !== undefined) fields.Email = p.email;
      data.update('Contact', id, fields);
    },
    async deleteContact(id) {
      data.remove('Contact', id);
    },
    async createNote(contactIds, body) {
      const task = data.create('Task', { TaskSubtype: 'Task', Type: 'Note', Subject: 'Note', Description: body, Status: 'Completed', WhoId: contactIds[0] ?? null, CompletedDateTime: clock.now() });
      for (const c of contactIds) data.create('TaskWhoRelation', { TaskId: task.Id as string, RelationId: c, Type: 'Contact' });
      return task.Id as string;
    },
    async advance(ms) {
      clock.advance(ms);
    },
    async inject(fault) {
      if (fault === 'rate_limited') sandbox.setFaults({ requestLimit: 1 });
      else if (fault === 'bad_response') sandbox.setFaults({ malformed: 1 });
      else sandbox.sessions.expireAccessTokens();
    },
    async clearFaults() {
      sandbox.setFaults({});
    },
    close: () => started.close(),
  };
}
