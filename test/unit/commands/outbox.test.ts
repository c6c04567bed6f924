import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createStore } from '../../../src/store/index.ts';
import { rapportInProcess } from '../../support/cli.ts';
import { tempDir } from '../../support/temp-dir.ts';

let dir: ReturnType<typeof tempDir>;
afterEach(() => dir.cleanup());

/** Two portals: hubspot:1 with two parked writes and one pending, hubspot:2 with one parked. */
async function seeded(): Promise<string> {
  dir = tempDir();
  const path = join(dir.path, 'r.db');
  const store = createStore({ path });
  const park = async (portal: string, contactId: string) => {
    await store.outbox.enqueue(portal, contactId, { health: 'red' });
    await store.outbox.settle(portal, { written: [], failed: [{ item: { contactId, properties: { health: 'red' }, attempts: 0 }, error: 'invalid_request PROPERTY_DOESNT_EXIST: …', retryable: false }] }, { maxAttempts: 5 });
  };
  for (const portal of ['hubspot:1', 'hubspot:2']) {
    await store.portals.upsert({ portal, crm: 'hubspot', externalId: portal.slice(8), baseUrl: 'https://api.hubapi.com', scopes: [] });
  }
  await park('hubspot:1', 'a');
  await park('hubspot:1', 'b');
  await store.outbox.enqueue('hubspot:1', 'c', { health: 'green' });
  await park('hubspot:2', 'z');
  await store.close();
  return path;
}

describe('rapport outbox retry', () => {
  it('re-queues the parked writes of one portal, keeping their values and the other portal untouched', async () => {
    const db = await seeded();
    const r = await rapportInProcess(['outbox', 'retry', '--portal', 'hubspot:1'], { RAPPORT_DB: db });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hubspot:1: 2 parked writes re-queued; 3 pending, sent by the next `rapport sync --once` or the running `rapport serve`\n');
    const store = createStore({ path: db });
    try {
      expect(await store.outbox.stats('hubspot:1')).toEqual({ pending: 3, parked: 0 });
      expect((await store.outbox.due('hubspot:1', 10)).map((i) => [i.contactId, i.properties, i.attempts])).toEqual([
        ['a', { health: 'red' }, 0],
        ['b', { health: 'red' }, 0],
        ['c', { health: 'green' }, 0],
      ]);
      expect(await store.outbox.stats('hubspot:2')).toEqual({ pending: 0, parked: 1 });
    } finally {
      await store.close();
    }
    // every portal by default; --json; nothing left to re-queue is not an error
    const all = await rapportInProcess(['outbox', 'retry', '--json'], { RAPPORT_DB: db });
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual([
      { portal: 'hubspot:1', requeued: 0, pending: 3 },
      { portal: 'hubspot:2', requeued: 1, pending: 1 },
    ]);
  });

  it('refuses usage errors with exit 2 and an unknown portal with exit 1, changing nothing', async () => {
    const db = await seeded();
    const cases: [string[], number, RegExp][] = [
      [['outbox'], 2, /Usage: rapport outbox retry/],
      [['outbox', 'flush'], 2, /unknown subcommand "flush" \(expected retry\)/],
      [['outbox', 'retry', '--bogus'], 2, /Unknown option '--bogus'/],
      [['outbox', 'retry', '--portal', 'hubspot:9'], 1, /^rapport outbox retry: unknown portal hubspot:9 \(installed: hubspot:1, hubspot:2\)\n$/],
    ];
    for (const [args, code, message] of cases) {
      const r = await rapportInProcess(args, { RAPPORT_DB: db });
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr + r.stdout, args.join(' ')).toMatch(message);
    }
    const store = createStore({ path: db });
    expect(await store.outbox.stats('hubspot:1')).toEqual({ pending: 1, parked: 2 });
    await store.close();
    const help = await rapportInProcess(['outbox', 'retry', '--help'], { RAPPORT_DB: db });
    expect(help.code).toBe(0);
  });
});
