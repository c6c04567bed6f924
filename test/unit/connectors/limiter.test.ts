import { describe, expect, it } from 'vitest';
import { createLimiter, sleep, withRetry } from '../../../src/connectors/limiter.ts';
import { CrmError, type CrmErrorKind } from '../../../src/errors.ts';

const err = (kind: CrmErrorKind, extra: Partial<CrmError['details']> = {}) => new CrmError(kind, kind, { crm: 'hubspot', ...extra });
const signal = () => new AbortController().signal;

describe('createLimiter', () => {
  it('never starts more than `limit` requests in any window (strict sliding window)', async () => {
    const limiter = createLimiter({ default: { limit: 3, intervalMs: 120, concurrency: 10 } });
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 9 }, () => limiter.run('default', async () => void starts.push(performance.now()), signal())));
    starts.sort((a, b) => a - b);
    // the 4th request may start only once the 1st left the window, etc. (a lower bound, not a speed claim)
    for (let i = 3; i < starts.length; i++) expect(starts[i]! - starts[i - 3]!).toBeGreaterThanOrEqual(115);
    expect(limiter.stats().started.default).toBe(9);
  });

  it("counts a request's interval from its answer, since the server counts its arrival, which may come late", async () => {
    const limiter = createLimiter({ default: { limit: 2, intervalMs: 100, concurrency: 10 } });
    const log: { start: number; answer: number }[] = [];
    const request = (ms: number) =>
      limiter.run(
        'default',
        async () => {
          const start = performance.now();
          await new Promise((r) => setTimeout(r, ms));
          log.push({ start, answer: performance.now() });
        },
        signal(),
      );
    // two slow requests take both places; the third waits for an answer, then for its interval
    await Promise.all([request(150), request(150), request(0)]);
    const [a, b, c] = [...log].sort((x, y) => x.start - y.start);
    expect(c!.start - Math.min(a!.answer, b!.answer)).toBeGreaterThanOrEqual(99);
    // counted from the sends with a margin of 100 ms, as before, it started 200 ms after them: while
    // they took longer than the margin to arrive, the server could still count them
    expect(c!.start - a!.start).toBeGreaterThanOrEqual(245);
    expect(limiter.stats()).toMatchObject({ started: { default: 3 }, queued: 0 });
  });

  it('a request waiting for a place can be aborted, and frees nothing it did not take', async () => {
    const limiter = createLimiter({ default: { limit: 1, intervalMs: 60_000 } });
    await limiter.run('default', async () => undefined, signal());
    const ac = new AbortController();
    const waiting = limiter.run('default', async () => 'never', ac.signal);
    await new Promise((r) => setTimeout(r, 20));
    expect(limiter.stats().queued).toBe(1);
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    expect(limiter.stats()).toMatchObject({ started: { default: 1 }, queued: 0 });
  });

  it('a window learned from the server applies to what was already sent: a smaller limit waits, a larger one does not', async () => {
    const limiter = createLimiter({ default: { limit: 3, intervalMs: 150, concurrency: 10 } });
    for (let i = 0; i < 2; i++) await limiter.run('default', async () => undefined, signal());
    limiter.setLane('default', { limit: 2, intervalMs: 150 });
    let t = performance.now();
    await limiter.run('default', async () => undefined, signal());
    expect(performance.now() - t).toBeGreaterThanOrEqual(100); // the two sent leave the window first
    limiter.setLane('default', { limit: 10, intervalMs: 150 });
    t = performance.now();
    await Promise.all([1, 2, 3].map(() => limiter.run('default', async () => undefined, signal())));
    expect(performance.now() - t).toBeLessThan(100);
    expect(limiter.lane('default')).toEqual({ limit: 10, intervalMs: 150, concurrency: 10 });
  });

  it('keeps search on its own lane', async () => {
    const limiter = createLimiter({ default: { limit: 100, intervalMs: 1000 }, search: { limit: 1, intervalMs: 60_000 } });
    await limiter.run('search', async () => 1, signal());
    // the search lane is now full for a minute; the default lane is not affected
    await expect(limiter.run('default', async () => 'ok', signal())).resolves.toBe('ok');
    const ac = new AbortController();
    const waiting = limiter.run('search', async () => 'never', ac.signal);
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
  });

  it('holdOff pauses a lane after a 429', async () => {
    const limiter = createLimiter({ default: { limit: 100, intervalMs: 1000 } });
    limiter.holdOff('default', 80);
    const t = performance.now();
    await limiter.run('default', async () => undefined, signal());
    expect(performance.now() - t).toBeGreaterThanOrEqual(70);
    expect(limiter.stats().pushbacks).toBe(1);
  });
});

describe('withRetry', () => {
  it('retries unavailable with backoff, then succeeds', async () => {
    let calls = 0;
    const waits: number[] = [];
    const out = await withRetry(
      async () => {
        if (++calls < 3) throw err('unavailable', { status: 503 });
        return 'done';
      },
      { retries: 5, baseMs: 4, signal: signal(), onRetry: (i) => waits.push(i.waitMs), random: () => 1 },
    );
    expect(out).toBe('done');
    expect(calls).toBe(3);
    expect(waits).toEqual([4, 8]); // exponential (jitter pinned to its maximum)
  });

  it('never retries 4xx-class errors', async () => {
    for (const kind of ['invalid_request', 'auth', 'forbidden', 'bad_response'] as const) {
      let calls = 0;
      await expect(
        withRetry(
          async () => {
            calls++;
            throw err(kind);
          },
          { retries: 5, baseMs: 1, signal: signal() },
        ),
      ).rejects.toMatchObject({ kind });
      expect(calls).toBe(1);
    }
  });

  it('waits what a 429 says, and surfaces rate_limited when retries run out', async () => {
    let calls = 0;
    const waits: number[] = [];
    await expect(
      withRetry(
        async () => {
          calls++;
          throw err('rate_limited', { status: 429, retryAfterMs: 7, policy: 'SECONDLY' });
        },
        { retries: 2, baseMs: 1, signal: signal(), onRetry: (i) => waits.push(i.waitMs) },
      ),
    ).rejects.toMatchObject({ kind: 'rate_limited' });
    expect(calls).toBe(3);
    expect(waits).toEqual([7, 7]);
  });

  it('does not retry a DAILY limit (it will not clear for hours)', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw err('rate_limited', { policy: 'DAILY' });
        },
        { retries: 5, baseMs: 1, signal: signal() },
      ),
    ).rejects.toMatchObject({ kind: 'rate_limited' });
    expect(calls).toBe(1);
  });

  it('caps every wait at maxMs: a minute-long Retry-After and a long backoff both wait maxMs', async () => {
    const waits: Array<{ kind: string; waitMs: number }> = [];
    let calls = 0;
    const started = performance.now();
    const result = await withRetry(
      async (attempt) => {
        calls += 1;
        // two 429s asking for a minute, then two 5xx whose backoff (baseMs · 2^attempt) is far past the cap
        if (attempt < 2) throw err('rate_limited', { retryAfterMs: 60_000 });
        if (attempt < 4) throw err('unavailable');
        return 'done';
      },
      { retries: 5, baseMs: 10_000, maxMs: 20, random: () => 1, signal: signal(), onRetry: ({ waitMs, error }) => waits.push({ kind: error.kind, waitMs }) },
    );
    expect(result).toBe('done');
    expect(calls).toBe(5);
    expect(waits).toEqual([
      { kind: 'rate_limited', waitMs: 20 },
      { kind: 'rate_limited', waitMs: 20 },
      { kind: 'unavailable', waitMs: 20 },
      { kind: 'unavailable', waitMs: 20 },
    ]);
    // the waits really were the capped ones, not the minute asked for
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('stops at once when aborted during a wait', async () => {
    const ac = new AbortController();
    const p = withRetry(
      async () => {
        throw err('rate_limited', { retryAfterMs: 60_000 });
      },
      { retries: 5, maxMs: 50_000, signal: ac.signal },
    );
    setTimeout(() => ac.abort(new Error('shutdown')), 10);
    await expect(p).rejects.toThrow('shutdown');
  });

  it('passes non-CrmErrors straight through', async () => {
    await expect(withRetry(async () => Promise.reject(new TypeError('bug')), { signal: signal() })).rejects.toThrow(TypeError);
  });

  it('sleep is abortable', async () => {
    const ac = new AbortController();
    const p = sleep(10_000, ac.signal);
    ac.abort(new Error('bye'));
    await expect(p).rejects.toThrow('bye');
  });
});
