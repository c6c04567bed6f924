/**
 * Issue 15 item 14, the card's half: when the backend answers "Rescore now" with the cached
 * scores and `rescore: "running"`, the card keeps the button busy and re-reads until the new
 * scores arrive (or says it failed), instead of holding one request open past HubSpot's 15 s.
 */
import { describe, expect, it } from 'vitest';
import { Alert, createElement, createRenderer, LoadingButton, Text } from '../../../ui-extension/hubspot/src/app/cards/test-kit.ts';
import { ScoreCard, type CardFetch } from '../../../ui-extension/hubspot/src/app/cards/ScoreCard.tsx';
import type { ScoredCard } from '../../../ui-extension/hubspot/src/app/cards/card-contract.ts';

const BACKEND = 'https://rapport.example.com';
const scored = (over: Partial<ScoredCard> = {}): ScoredCard => ({
  state: 'scored',
  contactId: '123',
  scores: {
    satisfaction: { value: 72, band: 'green', confidence: 0.8, change30d: null },
    loyalty: { value: 41, band: 'yellow', confidence: 0.6, change30d: null },
    churnRisk: { value: 63, band: 'red', confidence: 0.7, change30d: null },
    serviceNeed: { value: 20, band: 'green', confidence: 0.5, change30d: null },
  },
  band: 'yellow',
  confidence: 0.66,
  reasons: [],
  scoredAt: '2026-11-20T08:15:00.000Z',
  modelVersion: 'm1',
  ...over,
});

function scripted(...bodies: unknown[]) {
  const calls: string[] = [];
  const fetch: CardFetch = async (url, options) => {
    calls.push(`${options.method} ${url}`);
    const body = bodies.shift();
    if (body === undefined) throw new Error('unexpected call');
    return { ok: true, status: 200, json: async () => body };
  };
  return { fetch, calls };
}

const render = (fetch: CardFetch) => {
  const r = createRenderer('crm.record.tab');
  r.render(createElement(ScoreCard, { contactId: '123', portalId: 62515, backendUrl: BACKEND, fetch, pollMs: 5 }));
  return r;
};

describe('"Rescore now" while the backend is still rescoring', () => {
  it('polls the card API until the rescore is done, then shows the new scores', async () => {
    const { fetch, calls } = scripted(scored(), scored({ rescore: 'running' }), scored({ rescore: 'running' }), scored({ scoredAt: '2026-11-23T10:00:00.000Z' }));
    const r = render(fetch);
    await r.waitFor(() => expect(r.findByTestId(Text, 'scored-at').text).toBe('2026-11-20 08:15:00 UTC'));
    r.findByTestId(LoadingButton, 'rescore').trigger('onClick');
    await r.waitFor(() => expect(r.findByTestId(Text, 'scored-at').text).toBe('2026-11-23 10:00:00 UTC'));
    expect(calls).toEqual([
      `GET ${BACKEND}/api/cards/contacts/123?portalId=62515`,
      `POST ${BACKEND}/api/cards/contacts/123/rescore?portalId=62515`,
      `GET ${BACKEND}/api/cards/contacts/123?portalId=62515`,
      `GET ${BACKEND}/api/cards/contacts/123?portalId=62515`,
    ]);
    await r.waitFor(() => expect(r.findByTestId(LoadingButton, 'rescore').props.loading).toBe(false));
    expect(r.maybeFind(Alert)).toBeNull();
  });

  it('a rescore that fails in the background ends in the failure alert, the last scores kept', async () => {
    const { fetch } = scripted(scored(), scored({ rescore: 'running' }), scored({ rescore: 'failed' }));
    const r = render(fetch);
    await r.waitFor(() => expect(r.findByTestId(Text, 'scored-at').text).toBe('2026-11-20 08:15:00 UTC'));
    r.findByTestId(LoadingButton, 'rescore').trigger('onClick');
    await r.waitFor(() => expect(r.find(Alert).props.title).toBe('Rescore failed'));
    expect(r.findByTestId(Text, 'scored-at').text).toBe('2026-11-20 08:15:00 UTC');
  });
});
