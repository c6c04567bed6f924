import { z } from 'zod';
import type { CrmProvider, ProviderContext } from '../provider.ts';
import { flag, optionalText, trimUrl, url } from '../../settings.ts';
import { createHubspotConnector } from './index.ts';
import { hubspotCardAuth } from './card-auth.ts';
import { hubspotCardPreview } from './card-preview.ts';
import { hubspotFreshness } from './freshness.ts';
import { createHubspotWebhookHandler } from './notifications.ts';
import { accessTokenInfo, authorizeUrl, exchangeCode, refreshTokens, revokeRefreshToken } from './oauth.ts';

/**
 * HubSpot as a provider (ARCHITECTURE.md §3): public-app OAuth (https://developers.hubspot.com/docs/api/oauth-quickstart-guide), a private-app
 * token as a static connection, webhooks and signed card requests, and properties the app
 * creates itself (so provisioning runs on every connect).
 */

/** Required scopes (https://developers.hubspot.com/scopes), the least this daemon needs. */
export const HUBSPOT_SCOPES = [
  'oauth',
  'crm.objects.contacts.read',
  'crm.objects.contacts.write',
  'crm.schemas.contacts.read',
  'crm.schemas.contacts.write',
  'crm.objects.companies.read',
  'crm.objects.deals.read',
  'tickets',
] as const;
/** Emails need sales-email-read; feedback needs Service Hub Pro (https://developers.hubspot.com/docs/api/oauth-quickstart-guide): an account without them still installs. */
export const HUBSPOT_OPTIONAL_SCOPES = ['sales-email-read', 'crm.objects.feedback_submissions.read'] as const;

const envSchema = z.object({
  /** accept HubSpot's v1/v2 webhook signatures (no timestamp) when a delivery has no v3 one */
  HUBSPOT_LEGACY_SIGNATURES: flag('HUBSPOT_LEGACY_SIGNATURES'),
  HUBSPOT_BASE_URL: url('HUBSPOT_BASE_URL').default('https://api.hubapi.com'),
  HUBSPOT_ACCESS_TOKEN: optionalText,
  HUBSPOT_CLIENT_ID: optionalText,
  HUBSPOT_CLIENT_SECRET: optionalText,
  HUBSPOT_APP_ID: optionalText,
  /** requests per 10 s: 110 for OAuth apps (per account), 100/190 for private apps by tier */
  HUBSPOT_RATE_LIMIT: z.coerce.number().int().positive().default(110),
});

const settingsSchema = envSchema.transform((v) => ({
  baseUrl: trimUrl(v.HUBSPOT_BASE_URL),
  accessToken: v.HUBSPOT_ACCESS_TOKEN,
  clientId: v.HUBSPOT_CLIENT_ID,
  clientSecret: v.HUBSPOT_CLIENT_SECRET,
  appId: v.HUBSPOT_APP_ID,
  rateLimitPer10s: v.HUBSPOT_RATE_LIMIT,
  /** accept v1/v2 webhook signatures without a v3 one (off: HubSpot signs app requests with v3) */
  legacySignatures: v.HUBSPOT_LEGACY_SIGNATURES,
}));

export type HubspotSettings = z.output<typeof settingsSchema>;

const client = (s: HubspotSettings, baseUrl = s.baseUrl) => ({ baseUrl, clientId: s.clientId ?? '', clientSecret: s.clientSecret ?? '' });

/** what every HubSpot connector of this process shares: API host, the per-account limits, timeouts */
const connectorOptions = (ctx: ProviderContext<HubspotSettings>) => ({
  basePath: ctx.settings.baseUrl,
  limits: { per10s: ctx.settings.rateLimitPer10s, searchPerSecond: 5 },
  logger: ctx.logger,
  timeoutMs: ctx.httpTimeoutMs,
  ...(ctx.pageSize === undefined ? {} : { pageSize: ctx.pageSize }),
});

const mappedOf = (ctx: ProviderContext<HubspotSettings>, portal: string) => {
  const churnDateProperty = ctx.churnDateProperty?.(portal);
  return churnDateProperty === undefined ? {} : { churnDateProperty };
};

export const hubspotProvider: CrmProvider<HubspotSettings> = {
  name: 'hubspot',
  label: 'HubSpot',
  config: {
    keys: Object.keys(envSchema.shape),
    secretKeys: ['HUBSPOT_ACCESS_TOKEN', 'HUBSPOT_CLIENT_SECRET'],
    schema: settingsSchema,
    check: (has) => (has('HUBSPOT_CLIENT_ID') && !has('HUBSPOT_CLIENT_SECRET') ? ['HUBSPOT_CLIENT_SECRET is required when HUBSPOT_CLIENT_ID is set (OAuth app)'] : []),
  },
  oauth: {
    missing: (s) => [...(s.clientId === undefined ? ['HUBSPOT_CLIENT_ID'] : []), ...(s.clientSecret === undefined ? ['HUBSPOT_CLIENT_SECRET'] : [])],
    authorizeUrl: (s, p) =>
      authorizeUrl({ apiBaseUrl: s.baseUrl, clientId: s.clientId ?? '', redirectUri: p.redirectUri, scopes: HUBSPOT_SCOPES, optionalScopes: HUBSPOT_OPTIONAL_SCOPES, state: p.state }),
    async exchange(s, p) {
      const c = { ...client(s), ...(p.fetch ? { fetch: p.fetch } : {}) };
      const tokens = await exchangeCode(c, { code: p.code, redirectUri: p.redirectUri });
      // the token answer does not name the account: its metadata does (https://developers.hubspot.com/docs/api/oauth-quickstart-guide)
      const info = await accessTokenInfo(c, tokens.accessToken);
      if (s.appId !== undefined && info.appId !== null && String(info.appId) !== s.appId) {
        return { ok: false, message: 'The token was issued to another app than the one this Rapport is configured for.' };
      }
      return {
        ok: true,
        installation: { portal: `hubspot:${info.hubId}`, crm: 'hubspot', externalId: String(info.hubId), baseUrl: s.baseUrl, scopes: info.scopes },
        tokens: { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: p.now + tokens.expiresInSec * 1000 },
      };
    },
    async refresh(s, p) {
      // refresh by `expires_in`, ahead of expiry, not on 401 (https://developers.hubspot.com/docs/api/oauth-quickstart-guide); HubSpot answers a new refresh token
      const fresh = await refreshTokens({ ...client(s, p.installation.baseUrl), ...(p.fetch ? { fetch: p.fetch } : {}) }, p.refreshToken);
      return { accessToken: fresh.accessToken, refreshToken: fresh.refreshToken, expiresAt: p.now + fresh.expiresInSec * 1000 };
    },
    revoke: (s, p) => revokeRefreshToken({ baseUrl: p.installation.baseUrl, ...(p.fetch ? { fetch: p.fetch } : {}) }, p.refreshToken),
  },
  createConnector: (installation, auth, ctx) =>
    createHubspotConnector({
      ...connectorOptions(ctx),
      portal: installation.portal,
      ...mappedOf(ctx, installation.portal),
      accessToken: () => auth.accessToken(),
      ...(auth.onUnauthorized === undefined ? {} : { onUnauthorized: () => auth.onUnauthorized?.() ?? Promise.resolve(null) }),
    }),
  /** A private-app token (HUBSPOT_ACCESS_TOKEN): no install, no stored tokens, the account learnt from the token. */
  async staticConnections(ctx) {
    const token = ctx.settings.accessToken;
    if (token === undefined) return [];
    const { portal } = await createHubspotConnector({ ...connectorOptions(ctx), accessToken: async () => token }).whoAmI();
    // the account is known only now, and with it the properties its admin mapped
    const connector = createHubspotConnector({ ...connectorOptions(ctx), portal, ...mappedOf(ctx, portal), accessToken: async () => token });
    return [{ installation: { portal, crm: 'hubspot', externalId: portal.split(':')[1] ?? portal, baseUrl: ctx.settings.baseUrl, scopes: [] }, connector }];
  },
  /**
   * The rapport_* properties are created on a portal's first connect in this process, whatever the
   * auth: a private-app token never passes through an install, and without the properties every
   * write is refused (PROPERTY_DOESNT_EXIST, https://developers.hubspot.com/docs/api/error-handling).
   * Idempotent (2 reads when already there).
   */
  provisionOnConnect: true,
  /** webhooks (https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide), signed with the app's client secret */
  notifications: {
    create: (s, deps) => createHubspotWebhookHandler({ ...deps, clientSecret: s.clientSecret, appId: s.appId, legacySignatures: s.legacySignatures }),
  },
  cardPreview: hubspotCardPreview(),
  /** CRM cards call back through hubspot.fetch, signed with the app's client secret (https://developers.hubspot.com/docs/apps/developer-platform/add-features/ui-extensibility/app-cards/reference) */
  cardRequestAuth: (s, ctx) => hubspotCardAuth({ clientSecret: s.clientSecret, publicUrl: ctx.publicUrl, now: ctx.now }),
  hints: {
    explain(e) {
      switch (e.kind) {
        case 'auth':
          return `HubSpot rejected the access token (${e.message}). Check HUBSPOT_ACCESS_TOKEN or reinstall the app.`;
        case 'forbidden':
          return `the token lacks a required scope (${e.message}). Add the scopes listed in docs/install-hubspot.md.`;
        case 'unavailable':
          return `HubSpot could not be reached (${e.message}). Check HUBSPOT_BASE_URL and the network.`;
        case 'rate_limited':
          if (e.details.policy === 'DAILY') return `${e.message}. The daily limit is per account and shared by its private apps; syncing resumes by itself when it resets (the account's midnight).`;
          return `HubSpot kept answering 429 (${e.message}); try again later or lower HUBSPOT_RATE_LIMIT.`;
        default:
          return `${e.kind}: ${e.message}`;
      }
    },
    // a burst limit per 10 s per account (https://developers.hubspot.com/docs/api/usage-details)
    usage: (u) =>
      `API (last 10 min): ${u.calls10m} calls, ${u.rateLimited10m} answered 429; busiest minute ${u.peakPerMinute} calls = ${(u.peakShareOfLimit * 100).toFixed(0)}% of the ${u.limitPer10s}/10 s limit`,
    refreshRefused: 'the app was uninstalled or its access revoked',
    freshness: (cursor, now) => hubspotFreshness(cursor, now),
  },
};
