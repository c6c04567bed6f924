/** Errors are data: callers switch on `kind`, never on subclasses. */

/** A provider's name (src/connectors/registry.ts): the CRM that answered. */
export type CrmName = string;

export type CrmErrorKind =
  /** 401 / INVALID_SESSION_ID: refresh once, then stop the portal's sync. */
  | 'auth'
  /** 429 (or Salesforce 403 REQUEST_LIMIT_EXCEEDED): wait `retryAfterMs`, then retry. */
  | 'rate_limited'
  /** 5xx, timeouts, connection resets: retry with exponential backoff and jitter. */
  | 'unavailable'
  /** Other 4xx: never retried; recorded against the item. */
  | 'invalid_request'
  /** A 2xx whose body fails our schema: never retried. */
  | 'bad_response'
  /** Missing OAuth scopes for a call we need. */
  | 'forbidden'
  /**
   * Not the CRM's doing: an exception in our own code (a bug). Logged with its stack, never
   * retried as if the CRM were down, and the work it was doing stays where it was.
   */
  | 'internal';

export type CrmErrorDetails = {
  crm: CrmName;
  status?: number;
  code?: string;
  retryAfterMs?: number;
  /** Which rate-limit policy was hit (HubSpot `policyName`). */
  policy?: string;
  /** The CRM's id for the failed request (HubSpot `X-HubSpot-Correlation-Id`): support asks for it. */
  correlationId?: string;
  /** Ids the CRM named in the error (e.g. HubSpot `context.ids` of a refused batch). */
  ids?: string[];
};

export class CrmError extends Error {
  override readonly name = 'CrmError';
  constructor(
    readonly kind: CrmErrorKind,
    message: string,
    readonly details: CrmErrorDetails,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * `details.code` of a write the CRM refused because one of our properties does not exist there
 * (HubSpot's own code, https://developers.hubspot.com/docs/api/error-handling): provisioning fixes it.
 */
export const MISSING_PROPERTY = 'PROPERTY_DOESNT_EXIST';

/**
 * Any exception as a CrmError: a CrmError as it is, anything else (a TypeError, a failed
 * assertion: our bug, not the CRM's answer) as kind `internal`, with the original as `cause`
 * so its stack is logged.
 */
export function asCrmError(e: unknown, crm: CrmName): CrmError {
  if (e instanceof CrmError) return e;
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return new CrmError('internal', message, { crm, code: 'INTERNAL' }, { cause: e });
}

/** What to do after a failure, for one request (`withRetry`) and for the queued work item. */
export type RetryDecision =
  /** send the same request again after `waitMs` */
  | { action: 'retry'; waitMs: number }
  /**
   * stop now and leave the work untouched, not counted as an attempt: the failure is the
   * portal's or ours, not the record's (auth, missing scopes, the CRM's daily budget, a bug)
   */
  | { action: 'hold' }
  /**
   * stop and count an attempt against the work item; `transient`: a later pass may succeed
   * (retries ran out on a 429/5xx), otherwise it never will (a 4xx, a body we cannot read)
   */
  | { action: 'give_up'; transient: boolean };

export type RetryPolicy = {
  /** extra attempts after the first (`retries: 3` means up to 4 calls) */
  retries: number;
  /** first backoff for 5xx / timeouts; doubles each attempt */
  baseMs: number;
  /** cap on any single wait, rate-limit waits included */
  maxMs: number;
  /** randomness for the full jitter (tests inject it) */
  random: () => number;
};

export const DEFAULT_RETRY_POLICY: RetryPolicy = { retries: 5, baseMs: 500, maxMs: 30_000, random: Math.random };

/** A rate limit that waits for the CRM's daily window (policy DAILY), not for this request. */
export const isBudgetPause = (e: CrmError): boolean => e.kind === 'rate_limited' && e.details.policy === 'DAILY';

/**
 * The ONE retry decision (ARCHITECTURE §4), pure: `attempt` is how many retries were already
 * made. `rate_limited` waits what the error says (Retry-After / the policy window), `unavailable`
 * an exponential backoff with full jitter; a daily-budget pause is held for the CRM's next window
 * rather than retried in-call or counted against the record.
 */
export function retryDecision(e: CrmError, attempt: number, policy: RetryPolicy = DEFAULT_RETRY_POLICY): RetryDecision {
  switch (e.kind) {
    case 'auth':
    case 'forbidden':
    case 'internal':
      return { action: 'hold' };
    case 'invalid_request':
    case 'bad_response':
      return { action: 'give_up', transient: false };
    case 'rate_limited':
      if (isBudgetPause(e)) return { action: 'hold' };
      if (attempt >= policy.retries) return { action: 'give_up', transient: true };
      return { action: 'retry', waitMs: Math.min(policy.maxMs, e.details.retryAfterMs ?? policy.baseMs * 2 ** attempt) };
    case 'unavailable':
      if (attempt >= policy.retries) return { action: 'give_up', transient: true };
      return { action: 'retry', waitMs: Math.min(policy.maxMs, Math.max(1, Math.round(policy.random() * policy.baseMs * 2 ** attempt))) };
  }
}

/** Whether a later pass may succeed where this one failed (the outbox keeps the item due). */
export const isTransient = (e: CrmError): boolean => {
  const d = retryDecision(e, Number.POSITIVE_INFINITY);
  return d.action === 'give_up' ? d.transient : isBudgetPause(e);
};

/** A configuration problem: every issue listed, no secret value echoed. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly issues: readonly string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
  }
}

/** The database was written by a newer Rapport than this one. */
export class DatabaseFromFutureError extends Error {
  override readonly name = 'DatabaseFromFutureError';
  constructor(
    readonly path: string,
    readonly found: number,
    readonly supported: number,
  ) {
    super(
      `The database ${path} is at schema version ${found}, but this Rapport only knows versions up to ${supported}. ` +
        'It was written by a newer Rapport: upgrade Rapport, or point RAPPORT_DB at another file.',
    );
  }
}

/**
 * A database problem other than a newer schema, as data: `code` says which
 * (`database_unavailable`, `source_missing`, `source_schema`, `target_not_empty`,
 * `copy_mismatch`, …). Messages name a database by its redacted URL, never its password.
 */
export class DatabaseError extends Error {
  override readonly name = 'DatabaseError';
  constructor(
    readonly code: string,
    message: string,
    readonly details: unknown = undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Exit codes: distinct per failure class so scripts can branch on them. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  auth: 4,
  unreachable: 5,
  forbidden: 6,
  database: 7,
} as const;
