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
  | 'forbidden';

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

export const isRetryable = (e: unknown): e is CrmError =>
  e instanceof CrmError && (e.kind === 'rate_limited' || e.kind === 'unavailable');

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
