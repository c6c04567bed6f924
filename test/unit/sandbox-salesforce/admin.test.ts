import { afterEach, beforeEach, expect, it } from 'vitest';
import { createClock } from '../../../src/sandbox/hubspot/clock.ts';
import { startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
let started: Awaited<ReturnType<typeof startSalesforceSandbox>>;
beforeEach(async () => {
  started = await startSalesforceSandbox({ clock: createClock({ frozenAt: T0 }), adminToken: 'admin-secret' });
});
afterEach(() => started.close());

const admin = (method: string, path: string, body?: unknown, token = 'admin-secret') =>
  fetch(`${started.baseUrl}/_sandbox${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

it('the admin API needs its token, plays a rep and an admin, and the REST API sees the result', async () => {
  expect((await admin('GET', '/counts', undefined, 'wrong')).status).toBe(401);
  const session = (await (await admin('POST', '/sessions')).json()) as { accessToken: string; instanceUrl: string; portal: string };
  expect(session.instanceUrl).toBe(started.baseUrl);
  expect(session.portal).toBe(`salesforce:${started.sandbox.orgId}`);
  const created = (await (await admin('POST', '/objects/Contact', { fields: { LastName: 'Doe', Email: 'd@example.com' } })).json()) as { Id: string; SystemModstamp: string };
  expect(created.SystemModstamp).toBe('2026-01-05T09:00:00.000+0000');
  expect((await admin('POST', '/objects/Contact', { fields: { Nope: 1 } })).status).toBe(400);
  expect((await admin('POST', '/clock', { advanceMs: 60_000 })).status).toBe(200);
  const patched = (await (await admin('PATCH', `/objects/Contact/${created.Id}`, { fields: { FirstName: 'Jane' } })).json()) as { SystemModstamp: string };
  expect(patched.SystemModstamp).toBe('2026-01-05T09:01:00.000+0000');
  expect((await admin('DELETE', `/objects/Contact/${created.Id}`)).status).toBe(204);
  const q = await fetch(`${started.baseUrl}/services/data/v62.0/queryAll?q=${encodeURIComponent('SELECT Id, FirstName, IsDeleted FROM Contact')}`, {
    headers: { authorization: `Bearer ${session.accessToken}` },
  });
  expect(((await q.json()) as { records: unknown[] }).records).toEqual([expect.objectContaining({ Id: created.Id, FirstName: 'Jane', IsDeleted: true })]);
  const gen = (await (await admin('POST', '/generate', { seed: 3, contacts: 12 })).json()) as { contacts: number };
  expect(gen.contacts).toBe(12);
  expect((await admin('POST', '/faults', { requestLimit: 1 })).status).toBe(204);
  const limited = await fetch(`${started.baseUrl}/services/data/v62.0/limits`, { headers: { authorization: `Bearer ${session.accessToken}` } });
  expect(limited.status).toBe(403);
  expect((await admin('POST', '/faults', { requestLimit: 2 })).status).toBe(400);
  expect((await admin('POST', '/sessions/revoke')).status).toBe(204);
  const revoked = await fetch(`${started.baseUrl}/services/data/v62.0/limits`, { headers: { authorization: `Bearer ${session.accessToken}` } });
  expect(revoked.status).toBe(401);
});
