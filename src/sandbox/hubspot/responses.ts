import { randomUUID } from 'node:crypto';

/** HubSpot answers `application/json;charset=utf-8` (https://developers.hubspot.com/docs/api/usage-details); the client parses an error body only with a JSON content type. */
export const JSON_CONTENT_TYPE = 'application/json;charset=utf-8';

export const CORRELATION_HEADER = 'X-HubSpot-Correlation-Id';

export const newCorrelationId = (): string => randomUUID();

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': JSON_CONTENT_TYPE, ...headers },
  });
}

/** 204 replies carry no body and no content type (RFC 9110 §15.3.5: https://www.rfc-editor.org/rfc/rfc9110#name-204-no-content). */
export const noContent = (): Response => new Response(null, { status: 204 });

/** Epoch ms → the ISO form HubSpot uses on the wire (`2019-12-07T16:50:06.678Z`). */
export const isoTime = (ms: number): string => new Date(ms).toISOString();
