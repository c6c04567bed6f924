import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClock } from '../../../src/sandbox/hubspot/clock.ts';
import { startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { subscribe } from '../../support/cometd.ts';

/**
 * The emulated org's Change Data Capture (src/sandbox/salesforce/cdc.ts, cometd.ts), through
 * jsforce's own streaming client (faye, long-polling, replay extension) over HTTP: the shapes
 * and rules a subscriber meets on a real org, each cited in those files.
 */
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
let started: Awaited<ReturnType<typeof startSalesforceSandbox>>;
let token: string;
const subs: ReturnType<typeof subscribe>[] = [];
beforeEach(async () => {
  started = await startSalesforceSandbox({ clock: createClock({ frozenAt: T0 }), adminToken: 'admin-secret', cdc: { holdMs: 2_000 } });
  token = started.sandbox.sessions.issue().accessToken;
});
afterEach(async () => {
  await Promise.all(subs.splice(0).map((s) => s.close()));
  await started.close();
});

const admin = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${started.baseUrl}/_sandbox${path}`, {
    method,
    headers: { authorization: 'Bearer admin-secret', 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: res.status === 204 ? undefined : ((await res.json()) as Record<string, unknown>) };
};
const listen = async (channel: string, replayId: number, opts: { token?: string; version?: string } = {}) => {
  const s = subscribe(started.baseUrl, opts.token ?? token, channel, replayId, opts.version);
  subs.push(s);
  return s;
};

describe('Change Data Capture on the emulated org', () => {
  it('publishes CREATE, UPDATE and DELETE with the documented header and body; an API call names its client in changeOrigin', async () => {
    const all = await listen('/data/ChangeEvents', -1);
    const contacts = await listen('/data/ContactChangeEvent', -1);
    await Promise.all([all.subscribed, contacts.subscribed]);

    const created = (await admin('POST', '/objects/Contact', { fields: { LastName: 'Doe', Email: 'd@example.com' } })).body as { Id: string };
    await admin('POST', '/objects/Account', { fields: { Name: 'Acme' } });
    await admin('PATCH', `/objects/Contact/${created.Id}`, { fields: { FirstName: 'Jane' } });
    // Rapport's write-back: the REST composite call with Sforce-Call-Options
    const written = await fetch(`${started.baseUrl}/services/data/v62.0/composite/sobjects`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'sforce-call-options': 'client=rapport' },
      body: JSON.stringify({ allOrNone: false, records: [{ attributes: { type: 'Contact' }, id: created.Id, Rapport_Health__c: 'green' }] }),
    });
    expect(written.status).toBe(200);
    await admin('DELETE', `/objects/Contact/${created.Id}`);

    const events = await all.waitFor(5);
    expect(events.map((e) => [e.payload.ChangeEventHeader.entityName, e.payload.ChangeEventHeader.changeType])).toEqual([
      ['Contact', 'CREATE'],
      ['Account', 'CREATE'],
      ['Contact', 'UPDATE'],
      ['Contact', 'UPDATE'],
      ['Contact', 'DELETE'],
    ]);
    // replay ids increase
    const ids = events.map((e) => e.event.replayId);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(5);
    const [create, , update, ours, del] = events;
    expect(create!.payload.ChangeEventHeader).toMatchObject({ recordIds: [created.Id], changeOrigin: '', sequenceNumber: 1, commitTimestamp: T0, changedFields: [] });
    expect(typeof create!.payload.ChangeEventHeader.transactionKey).toBe('string');
    expect(create!.payload).toMatchObject({ LastName: 'Doe', Email: 'd@example.com', CreatedDate: '2026-01-05T09:00:00.000Z' });
    // never IsDeleted or SystemModstamp in the body
    expect(create!.payload).not.toHaveProperty('SystemModstamp');
    expect(create!.payload).not.toHaveProperty('IsDeleted');
    // an UPDATE carries only what changed, and LastModifiedDate
    expect(update!.payload.ChangeEventHeader.changedFields).toEqual(['FirstName', 'LastModifiedDate']);
    expect(Object.keys(update!.payload).sort()).toEqual(['ChangeEventHeader', 'FirstName', 'LastModifiedDate']);
    expect(ours!.payload.ChangeEventHeader.changeOrigin).toBe('com/salesforce/api/rest/62.0;client=rapport');
    expect(ours!.payload.Rapport_Health__c).toBe('green');
    expect(Object.keys(del!.payload)).toEqual(['ChangeEventHeader']);

    // the entity channel carries only its entity, with the same replay ids
    const onContact = await contacts.waitFor(4);
    expect(onContact.map((e) => e.payload.ChangeEventHeader.entityName)).toEqual(['Contact', 'Contact', 'Contact', 'Contact']);
    expect(onContact.map((e) => e.event.replayId)).toEqual(ids.filter((_, i) => i !== 1));
  });

  it('replays from -2 (all retained), a given replay id, and refuses an id it does not hold; events go after 72 hours', async () => {
    for (const name of ['A', 'B', 'C']) await admin('POST', '/objects/Account', { fields: { Name: name } });
    const everything = await listen('/data/ChangeEvents', -2);
    await everything.subscribed;
    expect((await everything.waitFor(3)).map((e) => e.payload.Name)).toEqual(['A', 'B', 'C']);
    const first = everything.messages[0]!.event.replayId;

    const after = await listen('/data/AccountChangeEvent', first);
    await after.subscribed;
    expect((await after.waitFor(2)).map((e) => e.payload.Name)).toEqual(['B', 'C']);

    // -1: only what comes next
    const fresh = await listen('/data/ChangeEvents', -1);
    await fresh.subscribed;
    await admin('POST', '/objects/Account', { fields: { Name: 'D' } });
    expect((await fresh.waitFor(1)).map((e) => e.payload.Name)).toEqual(['D']);

    const ahead = await listen('/data/ChangeEvents', first + 1000);
    await expect(ahead.subscribed).rejects.toMatchObject({ message: expect.stringMatching(/The replayId \{\d+\} you provided was invalid/) });

    // three days later the first events are gone: replaying from before them is refused, -2 starts later
    await admin('POST', '/clock', { advanceMs: 72 * 3_600_000 + 1_000 });
    await admin('POST', '/objects/Account', { fields: { Name: 'E' } });
    // (the session timed out meanwhile)
    token = started.sandbox.sessions.issue().accessToken;
    const tooOld = await listen('/data/ChangeEvents', first);
    await expect(tooOld.subscribed).rejects.toMatchObject({ message: expect.stringMatching(/replayId/) });
    const retained = await listen('/data/ChangeEvents', -2);
    await retained.subscribed;
    expect((await retained.waitFor(1)).map((e) => e.payload.Name)).toEqual(['E']);
  });

  it('the admin switch turns writes into gap events (ids, no fields) and publishes overflow events (no ids)', async () => {
    const all = await listen('/data/ChangeEvents', -1);
    await all.subscribed;
    const acct = (await admin('POST', '/objects/Account', { fields: { Name: 'Acme' } })).body as { Id: string };
    expect((await admin('POST', '/cdc', { gapMode: true })).status).toBe(200);
    await admin('PATCH', `/objects/Account/${acct.Id}`, { fields: { Name: 'Acme 2' } });
    await admin('POST', '/objects/Case', { fields: { Subject: 'Broken' } });
    const overflow = await admin('POST', '/cdc', { gapMode: false, overflow: 'Task' });
    expect(overflow.body).toMatchObject({ overflowReplayId: expect.any(Number) });
    expect((await admin('POST', '/cdc', { overflow: 'NoSuchObject' })).status).toBe(400);

    const events = await all.waitFor(4);
    const headers = events.map((e) => e.payload.ChangeEventHeader);
    expect(headers.map((h) => [h.entityName, h.changeType])).toEqual([
      ['Account', 'CREATE'],
      ['Account', 'GAP_UPDATE'],
      ['Case', 'GAP_CREATE'],
      ['Task', 'GAP_OVERFLOW'],
    ]);
    expect(headers[1]!.recordIds).toEqual([acct.Id]);
    expect(Object.keys(events[1]!.payload)).toEqual(['ChangeEventHeader']);
    expect(headers[3]!.recordIds).toEqual([]);
  });

  it('only entities selected in Setup publish', async () => {
    const all = await listen('/data/ChangeEvents', -1);
    await all.subscribed;
    expect((await admin('POST', '/cdc', { entities: ['Contact'] })).body).toMatchObject({ selected: ['Contact'] });
    await admin('POST', '/objects/Account', { fields: { Name: 'not selected' } });
    await admin('POST', '/objects/Contact', { fields: { LastName: 'selected' } });
    const [only] = await all.waitFor(1);
    expect(only!.payload.ChangeEventHeader.entityName).toBe('Contact');
    await new Promise((r) => setTimeout(r, 100));
    expect(all.messages).toHaveLength(1);
  });

  it('refuses a bad session at handshake as Salesforce does, unknown channels, and CDC below API 44.0', async () => {
    const denied = await listen('/data/ChangeEvents', -1, { token: 'not-a-session' });
    for (let i = 0; i < 100 && denied.failure() === undefined; i++) await new Promise((r) => setTimeout(r, 20));
    expect(denied.failure()).toMatchObject({ channel: '/meta/handshake', successful: false, error: '403::Handshake denied', advice: { reconnect: 'none' }, ext: { sfdc: { failureReason: '401::Authentication invalid' } } });

    const unknown = await listen('/data/NoSuchThingChangeEvent', -1);
    await expect(unknown.subscribed).rejects.toMatchObject({ message: expect.stringMatching(/does not exist/) });
    const old = await listen('/data/ContactChangeEvent', -1, { version: '43.0' });
    await expect(old.subscribed).rejects.toMatchObject({ message: expect.stringMatching(/does not exist/) });
  });

  it('keeps at most maxEvents (stricter than the 72 h of a real org): a replay id from before the cut is refused', async () => {
    const small = await startSalesforceSandbox({ cdc: { holdMs: 1_000, maxEvents: 10 } });
    try {
      for (let i = 0; i < 25; i++) small.sandbox.data.create('Account', { Name: `A${i}` });
      expect(small.sandbox.cdc.size()).toBeLessThanOrEqual(10);
      const t = small.sandbox.sessions.issue().accessToken;
      const old = subscribe(small.baseUrl, t, '/data/ChangeEvents', 1);
      subs.push(old);
      await expect(old.subscribed).rejects.toMatchObject({ message: expect.stringMatching(/replayId/) });
      const all = subscribe(small.baseUrl, t, '/data/ChangeEvents', -2);
      subs.push(all);
      await all.subscribed;
      const got = await all.waitFor(small.sandbox.cdc.size());
      expect(got.at(-1)?.payload.Name).toBe('A24');
    } finally {
      await Promise.all(subs.splice(0).map((s) => s.close()));
      await small.close();
    }
  });
});
