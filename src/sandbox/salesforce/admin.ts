import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { SandboxClock } from '../hubspot/clock.ts';
import { generateAccount } from '../generator/index.ts';
import type { SalesforceLoader } from './load.ts';
import { fieldOf, sobjectOf, SOBJECTS } from './objects.ts';
import type { SalesforceSessions } from './sessions.ts';
import type { FieldValue, Row, SalesforceData } from './storage.ts';
import { json, wireRecord } from './wire.ts';
import type { ChangeEventLog } from './cdc.ts';

/**
 * `/_sandbox/*`: the emulator's own admin API (NOT Salesforce's), for tests, child processes and
 * the demo. It plays the people around the org: a rep editing a record, an admin installing or
 * revoking the app, time passing, a flaky network. Every request needs the admin token
 * (`Authorization: Bearer <adminToken>` or `X-Sandbox-Admin-Token`).
 *
 *   POST   /_sandbox/sessions                 → 201 {accessToken, refreshToken, instanceUrl, orgId, portal}
 *   POST   /_sandbox/sessions/expire          every access token expires now (refresh still works)
 *   POST   /_sandbox/sessions/revoke          uninstall: access and refresh tokens stop working
 *   POST   /_sandbox/objects/{sObject}        {fields} → 201 record (datetimes as ISO strings)
 *   PATCH  /_sandbox/objects/{sObject}/{id}   {fields} → record (bumps SystemModstamp)
 *   DELETE /_sandbox/objects/{sObject}/{id}   → 204 (to the recycle bin: queryAll sees IsDeleted)
 *   GET    /_sandbox/counts                   → {Contact: n, …} (live records)
 *   POST   /_sandbox/generate                 {seed, contacts, now?} loads a synthetic account (load.ts mapping)
 *   POST   /_sandbox/clock                    {advanceMs} | {set} → {now}
 *   POST   /_sandbox/faults                   {requestLimit?, serverError?, malformed?} probabilities
 *   POST   /_sandbox/fields                   {deployed: boolean}: the Rapport_*__c fields present or not
 *   GET    /_sandbox/stats                    → request counts by route, API usage
 *   POST   /_sandbox/cdc                      {gapMode?, overflow?: sObject, entities?: [sObject]}: Change Data Capture
 *                                             switches (cdc.ts): writes publish gap events while gapMode is on; overflow
 *                                             publishes a GAP_OVERFLOW event now; entities = the Setup selection
 */
export type AdminDeps = {
  adminToken: string;
  clock: SandboxClock;
  data: SalesforceData;
  sessions: SalesforceSessions;
  loader: SalesforceLoader;
  setFaults(f: { requestLimit?: number | undefined; serverError?: number | undefined; malformed?: number | undefined }): void;
  setRapportFields(deployed: boolean): void;
  stats(): unknown;
  cdc: ChangeEventLog;
};

const Fields = z.object({ fields: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])) });
const Clock = z.union([z.object({ advanceMs: z.number().nonnegative() }), z.object({ set: z.number() })]);
const Faults = z.object({ requestLimit: z.number().min(0).max(1).optional(), serverError: z.number().min(0).max(1).optional(), malformed: z.number().min(0).max(1).optional() });
const Generate = z.object({ seed: z.number().int(), contacts: z.number().int().min(0).max(200_000), now: z.number().optional() });

const bad = (c: Context, message: string) => json(c, 400, { error: 'bad_request', message });

export function createAdminRoutes(deps: AdminDeps): Hono {
  const app = new Hono();
  const expected = Buffer.from(deps.adminToken);
  app.use('*', async (c, next) => {
    const given = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1] ?? c.req.header('x-sandbox-admin-token') ?? '';
    const b = Buffer.from(given);
    if (b.length !== expected.length || !timingSafeEqual(b, expected)) return json(c, 401, { error: 'unauthorized', message: 'the /_sandbox admin API needs the admin token' });
    await next();
  });
  const body = async <T>(c: Context, schema: z.ZodType<T>): Promise<T | Response> => {
    const parsed = schema.safeParse(await c.req.json().catch(() => undefined));
    return parsed.success ? parsed.data : bad(c, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  };
  /** ISO strings for datetime fields become epoch ms; unknown fields are refused */
  const toRow = (sobject: string, fields: Record<string, FieldValue>): Row | string => {
    const def = sobjectOf(sobject)!;
    const row: Row = {};
    for (const [k, v] of Object.entries(fields)) {
      const f = fieldOf(def, k);
      if (f === undefined) return `No such column '${k}' on sobject of type ${def.name}`;
      if (f.type === 'datetime' && typeof v === 'string') {
        const t = Date.parse(v);
        if (Number.isNaN(t)) return `${f.name}: not a datetime: ${v}`;
        row[f.name] = t;
      } else row[f.name] = v;
    }
    return row;
  };
  const wire = (sobject: string, row: Row) => {
    const def = sobjectOf(sobject)!;
    return wireRecord(def, row, '62.0', def.fields.map((f) => f.name).filter((n) => n in row));
  };

  app.post('/sessions', (c) => {
    const s = deps.sessions.issue();
    const instanceUrl = new URL(c.req.url).origin;
    return json(c, 201, { ...s, instanceUrl, orgId: deps.sessions.orgId, portal: `salesforce:${deps.sessions.orgId}` });
  });
  app.post('/sessions/expire', (c) => {
    deps.sessions.expireAccessTokens();
    return c.body(null, 204);
  });
  app.post('/sessions/revoke', (c) => {
    deps.sessions.revokeAll();
    return c.body(null, 204);
  });
  app.post('/objects/:sobject', async (c) => {
    const def = sobjectOf(c.req.param('sobject'));
    if (def === undefined) return json(c, 404, { error: 'not_found', message: `unknown sObject ${c.req.param('sobject')}` });
    const b = await body(c, Fields);
    if (b instanceof Response) return b;
    const row = toRow(def.name, b.fields);
    if (typeof row === 'string') return bad(c, row);
    return json(c, 201, wire(def.name, deps.data.create(def.name, row)));
  });
  app.patch('/objects/:sobject/:id', async (c) => {
    const def = sobjectOf(c.req.param('sobject'));
    const existing = def === undefined ? undefined : deps.data.get(def.name, c.req.param('id'));
    if (def === undefined || existing === undefined || existing.IsDeleted === true) return json(c, 404, { error: 'not_found', message: 'no such live record' });
    const b = await body(c, Fields);
    if (b instanceof Response) return b;
    const row = toRow(def.name, b.fields);
    if (typeof row === 'string') return bad(c, row);
    return json(c, 200, wire(def.name, deps.data.update(def.name, c.req.param('id'), row)));
  });
  app.delete('/objects/:sobject/:id', (c) => {
    const def = sobjectOf(c.req.param('sobject'));
    if (def === undefined || deps.data.get(def.name, c.req.param('id')) === undefined) return json(c, 404, { error: 'not_found', message: 'no such record' });
    deps.data.remove(def.name, c.req.param('id'));
    return c.body(null, 204);
  });
  app.get('/counts', (c) => json(c, 200, Object.fromEntries(Object.keys(SOBJECTS).map((name) => [name, deps.data.count(name)]))));
  app.post('/generate', async (c) => {
    const b = await body(c, Generate);
    if (b instanceof Response) return b;
    let batches = 0;
    for (const batch of generateAccount({ seed: b.seed, contacts: b.contacts, now: b.now ?? deps.clock.now() })) {
      deps.loader.load(batch);
      batches++;
    }
    return json(c, 201, { batches, contacts: deps.data.count('Contact') });
  });
  app.post('/clock', async (c) => {
    const b = await body(c, Clock);
    if (b instanceof Response) return b;
    if ('advanceMs' in b) deps.clock.advance(b.advanceMs);
    else deps.clock.set(b.set);
    return json(c, 200, { now: deps.clock.now() });
  });
  app.post('/faults', async (c) => {
    const b = await body(c, Faults);
    if (b instanceof Response) return b;
    deps.setFaults(b);
    return c.body(null, 204);
  });
  app.post('/fields', async (c) => {
    const b = await body(c, z.object({ deployed: z.boolean() }));
    if (b instanceof Response) return b;
    deps.setRapportFields(b.deployed);
    return c.body(null, 204);
  });
  app.get('/stats', (c) => json(c, 200, deps.stats()));
  app.post('/cdc', async (c) => {
    const b = await body(c, z.strictObject({ gapMode: z.boolean().optional(), overflow: z.string().optional(), entities: z.array(z.string()).optional() }));
    if (b instanceof Response) return b;
    const unknown = [...(b.entities ?? []), ...(b.overflow === undefined ? [] : [b.overflow])].filter((e) => sobjectOf(e) === undefined);
    if (unknown.length > 0) return bad(c, `unknown sObject ${unknown.join(', ')}`);
    if (b.gapMode !== undefined) deps.cdc.setGapMode(b.gapMode);
    if (b.entities !== undefined) deps.cdc.select(b.entities.map((e) => sobjectOf(e)!.name));
    const overflow = b.overflow === undefined ? undefined : deps.cdc.overflow(sobjectOf(b.overflow)!.name);
    return json(c, 200, { latestReplayId: deps.cdc.latest(), selected: deps.cdc.selected(), ...(overflow === undefined ? {} : { overflowReplayId: overflow.replayId }) });
  });
  return app;
}
