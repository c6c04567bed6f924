import { afterEach, describe, expect, it } from 'vitest';
import type { Cursor } from '../../src/connectors/types.ts';
import { hubspotHarness, type HubspotHarness } from './hubspot-harness.ts';

/**
 * Progress bars show records read / `total`. A search's `total` counts only what matches from the
 * current bookmark on, so reported as-is it shrank page after page while the records read grew
 * (the demo showed "5897/97"). The total a page carries is for the whole call.
 */
let h: HubspotHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('hubspot connector: progress totals', () => {
  it('an incremental pass over several search pages reports a total that never falls below the records read', async () => {
    h = await hubspotHarness();
    for (let i = 0; i < 5; i++) await h.createContact({ email: `before${i}@example.com` });
    let cursor: Cursor | null = null;
    for await (const p of h.connector.changes('contacts', null, new AbortController().signal)) cursor = p.next;
    await h.advance(3_600_000);
    // 45 changes at distinct times: three search pages of 20 (the harness lists 10 per page)
    for (let i = 0; i < 45; i++) {
      await h.createContact({ email: `after${i}@example.com` });
      await h.advance(1000);
    }
    await h.advance(3_600_000);
    const seen: { read: number; total: number | undefined }[] = [];
    let read = 0;
    for await (const p of h.connector.changes('contacts', cursor, new AbortController().signal)) {
      read += p.records.length;
      seen.push({ read, total: p.total });
    }
    const withTotal = seen.filter((s) => s.total !== undefined);
    expect(withTotal.length).toBeGreaterThanOrEqual(3);
    for (const s of withTotal) expect(s.total).toBeGreaterThanOrEqual(s.read);
    expect(withTotal.at(-1)?.total).toBe(withTotal.at(-1)?.read);
    expect(read).toBeGreaterThanOrEqual(45);
  });
});
