import { afterEach, describe, expect, it } from 'vitest';
import type { CrmRecord, Cursor, DealData, EngagementData, FeedbackData, ObjectType, TicketData } from '../../src/connectors/types.ts';
import { OBJECT_TYPES } from '../../src/connectors/types.ts';
import { CrmError } from '../../src/errors.ts';
import { generateAccount } from '../../src/sandbox/generator/index.ts';
import type { HubspotObjectType } from '../../src/sandbox/model.ts';
import { APP, salesforceHarness, T0, type SalesforceHarness } from './salesforce-harness.ts';
import type { ScoreValues } from '../../src/scores.ts';

/** values as read back from storage: any keys, typed only at run time */
const fromStorage = (o: Record<string, string>): ScoreValues => o;

/** Salesforce-specific behaviour beyond the shared contract: jsforce against the emulator over real HTTP. */

let h: SalesforceHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function drain(c: SalesforceHarness['connector'], type: ObjectType, cursor: Cursor | null) {
  const records: CrmRecord[] = [];
  let last = cursor;
  for await (const p of c.changes(type, cursor, new AbortController().signal)) {
    records.push(...p.records);
    last = p.next;
  }
  return { records, cursor: last };
}

const SOBJECT_OF: Record<ObjectType, string> = {
  companies: 'Account',
  contacts: 'Contact',
  deals: 'Opportunity',
  tickets: 'Case',
  calls: 'Task',
  emails: 'EmailMessage',
  meetings: 'Event',
  notes: 'Task',
  tasks: 'Task',
  feedback_submissions: 'Survey_Response__c',
};

describe('salesforce connector on the emulator', () => {
  it('a generated account loads into the org and every type syncs back whole, normalized, with its contacts', async () => {
    h = await salesforceHarness();
    const now = T0;
    const expected = new Map<ObjectType, number>();
    const generated: { type: HubspotObjectType; id: string; archived: boolean; hubspotType: HubspotObjectType }[] = [];
    for (const batch of generateAccount({ seed: 11, contacts: 40, now, messiness: 1 })) {
      h.sandbox.loader.load(batch);
      for (const o of batch.objects) {
        // a completed Task of Type 'Call' is a logged call in Salesforce (dialer integrations), whatever HubSpot called it
        const dialerCall = o.type === 'tasks' && o.properties.hs_task_type === 'CALL' && o.properties.hs_task_status === 'COMPLETED';
        generated.push({ type: dialerCall ? 'calls' : o.type, id: o.id, archived: o.archived, hubspotType: o.type });
      }
    }
    for (const g of generated) if (!g.archived) expected.set(g.type, (expected.get(g.type) ?? 0) + 1);
    for (const type of OBJECT_TYPES) {
      const { records } = await drain(h.connector, type, null);
      const live = records.filter((r) => !r.deleted);
      expect(live.length, `${type} (${SOBJECT_OF[type]})`).toBe(expected.get(type) ?? 0);
      for (const r of live) {
        expect(r.portal).toBe(h.portal);
        if (type !== 'contacts' && type !== 'companies') expect(r.contactIds?.length, `${type} ${r.id} has its contacts`).toBeGreaterThan(0);
        // every id the loader gave back maps the generator's object onto this record
      }
      const loaded = generated.filter((g) => g.type === type && !g.archived).map((g) => h!.sandbox.loader.idOf(g.hubspotType, g.id));
      expect(new Set(live.map((r) => r.id))).toEqual(new Set(loaded));
    }
    const deals = (await drain(h.connector, 'deals', null)).records;
    const won = deals.filter((d) => (d.data as DealData).isClosedWon);
    expect(won.length).toBeGreaterThan(0);
    expect(won.every((d) => (d.data as DealData).stage === 'Closed Won' && (d.data as DealData).closedAt !== null)).toBe(true);
    const tickets = (await drain(h.connector, 'tickets', null)).records.map((r) => r.data as TicketData);
    expect(tickets.some((t) => t.isClosed && t.timeToCloseMs !== null && t.timeToCloseMs > 0)).toBe(true);
    expect(new Set(tickets.map((t) => t.priority)).has(null)).toBe(false);
    const feedback = (await drain(h.connector, 'feedback_submissions', null)).records.map((r) => r.data as FeedbackData);
    expect(feedback.every((f) => f.surveyType !== null && f.valueRaw !== null)).toBe(true);
    const emails = (await drain(h.connector, 'emails', null)).records.map((r) => r.data as EngagementData);
    expect(new Set(emails.map((e) => e.direction))).toEqual(new Set(['inbound', 'outbound']));
    const calls = (await drain(h.connector, 'calls', null)).records.map((r) => r.data as EngagementData);
    expect(calls.every((c) => c.at !== null)).toBe(true);
    // Salesforce call logging has durations; the dialer-style Tasks loaded from HubSpot to-dos do not
    expect(calls.filter((c) => c.durationMs !== null).length).toBe(generated.filter((g) => g.hubspotType === 'calls' && !g.archived).length);
  }, 60_000);

  it("a row that becomes visible late with an older SystemModstamp (a long transaction) is caught through getUpdated's latestDateCovered", async () => {
    h = await salesforceHarness({ lookbackMs: 60_000 });
    await h.createContact({ email: 'a@example.com' });
    await h.advance(90_000);
    const tx = h.sandbox.beginLongTransaction();
    await h.advance(30_000);
    await h.createContact({ email: 'b@example.com' });
    const first = await drain(h.connector, 'contacts', null);
    await h.advance(10_000);
    // committed now, stamped 30 s before the cursor, when its transaction started
    const late = h.sandbox.data.create('Contact', { LastName: 'Late', Email: 'late@example.com' }, { at: tx.at }).Id as string;
    tx.commit();
    const inc = await drain(h.connector, 'contacts', first.cursor);
    expect(inc.records.map((r) => r.id)).toContain(late);
    // stamped before latestDateCovered with no transaction open: the limit of what polling can see (documented)
    const tooLate = h.sandbox.data.create('Contact', { LastName: 'TooLate' }, { at: T0 }).Id as string;
    const inc2 = await drain(h.connector, 'contacts', inc.cursor);
    expect(inc2.records.map((r) => r.id)).not.toContain(tooLate);
  });

  it('the cursor never moves back, even when the newest row it pointed at was hard-deleted', async () => {
    h = await salesforceHarness({ lookbackMs: 60_000 });
    await h.createContact({ email: 'a@example.com' });
    await h.advance(30_000);
    const b = await h.createContact({ email: 'b@example.com' });
    const first = await drain(h.connector, 'contacts', null);
    const since = (c: Cursor | null) => (JSON.parse(c ?? '{}') as { since: number }).since;
    expect(since(first.cursor)).toBe(T0 + 30_000);
    h.sandbox.data.purge('Contact', b);
    const again = await drain(h.connector, 'contacts', first.cursor);
    expect(again.records.length).toBe(1); // a, re-read inside the lookback
    expect(since(again.cursor)).toBe(T0 + 30_000);
  });

  it('writeScores sends collections of at most 200 and the values land on the contacts', async () => {
    h = await salesforceHarness();
    const ids: string[] = [];
    for (let i = 0; i < 450; i++) ids.push(await h.createContact({ email: `w${i}@example.com` }));
    const before = h.sandbox.stats().byRoute['PATCH /services/data/vXX.X/composite/sobjects'] ?? 0;
    const res = await h.connector.writeScores(
      ids.map((contactId, i) => ({ contactId, properties: { satisfaction: String(i % 100), churnRisk: '0.25', health: 'yellow', reasons: '+ NPS 9', modelVersion: 'm1', scoredAt: '2026-01-05T09:00:00.000Z' } })),
      new AbortController().signal,
    );
    expect(res.every((r) => r.ok)).toBe(true);
    expect((h.sandbox.stats().byRoute['PATCH /services/data/vXX.X/composite/sobjects'] ?? 0) - before).toBe(3);
    expect(h.sandbox.data.get('Contact', ids[57]!)).toMatchObject({ Rapport_Satisfaction__c: 57, Rapport_Churn_Risk__c: 0.25, Rapport_Health__c: 'yellow', Rapport_Model_Version__c: 'm1' });
    // an unknown key fails that record alone, before anything is sent
    const bad = await h.connector.writeScores([{ contactId: ids[0]!, properties: fromStorage({ mood: 'x' }) }, { contactId: ids[1]!, properties: { loyalty: '3' } }], new AbortController().signal);
    expect(bad.map((r) => r.ok)).toEqual([false, true]);
  });

  it('provision names the missing Rapport fields when the SFDX project is not deployed', async () => {
    h = await salesforceHarness();
    h.sandbox.setRapportFields(false);
    const e = await h.connector.provision(new AbortController().signal).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CrmError);
    expect((e as CrmError).kind).toBe('invalid_request');
    expect((e as CrmError).details.code).toBe('FIELDS_MISSING');
    expect((e as CrmError).message).toContain('Rapport_Satisfaction__c');
  });

  it('an expired session is refreshed once through onUnauthorized; a refresh that is rejected too ends as auth, not a loop', async () => {
    let token = '';
    let refreshes = 0;
    h = await salesforceHarness({
      accessToken: async () => token,
      onUnauthorized: async () => {
        refreshes++;
        const res = await fetch(`${h!.baseUrl}/services/oauth2/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt, client_id: APP.clientId, client_secret: APP.clientSecret }),
        });
        if (!res.ok) return null;
        token = ((await res.json()) as { access_token: string }).access_token;
        return token;
      },
    });
    const issued = h.sandbox.sessions.issue();
    token = issued.accessToken;
    const rt = issued.refreshToken;
    await h.createContact({ email: 'a@example.com' });
    h.sandbox.sessions.expireAccessTokens();
    expect((await drain(h.connector, 'contacts', null)).records).toHaveLength(1);
    expect(refreshes).toBe(1);
    h.sandbox.sessions.revokeAll();
    const e = await drain(h.connector, 'contacts', null).catch((x: unknown) => x);
    expect((e as CrmError).kind).toBe('auth');
    expect(refreshes).toBe(2);
  });

  it('5xx answers are retried by our withRetry (not jsforce) and the sync equals the clean one', async () => {
    h = await salesforceHarness({ retry: { retries: 8, baseMs: 1, maxMs: 2 } });
    for (let i = 0; i < 500; i++) {
      await h.createContact({ email: `r${i}@example.com` });
      if (i % 7 === 0) await h.advance(1_000);
    }
    const clean = await drain(h.connector, 'contacts', null);
    h.sandbox.setFaults({ serverError: 0.3 });
    const flaky = await drain(h.connector, 'contacts', null);
    expect(flaky.records.map((r) => r.id)).toEqual(clean.records.map((r) => r.id));
    expect(h.connector.stats().retries).toBeGreaterThan(0);
  });

  it('pauses (rate_limited, DAILY) once the configured share of the daily budget is used, from Sforce-Limit-Info', async () => {
    h = await salesforceHarness({ budgetFraction: 0 });
    await h.createContact({ email: 'a@example.com' });
    await h.connector.whoAmI(); // the first call learns the usage
    expect(h.connector.stats().apiUsage).toMatchObject({ limit: 100_000 });
    const e = await drain(h.connector, 'contacts', null).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CrmError);
    expect((e as CrmError).details).toMatchObject({ code: 'DAILY_BUDGET', policy: 'DAILY' });
  });
});

describe('salesforce OAuth helpers against the emulator', () => {
  it('authorize → code → tokens name the org; refresh gives a working token; revoke ends the grant', async () => {
    const { authorizeUrl, exchangeCode, refreshAccessToken, revokeToken } = await import('../../src/connectors/salesforce/oauth.ts');
    h = await salesforceHarness();
    const client = { loginUrl: h.baseUrl, clientId: APP.clientId, clientSecret: APP.clientSecret };
    const redirectUri = 'http://localhost/oauth/salesforce/callback';
    const url = authorizeUrl({ loginUrl: h.baseUrl, clientId: APP.clientId, redirectUri, state: 'xyz' });
    expect(new URL(url).searchParams.get('scope')).toBe('api refresh_token');
    const back = new URL((await fetch(url, { redirect: 'manual' })).headers.get('location')!);
    expect(back.searchParams.get('state')).toBe('xyz');
    const tokens = await exchangeCode(client, { code: back.searchParams.get('code')!, redirectUri });
    expect(tokens).toMatchObject({ portal: h.portal, instanceUrl: h.baseUrl, orgId: h.sandbox.orgId });
    expect(tokens.refreshToken).toBeDefined();
    // a code works once
    await expect(exchangeCode(client, { code: back.searchParams.get('code')!, redirectUri })).rejects.toMatchObject({ kind: 'auth', details: { code: 'invalid_grant' } });
    const refreshed = await refreshAccessToken(client, tokens.refreshToken!);
    expect(refreshed.refreshToken).toBeUndefined();
    const { createSalesforceConnector } = await import('../../src/connectors/salesforce/index.ts');
    const c = createSalesforceConnector({ instanceUrl: refreshed.instanceUrl, accessToken: async () => refreshed.accessToken, apiVersion: '62.0', retry: { retries: 0 } });
    expect(await c.whoAmI()).toEqual({ portal: h.portal });
    await revokeToken(client, tokens.refreshToken!);
    await expect(c.whoAmI()).rejects.toMatchObject({ kind: 'auth' });
    await expect(refreshAccessToken(client, tokens.refreshToken!)).rejects.toMatchObject({ kind: 'auth' });
  });
});
