import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createClock } from '../../../src/sandbox/hubspot/clock.ts';
import { createHubspotSandbox, type HubspotSandbox, type SandboxChange } from '../../../src/sandbox/hubspot/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { objects, servedSandbox, T0 } from './hubspot-fixtures.ts';

const open: HubspotSandbox[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  for (const c of cleanups.splice(0)) c();
});
function sandbox(opts: Parameters<typeof createHubspotSandbox>[0] = {}) {
  const s = createHubspotSandbox({ limits: false, ...opts });
  open.push(s);
  return s;
}

describe('HubSpot sandbox storage (SandboxData)', () => {
  it('create / update / archive stamp the sandbox clock and emit change events', () => {
    const clock = createClock({ frozenAt: T0 });
    const s = sandbox({ clock });
    const hub = s.portals.create().hubId;
    const events: SandboxChange[] = [];
    const stop = s.data.onChange((e) => events.push(e));
    const c = s.data.create(hub, 'contacts', { email: 'a@x.io', firstname: 'A' });
    expect(c).toMatchObject({ type: 'contacts', createdAt: T0, updatedAt: T0, archived: false });
    expect(c.properties).toMatchObject({ email: 'a@x.io', hs_object_id: c.id, createdate: new Date(T0).toISOString(), lastmodifieddate: new Date(T0).toISOString() });
    clock.advance(5_000);
    const u = s.data.update(hub, 'contacts', c.id, { firstname: 'B', email: 'a@x.io', lastname: 'L' });
    expect(u.updatedAt).toBe(T0 + 5_000);
    expect(u.properties.lastmodifieddate).toBe(new Date(T0 + 5_000).toISOString());
    clock.advance(5_000);
    s.data.archive(hub, 'contacts', c.id);
    expect(events.map((e) => [e.kind, e.propertyName ?? null, e.propertyValue ?? null, e.source, e.at])).toEqual([
      ['creation', null, null, 'admin', T0],
      ['propertyChange', 'firstname', 'B', 'admin', T0 + 5_000],
      ['propertyChange', 'lastname', 'L', 'admin', T0 + 5_000],
      ['deletion', null, null, 'admin', T0 + 10_000],
    ]);
    expect(s.data.count(hub, 'contacts')).toBe(0);
    expect(s.data.count(hub, 'contacts', { archived: true })).toBe(1);
    expect(s.data.get(hub, 'contacts', c.id)?.archived).toBe(true);
    stop();
    s.data.create(hub, 'contacts', {});
    expect(events).toHaveLength(4);
    expect(() => s.data.update(hub, 'contacts', '424242', { email: 'x' })).toThrow(/no contacts with id 424242/);
  });

  it('stores associations both ways without bumping last-modified (HubSpot quirk), and dissociates', () => {
    const clock = createClock({ frozenAt: T0 });
    const s = sandbox({ clock });
    const hub = s.portals.create().hubId;
    const contact = s.data.create(hub, 'contacts', {});
    const ticket = s.data.create(hub, 'tickets', { subject: 'x' });
    clock.advance(60_000);
    s.data.associate(hub, 'tickets', ticket.id, 'contacts', contact.id);
    expect(s.data.associationsOf(hub, 'contacts', contact.id, 'tickets')).toEqual([ticket.id]);
    expect(s.data.associationsOf(hub, 'tickets', ticket.id, 'contacts')).toEqual([contact.id]);
    expect(s.data.get(hub, 'contacts', contact.id)?.updatedAt).toBe(T0);
    expect(s.data.get(hub, 'tickets', ticket.id)?.updatedAt).toBe(T0);
    s.data.dissociate(hub, 'contacts', contact.id, 'tickets', ticket.id);
    expect(s.data.associationsOf(hub, 'tickets', ticket.id, 'contacts')).toEqual([]);
    expect(() => s.data.associate(hub, 'contacts', contact.id, 'tickets', '999')).toThrow(/no tickets with id 999/);
  });

  it('loads generator batches (no events), keeps portals apart, iterates in id order, and refuses non-numeric ids', () => {
    const s = sandbox();
    const a = s.portals.create().hubId;
    const b = s.portals.create().hubId;
    const events: SandboxChange[] = [];
    s.data.onChange((e) => events.push(e));
    s.data.load(a, {
      objects: [...objects('contacts', 1200, 1, (i) => ({ email: `c${i}@x.io` })), ...objects('companies', 2, 5000)],
      associations: [{ fromType: 'contacts', fromId: '1', toType: 'companies', toId: '5000', typeId: 1 }],
      truth: [],
    });
    expect(events).toEqual([]);
    expect(s.data.count(a, 'contacts')).toBe(1200);
    expect(s.data.count(b, 'contacts')).toBe(0);
    const ids = [...s.data.iterate(a, 'contacts')].map((o) => Number(o.id));
    expect(ids).toEqual(Array.from({ length: 1200 }, (_, i) => i + 1));
    // a primary association also lists the unlabeled one, in both directions
    expect(s.data.associationsOf(a, 'companies', '5000', 'contacts')).toEqual(['1']);
    expect(() => s.data.load(a, { objects: [{ ...objects('contacts', 1)[0]!, id: 'abc' }], associations: [], truth: [] })).toThrow(/numeric/);
    // new ids never collide with loaded ones
    expect(Number(s.data.create(a, 'contacts', {}).id)).toBeGreaterThan(1200);
  });

  it('keeps its records in its own SQLite file when given a path', async () => {
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const dbPath = join(dir.path, 'sandbox.db');
    const first = createHubspotSandbox({ dbPath });
    const hub = 12345678;
    const c = first.data.create(hub, 'contacts', { email: 'kept@x.io' });
    await first.close();
    const second = sandbox({ dbPath });
    expect(second.data.get(hub, 'contacts', c.id)?.properties.email).toBe('kept@x.io');
  });
});

describe('HubSpot sandbox: scopes, lanes and per-item validation', () => {
  it('answers 403 MISSING_SCOPES when the token lacks the object’s scope', async () => {
    const s = await servedSandbox();
    try {
      const { token } = s.sandbox.portals.create({ privateAppToken: 'pat-narrow', scopes: ['crm.objects.contacts.read'] });
      const headers = { authorization: `Bearer ${token}` };
      expect((await fetch(`${s.baseUrl}/crm/v3/objects/contacts`, { headers })).status).toBe(200);
      const deals = await fetch(`${s.baseUrl}/crm/v3/objects/deals`, { headers });
      expect(deals.status).toBe(403);
      expect(await deals.json()).toMatchObject({ category: 'MISSING_SCOPES', errors: [{ context: { requiredScopes: ['crm.objects.deals.read'] } }] });
    } finally {
      await s.close();
    }
  });

  it('search calls do not count against the ten-secondly window, and limits can be switched at runtime', async () => {
    const clock = createClock({ frozenAt: T0 });
    const s = await servedSandbox({ clock, limits: { per10s: 1, searchPerSecond: 3 } });
    try {
      expect((await s.call('GET', '/crm/v3/objects/contacts')).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await s.call('POST', '/crm/v3/objects/contacts/search', {})).status).toBe(200);
      expect((await s.call('POST', '/crm/v3/objects/contacts/search', {})).status).toBe(429);
      expect((await s.call('GET', '/crm/v3/objects/contacts')).status).toBe(429);
      clock.advance(10_000);
      expect((await s.call('GET', '/crm/v3/objects/contacts')).status).toBe(200);
      s.sandbox.setLimits(false);
      for (let i = 0; i < 5; i++) expect((await s.call('GET', '/crm/v3/objects/contacts')).status).toBe(200);
      expect(s.sandbox.stats(s.hubId)).toMatchObject({ rateLimited: 2, byRoute: { 'GET /crm/v3/objects/contacts': 8, 'POST /crm/v3/objects/contacts/search': 4 } });
    } finally {
      await s.close();
    }
  });

  it('with objectWriteTraceId a bad value is reported per input in a 207 and the valid inputs apply', async () => {
    const s = await servedSandbox();
    try {
      const a = s.sandbox.data.create(s.hubId, 'tickets', { subject: 'a' });
      const b = s.sandbox.data.create(s.hubId, 'tickets', { subject: 'b' });
      const res = await s.call('POST', '/crm/v3/objects/tickets/batch/update', {
        inputs: [
          { id: a.id, properties: { hs_ticket_priority: 'HIGH' }, objectWriteTraceId: 't1' },
          { id: b.id, properties: { hs_ticket_priority: 'SOMEDAY' }, objectWriteTraceId: 't2' },
        ],
      });
      expect(res.status).toBe(207);
      const body = (await res.json()) as { results: Array<{ id: string }>; errors: Array<{ category: string; message: string; context: Record<string, string[]> }> };
      expect(body.results.map((r) => r.id)).toEqual([a.id]);
      expect(body.errors).toEqual([expect.objectContaining({ category: 'VALIDATION_ERROR', context: { objectWriteTraceId: ['t2'] }, message: expect.stringContaining('INVALID_OPTION') })]);
      expect(s.sandbox.data.get(s.hubId, 'tickets', a.id)?.properties.hs_ticket_priority).toBe('HIGH');
      expect(s.sandbox.data.get(s.hubId, 'tickets', b.id)?.properties.hs_ticket_priority).toBeUndefined();
    } finally {
      await s.close();
    }
  });
});
