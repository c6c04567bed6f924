/**
 * The HubSpot project files validate against a schema of the documented fields (https://developers.hubspot.com/docs/apps/developer-platform/add-features/ui-extensibility/app-cards/reference,
 * the HubSpot CLI's project parser; templates of HubSpot/hubspot-project-components 2025.2), and agree with the
 * server: scopes, OAuth callback, backend origin, webhook target, card entrypoint.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HUBSPOT_OPTIONAL_SCOPES, HUBSPOT_SCOPES } from '../../../src/connectors/hubspot/provider.ts';
import { callbackPath } from '../../../src/server/oauth-routes.ts';
import { BACKEND_URL } from '../../../ui-extension/hubspot/src/app/cards/backend.ts';

const PROJECT = fileURLToPath(new URL('../../../ui-extension/hubspot/', import.meta.url));

/** platformVersion values accepted by project-parsing-lib, 2025.2 and later (the HubSpot CLI's project parser). */
const PLATFORM_VERSIONS = ['2025.2', '2026.03', '2026.09', '2027.03'] as const;
const httpsUrl = z.url({ protocol: /^https$/ });
const origin = httpsUrl.refine((u) => new URL(u).origin === u, 'must be an origin (no path, no trailing slash)');
const uid = z.string().regex(/^[a-z0-9_-]{1,64}$/i);

const hsproject = z.strictObject({ name: z.string().min(1), srcDir: z.string().min(1), platformVersion: z.enum(PLATFORM_VERSIONS) });

const app = z
  .strictObject({
    uid,
    type: z.literal('app'),
    config: z.strictObject({
      name: z.string().min(1).max(200),
      description: z.string().min(1),
      distribution: z.enum(['private', 'marketplace']),
      auth: z.strictObject({
        type: z.enum(['oauth', 'static']),
        redirectUrls: z.array(z.url()).min(1),
        requiredScopes: z.array(z.string().min(1)).min(1),
        optionalScopes: z.array(z.string().min(1)),
        conditionallyRequiredScopes: z.array(z.string().min(1)),
      }),
      permittedUrls: z.strictObject({ fetch: z.array(origin), iframe: z.array(httpsUrl), img: z.array(httpsUrl) }),
      support: z.strictObject({
        supportEmail: z.email(),
        documentationUrl: httpsUrl,
        supportUrl: httpsUrl.optional(),
        supportPhone: z.string().optional(),
      }),
    }),
  })
  .refine((a) => a.config.distribution !== 'marketplace' || a.config.auth.type === 'oauth', 'marketplace apps must use oauth');

const card = z.strictObject({
  uid,
  type: z.literal('card'),
  config: z.strictObject({
    name: z.string().min(1),
    location: z.enum(['crm.record.tab', 'crm.record.sidebar', 'crm.preview', 'helpdesk.sidebar']),
    entrypoint: z.string().regex(/^\/app\/cards\/[^/]+\.(tsx|jsx)$/),
    objectTypes: z.array(z.enum(['contacts', 'companies', 'deals', 'tickets'])).min(1),
  }),
});

const webhooks = z.strictObject({
  uid,
  type: z.literal('webhooks'),
  config: z.strictObject({
    settings: z.strictObject({ targetUrl: httpsUrl, maxConcurrentRequests: z.number().int().min(5).max(100) }),
    subscriptions: z.strictObject({
      legacyCrmObjects: z
        .array(
          z.strictObject({
            subscriptionType: z.string().regex(/^(contact|company|deal|ticket)\.(creation|deletion|associationChange|propertyChange|merge|restore)$/),
            propertyName: z.string().min(1).optional(),
            active: z.boolean(),
          }),
        )
        .refine((subs) => subs.every((s) => s.subscriptionType.endsWith('.propertyChange') === (s.propertyName !== undefined)), 'propertyName exactly on propertyChange'),
    }),
  }),
});

const read = (rel: string): unknown => JSON.parse(readFileSync(join(PROJECT, rel), 'utf8'));

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (n === 'node_modules') return [];
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

describe('HubSpot project (ui-extension/hubspot)', () => {
  const meta = walk(join(PROJECT, 'src')).filter((p) => p.endsWith('-hsmeta.json')).map((p) => relative(PROJECT, p));

  it('hsproject.json: name, srcDir, platformVersion 2025.2+', () => {
    const p = hsproject.parse(read('hsproject.json'));
    expect(existsSync(join(PROJECT, p.srcDir, 'app', 'app-hsmeta.json'))).toBe(true);
  });

  it('has exactly the app, card and webhooks components, with unique uids, each valid', () => {
    expect(meta.sort()).toEqual(['src/app/app-hsmeta.json', 'src/app/cards/rapport-card-hsmeta.json', 'src/app/webhooks/webhooks-hsmeta.json']);
    const uids = meta.map((m) => z.object({ uid }).parse(read(m)).uid);
    expect(new Set(uids).size).toBe(uids.length);
  });

  it('app: OAuth distribution with the scopes and callback the server uses, and the backend permitted for hubspot.fetch', () => {
    const a = app.parse(read('src/app/app-hsmeta.json'));
    expect(a.config.auth.type).toBe('oauth');
    expect(a.config.auth.requiredScopes).toEqual([...HUBSPOT_SCOPES]);
    expect(a.config.auth.optionalScopes).toEqual([...HUBSPOT_OPTIONAL_SCOPES]);
    expect(a.config.auth.redirectUrls).toEqual([`${BACKEND_URL}${callbackPath('hubspot')}`]);
    expect(a.config.permittedUrls.fetch).toContain(new URL(BACKEND_URL).origin);
  });

  it('card: on contact records, and its entrypoint exists and registers with hubspot.extend', () => {
    const c = card.parse(read('src/app/cards/rapport-card-hsmeta.json'));
    expect(c.config.objectTypes).toEqual(['contacts']);
    const entry = join(PROJECT, 'src', c.config.entrypoint);
    expect(readFileSync(entry, 'utf8')).toMatch(/hubspot\.extend<'crm\.record\.tab'>/);
  });

  it('webhooks: delivered to the server route on the backend origin, with creation/deletion/association/merge events per object', () => {
    const w = webhooks.parse(read('src/app/webhooks/webhooks-hsmeta.json'));
    expect(w.config.settings.targetUrl).toBe(`${BACKEND_URL}/webhooks/hubspot`);
    const types = new Set(w.config.subscriptions.legacyCrmObjects.map((s) => s.subscriptionType));
    for (const o of ['contact', 'company', 'deal', 'ticket']) for (const e of ['creation', 'deletion', 'associationChange', 'merge']) expect(types).toContain(`${o}.${e}`);
  });

  it('the schema rejects what HubSpot would reject (must be able to fail)', () => {
    expect(hsproject.safeParse({ name: 'x', srcDir: 'src', platformVersion: '2025.1' }).success).toBe(false);
    const a = read('src/app/app-hsmeta.json') as { config: { auth: { type: string }; permittedUrls: { fetch: string[] } } };
    expect(app.safeParse({ ...a, config: { ...a.config, auth: { ...a.config.auth, type: 'static' } } }).success).toBe(false);
    expect(app.safeParse({ ...a, config: { ...a.config, permittedUrls: { ...a.config.permittedUrls, fetch: ['http://localhost:3000'] } } }).success).toBe(false);
    const c = read('src/app/cards/rapport-card-hsmeta.json') as { config: object };
    expect(card.safeParse({ ...c, config: { ...c.config, objectTypes: [{ name: 'contacts' }] } }).success).toBe(false);
    expect(card.safeParse({ ...c, extra: 1 }).success).toBe(false);
  });

  it('the card package pins react 18.3.1 and @hubspot/ui-extensions 0.17.x exactly, with a lockfile', () => {
    const pkg = z
      .object({ dependencies: z.record(z.string(), z.string()), devDependencies: z.record(z.string(), z.string()).optional() })
      .parse(read('src/app/cards/package.json'));
    expect(pkg.dependencies['react']).toBe('18.3.1');
    expect(pkg.dependencies['@hubspot/ui-extensions']).toMatch(/^0\.17\.\d+$/);
    for (const v of [...Object.values(pkg.dependencies), ...Object.values(pkg.devDependencies ?? {})]) expect(v).toMatch(/^\d+\.\d+\.\d+$/);
    expect(existsSync(join(PROJECT, 'src/app/cards/package-lock.json'))).toBe(true);
  });
});
