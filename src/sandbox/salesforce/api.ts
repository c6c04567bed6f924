import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { SandboxClock } from '../hubspot/clock.ts';
import { DEFAULT_BULK, mountBulkQuery, type BulkSettings } from './bulk.ts';
import { CUSTOMER_FIELDS, fieldOf, isWellFormedId, sobjectOf, type FieldDef, type SObjectDef } from './objects.ts';
import type { SalesforceOAuthApp, SalesforceSessions } from './sessions.ts';
import { matches, parseSoql, sortRows, SoqlError, type Soql, type SoqlAccess } from './soql.ts';
import type { FieldValue, Row, SalesforceData } from './storage.ts';
import { json, sfDateTime, sfError, wireRecord } from './wire.ts';
import type { WriteCounts } from '../hubspot/write-counts.ts';

/**
 * Per-org switches: what a real org's customisation and edition change about the API. Each cites
 * the Salesforce page the behaviour comes from where it is emulated.
 */
export type SalesforceOrgSettings = {
  /** a customer's validation rule on Contact rejecting this share of updates (by record id, deterministic) */
  validationRule: { share: number; message: string } | null;
  /** a customer's Contact trigger hits an Apex governor limit when one call updates more records than this */
  apexRecordLimit: number | null;
  /** REST API versions the org serves (oldest, newest) */
  apiVersions: { min: number; max: number };
  /** `Object.Field` names the integration user has no field-level security on: absent from describe and SOQL */
  hiddenFields: string[];
  /** `Object.Field` names the integration user can read but not edit (describe `updateable: false`) */
  readOnlyFields: string[];
  /** Shared Activities on: TaskWhoRelation / EventWhoRelation exist (an activity with several contacts) */
  sharedActivities: boolean;
  /** objects this org does not have (EmailMessage without Enhanced Email, Survey_Response__c not deployed…) */
  missingObjects: string[];
  /** a query whose filter matches more rows than this runs past the org's query timeout */
  queryTimeoutRows: number | null;
  /** the customer's own custom fields this org has (`Object.Field`, from objects.ts CUSTOMER_FIELDS) */
  customFields: string[];
  /**
   * The org's My Domain URL, its `instance_url` in token answers; null: the URL the request came to.
   * When set, the data API answers only there (elsewhere 401 INVALID_SESSION_ID, stricter than an
   * org that still redirects).
   */
  myDomainUrl: string | null;
  /** a renamed My Domain's former URLs that still redirect its OAuth endpoints to the current one (legacy redirections) */
  formerMyDomainUrls: string[];
  /**
   * MyDomainSettings.doesApiLoginRequireOrgDomain: API logins, refreshes included, only at the My
   * Domain (or a former one that redirects); a refresh at the login host fails invalid_grant
   * (https://developer.salesforce.com/docs/platform/api-metadata/references/meta-types/metadata-mydomainsettings.html)
   */
  apiLoginRequiresMyDomain: boolean;
  /** every data API answer takes this long (a slow org, big queries); an aborted request stops waiting */
  responseDelayMs: number;
  /**
   * Concurrent long-running requests: a request running `afterMs` or longer counts; while `max`
   * count, another request is refused with 403 REQUEST_LIMIT_EXCEEDED (ConcurrentPerOrgLongTxn).
   * Salesforce: 25 per org, 5 on Developer Edition and trial orgs, after 20 s
   * (https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm).
   */
  longRequests: { max: number; afterMs: number };
  /** Bulk API 2.0 query jobs: how fast they complete, whether they fail (bulk.ts) */
  bulk: BulkSettings;
};

export const DEFAULT_ORG_SETTINGS: SalesforceOrgSettings = {
  validationRule: null,
  apexRecordLimit: null,
  // API versions 21.0–30.0 were retired in Summer '25
  // (https://help.salesforce.com/s/articleView?id=000389618&type=1); 66.0 is Spring '26
  apiVersions: { min: 31, max: 66 },
  hiddenFields: [],
  readOnlyFields: [],
  sharedActivities: true,
  missingObjects: [],
  queryTimeoutRows: null,
  customFields: [],
  myDomainUrl: null,
  formerMyDomainUrls: [],
  apiLoginRequiresMyDomain: false,
  responseDelayMs: 0,
  longRequests: { max: 25, afterMs: 20_000 },
  bulk: DEFAULT_BULK,
};

/**
 * The org as the integration user sees it. Field-level security hides a field from describe and
 * from SOQL, which answers INVALID_FIELD as for a typo
 * (https://help.salesforce.com/s/articleView?id=sf.admin_fls.htm). TaskWhoRelation and
 * EventWhoRelation exist only with Shared Activities
 * (https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_taskwhorelation.htm);
 * an object the org lacks is INVALID_TYPE in SOQL and 404 NOT_FOUND for describe.
 */
export function accessOf(org: SalesforceOrgSettings, hasRapportFields: boolean): SoqlAccess & { updateable(obj: string, field: string): boolean } {
  const missing = new Set(org.missingObjects.map((o) => o.toLowerCase()));
  if (!org.sharedActivities) for (const o of ['TaskWhoRelation', 'EventWhoRelation']) missing.add(o.toLowerCase());
  const hidden = new Set(org.hiddenFields.map((f) => f.toLowerCase()));
  const readOnly = new Set(org.readOnlyFields.map((f) => f.toLowerCase()));
  const absent = new Set(CUSTOMER_FIELDS.filter((f) => !org.customFields.includes(f)).map((f) => f.toLowerCase()));
  const hasField = (obj: string, field: string) =>
    !hidden.has(`${obj}.${field}`.toLowerCase()) && !absent.has(`${obj}.${field}`.toLowerCase()) && (hasRapportFields || !field.startsWith('Rapport_'));
  return {
    hasObject: (name) => !missing.has(name.toLowerCase()),
    hasField,
    updateable: (obj, field) => hasField(obj, field) && !readOnly.has(`${obj}.${field}`.toLowerCase()),
  };
}

/**
 * The Salesforce REST subset Rapport's connector uses (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_list.htm), strictly:
 *
 *   POST /services/oauth2/token        authorization_code | refresh_token   (form body)
 *   GET  /services/oauth2/authorize    auto-approves: 302 to redirect_uri?code=…&state=…
 *   POST /services/oauth2/revoke       token=…
 *   GET  /services/oauth2/userinfo     GET /id/{orgId}/{userId}          (identity)
 *   GET  /services/data/vNN.N/query?q=   /queryAll?q=   /query/{locator}
 *   GET  /services/data/vNN.N/sobjects/{Obj}/describe
 *   GET  /services/data/vNN.N/sobjects/{Obj}/updated?start=&end=   /deleted?start=&end=
 *   GET  /services/data/vNN.N/limits
 *   PATCH /services/data/vNN.N/composite/sobjects   (update ≤ 200 records, per-record results)
 *   /services/data/vNN.N/jobs/query…                 Bulk API 2.0 query jobs (bulk.ts)
 *
 * Anything else is 501 naming the request. Every data response carries
 * `Sforce-Limit-Info: api-usage=n/m`; past the daily limit the answer is 403 REQUEST_LIMIT_EXCEEDED.
 */
/** waits `ms`, or less when the client goes away (the request's signal) */
const delay = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export type ApiDeps = {
  clock: SandboxClock;
  data: SalesforceData;
  sessions: SalesforceSessions;
  oauth: SalesforceOAuthApp | undefined;
  /** which custom fields the org has: the Rapport score fields are present once the SFDX project is deployed */
  hasRapportFields: () => boolean;
  usage: { count(): { used: number; limit: number }; current(): { used: number; limit: number } };
  fault(): 'requestLimit' | 'serverError' | 'malformed' | null;
  /** how this org differs from a fresh one (index.ts `SalesforceOrgSettings`) */
  org(): SalesforceOrgSettings;
  /** when the oldest long-running transaction still open on the instance started (null: none) */
  openTransactionSince(): number | null;
  stats: { requests: number; byRoute: Record<string, number>; faults: number; rateLimited: number; inFlight: number };
  /** a test probe: per org and sObject, the updates applied per record and how many changed a value */
  writeCounts: WriteCounts<string, string>;
  /** whether to lose the answer of this sObject Collections update once it is applied (index.ts `loseWriteAnswers`) */
  loseWriteAnswer(): boolean;
};

const BATCH_DEFAULT = 2000;
const LOCATOR_TTL_MS = 15 * 60_000;
const MAX_COLLECTION = 200;

/** a query cursor: the rows fixed when the query ran, and where each page ends */
type Cursor = { records: Record<string, unknown>[]; ends: number[]; expiresAt: number };
/** child rows inline per parent in one answer; the rest page through the child's own nextRecordsUrl */
const CHILD_BATCH = 200;

export function createSalesforceApi(deps: ApiDeps): Hono {
  const app = new Hono();
  const locators = new Map<string, Cursor>();
  let locatorSeq = 0;
  const { data, sessions, clock } = deps;
  const origin = (c: Context) => new URL(c.req.url).origin;
  const myDomain = () => {
    const u = deps.org().myDomainUrl;
    return u === null ? null : new URL(u).origin;
  };
  /** where the org's API lives: its My Domain when set, else wherever the request came */
  const base = (c: Context) => myDomain() ?? origin(c);
  /** the request came to the org's API host (always, without a My Domain) */
  const atInstance = (c: Context) => myDomain() === null || myDomain() === origin(c);
  const atMyDomainOrFormer = (c: Context) => atInstance(c) || deps.org().formerMyDomainUrls.some((u) => new URL(u).origin === origin(c));
  const identityUrl = (c: Context) => `${base(c)}/id/${sessions.orgId}/${sessions.userId}`;
  const oauthError = (c: Context, status: number, error: string, description: string) => json(c, status, { error, error_description: description });

  // --- OAuth (https://help.salesforce.com/apex/HTViewHelpDoc?id=xcloud.remoteaccess_oauth_web_server_flow_ca.htm) ---
  app.post('/services/oauth2/token', async (c) => {
    const form = await c.req.parseBody();
    const s = (k: string) => (typeof form[k] === 'string' ? (form[k] as string) : undefined);
    if (deps.oauth !== undefined && (s('client_id') !== deps.oauth.clientId || (s('client_secret') !== undefined && s('client_secret') !== deps.oauth.clientSecret))) {
      return oauthError(c, 400, 'invalid_client_id', 'client identifier invalid');
    }
    // the login host (not the org's My Domain) where the org requires its own domain for API logins
    // (the error an org answers here is UNCONFIRMED; invalid_grant disconnects, as a refusal should)
    if (s('grant_type') === 'refresh_token' && deps.org().apiLoginRequiresMyDomain && !atMyDomainOrFormer(c)) {
      return oauthError(c, 400, 'invalid_grant', 'authentication failure');
    }
    const tokenBody = (accessToken: string, refreshToken?: string) => ({
      access_token: accessToken,
      ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
      signature: 'emulated',
      scope: 'api refresh_token',
      instance_url: base(c),
      // jsforce parses the org and user from `id`: a token response without it breaks the client (jsforce src/connection.ts, github.com/jsforce/jsforce)
      id: identityUrl(c),
      token_type: 'Bearer',
      issued_at: String(clock.now()),
    });
    switch (s('grant_type')) {
      case 'authorization_code': {
        const issued = sessions.redeemCode(s('code') ?? '', s('redirect_uri') ?? '', s('code_verifier'));
        if ('error' in issued) return oauthError(c, 400, issued.error, issued.description);
        return json(c, 200, tokenBody(issued.accessToken, issued.refreshToken));
      }
      case 'refresh_token': {
        const issued = sessions.refresh(s('refresh_token') ?? '');
        if (issued === undefined) return oauthError(c, 400, 'invalid_grant', 'expired access/refresh token');
        return json(c, 200, tokenBody(issued.accessToken));
      }
      default:
        return oauthError(c, 400, 'unsupported_grant_type', 'grant type not supported');
    }
  });
  app.get('/services/oauth2/authorize', (c) => {
    const q = c.req.query();
    if (q.response_type !== 'code' || q.redirect_uri === undefined) return oauthError(c, 400, 'invalid_request', 'response_type=code and redirect_uri are required');
    if (deps.oauth !== undefined && q.client_id !== deps.oauth.clientId) return oauthError(c, 400, 'invalid_client_id', 'client identifier invalid');
    const target = new URL(q.redirect_uri);
    // PKCE (https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_pkce.htm): only S256 is
    // emulated (the method is optional, SHA-256 is what Salesforce documents); an app that requires
    // PKCE refuses an authorize request without a challenge, back at the callback as OAuth errors are
    const challenge = q.code_challenge;
    const refuse = (description: string) => {
      target.searchParams.set('error', 'invalid_request');
      target.searchParams.set('error_description', description);
      if (q.state !== undefined) target.searchParams.set('state', q.state);
      return c.redirect(target.toString(), 302);
    };
    if (q.code_challenge_method !== undefined && q.code_challenge_method !== 'S256') return refuse('unsupported code challenge method');
    if (challenge !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(challenge)) return refuse('invalid code challenge');
    if (challenge === undefined && deps.oauth?.requirePkce === true) return refuse('missing required code challenge');
    target.searchParams.set('code', sessions.issueCode(q.redirect_uri, challenge));
    if (q.state !== undefined) target.searchParams.set('state', q.state);
    return c.redirect(target.toString(), 302);
  });
  app.post('/services/oauth2/revoke', async (c) => {
    const form = await c.req.parseBody();
    if (typeof form.token === 'string') sessions.revoke(form.token);
    return c.body(null, 200);
  });
  const identity = (c: Context) => ({
    id: identityUrl(c),
    user_id: sessions.userId,
    organization_id: sessions.orgId,
    username: 'admin@rapport-emulated.example',
    display_name: 'Emulated Admin',
    urls: { rest: `${base(c)}/services/data/v{version}/`, query: `${base(c)}/services/data/v{version}/query/` },
  });
  const bearer = (c: Context) => /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1];
  app.get('/services/oauth2/userinfo', (c) => {
    if (sessions.authenticate(bearer(c)) !== 'ok') return c.text('Bad_OAuth_Token', 403);
    return json(c, 200, { sub: identityUrl(c), ...identity(c) });
  });
  app.get('/id/:org/:user', (c) => {
    if (sessions.authenticate(bearer(c)) !== 'ok') return c.text('Bad_OAuth_Token', 403);
    if (c.req.param('org') !== sessions.orgId || c.req.param('user') !== sessions.userId) return sfError(c, 404, 'NOT_FOUND', 'The requested resource does not exist');
    return json(c, 200, identity(c));
  });

  // --- REST data API ---
  const data$ = new Hono();
  // requests being answered, by when they started (real time: the limit is about wall-clock duration)
  const running = new Set<{ since: number }>();
  data$.use('*', async (c, next) => {
    const { longRequests, responseDelayMs } = deps.org();
    const started = Date.now();
    if ([...running].filter((r) => started - r.since >= longRequests.afterMs).length >= longRequests.max) {
      deps.stats.rateLimited++;
      c.res = sfError(c, 403, 'REQUEST_LIMIT_EXCEEDED', 'ConcurrentPerOrgLongTxn Limit exceeded.');
      return;
    }
    const me = { since: started };
    running.add(me);
    deps.stats.inFlight = running.size;
    try {
      if (responseDelayMs > 0) await delay(responseDelayMs, c.req.raw.signal);
      await answerData(c, next);
    } finally {
      running.delete(me);
      deps.stats.inFlight = running.size;
    }
  });
  const answerData = async (c: Context, next: () => Promise<void>) => {
    const usage = deps.usage.count();
    const limitHeader = { 'Sforce-Limit-Info': `api-usage=${usage.used}/${usage.limit}` };
    // sessions are valid at the org's instance only: after a My Domain rename the old host is refused
    if (sessions.authenticate(bearer(c)) !== 'ok' || !atInstance(c)) {
      c.res = sfError(c, 401, 'INVALID_SESSION_ID', 'Session expired or invalid');
      return;
    }
    // an API version the org does not serve is a 404 NOT_FOUND, like any unknown resource
    // (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm)
    const v = /^\/v(\d+)\.0(?:\/|$)/.exec(new URL(c.req.url).pathname.replace(/^\/services\/data/, ''));
    const versions = deps.org().apiVersions;
    if (v === null || Number(v[1]) < versions.min || Number(v[1]) > versions.max) {
      c.res = sfError(c, 404, 'NOT_FOUND', 'The requested resource does not exist', limitHeader);
      return;
    }
    const fault = deps.fault();
    if (usage.used > usage.limit || fault === 'requestLimit') {
      deps.stats.rateLimited++;
      if (fault !== null) deps.stats.faults++;
      c.res = sfError(c, 403, 'REQUEST_LIMIT_EXCEEDED', `TotalRequests Limit exceeded.`, limitHeader);
      return;
    }
    if (fault === 'serverError') {
      deps.stats.faults++;
      c.res = sfError(c, 500, 'UNKNOWN_EXCEPTION', 'An unexpected error occurred. Please include this ErrorId if you contact support: 1234567-89 (-1)', limitHeader);
      return;
    }
    await next();
    if (fault === 'malformed' && c.res.status === 200) {
      deps.stats.faults++;
      // a truncated body with the right content type: what a proxy cutting the connection short leaves
      const text = await c.res.text();
      c.res = new Response(text.slice(0, Math.max(1, Math.floor(text.length / 2))), { status: 200, headers: { 'content-type': 'application/json;charset=UTF-8', ...limitHeader } });
      return;
    }
    c.res.headers.set('Sforce-Limit-Info', limitHeader['Sforce-Limit-Info']);
  };

  const runQuery = (c: Context, all: boolean) => {
    const q = c.req.query('q');
    if (q === undefined || q.trim() === '') return sfError(c, 400, 'MALFORMED_QUERY', 'A query string has to be specified');
    let soql: Soql;
    try {
      soql = parseSoql(q, accessOf(deps.org(), deps.hasRapportFields()));
    } catch (e) {
      if (e instanceof SoqlError) return sfError(c, 400, e.errorCode, e.message);
      throw e;
    }
    const rows = sortRows(
      data.rows(soql.sobject.name).filter((r) => (all || r.IsDeleted !== true) && matches(soql.where, r)),
      soql.orderBy,
    );
    // A query that runs too long is cancelled with QUERY_TIMEOUT (queries time out after 120 s,
    // https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm);
    // the emulator's cost model: rows matching the filter, whatever the LIMIT
    const maxRows = deps.org().queryTimeoutRows;
    if (maxRows !== null && rows.length > maxRows) return sfError(c, 400, 'QUERY_TIMEOUT', 'Your query request was running for too long.');
    if (soql.count) return json(c, 200, { totalSize: rows.length, done: true, records: [] });
    const limited = soql.limit === null ? rows : rows.slice(0, soql.limit);
    const version = (c.req.param('version') ?? 'v62.0').slice(1);
    // children grouped by parent once per query, not scanned once per parent row
    const children = soql.subqueries.map((sub) => {
      const byParent = new Map<FieldValue, Row[]>();
      for (const r of data.rows(sub.child.name)) {
        // query hides deleted children; queryAll is assumed to show them (stricter than documented:
        // the client must select IsDeleted in the subquery and drop them)
        if ((!all && r.IsDeleted === true) || !matches(sub.where, r)) continue;
        const k = r[sub.parentField] ?? null;
        const list = byParent.get(k);
        if (list === undefined) byParent.set(k, [r]);
        else list.push(r);
      }
      return byParent;
    });
    // abandoned cursors (a client that stopped paging) go when they expire
    for (const [k, v] of locators) if (v.expiresAt <= clock.now()) locators.delete(k);
    const projected = limited.map((r) => project(soql, r, version, children));
    const records = projected.map((p) => p.record);
    const batch = batchSize(c.req.header('sforce-query-options'));
    // Child rows count toward the batch: a page holds fewer parents when they carry children, and
    // never more than asked (https://developer.salesforce.com/docs/platform/api-rest/guide/headers-queryoptions.html:
    // the batch size is a maximum, not guaranteed; https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_relationships_query_limits.htm)
    const ends: number[] = [];
    let inPage = 0;
    projected.forEach((p, i) => {
      if (inPage > 0 && inPage + p.weight > batch) {
        ends.push(i);
        inPage = 0;
      }
      inPage += p.weight;
    });
    ends.push(records.length);
    return answer(c, version, cursorFor(records, ends), records, ends, 0);
  };

  /** a locator for a result of more than one page; the result is fixed now, pages are read from it (locators expire after 15 min) */
  const cursorFor = (records: Record<string, unknown>[], ends: number[]): string | undefined => {
    if (ends.length <= 1) return undefined;
    const key = `01g5g${String(++locatorSeq).padStart(10, '0')}AAA`;
    locators.set(key, { records, ends, expiresAt: clock.now() + LOCATOR_TTL_MS });
    return key;
  };

  const project = (soql: Soql, row: Row, version: string, children: Map<FieldValue, Row[]>[]): { record: Record<string, unknown>; weight: number } => {
    const out = wireRecord(soql.sobject, row, version, soql.fields.map((f) => f.name));
    let weight = 1;
    soql.subqueries.forEach((sub, i) => {
      const kids = (children[i]!.get(row.Id ?? null) ?? []).map((r) => wireRecord(sub.child, r, version, sub.fields.map((f) => f.name)));
      // an empty child relationship is null on the wire, not an empty list
      if (kids.length === 0) {
        out[sub.relationship] = null;
        return;
      }
      // more children than one answer holds: the nested result pages through its own locator
      const ends: number[] = [];
      for (let e = CHILD_BATCH; e < kids.length; e += CHILD_BATCH) ends.push(e);
      ends.push(kids.length);
      const key = cursorFor(kids, ends);
      const first = kids.slice(0, ends[0]);
      weight += first.length;
      out[sub.relationship] = { totalSize: kids.length, done: key === undefined, ...(key === undefined ? {} : { nextRecordsUrl: `/services/data/v${version}/query/${key}-${ends[0]!}` }), records: first };
    });
    return { record: out, weight };
  };

  const answer = (c: Context, version: string, key: string | undefined, records: Record<string, unknown>[], ends: number[], offset: number) => {
    const end = ends.find((e) => e > offset) ?? records.length;
    const done = end >= records.length;
    const body: Record<string, unknown> = { totalSize: records.length, done, records: records.slice(offset, end) };
    if (!done && key !== undefined) body.nextRecordsUrl = `/services/data/v${version}/query/${key}-${end}`;
    return json(c, 200, body);
  };

  data$.get('/:version{v\\d+\\.\\d}/query', (c) => runQuery(c, false));
  data$.get('/:version{v\\d+\\.\\d}/queryAll', (c) => runQuery(c, true));
  data$.get('/:version{v\\d+\\.\\d}/query/:locator', (c) => {
    const m = /^(.+)-(\d+)$/.exec(c.req.param('locator'));
    const cur = m === null ? undefined : locators.get(m[1]!);
    if (m === null || cur === undefined || cur.expiresAt <= clock.now()) {
      return sfError(c, 400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    }
    const offset = Number(m[2]);
    // only the page starts this cursor handed out are locators
    if (!cur.ends.slice(0, -1).includes(offset)) return sfError(c, 400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    if ((cur.ends.find((e) => e > offset) ?? cur.records.length) >= cur.records.length) locators.delete(m[1]!);
    return answer(c, c.req.param('version').slice(1), m[1]!, cur.records, cur.ends, offset);
  });

  data$.get('/:version{v\\d+\\.\\d}/sobjects/:sobject/describe', (c) => {
    const def = sobjectOf(c.req.param('sobject'));
    const access = accessOf(deps.org(), deps.hasRapportFields());
    if (def === undefined || !access.hasObject(def.name)) return sfError(c, 404, 'NOT_FOUND', `The requested resource does not exist`);
    return json(c, 200, describe(def, access));
  });

  // --- Get Updated / Get Deleted (replication) ---
  // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getupdated.htm,
  // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm:
  // `latestDateCovered` is at most `end`, and while a long-running transaction is open on the
  // instance it is that transaction's start (GetUpdatedResult,
  // https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getupdated_getupdatedresult.htm):
  // changes stamped after it may still commit. Updated reaches 30 days back, deleted 15. The docs'
  // example answers a whole minute; the emulator floors to the minute (UNCONFIRMED), and answers a
  // window out of range with INVALID_REPLICATION_DATE (the code is UNCONFIRMED; restforce names it).
  const replication = (c: Context, kind: 'updated' | 'deleted') => {
    const def = sobjectOf(c.req.param('sobject') ?? '');
    if (def === undefined || !accessOf(deps.org(), deps.hasRapportFields()).hasObject(def.name)) return sfError(c, 404, 'NOT_FOUND', 'The requested resource does not exist');
    const startRaw = c.req.query('start');
    const endRaw = c.req.query('end');
    const start = startRaw === undefined ? Number.NaN : Date.parse(startRaw);
    const end = endRaw === undefined ? Number.NaN : Date.parse(endRaw);
    if (Number.isNaN(start) || Number.isNaN(end)) return sfError(c, 400, 'MALFORMED_QUERY', 'start and end are required date-times, e.g. 2013-05-06T00:00:00+00:00');
    const now = clock.now();
    const horizon = now - (kind === 'updated' ? 30 : 15) * 24 * 3_600_000;
    if (start >= end || start < horizon) return sfError(c, 400, 'INVALID_REPLICATION_DATE', `start must be before end and within the last ${kind === 'updated' ? 30 : 15} days`);
    const open = deps.openTransactionSince();
    const covered = Math.floor(Math.min(end, now, open ?? Number.POSITIVE_INFINITY) / 60_000) * 60_000;
    const inWindow = (r: Row) => typeof r.SystemModstamp === 'number' && r.SystemModstamp >= start && r.SystemModstamp < end;
    if (kind === 'updated') {
      const ids = data.rows(def.name).filter((r) => r.IsDeleted !== true && inWindow(r)).map((r) => String(r.Id));
      if (ids.length > 600_000) return sfError(c, 400, 'EXCEEDED_ID_LIMIT', 'too many ids: choose start and end dates closer together');
      return json(c, 200, { ids, latestDateCovered: sfDateTime(covered) });
    }
    const deletedRecords = data.rows(def.name).filter((r) => r.IsDeleted === true && inWindow(r)).map((r) => ({ id: String(r.Id), deletedDate: sfDateTime(r.SystemModstamp as number) }));
    return json(c, 200, { deletedRecords, earliestDateAvailable: sfDateTime(Math.ceil(horizon / 60_000) * 60_000), latestDateCovered: sfDateTime(covered) });
  };
  data$.get('/:version{v\\d+\\.\\d}/sobjects/:sobject/updated', (c) => replication(c, 'updated'));
  data$.get('/:version{v\\d+\\.\\d}/sobjects/:sobject/deleted', (c) => replication(c, 'deleted'));

  data$.get('/:version{v\\d+\\.\\d}/limits', (c) => {
    const u = deps.usage.current();
    return json(c, 200, { DailyApiRequests: { Max: u.limit, Remaining: Math.max(0, u.limit - u.used) } });
  });

  const CollectionBody = z.object({
    allOrNone: z.boolean().optional(),
    records: z.array(z.record(z.string(), z.unknown())),
  });
  data$.patch('/:version{v\\d+\\.\\d}/composite/sobjects', async (c) => {
    let body: z.infer<typeof CollectionBody>;
    try {
      body = CollectionBody.parse(await c.req.json());
    } catch {
      return sfError(c, 400, 'JSON_PARSER_ERROR', 'The request body is not a valid sObject collection: {allOrNone?, records: [...]}');
    }
    if (body.records.length > MAX_COLLECTION) {
      return sfError(c, 400, 'EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${MAX_COLLECTION} records into this call`);
    }
    const planned = body.records.map((r) => planUpdate(r));
    // An id named twice in one call fails every time it appears and is not updated. The exact code
    // and text are UNCONFIRMED; the SOAP API's DUPLICATE_VALUE is used
    // (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_concepts_core_data_objects.htm#statuscode).
    const seen = new Map<string, number>();
    for (const p of planned) if (p.id !== undefined) seen.set(p.id.slice(0, 15), (seen.get(p.id.slice(0, 15)) ?? 0) + 1);
    const org = deps.org();
    const planned2: Planned[] = planned.map((p) => {
      if ('error' in p) return p;
      if ((seen.get(p.id.slice(0, 15)) ?? 0) > 1) {
        return { id: p.id, error: { statusCode: 'DUPLICATE_VALUE', message: `Maximum number of duplicate updates in one batch (12 allowed). Attempt to update Id more than once in this Api call: ${p.id}`, fields: [] } };
      }
      // A validation rule's error message is the admin's own text, reported per record with
      // FIELD_CUSTOM_VALIDATION_EXCEPTION (https://help.salesforce.com/s/articleView?id=sf.fields_about_field_validation.htm)
      if (org.validationRule !== null && p.def.name === 'Contact' && shareOf(p.id) < org.validationRule.share) {
        return { id: p.id, error: { statusCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', message: org.validationRule.message, fields: [] } };
      }
      return p;
    });
    const valid = planned2.filter((p) => !('error' in p)).length;
    // Triggers run on the records of a save together, and an uncatchable System.LimitException (e.g.
    // more than 100 SOQL queries in one transaction,
    // https://developer.salesforce.com/docs/atlas.en-us.apexcode.meta/apexcode/apex_gov_limits.htm) fails
    // the whole save: every record reports the trigger's exception and nothing is written.
    if (org.apexRecordLimit !== null && valid > org.apexRecordLimit && planned2.some((p) => !('error' in p) && p.def.name === 'Contact')) {
      return json(
        c,
        200,
        planned2.map((p) => ({
          ...(p.id === undefined ? {} : { id: p.id }),
          success: false,
          errors: [
            'error' in p
              ? p.error
              : { statusCode: 'CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY', message: 'CustomerContactTrigger: execution of AfterUpdate caused by: System.LimitException: Too many SOQL queries: 101', fields: [] },
          ],
        })),
      );
    }
    if (body.allOrNone === true && planned2.some((p) => 'error' in p)) {
      return json(
        c,
        200,
        planned2.map((p) =>
          'error' in p
            ? { id: p.id, success: false, errors: [p.error] }
            : { id: p.id, success: false, errors: [{ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK', message: 'Record rolled back because not all records were valid and the request was using AllOrNone header', fields: [] }] },
        ),
      );
    }
    const results = planned2.map((p) => {
      if ('error' in p) return { ...(p.id === undefined ? {} : { id: p.id }), success: false, errors: [p.error] };
      const before = data.get(p.def.name, p.id);
      const changed = Object.entries(p.fields).some(([k, v]) => before?.[k] !== v);
      data.update(p.def.name, p.id, p.fields, { origin: originOf(c) });
      deps.writeCounts.record(sessions.orgId, p.def.name, p.id, changed);
      return { id: p.id, success: true, errors: [] };
    });
    // applied, and the answer never comes (a dropped connection, the caller killed mid-call): the
    // request stays open until the client gives up or goes away
    if (deps.loseWriteAnswer()) {
      await new Promise<void>((resolve) => c.req.raw.signal.addEventListener('abort', () => resolve(), { once: true }));
      return sfError(c, 503, 'SERVER_UNAVAILABLE', 'answer lost');
    }
    return json(c, 200, results);
  });

  type Planned = { id: string; def: SObjectDef; fields: Row } | { id: string | undefined; error: { statusCode: string; message: string; fields: string[] } };
  const planUpdate = (r: Record<string, unknown>): Planned => {
    const id = typeof r.id === 'string' ? r.id : typeof r.Id === 'string' ? r.Id : undefined;
    const err = (statusCode: string, message: string, fields: string[] = []): Planned => ({ id, error: { statusCode, message, fields } });
    const attrs = r.attributes as { type?: unknown } | undefined;
    const access = accessOf(deps.org(), deps.hasRapportFields());
    const found = typeof attrs?.type === 'string' ? sobjectOf(attrs.type) : undefined;
    const def = found !== undefined && access.hasObject(found.name) ? found : undefined;
    if (def === undefined) return err('INVALID_TYPE', 'Must send a concrete entity type.');
    if (id === undefined) return err('MISSING_ARGUMENT', 'Id not specified in an update call', ['Id']);
    if (!isWellFormedId(id) || id.slice(0, 3) !== def.keyPrefix) return err('MALFORMED_ID', `${def.name} ID: id value of incorrect type: ${id}`, ['Id']);
    // 15-character ids name the same record as their 18-character form
    const row = data.get(def.name, id) ?? (id.length === 15 ? data.rows(def.name).find((x) => (x.Id as string).slice(0, 15) === id) : undefined);
    if (row === undefined) return err('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id');
    if (row.IsDeleted === true) return err('ENTITY_IS_DELETED', 'entity is deleted');
    const fields: Row = {};
    for (const [k, v] of Object.entries(r)) {
      if (k === 'attributes' || k === 'id' || k === 'Id') continue;
      const field = fieldOf(def, k);
      if (field === undefined || !access.hasField(def.name, field.name)) {
        return err('INVALID_FIELD', `No such column '${k}' on sobject of type ${def.name}`, [k]);
      }
      if (field.updateable !== true || !access.updateable(def.name, field.name)) return err('INVALID_FIELD_FOR_INSERT_UPDATE', `Unable to create/update fields: ${field.name}.`, [field.name]);
      const coerced = coerce(field, v);
      if (coerced === undefined) return err('INVALID_TYPE_ON_FIELD_IN_RECORD', `${field.name}: value not of required type: ${String(v)}`, [field.name]);
      if (field.name === 'Rapport_Health__c' && coerced !== null && !['green', 'yellow', 'red'].includes(String(coerced))) {
        return err('INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', `Rapport Health: bad value for restricted picklist field: ${String(coerced)}`, [field.name]);
      }
      fields[field.name] = coerced;
    }
    return { id: row.Id as string, def, fields };
  };

  mountBulkQuery(data$, { clock, data, orgId: sessions.orgId, access: () => accessOf(deps.org(), deps.hasRapportFields()), settings: () => deps.org().bulk });
  app.route('/services/data', data$);
  app.all('*', (c) => sfError(c, 501, 'NOT_IMPLEMENTED', `The Rapport Salesforce emulator does not implement ${c.req.method} ${new URL(c.req.url).pathname}`));
  return app;
}

/**
 * A change's `changeOrigin` for Change Data Capture: `com/salesforce/api/rest/<version>`, plus
 * `;client=<id>` when the call named its client in `Sforce-Call-Options`
 * (https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_event_fields_header.htm,
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_calloptions.htm).
 */
function originOf(c: Context): string {
  const version = (c.req.param('version') ?? 'v62.0').slice(1);
  const client = /(?:^|,)\s*client\s*=\s*([^,\s]+)/i.exec(c.req.header('sforce-call-options') ?? '')?.[1];
  return `com/salesforce/api/rest/${version}${client === undefined ? '' : `;client=${client}`}`;
}

/** A stable number in [0, 1) per record id: which records a "share" of a rule hits. */
function shareOf(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < 15 && i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return (h >>> 0) / 2 ** 32;
}

/** `Sforce-Query-Options: batchSize=N`: 200…2000, default 2000 (https://developer.salesforce.com/docs/platform/api-rest/guide/headers-queryoptions.html). */
function batchSize(header: string | undefined): number {
  const m = /batchSize\s*=\s*(\d+)/i.exec(header ?? '');
  if (m === null) return BATCH_DEFAULT;
  return Math.min(2000, Math.max(200, Number(m[1])));
}

function coerce(field: FieldDef, v: unknown): FieldValue | undefined {
  if (v === null) return null;
  switch (field.type) {
    case 'double':
    case 'int':
    case 'currency': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
      return Number.isFinite(n) ? n : undefined;
    }
    case 'boolean':
      return typeof v === 'boolean' ? v : undefined;
    case 'datetime': {
      const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
      return Number.isFinite(t) ? Math.floor(t / 1000) * 1000 : undefined;
    }
    default:
      return typeof v === 'string' ? v : undefined;
  }
}

function describe(def: SObjectDef, access: ReturnType<typeof accessOf>): Record<string, unknown> {
  const fields = def.fields.filter((f) => access.hasField(def.name, f.name));
  return {
    name: def.name,
    label: def.name.replace(/__c$/, '').replace(/_/g, ' '),
    keyPrefix: def.keyPrefix,
    custom: def.custom,
    queryable: true,
    updateable: true,
    fields: fields.map((f) => ({
      name: f.name,
      label: f.name.replace(/__c$/, '').replace(/_/g, ' '),
      type: f.type,
      custom: f.custom === true,
      updateable: f.updateable === true && access.updateable(def.name, f.name),
      nillable: f.name !== 'Id',
      referenceTo: f.referenceTo === undefined ? [] : [f.referenceTo],
      ...(f.name === 'Rapport_Health__c' ? { picklistValues: ['green', 'yellow', 'red'].map((v) => ({ value: v, label: v, active: true })), restrictedPicklist: true } : {}),
    })),
    childRelationships: def.childRelationships.filter((r) => access.hasObject(r.childSObject)).map((r) => ({ relationshipName: r.relationshipName, childSObject: r.childSObject, field: r.field })),
  };
}

