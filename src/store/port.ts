/**
 * The store port: every read and write Rapport makes, as typed operations owned by `src/store`.
 * Nothing outside `src/store` sees SQL or a connection (ARCHITECTURE §2; an ESLint rule forbids
 * `.db` elsewhere). Every operation that does I/O returns a Promise, so an implementation over an
 * asynchronous driver (Postgres) can follow the SQLite one unchanged; multi-row writes that must
 * be atomic are single intent operations (`commitPage`, `saveScores`, `models.saveAll`, …) that
 * run their transaction inside the store, because a caller-held transaction cannot span awaits
 * on a single-connection synchronous driver. `test/contract/store-contract.ts` is the behaviour
 * every implementation must pass.
 */
import type { CrmRecord, Cursor, DataIssue, ObjectType, RecordData } from '../connectors/types.ts';
import type { CrmName } from '../errors.ts';
import type { ScoreField, ScoreValues } from '../scores.ts';
import type { Band, ContactScores, HistoryPoint, ScoreKey, ScoreRow } from './scores.ts';

/** Where a store lives, serializable (posted to worker threads, which open their own read-only store). */
export type StoreLocation =
  | { kind: 'sqlite'; path: string }
  /** RAPPORT_DATABASE_URL; it holds the password: never logged (redactUrl in src/store/postgres/pool.ts) */
  | { kind: 'postgres'; url: string };

// ---------------------------------------------------------------------------------------------
// Values

export type PortalStatus = 'connected' | 'disconnected';

export type Portal = {
  portal: string;
  crm: CrmName;
  externalId: string;
  baseUrl: string;
  status: PortalStatus;
  statusReason: string | null;
  scopes: string[];
  installedAt: number;
};

export type PortalInfo = { portal: string; crm: CrmName; externalId: string; baseUrl: string; scopes: string[] };

export type Tokens = { accessToken: string; refreshToken: string | null; expiresAt: number | null };

/** What the key-check value says about the configured keys. */
export type KeyCheck =
  /** the current key sealed the check value (or nothing is stored yet) */
  | 'current'
  /** the previous key did: run `rapport keys rotate` */
  | 'previous'
  /** neither key reads what is stored: a configuration error */
  | 'mismatch'
  /** no key configured */
  | 'no_key';

export type StoredRecord = {
  type: ObjectType;
  id: string;
  companyId: string | null;
  updatedAt: number;
  deleted: boolean;
  data: RecordData;
  issues: readonly DataIssue[];
  /** a tombstone of a record merged into another one: the survivor's id */
  mergedInto: string | null;
};

export type RecordCounts = Record<string, { live: number; deleted: number }>;

/** A live record linked to a contact, as scoring reads it. */
export type LinkedRecord = { type: ObjectType; id: string; data: RecordData; issues: readonly DataIssue[] };

/** A live contact with its linked live records (engagements, deals, tickets, feedback). */
export type ContactWithLinks = {
  id: string;
  companyId: string | null;
  data: RecordData;
  issues: readonly DataIssue[];
  linked: LinkedRecord[];
};

/** Contact ids `after < id <= through` (both optional): one share of a parallel pass. */
export type IdRange = { after?: string; through?: string };

export type OutboxItem = { contactId: string; properties: ScoreValues; attempts: number };
export type ParkedItem = OutboxItem & { lastError: string | null };

export type SyncRunStatus = 'running' | 'ok' | 'failed' | 'aborted';
export type SyncRun = {
  id: number;
  stream: string;
  startedAt: number;
  finishedAt: number | null;
  status: SyncRunStatus;
  pages: number;
  records: number;
  errorKind: string | null;
  error: string | null;
};

export type StoredModel = { kind: string; version: string; trainedAt: number; params: unknown; metrics: unknown };

export type BandCounts = { green: number; yellow: number; red: number };

/** A scored contact with its name from the cache (report's at-risk list); `churnDetail` is the stored churn score as read (unvalidated, null when unreadable). */
export type TopRiskRow = { contactId: string; churnRisk: number; churnDetail: unknown; firstName: unknown; lastName: unknown };

/**
 * One scored contact as `saveScores` takes it: its scores, or their row as stored (`scoreRow`,
 * made by a scoring worker thread so that the saving thread neither receives nor serialises the
 * reasons as objects), and its neutral-key write-back values.
 */
export type ScoredContact = { scores: ContactScores; properties: ScoreValues } | { row: ScoreRow; properties: ScoreValues };

// ---------------------------------------------------------------------------------------------
// Operations

export type PortalsPort = {
  /** Creates or updates a portal, connected again. */
  upsert(p: PortalInfo): Promise<void>;
  /** The portal and its (encrypted at rest) tokens in one transaction: an install. */
  install(p: PortalInfo, tokens: Tokens): Promise<void>;
  get(portal: string): Promise<Portal | undefined>;
  list(): Promise<Portal[]>;
  markDisconnected(portal: string, reason: string): Promise<void>;
  markConnected(portal: string): Promise<void>;
  /** Throws (code `no_encryption_key`) without a key. */
  saveTokens(portal: string, tokens: Tokens): Promise<void>;
  /** Throws TokenUnreadableError (code `token_unreadable`) when no configured key decrypts them. */
  tokens(portal: string): Promise<Tokens | undefined>;
  keyCheck(): Promise<KeyCheck>;
  /** Re-seals every token and the key-check value with the current key, in one transaction. */
  resealAll(): Promise<{ resealed: string[]; unreadable: string[] }>;
  hasTokens(): Promise<boolean>;
};

export type RecordsPort = {
  /**
   * Upserts records in one transaction (newer wins; equal `updatedAt` wins only with new
   * content), applies merges and tombstones, and marks affected contacts dirty. Returns how many
   * rows changed.
   */
  upsertPage(records: readonly CrmRecord[]): Promise<number>;
  get(portal: string, type: ObjectType, id: string): Promise<StoredRecord | undefined>;
  /** Live records linked to a contact. */
  linkedToContact(portal: string, contactId: string): Promise<StoredRecord[]>;
  /** Live and deleted records per type, keyed in type order (what a reader lists). */
  counts(portal: string): Promise<RecordCounts>;
  /** Ids of the live records of a type, in id order. */
  ids(portal: string, type: ObjectType): Promise<string[]>;
  /** Every record of a type in id order, read page by page (bounded memory). */
  iterate(portal: string, type: ObjectType, includeDeleted?: boolean): AsyncIterable<StoredRecord>;
  /** Whether any record of the portal is cached. */
  hasAny(portal: string): Promise<boolean>;
  /** Live companies of a portal (scoring context), unordered. */
  companies(portal: string): Promise<{ id: string; data: RecordData }[]>;
};

export type ContactsPort = {
  /**
   * Up to `limit` live contacts with ids in `range`, in id order, with their linked records:
   * one keyset page. The next page starts after the last id returned.
   */
  chunk(portal: string, range: IdRange, limit: number): Promise<ContactWithLinks[]>;
  /** The given live contacts with their linked records (unknown or deleted ids are skipped). */
  byIds(portal: string, ids: readonly string[]): Promise<ContactWithLinks[]>;
  /** Contacts of a portal; `includeDeleted` counts tombstones too (cheaper: index only). */
  count(portal: string, opts?: { includeDeleted?: boolean; createdBy?: number }): Promise<number>;
  /**
   * The last id of each of `shares` equal shares of the portal's contact ids (tombstones
   * included), the last one undefined: share i covers (ends[i-1], ends[i]].
   */
  shareEnds(portal: string, shares: number): Promise<(string | undefined)[]>;
};

export type CursorsPort = {
  get(portal: string, stream: string): Promise<Cursor | null>;
  set(portal: string, stream: string, cursor: Cursor): Promise<void>;
  clear(portal: string, stream: string): Promise<void>;
  list(portal: string): Promise<{ stream: string; cursor: Cursor; updatedAt: number }[]>;
};

export type DirtyPort = {
  peek(portal: string, limit: number): Promise<string[]>;
  /** Clears a mark unless it was set again after `scoredAsOf`. */
  clear(portal: string, contactId: string, scoredAsOf: number): Promise<void>;
  mark(portal: string, contactId: string, at: number): Promise<void>;
  /** Contacts waiting to be scored: the marks, or while a first pass is due, every live contact. */
  count(portal: string): Promise<number>;
  /**
   * A portal installed anew waits for its first full scoring pass, and its pages write no dirty
   * marks until that pass starts (all its contacts wait). Starts it, after the portal's writes in
   * progress (so the pass reads them), and returns its start, or undefined when none is due.
   */
  startFirstPass(portal: string): Promise<number | undefined>;
  /** The first pass started at `startedAt` scored every contact (unless a later one started since). */
  endFirstPass(portal: string, startedAt: number): Promise<void>;
};

export type ScoresPort = {
  get(portal: string, contactId: string): Promise<ContactScores | undefined>;
  history(portal: string, contactId: string, since: number): Promise<HistoryPoint[]>;
  count(portal: string): Promise<number>;
  lastScoredAt(portal: string): Promise<number | null>;
  /** Portals with at least one score. */
  portals(): Promise<string[]>;
  /** Count, last scoring and last training: changes whenever a report would. */
  state(portal: string): Promise<{ count: number; lastScoredAt: number | null; lastTrainedAt: number | null }>;
  /** Band counts per score and of health. */
  bandCounts(portal: string): Promise<{ scores: Record<ScoreKey, BandCounts>; health: BandCounts }>;
  /** Health bands as of `at`: each contact's last history row by then. */
  healthAsOf(portal: string, at: number): Promise<BandCounts>;
  /** Counts per bin of `width` points (the last bin holds the maximum). */
  histograms(portal: string, width: number): Promise<Record<ScoreKey, number[]>>;
  /** The highest churn risks (ties by contact id). */
  topChurnRisk(portal: string, limit: number): Promise<TopRiskRow[]>;
  /** Mean CLV over scored buyers. */
  clv(portal: string): Promise<{ n: number; mean: number | null }>;
};

export type OutboxPort = {
  /** Enqueues the properties that differ from the last written values; returns how many did. */
  enqueue(portal: string, contactId: string, properties: ScoreValues): Promise<number>;
  due(portal: string, limit: number): Promise<OutboxItem[]>;
  /**
   * One batch's outcome in one transaction: written items are recorded (unless re-enqueued
   * meanwhile), failed ones retried with backoff or parked after `maxAttempts`.
   */
  settle(
    portal: string,
    outcome: { written: readonly OutboxItem[]; failed: readonly { item: OutboxItem; error: string; retryable: boolean }[] },
    opts: { maxAttempts: number },
  ): Promise<void>;
  /**
   * The portal's "a batch is being sent" mark: set before the CRM call, cleared once the batch's
   * answer is settled. A mark found by the next drain means a batch may be in the CRM unsettled
   * (a crash, a lost answer), and only then is the CRM asked what it holds (src/sync/write-back.ts).
   */
  setSending(portal: string, sending: boolean): Promise<void>;
  sending(portal: string): Promise<boolean>;
  stats(portal: string): Promise<{ pending: number; parked: number }>;
  parked(portal: string, limit?: number): Promise<ParkedItem[]>;
  requeueParked(portal: string): Promise<number>;
  parkedReasons(portal: string): Promise<{ reason: string; count: number }[]>;
  writtenCount(portal: string): Promise<number>;
  lastWritten(portal: string, contactId: string): Promise<ScoreValues>;
};

export type WebhookEventsPort = {
  /**
   * For each event, true when new (and now remembered); a repeat within the batch is false. A
   * large batch may be committed in parts (SQLite yields the serving thread between them).
   */
  rememberAll(events: readonly { portal: string; eventId: string }[]): Promise<boolean[]>;
  prune(olderThanMs?: number): Promise<number>;
};

export type SyncRunsPort = {
  start(portal: string, stream: string): Promise<number>;
  finish(id: number, status: SyncRunStatus, error?: { kind: string; message: string }): Promise<void>;
  latestPerStream(portal: string): Promise<SyncRun[]>;
};

export type ModelsPort = {
  /** Saves the models of one training run in one transaction (never replaces a version). */
  saveAll(portal: string, models: readonly StoredModel[]): Promise<void>;
  latest(portal: string, kind: string): Promise<StoredModel | undefined>;
  get(portal: string, kind: string, version: string): Promise<StoredModel | undefined>;
  versions(portal: string, kind: string): Promise<StoredModel[]>;
  /** `base`, or `base-2`, `base-3`, … : the first id no model of the portal has yet. */
  unusedVersion(portal: string, base: string): Promise<string>;
};

export type ApiUsagePort = {
  record(portal: string, calls: number, rateLimited: number): Promise<void>;
  since(portal: string, ms: number): Promise<{ calls: number; rateLimited: number; peakPerMinute: number }>;
  prune(): Promise<number>;
};

export type Store = {
  location: StoreLocation;
  /** the store's clock (epoch ms) */
  now: () => number;
  portals: PortalsPort;
  records: RecordsPort;
  contacts: ContactsPort;
  cursors: CursorsPort;
  dirty: DirtyPort;
  scores: ScoresPort;
  outbox: OutboxPort;
  webhookEvents: WebhookEventsPort;
  syncRuns: SyncRunsPort;
  models: ModelsPort;
  apiUsage: ApiUsagePort;
  /**
   * One sync page in one transaction: its records (and tombstones for cached live records absent
   * from `liveIds`, a connector's sweep), the stream's cursor and the run's progress. Returns how
   * many rows changed. A failure leaves nothing of the page written.
   */
  commitPage(page: {
    portal: string;
    stream: ObjectType;
    records: readonly CrmRecord[];
    liveIds?: readonly string[] | undefined;
    cursor: Cursor;
    run: { id: number; pages: number; records: number };
    /** when tombstones of a sweep are dated from (default: the store's clock) */
    at?: number;
  }): Promise<number>;
  /**
   * One batch of scores in one transaction: scores (+ history when a rounded value or the band
   * moved), write-back values that differ from what was last written (none unless a property
   * other than `volatile` ones changed; stale pending values are dropped), and the dirty marks
   * of `clearIds` unless set again after `readAt`. Returns how many contacts had values enqueued.
   */
  saveScores(
    portal: string,
    batch: readonly ScoredContact[],
    opts: { clearIds: readonly string[]; readAt: number; volatile: readonly ScoreField[] },
  ): Promise<number>;
  /** Fails when the store cannot answer (health checks). */
  ping(): Promise<void>;
  /** How long an operation waits for another writer's lock; lowered by a process serving HTTP. */
  setLockTimeout(ms: number): Promise<void>;
  close(): Promise<void>;
};

export type { Band, ContactScores, HistoryPoint, ScoreKey, ScoreRow };
