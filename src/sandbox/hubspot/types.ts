import type { HubspotObjectType, GeneratedBatch, SandboxObject } from '../model.ts';

/**
 * The shared shapes of the HubSpot sandbox (ARCHITECTURE.md §7). The core (storage, object
 * routes, limits, faults) and the accounts / OAuth / webhooks pieces both code against these.
 */

/** Probabilities in [0, 1] per request; `timeout` hangs until the client gives up (or 30 s). */
export type FaultRates = { '429'?: number; '500'?: number; timeout?: number; malformed?: number };

export type SandboxLimits = { per10s: number; searchPerSecond: number };

export type SandboxChange = {
  hubId: number;
  kind: 'creation' | 'propertyChange' | 'deletion' | 'associationChange' | 'merge' | 'privacyDeletion';
  type: HubspotObjectType;
  id: string;
  propertyName?: string;
  propertyValue?: string | null;
  /** association changes: the other end */
  toType?: HubspotObjectType;
  toId?: string;
  /** association changes: false when the association was removed */
  associationAdded?: boolean;
  /** association changes: the change set or removed a primary association */
  primary?: boolean;
  /** merges: `id` is the survivor, these the records merged into it */
  mergedIds?: string[];
  /** merges: how many property values the survivor took from the merged records */
  propertiesMoved?: number;
  /** epoch ms (sandbox clock) */
  at: number;
  source: 'api' | 'admin';
};

export type AssociationInput = { type: HubspotObjectType; id: string };

/** Per-portal storage and mutations; every call keyed by hubId. */
export type SandboxData = {
  create(hubId: number, type: HubspotObjectType, properties: Record<string, string | null>, associations?: readonly AssociationInput[]): SandboxObject;
  update(hubId: number, type: HubspotObjectType, id: string, properties: Record<string, string | null>): SandboxObject;
  archive(hubId: number, type: HubspotObjectType, id: string): void;
  /** `typeId`: a type key of the pair (default: the unlabeled one), see resolveTypeKey: a HubSpot-defined typeId, a user label as −typeId (or +typeId when no defined type has it); a primary replaces the old primary */
  associate(hubId: number, fromType: HubspotObjectType, fromId: string, toType: HubspotObjectType, toId: string, typeId?: number): void;
  dissociate(hubId: number, fromType: HubspotObjectType, fromId: string, toType: HubspotObjectType, toId: string): void;
  /**
   * Merges `loserId` into `survivorId` as HubSpot does: the loser leaves the list without an
   * archived entry, the survivor lists it in `hs_merged_object_ids` and takes its associations,
   * and reads of the loser's id answer with the survivor.
   */
  merge(hubId: number, type: HubspotObjectType, survivorId: string, loserId: string): void;
  /** GDPR delete: gone for good, in no list (not even archived) */
  purge(hubId: number, type: HubspotObjectType, id: string): void;
  load(hubId: number, batch: GeneratedBatch): void;
  get(hubId: number, type: HubspotObjectType, id: string): SandboxObject | undefined;
  iterate(hubId: number, type: HubspotObjectType, opts?: { archived?: boolean }): Iterable<SandboxObject>;
  associationsOf(hubId: number, type: HubspotObjectType, id: string, toType: HubspotObjectType): string[];
  count(hubId: number, type: HubspotObjectType, opts?: { archived?: boolean }): number;
  onChange(listener: (e: SandboxChange) => void): () => void;
};

export type AuthResult = { hubId: number; scopes: string[] } | { error: 'expired' | 'invalid' | 'revoked'; expiredAt?: number };

/** Accounts (hub ids) and their tokens — built by A2 in portals.ts. */
export type SandboxPortals = {
  create(opts?: { hubId?: number; privateAppToken?: string; scopes?: string[] }): { hubId: number; token: string };
  list(): number[];
  authenticate(bearer: string): AuthResult;
  expireAccessTokens(hubId: number): void;
  revoke(hubId: number): void;
};

/** Webhook subscriptions and signed delivery — built by A2 in webhooks.ts. */
export type SandboxWebhooks = {
  subscribe(opts: { targetUrl: string; clientSecret: string; appId: number; portals?: number[] }): void;
  flush(): Promise<void>;
  stats(): { delivered: number; failed: number; pending: number };
};

export type SandboxStats = { requests: number; rateLimited: number; faults: number; byRoute: Record<string, number> };
