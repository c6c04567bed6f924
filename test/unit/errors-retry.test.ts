import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFakeConnector } from '../../src/connectors/fake.ts';
import { withRetry } from '../../src/connectors/limiter.ts';
import type { CrmConnector } from '../../src/connectors/types.ts';
import { asCrmError, CrmError, isTransient, retryDecision, type CrmErrorKind, type RetryPolicy } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { createStore, type Store } from '../../src/store/index.ts';
import { syncStream } from '../../src/sync/sync-stream.ts';
import { drainOutbox } from '../../src/sync/write-back.ts';
import { tempDir } from '../support/temp-dir.ts';

const policy: RetryPolicy = { retries: 3, baseMs: 100, maxMs: 1_000, random: () => 0.5 };
const err = (kind: CrmErrorKind, details: Partial<CrmError['details']> = {}) => new CrmError(kind, kind, { crm: 'x', ...details });

describe('retryDecision: the one decision withRetry and the outbox both use', () => {
  it.each([
    ['auth', {}, 0, { action: 'hold' }],
    ['forbidden', {}, 0, { action: 'hold' }],
    ['internal', {}, 0, { action: 'hold' }],
    ['invalid_request', {}, 0, { action: 'give_up', transient: false }],
    ['bad_response', {}, 0, { action: 'give_up', transient: false }],
    // a daily budget: neither retried in-call nor counted against the record
    ['rate_limited', { policy: 'DAILY', retryAfterMs: 5_000 }, 0, { action: 'hold' }],
    ['rate_limited', { retryAfterMs: 700 }, 0, { action: 'retry', waitMs: 700 }],
    ['rate_limited', { retryAfterMs: 60_000 }, 1, { action: 'retry', waitMs: 1_000 }],
    ['rate_limited', {}, 2, { action: 'retry', waitMs: 400 }],
    ['rate_limited', { retryAfterMs: 700 }, 3, { action: 'give_up', transient: true }],
    ['unavailable', {}, 0, { action: 'retry', waitMs: 50 }],
    ['unavailable', {}, 2, { action: 'retry', waitMs: 200 }],
    ['unavailable', {}, 3, { action: 'give_up', transient: true }],
  ] as const)('%s %j at attempt %i → %j', (kind, details, attempt, expected) => {
    expect(retryDecision(err(kind, details), attempt, policy)).toEqual(expected);
  });

  it('isTransient: a later pass may succeed for 429s, 5xx and the daily budget, never for 4xx, bad bodies or our bugs', () => {
    const transient = (['rate_limited', 'unavailable'] as const).map((k) => isTransient(err(k)));
    const permanent = (['invalid_request', 'bad_response', 'auth', 'forbidden', 'internal'] as const).map((k) => isTransient(err(k)));
    expect(transient).toEqual([true, true]);
    expect(permanent).toEqual([false, false, false, false, false]);
    expect(isTransient(err('rate_limited', { policy: 'DAILY' }))).toBe(true);
  });

  it('withRetry follows it: retries a 429 with its wait, stops at once on a daily budget', async () => {
    const signal = new AbortController().signal;
    const waits: number[] = [];
    let calls = 0;
    const ok = await withRetry(
      async () => {
        if (++calls < 3) throw err('rate_limited', { retryAfterMs: 5 });
        return 'done';
      },
      { ...policy, signal, onRetry: (i) => waits.push(i.waitMs) },
    );
    expect([ok, calls, waits]).toEqual(['done', 3, [5, 5]]);
    calls = 0;
    const daily = withRetry(
      async () => {
        calls++;
        throw err('rate_limited', { policy: 'DAILY', retryAfterMs: 5 });
      },
      { ...policy, signal },
    );
    await expect(daily).rejects.toMatchObject({ kind: 'rate_limited' });
    expect(calls).toBe(1);
  });

  it('asCrmError: a CrmError stays itself, anything else is internal with the original as cause', () => {
    const crm = err('unavailable');
    expect(asCrmError(crm, 'x')).toBe(crm);
    const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
    const wrapped = asCrmError(bug, 'x');
    expect([wrapped.kind, wrapped.details.code, wrapped.cause]).toEqual(['internal', 'INTERNAL', bug]);
    expect(wrapped.message).toContain('TypeError');
  });
});

describe('a bug in our code surfaces as internal, not as a CRM outage', () => {
  const contact = { email: null, emailRaw: null, phone: null, phoneRaw: null, firstName: 'A', lastName: null, createdAt: null, lifecycleStage: null };
  const portal = 'hubspot:1';
  const signal = new AbortController().signal;
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  afterEach(() => {
    store.close();
    dir.cleanup();
  });
  function setup() {
    dir = tempDir();
    store = createStore({ path: join(dir.path, 'r.db') });
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) } });
    return { logger, lines };
  }

  it('sync: the run is recorded as internal and logged with its stack', async () => {
    const { logger, lines } = setup();
    const fake = createFakeConnector({ portal });
    fake.put({ type: 'contacts', id: '1', data: contact });
    const buggy: CrmConnector = {
      ...fake,
      // eslint-disable-next-line require-yield
      async *changes() {
        throw new TypeError("Cannot read properties of undefined (reading 'properties')");
      },
    };
    const r = await syncStream({ store, connector: buggy, portal, logger }, 'contacts', { signal });
    expect(r.status).toBe('failed');
    expect(r.error?.kind).toBe('internal');
    const logged = lines.find((l) => l['msg'] === 'stream failed on an internal error');
    expect(logged?.['stack']).toMatch(/TypeError[^\n]*\n\s+at /);
  });

  it('write-back: the writes stay pending and are not counted as attempts', async () => {
    const { logger, lines } = setup();
    const fake = createFakeConnector({ portal });
    for (let i = 0; i < 3; i++) {
      fake.put({ type: 'contacts', id: `c${i}`, data: contact });
      store.outbox.enqueue(portal, `c${i}`, { satisfaction: '50' });
    }
    const buggy: CrmConnector = {
      ...fake,
      async writeScores() {
        throw new RangeError('Invalid time value');
      },
    };
    const r = await drainOutbox({ store, connector: buggy, portal, logger }, { signal });
    expect(r.error?.kind).toBe('internal');
    expect([r.written, r.retrying, r.parked]).toEqual([0, 0, 0]);
    expect(store.outbox.stats(portal)).toEqual({ pending: 3, parked: 0 });
    expect(store.outbox.due(portal, 10).map((i) => i.attempts)).toEqual([0, 0, 0]);
    expect(lines.some((l) => l['msg'] === 'write-back failed on an internal error; the writes stay pending' && typeof l['stack'] === 'string')).toBe(true);
    // once fixed, the same items go out
    const fixed = await drainOutbox({ store, connector: fake, portal, logger }, { signal });
    expect(fixed.written).toBe(3);
  });
});
