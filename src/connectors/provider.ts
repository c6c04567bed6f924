import type { Context, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import type { CrmError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import type { CrmConnector, Cursor, ObjectType } from './types.ts';

/**
 * A CRM as a value (ARCHITECTURE.md §3): everything the shared engine needs to know about one CRM,
 * so that nothing outside `src/connectors/<crm>/` names it. Each CRM exports one `CrmProvider`
 * from `src/connectors/<crm>/provider.ts`; `registry.ts` maps names to them.
 *
 * `S` is the CRM's settings slice (parsed by `src/config.ts` with `config.schema`). Members are
 * declared as methods so that a `CrmProvider<HubspotSettings>` fits a `CrmProvider` (the registry
 * holds providers of different settings; each only ever receives its own slice).
 */

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

/** What a portals row says about an installed account (the `<crm>:<id>` portal id and where its API lives). */
export type Installation = { portal: string; crm: string; externalId: string; baseUrl: string; scopes: string[] };

/** Tokens with an absolute expiry (null: the CRM does not say; refresh on 401). */
export type TokenGrant = {
  accessToken: string;
  refreshToken: string | null;
  expiresAt: number | null;
  /** where the account's API lives now, when a refresh answer moved it (e.g. Salesforce's `instance_url`); stored as the portal's baseUrl */
  baseUrl?: string;
};

/** An OAuth code exchange that worked, or the reason the install is refused (shown to the admin). */
export type ExchangeResult = { ok: true; installation: Installation; tokens: TokenGrant } | { ok: false; message: string };

/** How a connector gets its access token: from the token manager (OAuth) or a constant (static connections). */
export type ConnectorAuth = {
  accessToken(): Promise<string>;
  /** called once after a 401: a fresh token to retry with, or null when there is none to be had */
  onUnauthorized?(): Promise<string | null>;
  /** where the account's API lives now (a refresh can move it, TokenGrant.baseUrl); read after each refresh */
  baseUrl?(): Promise<string>;
};

/** What the composition root hands a provider besides its own settings. */
export type ProviderContext<S> = {
  settings: S;
  logger: Logger;
  now(): number;
  httpTimeoutMs: number;
  /** page size for list calls (tests) */
  pageSize?: number;
  /**
   * The contact property (field) an admin maps as a portal's churn date, if any (RAPPORT_CHURN
   * signals.churnDateProperty): the connector reads it into `ContactData.churnedAt`.
   */
  churnDateProperty?(portal: string): string | undefined;
};

/** The CRM's config slice: which env keys it owns and how they become its settings. */
export type ProviderConfig<S> = {
  /** every env / config-file key this CRM owns (for validation of the config file, and `--help`) */
  keys: readonly string[];
  /** keys whose values must never be echoed in an error */
  secretKeys: readonly string[];
  /** the raw values (strings, as in the environment) → settings */
  schema: z.ZodType<S>;
  /** rules across keys, checked on the raw values even when single fields are invalid */
  check?(has: (key: string) => boolean): string[];
};

export type ProviderOAuth<S> = {
  /** env keys still missing for OAuth installs and refreshes ([] when ready) */
  missing(settings: S): string[];
  /**
   * What this install needs to remember from the /install request until its callback (e.g. which
   * login host to send the admin to), read from the /install query; travels signed in the state.
   * A message refuses the install (400). Absent: no context.
   */
  installContext?(settings: S, query: Record<string, string>): { ok: true; context: string | undefined } | { ok: false; message: string };
  /**
   * The CRM's authorize URL. `codeChallenge` is the install's PKCE challenge (RFC 7636, method S256):
   * a CRM that supports PKCE sends it, one that does not ignores it.
   */
  authorizeUrl(settings: S, p: { redirectUri: string; state: string; codeChallenge?: string; context?: string | undefined }): string;
  /** code → installation and tokens; CrmError on a failed call. `codeVerifier` matches the authorize URL's challenge. */
  exchange(settings: S, p: { code: string; redirectUri: string; now: number; fetch?: FetchFn; codeVerifier?: string; context?: string | undefined }): Promise<ExchangeResult>;
  /**
   * New tokens for an installation; CrmError kind 'auth' when the CRM refuses the grant (the portal
   * is disconnected). A null refreshToken in the answer keeps the stored one.
   */
  refresh(settings: S, p: { installation: Installation; refreshToken: string; now: number; fetch?: FetchFn }): Promise<TokenGrant>;
  /** ends the grant from our side; absent when the CRM has no revocation endpoint (uninstall happens in the CRM) */
  revoke?(settings: S, p: { installation: Installation; refreshToken: string; fetch?: FetchFn }): Promise<void>;
};

/** A connection configured without an install (e.g. a private-app token): no stored tokens. */
export type StaticConnection = { installation: Installation; connector: CrmConnector };

/** Counters of a notification receiver, for /metrics. */
export type NotificationStats = { deliveries: number; events: number; rejected: Partial<Record<string, number>>; outcomes: Partial<Record<string, number>> };

/** A portal as a webhook receiver sees it. */
export type PortalState = 'connected' | 'disconnected' | 'unknown';
/** The state of a portal, synchronously when known from memory (src/server/portal-status.ts). */
export type PortalStatus = { state(portal: string): PortalState | Promise<PortalState> };

export type NotificationDeps = {
  store: Store;
  publicUrl: string;
  logger: Logger;
  now(): number;
  /** the process's portal-state cache; without it, receivers read the store per delivery */
  portalStatus?: PortalStatus;
  /** sync these streams of this portal soon */
  nudge(portal: string, types: ObjectType[]): void;
  /** re-read these records directly */
  refresh?(portal: string, type: ObjectType, ids: string[]): void;
};

/** A CRM's change notifications (e.g. webhooks), received at `/webhooks/<name>`. */
export type NotificationReceiver<S> = {
  create(settings: S, deps: NotificationDeps): { handle(c: Context): Promise<Response>; stats(): NotificationStats };
};

/** Where a change stream is: subscribing, delivering, reconnecting after an error, or stopped. */
export type ChangeStreamState = 'connecting' | 'live' | 'retrying' | 'stopped';
export type ChangeStreamStatus = {
  state: ChangeStreamState;
  /** the CRM's position of the last event handled (e.g. a replay id), stored per portal; null: none yet */
  position: number | null;
  lastError: string | null;
  /** how often every stream is still polled while the stream is live */
  pollEveryMs: number;
  events: number;
  /** events caused by Rapport's own writes, dropped */
  echoes: number;
  /** events that could not say what changed (the streams' windowed queries catch up) */
  gaps: number;
  overflows: number;
  nudges: number;
  reconnects: number;
};
/**
 * The cursors row (stream name) where a change stream keeps its position and, for `rapport
 * status` in another process, its last state: JSON of `ChangeStreamStatus`.
 */
export const CHANGE_STREAM_CURSOR = 'change-events';

/** A running subscription to a portal's change notifications (pulled by us, unlike webhooks). */
export type ChangeStream = {
  status(): ChangeStreamStatus;
  /** how often the daemon polls every stream meanwhile; undefined while the stream is not live (poll as usual) */
  pollEveryMs(): number | undefined;
  /** resolves once the subscription is live the first time */
  ready(): Promise<void>;
  stop(): Promise<void>;
};
export type ChangeStreamSource<S> = {
  /** subscribes for one portal; undefined when the settings turn it off */
  start(
    installation: Installation,
    auth: ConnectorAuth,
    ctx: ProviderContext<S>,
    deps: { store: Store; nudge(types: ObjectType[]): Promise<void> },
  ): ChangeStream | undefined;
};

/** Why a card request was refused, as data (`code` for logs, `message` for the caller); the card API renders it. */
export type CardAuthFailure = { status: 400 | 401 | 413 | 503; code: string; message: string };
/** What a card request carries once its CRM has authenticated it. */
export type CardAuthEnv = { Variables: { portal: string; /** unique per signed request: a POST is refused when it comes again */ replayKey: string } };
/**
 * The CRM's authentication of requests from its card UI, as a hono middleware: it verifies the
 * request (e.g. a signature over the raw body) and names the portal, or refuses through `refuse`.
 */
export type CardRequestAuth = (refuse: (c: Context, failure: CardAuthFailure) => Response | Promise<Response>) => MiddlewareHandler<CardAuthEnv>;

/**
 * The CRM card's UI source, for the local card preview: the preview bundles `entry` with
 * react-dom, replacing the CRM's UI library import `uiModule` by a DOM implementation `uiModuleDom`.
 */
export type CardPreviewSource = {
  entry: string;
  /** the card package's folder: its node_modules hold the one React everything uses */
  packagesDir: string;
  uiModule: string;
  uiModuleDom: string;
};

/** A portal's recent API usage, as `rapport status` measures it. */
export type ApiUsage = { calls10m: number; rateLimited10m: number; peakPerMinute: number; limitPer10s: number; peakShareOfLimit: number; calls24h: number };

/** Words an admin can act on, per error kind, naming this CRM's settings and docs. */
export type AdminHints = {
  explain(e: CrmError): string;
  /** the API usage line of `rapport status`, against this CRM's kind of limit */
  usage?(u: ApiUsage): string;
  /** why a refresh was refused, e.g. "the app was uninstalled or its access revoked" */
  refreshRefused: string;
  /** what a stream's saved cursor says about changes it may not have seen yet (`rapport status`) */
  freshness?(cursor: Cursor, now: number): StreamFreshness | undefined;
};

/** How far behind the CRM a stream may be, and why (e.g. HubSpot's search index lag). */
export type StreamFreshness = {
  /** the oldest change the stream may still be missing is at most this old; null = not known */
  maxBehindMs: number | null;
  /** when the last full read that catches anything incremental reads missed began, and when the next is due */
  lastFullReadAt: number | null;
  nextFullReadAt: number | null;
  /** the same in words, for an operator */
  note: string;
};

export type CrmProvider<S = unknown> = {
  /** the portals row's `crm`, the `<name>:` of portal ids, the `/oauth/<name>/…` path segment */
  readonly name: string;
  /** for people: "HubSpot" */
  readonly label: string;
  readonly config: ProviderConfig<S>;
  readonly oauth: ProviderOAuth<S>;
  createConnector(installation: Installation, auth: ConnectorAuth, ctx: ProviderContext<S>): CrmConnector;
  /** connections from settings alone (no install), connected at start */
  staticConnections?(ctx: ProviderContext<S>): Promise<StaticConnection[]>;
  /**
   * Whether the daemon provisions our fields on every connect in this process (the CRM lets an
   * app create them), and not only at install.
   */
  readonly provisionOnConnect: boolean;
  /** change notifications pushed by the CRM, when it has them */
  readonly notifications?: NotificationReceiver<S>;
  /** change notifications Rapport subscribes to per portal (a streaming API), when the CRM has them */
  readonly changeStream?: ChangeStreamSource<S>;
  /** the CRM's own name for a kind of record (progress bars, the demo), when it differs from ours */
  objectName?(type: ObjectType): string;
  /** the CRM card's UI source, for the local preview, when it has a card */
  readonly cardPreview?: CardPreviewSource;
  /** authenticates requests from the CRM's card UI, when it has one */
  cardRequestAuth?(settings: S, ctx: { publicUrl: string; now(): number }): CardRequestAuth;
  readonly hints: AdminHints;
};

/** The provider part of a portal id `<name>:<id>`; undefined when there is no `:`. */
export const providerNameOf = (portal: string): string | undefined => {
  const i = portal.indexOf(':');
  return i <= 0 ? undefined : portal.slice(0, i);
};
