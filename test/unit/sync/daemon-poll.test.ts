import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createFakeConnector } from '../../../src/connectors/fake.ts';
import { silentLogger } from '../../../src/log.ts';
import { createStore, type Store } from '../../../src/store/index.ts';
import { createDaemon } from '../../../src/sync/daemon.ts';
import { tempDir } from '../../support/temp-dir.ts';

let store: Store | undefined;
const dir = tempDir();
afterEach(async () => {
  await store?.close();
  dir.cleanup();
});

/**
 * While a portal's change notifications run (e.g. Salesforce CDC), the daemon's periodic pass
 * over every stream comes at the stream's own, slower pace; when they stop it is back to every interval.
 */
it('polls a portal with live change notifications only every pollEveryMs, the others every interval', async () => {
  store = createStore({ path: join(dir.path, 'r.db') });
  let t = 0;
  const fast = createFakeConnector({ portal: 'fake:fast', now: () => t });
  const slow = createFakeConnector({ portal: 'fake:slow', now: () => t });
  let live = true;
  const daemon = createDaemon({ store, logger: silentLogger, now: () => t, intervalMs: 40, score: async () => ({ scored: 0, enqueued: 0 }) });
  daemon.addPortal({ portal: 'fake:fast', connector: fast });
  daemon.addPortal({ portal: 'fake:slow', connector: slow, pollEveryMs: () => (live ? 400 : undefined) });
  const passes = (c: typeof fast) => c.requests.filter((r) => r.op === 'changes' && r.type === 'contacts').length;
  daemon.start();
  // the daemon's clock moves 40 ms per real 40 ms tick; run ~10 ticks
  const timer = setInterval(() => (t += 10), 10);
  try {
    await new Promise((r) => setTimeout(r, 420));
    await daemon.idle();
    const [f, s] = [passes(fast), passes(slow)];
    expect(f).toBeGreaterThanOrEqual(4);
    // the first tick, then at most one more in ~400 ms of daemon time
    expect(s).toBeGreaterThanOrEqual(1);
    expect(s).toBeLessThanOrEqual(2);
    // the subscription drops: back to every interval
    live = false;
    await new Promise((r) => setTimeout(r, 250));
    await daemon.idle();
    expect(passes(slow) - s).toBeGreaterThanOrEqual(2);
  } finally {
    clearInterval(timer);
    await daemon.stop();
  }
});
