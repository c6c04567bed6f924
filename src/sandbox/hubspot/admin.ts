import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { HUBSPOT_OBJECT_TYPES, type SandboxObject } from '../model.ts';
import { typeKey } from './association-types.ts';
import type { Clock } from './clock.ts';
import { resolveObjectType } from './object-types.ts';
import type { SandboxPortalsImpl } from './portals.ts';
import { isoTime, jsonResponse, noContent } from './responses.ts';
import type { AssociationInput, FaultRates, SandboxData, SandboxLimits, SandboxStats } from './types.ts';
import type { SandboxWebhooksImpl } from './webhooks.ts';
import type { WriteCounts } from './write-counts.ts';

/**
 * `/_sandbox/*`: the sandbox's own admin API, for tests, child processes and the demo. It is NOT
 * part of HubSpot's API: it plays the people and systems around the account (a rep logging a call
 * in the UI, an admin uninstalling the app, time passing, a flaky network). Every request needs the
 * admin token (`Authorization: Bearer <adminToken>` or `X-Sandbox-Admin-Token: <adminToken>`),
 * which `rapport sandbox` prints at start; HubSpot tokens are not accepted here.
 *
 *   POST   /_sandbox/portals                     {hubId?, privateAppToken?, scopes?} → 201 {hubId, token}
 *   GET    /_sandbox/portals                     → {portals: [{hubId, revoked}]}
 *   POST   /_sandbox/portals/{hubId}/revoke      uninstall: every token of the portal → 401
 *   POST   /_sandbox/portals/{hubId}/expire-tokens   OAuth access tokens expire now
 *   POST   /_sandbox/apps                        {clientId, clientSecret, appId, requiredScopes?, redirectUris?} register an OAuth app
 *   POST   /_sandbox/{hubId}/objects/{type}      {properties, associations?: [{type, id}]} → 201 object (emits creation)
 *   GET    /_sandbox/{hubId}/objects/{type}/{id} → object, archived ones too
 *   PATCH  /_sandbox/{hubId}/objects/{type}/{id} {properties} → object (emits propertyChange)
 *   DELETE /_sandbox/{hubId}/objects/{type}/{id} → 204 (emits deletion)
 *   POST   /_sandbox/{hubId}/objects/{type}/{id}/merge  {objectIdToMerge} → 204 merge into {id} (emits merge)
 *   POST   /_sandbox/{hubId}/objects/{type}/{id}/purge  → 204 GDPR delete: gone, no archived entry (emits privacyDeletion)
 *   PUT|DELETE /_sandbox/{hubId}/associations/{fromType}/{fromId}/{toType}/{toId}[?typeId=N[&category=USER_DEFINED]] → 204 (PUT: a primary or user label by typeId)
 *   GET    /_sandbox/{hubId}/counts              → {contacts: n, …}
 *   GET    /_sandbox/{hubId}/writes/{type}       → {"<id>": {inputs, changed}} batch-update inputs per record (a test probe)
 *   POST   /_sandbox/clock                       {advanceMs} | {set} → {now}
 *   GET    /_sandbox/clock                       → {now}
 *   POST   /_sandbox/faults                      {"429"?, "500"?, timeout?, malformed?} probabilities
 *   POST   /_sandbox/limits                      {per10s, searchPerSecond} | {off: true}
 *   GET    /_sandbox/stats[?hubId=]              → {…sandbox stats, webhooks}
 *   POST   /_sandbox/webhooks                    {targetUrl, clientSecret, appId, portals?, properties?} → 201 {subscriptionId}
 *   POST   /_sandbox/webhooks/flush              deliver everything pending now → {webhooks stats}
 *   POST   /_sandbox/webhooks/modes              {duplicateRate?, shuffle?} duplicate / out-of-order delivery
 *
 * Objects come back as HubSpot's SimplePublicObject (string property values, ISO times).
 */
const MergeSchema = z.object({ objectIdToMerge: z.string().regex(/^\d+$/) });

export type AdminDeps = {
  adminToken: string;
  portals: SandboxPortalsImpl;
  data: SandboxData;
  clock: Clock;
  webhooks?: SandboxWebhooksImpl;
  setFaults?: (f: FaultRates) => void;
  setLimits?: (l: SandboxLimits | false) => void;
  stats?: (hubId?: number) => SandboxStats;
  writeCounts?: WriteCounts;
};

/** Absolute paths (`/_sandbox/...`): mount with `app.route('/', createAdminRoutes(deps))`. */
export function createAdminRoutes(deps: AdminDeps): Hono {
  if (deps.adminToken.length < 8) throw new Error('the sandbox admin token must be at least 8 characters');
  const app = new Hono();
  const expected = Buffer.from(deps.adminToken, 'utf8');

  app.use('/_sandbox/*', async (c, next) => {
    const header = c.req.header('x-sandbox-admin-token') ?? c.req.header('authorization')?.replace(/^Bearer\s+/i, '') ?? '';
    const given = Buffer.from(header, 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return adminError(401, 'The sandbox admin API needs the admin token printed at start (Authorization: Bearer <token> or X-Sandbox-Admin-Token).');
    }
    await next();
  });

  // --- portals and apps ---
  app.post('/_sandbox/portals', async (c) => {
    const body = await readJson(c, portalBody);
    if (body instanceof Response) return body;
    try {
      const created = deps.portals.create({
        ...(body.hubId === undefined ? {} : { hubId: body.hubId }),
        ...(body.privateAppToken === undefined ? {} : { privateAppToken: body.privateAppToken }),
        ...(body.scopes === undefined ? {} : { scopes: body.scopes }),
      });
      return jsonResponse(201, created);
    } catch (e) {
      return adminError(409, (e as Error).message);
    }
  });
  app.get('/_sandbox/portals', () =>
    jsonResponse(200, { portals: deps.portals.list().map((hubId) => ({ hubId, revoked: deps.portals.isRevoked(hubId) })) }),
  );
  app.post('/_sandbox/portals/:hubId/revoke', (c) => {
    const hubId = portalParam(c, deps.portals);
    if (hubId instanceof Response) return hubId;
    deps.portals.revoke(hubId);
    return noContent();
  });
  app.post('/_sandbox/portals/:hubId/expire-tokens', (c) => {
    const hubId = portalParam(c, deps.portals);
    if (hubId instanceof Response) return hubId;
    deps.portals.expireAccessTokens(hubId);
    return noContent();
  });
  app.post('/_sandbox/apps', async (c) => {
    const body = await readJson(c, appBody);
    if (body instanceof Response) return body;
    deps.portals.registerApp({
      clientId: body.clientId,
      clientSecret: body.clientSecret,
      appId: body.appId,
      ...(body.requiredScopes === undefined ? {} : { requiredScopes: body.requiredScopes }),
      ...(body.redirectUris === undefined ? {} : { redirectUris: body.redirectUris }),
    });
    return jsonResponse(201, { clientId: body.clientId, appId: body.appId });
  });

  // --- records ---
  app.post('/_sandbox/:hubId/objects/:type', async (c) => {
    const where = objectParams(c, deps.portals);
    if (where instanceof Response) return where;
    const body = await readJson(c, createBody);
    if (body instanceof Response) return body;
    const associations: AssociationInput[] = [];
    for (const a of body.associations ?? []) {
      const toType = resolveObjectType(a.type);
      if (toType === undefined) return adminError(400, `Unknown object type "${a.type}" in associations.`);
      associations.push({ type: toType, id: a.id });
    }
    return attempt(() => jsonResponse(201, wireObject(deps.data.create(where.hubId, where.type, body.properties, associations))));
  });
  app.get('/_sandbox/:hubId/objects/:type/:id', (c) => {
    const where = objectParams(c, deps.portals);
    if (where instanceof Response) return where;
    const obj = deps.data.get(where.hubId, where.type, c.req.param('id'));
    return obj === undefined ? notFound(where.type, c.req.param('id')) : jsonResponse(200, wireObject(obj));
  });
  app.patch('/_sandbox/:hubId/objects/:type/:id', async (c) => {
    const where = objectParams(c, deps.portals);
    if (where instanceof Response) return where;
    const id = c.req.param('id');
    const body = await readJson(c, updateBody);
    if (body instanceof Response) return body;
    const existing = deps.data.get(where.hubId, where.type, id);
    if (existing === undefined || existing.archived) return notFound(where.type, id);
    return attempt(() => jsonResponse(200, wireObject(deps.data.update(where.hubId, where.type, id, body.properties))));
  });
  app.delete('/_sandbox/:hubId/objects/:type/:id', (c) => {
    const where = objectParams(c, deps.portals);
    if (where instanceof Response) return where;
    const id = c.req.param('id');
    const existing = deps.data.get(where.hubId, where.type, id);
    if (existing === undefined || existing.archived) return notFound(where.type, id);
    return attempt(() => {
      deps.data.archive(where.hubId, where.type, id);
      return noContent();
    });
  });
  const association = (remove: boolean) => (c: Context) => {
    const hubId = portalParam(c, deps.portals);
    if (hubId instanceof Response) return hubId;
    const fromType = resolveObjectType(c.req.param('fromType') ?? '');
    const toType = resolveObjectType(c.req.param('toType') ?? '');
    if (fromType === undefined || toType === undefined) return adminError(400, 'Unknown object type in the association path.');
    const fromId = c.req.param('fromId') ?? '';
    const toId = c.req.param('toId') ?? '';
    if (deps.data.get(hubId, fromType, fromId) === undefined) return notFound(fromType, fromId);
    if (deps.data.get(hubId, toType, toId) === undefined) return notFound(toType, toId);
    return attempt(() => {
      const typeIdText = c.req.query('typeId');
      if (remove) deps.data.dissociate(hubId, fromType, fromId, toType, toId);
      else if (typeIdText === undefined) deps.data.associate(hubId, fromType, fromId, toType, toId);
      else if (!/^\d+$/.test(typeIdText)) return adminError(400, `typeId must be a number, got ${JSON.stringify(typeIdText)}.`);
      else if (c.req.query('category') === 'USER_DEFINED') deps.data.associate(hubId, fromType, fromId, toType, toId, typeKey('USER_DEFINED', Number(typeIdText)));
      else deps.data.associate(hubId, fromType, fromId, toType, toId, Number(typeIdText));
      return noContent();
    });
  };
  app.post('/_sandbox/:hubId/objects/:type/:id/merge', async (c) => {
    const where = objectParams(c, deps.portals);
    if (where instanceof Response) return where;
    const body = MergeSchema.safeParse(await c.req.json().catch(() => undefined));
    if (!body.success) return adminError(400, 'Body must be {"objectIdToMerge": "<id>"}.');
    const survivorId = c.req.param('id');
    return attempt(() => {
      deps.data.merge(where.hubId, where.type, survivorId, body.data.objectIdToMerge);
      return noContent();
    });
  });
  app.post('/_sandbox/:hubId/objects/:type/:id/purge', (c) => {
    const where = objectParams(c, deps.portals);
    if (where instanceof Response) return where;
    const id = c.req.param('id');
    return attempt(() => {
      deps.data.purge(where.hubId, where.type, id);
      return noContent();
    });
  });
  app.put('/_sandbox/:hubId/associations/:fromType/:fromId/:toType/:toId', association(false));
  app.delete('/_sandbox/:hubId/associations/:fromType/:fromId/:toType/:toId', association(true));
  app.get('/_sandbox/:hubId/counts', (c) => {
    const hubId = portalParam(c, deps.portals);
    if (hubId instanceof Response) return hubId;
    const counts: Record<string, number> = {};
    for (const type of Object.keys(HUBSPOT_OBJECT_TYPES) as Array<keyof typeof HUBSPOT_OBJECT_TYPES>) counts[type] = deps.data.count(hubId, type);
    return jsonResponse(200, counts);
  });

  app.get('/_sandbox/:hubId/writes/:type', (c) => {
    const hubId = portalParam(c, deps.portals);
    if (hubId instanceof Response) return hubId;
    const type = resolveObjectType(c.req.param('type'));
    if (type === undefined) return adminError(400, `unknown object type ${c.req.param('type')}`);
    return jsonResponse(200, Object.fromEntries(deps.writeCounts?.of(hubId, type) ?? []));
  });

  // --- the world around the account ---
  app.get('/_sandbox/clock', () => jsonResponse(200, { now: deps.clock.now() }));
  app.post('/_sandbox/clock', async (c) => {
    const body = await readJson(c, clockBody);
    if (body instanceof Response) return body;
    if ('advanceMs' in body) deps.clock.advance(body.advanceMs);
    else deps.clock.set(body.set);
    return jsonResponse(200, { now: deps.clock.now() });
  });
  app.post('/_sandbox/faults', async (c) => {
    if (deps.setFaults === undefined) return adminError(501, 'This sandbox has no fault injection.');
    const body = await readJson(c, faultsBody);
    if (body instanceof Response) return body;
    const rates: FaultRates = {};
    for (const k of ['429', '500', 'timeout', 'malformed'] as const) {
      const v = body[k];
      if (v !== undefined) rates[k] = v;
    }
    deps.setFaults(rates);
    return jsonResponse(200, { faults: rates });
  });
  app.post('/_sandbox/limits', async (c) => {
    if (deps.setLimits === undefined) return adminError(501, 'This sandbox has no rate limits to set.');
    const body = await readJson(c, limitsBody);
    if (body instanceof Response) return body;
    const limits = 'off' in body ? false : { per10s: body.per10s, searchPerSecond: body.searchPerSecond };
    deps.setLimits(limits);
    return jsonResponse(200, { limits });
  });
  app.get('/_sandbox/stats', (c) => {
    const raw = c.req.query('hubId');
    const hubId = raw === undefined ? undefined : Number(raw);
    if (hubId !== undefined && !Number.isSafeInteger(hubId)) return adminError(400, `hubId must be a number, got "${raw}"`);
    return jsonResponse(200, {
      ...(deps.stats === undefined ? {} : deps.stats(hubId)),
      ...(deps.webhooks === undefined ? {} : { webhooks: deps.webhooks.stats() }),
    });
  });
  app.post('/_sandbox/webhooks', async (c) => {
    if (deps.webhooks === undefined) return adminError(501, 'This sandbox has no webhook delivery.');
    const body = await readJson(c, subscribeBody);
    if (body instanceof Response) return body;
    const subscriptionId = deps.webhooks.subscribe({
      targetUrl: body.targetUrl,
      clientSecret: body.clientSecret,
      appId: body.appId,
      ...(body.portals === undefined ? {} : { portals: body.portals }),
      ...(body.properties === undefined ? {} : { properties: body.properties }),
    });
    return jsonResponse(201, { subscriptionId });
  });
  app.post('/_sandbox/webhooks/flush', async () => {
    if (deps.webhooks === undefined) return adminError(501, 'This sandbox has no webhook delivery.');
    await deps.webhooks.flush();
    return jsonResponse(200, deps.webhooks.stats());
  });

  app.post('/_sandbox/webhooks/modes', async (c) => {
    if (deps.webhooks === undefined) return adminError(501, 'This sandbox has no webhook delivery.');
    const body = await readJson(c, modesBody);
    if (body instanceof Response) return body;
    return jsonResponse(200, deps.webhooks.setModes({ ...(body.duplicateRate === undefined ? {} : { duplicateRate: body.duplicateRate }), ...(body.shuffle === undefined ? {} : { shuffle: body.shuffle }) }));
  });

  app.all('/_sandbox/*', (c) => adminError(404, `No sandbox admin route ${c.req.method} ${c.req.path}`));
  return app;
}

// --- bodies (zod at the boundary) ---
const propertyValues = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]).transform((v) => (v === null ? null : String(v))));
const portalBody = z.object({ hubId: z.number().int().positive().optional(), privateAppToken: z.string().min(1).optional(), scopes: z.array(z.string()).optional() }).strict();
const appBody = z
  .object({
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
    appId: z.number().int().positive(),
    requiredScopes: z.array(z.string()).optional(),
    redirectUris: z.array(z.url()).optional(),
  })
  .strict();
const createBody = z.object({ properties: propertyValues, associations: z.array(z.object({ type: z.string(), id: z.string().regex(/^\d+$/) })).optional() }).strict();
const updateBody = z.object({ properties: propertyValues }).strict();
const clockBody = z.union([z.object({ advanceMs: z.number().finite().nonnegative() }).strict(), z.object({ set: z.number().finite() }).strict()]);
const rate = z.number().min(0).max(1).optional();
const faultsBody = z.object({ '429': rate, '500': rate, timeout: rate, malformed: rate }).strict();
const limitsBody = z.union([
  z.object({ off: z.literal(true) }).strict(),
  z.object({ per10s: z.number().int().positive(), searchPerSecond: z.number().int().positive() }).strict(),
]);
const subscribeBody = z
  .object({
    targetUrl: z.url({ protocol: /^https?$/ }),
    clientSecret: z.string().min(1),
    appId: z.number().int().positive(),
    portals: z.array(z.number().int().positive()).optional(),
    properties: z.array(z.string()).optional(),
  })
  .strict();

const modesBody = z.object({ duplicateRate: z.number().min(0).max(1).optional(), shuffle: z.boolean().optional() }).strict();

async function readJson<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T> | Response> {
  let raw: unknown;
  try {
    raw = JSON.parse(await c.req.text());
  } catch {
    return adminError(400, 'The body must be JSON.');
  }
  const parsed = schema.safeParse(raw);
  return parsed.success ? parsed.data : adminError(400, `Invalid body: ${z.prettifyError(parsed.error)}`);
}

function portalParam(c: Context, portals: SandboxPortalsImpl): number | Response {
  const raw = c.req.param('hubId') ?? '';
  const hubId = Number(raw);
  if (!/^\d+$/.test(raw) || !portals.has(hubId)) return adminError(404, `No sandbox portal "${raw}".`);
  return hubId;
}

function objectParams(c: Context, portals: SandboxPortalsImpl): { hubId: number; type: NonNullable<ReturnType<typeof resolveObjectType>> } | Response {
  const hubId = portalParam(c, portals);
  if (hubId instanceof Response) return hubId;
  const type = resolveObjectType(c.req.param('type') ?? '');
  if (type === undefined) return adminError(400, `Unknown object type "${c.req.param('type') ?? ''}".`);
  return { hubId, type };
}

/** Storage refuses bad ids / associations with RangeError: a caller mistake, so 400 with its message. */
function attempt(fn: () => Response): Response {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RangeError) return adminError(400, e.message);
    throw e;
  }
}

const wireObject = (o: SandboxObject): Record<string, unknown> => ({
  id: o.id,
  properties: o.properties,
  createdAt: isoTime(o.createdAt),
  updatedAt: isoTime(o.updatedAt),
  archived: o.archived,
});

const notFound = (type: string, id: string): Response => adminError(404, `No ${type} with id "${id}".`);

/** Same outer shape as HubSpot's errors so one parser reads both. */
const adminError = (status: number, message: string): Response => jsonResponse(status, { status: 'error', message, category: 'SANDBOX_ADMIN' });
