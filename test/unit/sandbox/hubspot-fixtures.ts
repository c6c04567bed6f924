import { Client } from '@hubspot/api-client';
import type { HubspotObjectType, SandboxObject } from '../../../src/sandbox/model.ts';
import { startHubspotSandbox, type HubspotSandboxOptions } from '../../../src/sandbox/hubspot/index.ts';

/** Shared set-up for the sandbox tests: a served sandbox, one portal, and a real client on it. */
export async function servedSandbox(opts: HubspotSandboxOptions = {}) {
  // search index lag off unless a test sets it (the sandbox default is HubSpot's few seconds)
  const served = await startHubspotSandbox({ limits: false, searchLagMs: 0, ...opts });
  const { hubId, token } = served.sandbox.portals.create({ privateAppToken: 'pat-test' });
  const client = (extra: { numberOfApiCallRetries?: number } = {}) => new Client({ accessToken: token, basePath: served.baseUrl, ...extra });
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${served.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  return { ...served, hubId, token, client, call };
}

export const T0 = Date.UTC(2026, 0, 1);

/** Minimal objects with numeric ids `first…first+n-1`, created a minute apart. */
export function objects(type: HubspotObjectType, n: number, first = 1, props: (i: number) => Record<string, string | null> = () => ({})): SandboxObject[] {
  return Array.from({ length: n }, (_, k) => {
    const i = first + k;
    return { type, id: String(i), properties: props(i), createdAt: T0 + i * 60_000, updatedAt: T0 + i * 60_000, archived: false };
  });
}
