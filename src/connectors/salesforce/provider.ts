import { z } from 'zod';
import { CrmError } from '../../errors.ts';
import type { CrmProvider } from '../provider.ts';
import { flag, optionalText, trimUrl, url } from '../../settings.ts';
import { startSalesforceCdc } from './cdc.ts';
import { createSalesforceConnector } from './index.ts';
import { SPECS } from './mapping.ts';
import { authorizeUrl, exchangeCode, refreshAccessToken, revokeToken, SALESFORCE_SCOPES } from './oauth.ts';

/**
 * Salesforce as a provider (ARCHITECTURE.md §3): the OAuth 2.0 web-server flow (
 * https://help.salesforce.com/apex/HTViewHelpDoc?id=xcloud.remoteaccess_oauth_web_server_flow_ca.htm),
 * API calls to the org's `instance_url` (the installation's baseUrl, not the login URL), Change Data
 * Capture over CometD for rescoring in seconds (cdc.ts; the daemon then polls every 15 min), and
 * custom fields the admin creates (docs/install-salesforce.md): the connector's provision() only
 * verifies them, at install.
 */

const envSchema = z.object({
  SALESFORCE_LOGIN_URL: url('SALESFORCE_LOGIN_URL').default('https://login.salesforce.com'),
  // where sandbox orgs log in (https://help.salesforce.com/s/articleView?id=sf.deploy_sandboxes_login.htm); an install
  // started with ?org=sandbox goes there, so one server serves production and sandbox orgs at once
  SALESFORCE_SANDBOX_LOGIN_URL: url('SALESFORCE_SANDBOX_LOGIN_URL').default('https://test.salesforce.com'),
  SALESFORCE_CLIENT_ID: optionalText,
  SALESFORCE_CLIENT_SECRET: optionalText,
  SALESFORCE_API_VERSION: z
    .string()
    .regex(/^\d{2,3}\.0$/, 'SALESFORCE_API_VERSION must look like "62.0"')
    .default('62.0'),
  // Change Data Capture (cdc.ts): off for an org without it; while it runs, every stream is still polled this often
  SALESFORCE_CDC: flag('SALESFORCE_CDC').default(true),
  SALESFORCE_CDC_POLL_INTERVAL_MS: z.coerce.number().int().min(60_000, 'SALESFORCE_CDC_POLL_INTERVAL_MS must be at least 60000').default(15 * 60_000),
  // a backfill of an object with this many rows or more goes through Bulk API 2.0 query jobs (bulk.ts); 0: never
  SALESFORCE_BULK_THRESHOLD: z.coerce.number().int('SALESFORCE_BULK_THRESHOLD must be a whole number of rows').min(0, 'SALESFORCE_BULK_THRESHOLD must be 0 (never) or more').default(50_000),
});

const settingsSchema = envSchema.transform((v) => ({
  loginUrl: trimUrl(v.SALESFORCE_LOGIN_URL),
  sandboxLoginUrl: trimUrl(v.SALESFORCE_SANDBOX_LOGIN_URL),
  clientId: v.SALESFORCE_CLIENT_ID,
  clientSecret: v.SALESFORCE_CLIENT_SECRET,
  apiVersion: v.SALESFORCE_API_VERSION,
  cdc: v.SALESFORCE_CDC,
  cdcPollIntervalMs: v.SALESFORCE_CDC_POLL_INTERVAL_MS,
  bulkThreshold: v.SALESFORCE_BULK_THRESHOLD === 0 ? null : v.SALESFORCE_BULK_THRESHOLD,
}));

export type SalesforceSettings = z.output<typeof settingsSchema>;

/** the install's login host: production (default) or sandbox, from the install's context */
const INSTALL_CONTEXTS = ['production', 'sandbox'] as const;
const loginUrlOf = (s: SalesforceSettings, context: string | undefined) => (context === 'sandbox' ? s.sandboxLoginUrl : s.loginUrl);

const client = (s: SalesforceSettings, fetch: ((input: string, init?: RequestInit) => Promise<Response>) | undefined, loginUrl = s.loginUrl) => ({
  loginUrl,
  clientId: s.clientId ?? '',
  clientSecret: s.clientSecret ?? '',
  ...(fetch === undefined ? {} : { fetch }),
});

export const salesforceProvider: CrmProvider<SalesforceSettings> = {
  name: 'salesforce',
  label: 'Salesforce',
  config: {
    keys: Object.keys(envSchema.shape),
    secretKeys: ['SALESFORCE_CLIENT_SECRET'],
    schema: settingsSchema,
    check: (has) =>
      has('SALESFORCE_CLIENT_ID') && !has('SALESFORCE_CLIENT_SECRET') ? ['SALESFORCE_CLIENT_SECRET is required when SALESFORCE_CLIENT_ID is set (connected app)'] : [],
  },
  oauth: {
    missing: (s) => [...(s.clientId === undefined ? ['SALESFORCE_CLIENT_ID'] : []), ...(s.clientSecret === undefined ? ['SALESFORCE_CLIENT_SECRET'] : [])],
    installContext(_s, query) {
      const org = query['org'] ?? 'production';
      if (!(INSTALL_CONTEXTS as readonly string[]).includes(org)) return { ok: false, message: 'Start the install with ?org=production (the default) or ?org=sandbox.' };
      return { ok: true, context: org === 'sandbox' ? 'sandbox' : undefined };
    },
    authorizeUrl: (s, p) =>
      authorizeUrl({ loginUrl: loginUrlOf(s, p.context), clientId: s.clientId ?? '', redirectUri: p.redirectUri, scopes: SALESFORCE_SCOPES, state: p.state, codeChallenge: p.codeChallenge }),
    async exchange(s, p) {
      // the code is redeemed where it was issued: the login host of the authorize request
      const tokens = await exchangeCode(client(s, p.fetch, loginUrlOf(s, p.context)), { code: p.code, redirectUri: p.redirectUri, codeVerifier: p.codeVerifier });
      if (tokens.refreshToken === undefined) {
        // without a refresh token the portal would die at the first session timeout
        return { ok: false, message: 'Salesforce issued no refresh token: give the connected app the "refresh_token, offline_access" scope and install again.' };
      }
      return {
        ok: true,
        // the org is learnt from the answer's `id` URL (…/id/<orgId>/<userId>); its instance_url is where the API lives
        installation: { portal: tokens.portal, crm: 'salesforce', externalId: tokens.orgId, baseUrl: tokens.instanceUrl, scopes: [...SALESFORCE_SCOPES] },
        // token answers carry no expiry (the session timeout is an org setting): refreshed on 401
        tokens: { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: null },
      };
    },
    async refresh(s, p) {
      // at the org's own My Domain (its instance URL), not the login host: see refreshAccessToken
      const fresh = await refreshAccessToken(client(s, p.fetch, p.installation.baseUrl), p.refreshToken);
      if (fresh.portal !== p.installation.portal) {
        // the refresh token answered for another org: never store its session under this portal
        throw new CrmError('bad_response', `Salesforce refreshed ${p.installation.portal} with a token of ${fresh.portal}`, { crm: 'salesforce' });
      }
      // refresh tokens are not rotated by default: null keeps the stored one
      // a changed instance_url (My Domain renamed, org migrated) is where the API lives from now on
      return { accessToken: fresh.accessToken, refreshToken: fresh.refreshToken ?? null, expiresAt: null, ...(fresh.instanceUrl === p.installation.baseUrl ? {} : { baseUrl: fresh.instanceUrl }) };
    },
    revoke: (s, p) => revokeToken(client(s, p.fetch, p.installation.baseUrl), p.refreshToken),
  },
  createConnector: (installation, auth, ctx) =>
    createSalesforceConnector({
      instanceUrl: installation.baseUrl,
      portal: installation.portal,
      accessToken: () => auth.accessToken(),
      ...(auth.onUnauthorized === undefined ? {} : { onUnauthorized: () => auth.onUnauthorized?.() ?? Promise.resolve(null) }),
      ...(auth.baseUrl === undefined ? {} : { instanceUrlNow: () => auth.baseUrl?.() ?? Promise.resolve(installation.baseUrl) }),
      apiVersion: ctx.settings.apiVersion,
      logger: ctx.logger,
      timeoutMs: ctx.httpTimeoutMs,
      now: ctx.now,
      ...(ctx.pageSize === undefined ? {} : { pageSize: ctx.pageSize }),
      churnDateField: ctx.churnDateProperty?.(installation.portal),
      bulkThreshold: ctx.settings.bulkThreshold,
    }),
  changeStream: {
    start: (installation, auth, ctx, deps) =>
      !ctx.settings.cdc
        ? undefined
        : startSalesforceCdc({
            portal: installation.portal,
            instanceUrl: installation.baseUrl,
            apiVersion: ctx.settings.apiVersion,
            accessToken: () => auth.accessToken(),
            ...(auth.onUnauthorized === undefined ? {} : { onUnauthorized: () => auth.onUnauthorized?.() ?? Promise.resolve(null) }),
            store: deps.store,
            nudge: deps.nudge,
            logger: ctx.logger,
            now: ctx.now,
            pollEveryMs: ctx.settings.cdcPollIntervalMs,
          }),
  },
  /** the sObject each kind is read from (mapping.ts); calls and notes are Tasks told apart by subtype / type */
  objectName: (type) => (type === 'calls' ? 'Task (Call)' : type === 'notes' ? 'Task (Note)' : SPECS[type].sobject),
  // the Rapport_* fields are created by the admin (docs/install-salesforce.md); provision() verifies them at install only
  provisionOnConnect: false,
  hints: {
    explain(e) {
      switch (e.kind) {
        case 'auth':
          return `Salesforce rejected the access token (${e.message}). Reinstall through /oauth/salesforce/install.`;
        case 'forbidden':
          return `the integration user lacks a permission (${e.message}). See the permission set in docs/install-salesforce.md.`;
        case 'unavailable':
          return `Salesforce could not be reached (${e.message}). Check SALESFORCE_LOGIN_URL and the network.`;
        case 'rate_limited':
          return `Salesforce kept refusing for the org's API limit (${e.message}); try again once the rolling 24-hour budget frees up.`;
        default:
          return `${e.kind}: ${e.message}`;
      }
    },
    // Salesforce budgets calls per rolling 24 h, shared with the org's other integrations
    usage: (u) =>
      `API: ${u.calls24h} calls in the last 24 h (${u.calls10m} in the last 10 min, about ${u.calls10m * 144} a day at this pace); the org's daily allowance is shared with its other integrations, Rapport pauses at 80 % of it`,
    refreshRefused: "the connected app's access was revoked or the refresh token expired",
  },
};
