import { CORRELATION_HEADER, jsonResponse, newCorrelationId } from './responses.ts';

/**
 * HubSpot's error replies. Shapes follow https://developers.hubspot.com/docs/api/usage-details and https://developers.hubspot.com/docs/api-reference/error-handling; message texts marked UNCONFIRMED
 * there are our best guess and are kept in this one file so they are easy to correct.
 */
export type HubspotErrorInit = {
  message: string;
  category?: string;
  subCategory?: string;
  context?: Record<string, string[]>;
  errors?: Array<{ message: string; code?: string; in?: string; subCategory?: string; context?: Record<string, string[]> }>;
  links?: Record<string, string>;
  /** fields outside the standard Error schema (rate-limit policy, …) */
  extra?: Record<string, unknown>;
};

export function hubspotError(status: number, init: HubspotErrorInit, headers: Record<string, string> = {}): Response {
  const correlationId = newCorrelationId();
  const body: Record<string, unknown> = { status: 'error', message: init.message, correlationId };
  if (init.errors !== undefined) body.errors = init.errors;
  if (init.links !== undefined) body.links = init.links;
  if (init.category !== undefined) body.category = init.category;
  if (init.subCategory !== undefined) body.subCategory = init.subCategory;
  if (init.context !== undefined) body.context = init.context;
  Object.assign(body, init.extra);
  return jsonResponse(status, body, { [CORRELATION_HEADER]: correlationId, ...headers });
}

export const validationError = (message: string, extra: Omit<HubspotErrorInit, 'message' | 'category'> = {}): Response =>
  hubspotError(400, { message, category: 'VALIDATION_ERROR', ...extra });

/** The sandbox is strict: anything it does not emulate is refused loudly, naming the request. */
export const notImplemented = (method: string, path: string): Response =>
  hubspotError(501, {
    message: `Not implemented by the Rapport HubSpot sandbox: ${method} ${path}`,
    category: 'NOT_IMPLEMENTED',
    extra: { method, path },
  });

/** https://developers.hubspot.com/docs/api-reference/error-handling: message prefix and the `x-hubspot-auth-failure` header are observed. */
export const invalidAuthentication = (): Response =>
  hubspotError(
    401,
    {
      message:
        'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
      category: 'INVALID_AUTHENTICATION',
    },
    { 'x-hubspot-auth-failure': '401 Unauthorized' },
  );

/** https://developers.hubspot.com/docs/api-reference/error-handling, body observed in airbytehq/airbyte#74726. */
export const expiredAuthentication = (expiredAgoMs: number, expiredAt: number): Response =>
  hubspotError(
    401,
    {
      message: `The OAuth token used to make this call expired ${Math.floor(expiredAgoMs / 1000)} second(s) ago.`,
      category: 'EXPIRED_AUTHENTICATION',
      context: { 'expire time': [new Date(expiredAt).toISOString()] },
    },
    { 'x-hubspot-auth-failure': '401 Unauthorized' },
  );

/** https://developers.hubspot.com/docs/api-reference/error-handling, body observed in HubSpot/hubspot-api-nodejs#268. */
export const missingScopes = (requiredScopes: readonly string[]): Response =>
  hubspotError(403, {
    message:
      "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
    errors: [{ message: 'One or more of the following scopes are required.', context: { requiredScopes: [...requiredScopes] } }],
    links: { scopes: 'https://developers.hubspot.com/scopes' },
    category: 'MISSING_SCOPES',
  });

export type RateLimitPolicy = 'TEN_SECONDLY_ROLLING' | 'SECONDLY' | 'DAILY';

/**
 * The client's RetryDecorator keys off `policyName === 'TEN_SECONDLY_ROLLING'` and
 * `message === 'You have reached your secondly limit.'` (the client's RetryDecorator, https://github.com/HubSpot/hubspot-api-nodejs), so these texts are exact.
 */
export function rateLimited(policy: RateLimitPolicy, groupName: string, headers: Record<string, string> = {}): Response {
  const message = {
    TEN_SECONDLY_ROLLING: 'You have reached your ten_secondly_rolling limit.',
    SECONDLY: 'You have reached your secondly limit.',
    DAILY: 'You have reached your daily limit.',
  }[policy];
  const correlationId = newCorrelationId();
  const body: Record<string, unknown> = { status: 'error', message, errorType: 'RATE_LIMIT', correlationId, policyName: policy };
  if (policy === 'TEN_SECONDLY_ROLLING') body.groupName = groupName;
  else body.requestId = newCorrelationId();
  return jsonResponse(429, body, { [CORRELATION_HEADER]: correlationId, ...headers });
}

/** https://developers.hubspot.com/docs/api-reference/error-handling: text UNCONFIRMED (the probe body used there). */
export const objectNotFound = (id: string): Response =>
  hubspotError(404, {
    message: 'Object not found.  objectId are usually numeric.',
    category: 'OBJECT_NOT_FOUND',
    context: { id: [id] },
  });

export const conflict = (message: string): Response => hubspotError(409, { message, category: 'CONFLICT' });

/** One failed property value, in the JSON HubSpot embeds in its message (https://developers.hubspot.com/docs/api-reference/error-handling). */
export type PropertyProblem = {
  name: string;
  /** INVALID_OPTION, INVALID_INTEGER, INVALID_DATE, PROPERTY_DOESNT_EXIST, READ_ONLY_VALUE, … */
  error: string;
  message: string;
  value?: string;
};

/**
 * "Property values were not valid: [...]" — layout observed for a bad number in a batch update
 * (Atlas-Authority/marketing-automation#206): the whole request fails with 400.
 */
export function propertyValuesInvalid(problems: readonly PropertyProblem[], portalId: string): Response {
  const details = problems.map((p) => ({
    isValid: false,
    message: p.message,
    error: p.error,
    name: p.name,
    localizedErrorMessage: p.message,
    ...(p.value === undefined ? {} : { propertyValue: p.value }),
    portalId: Number(portalId),
  }));
  return validationError(`Property values were not valid: ${JSON.stringify(details)}`, {
    errors: problems.map((p) => ({ message: p.message, code: p.error, context: { propertyName: [p.name] } })),
  });
}

export const invalidJson = (detail: string): Response => validationError(`Invalid input JSON: ${detail}`);
