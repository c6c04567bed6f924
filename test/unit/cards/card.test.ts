/**
 * The card, rendered by HubSpot's own testing renderer (@hubspot/ui-extensions/testing)
 * with a fake `hubspot.fetch`: every state, the values shown, the rescore action, malformed payloads.
 */
import { describe, expect, it } from 'vitest';
import {
  Alert,
  createElement,
  createRenderer,
  EmptyState,
  ErrorState,
  LoadingButton,
  LoadingSpinner,
  StatisticsItem,
  StatisticsTrend,
  Tag,
  Text,
} from '../../../ui-extension/hubspot/src/app/cards/test-kit.ts';
import { ScoreCard, type CardFetch } from '../../../ui-extension/hubspot/src/app/cards/ScoreCard.tsx';
import type { CardResponse, ScoredCard } from '../../../ui-extension/hubspot/src/app/cards/card-contract.ts';

const BACKEND = 'https://rapport.example.com';

const scored = (over: Partial<ScoredCard> = {}): ScoredCard => ({
  state: 'scored',
  contactId: '123',
  scores: {
    satisfaction: { value: 72.4, band: 'green', confidence: 0.8, change30d: 5.2 },
    loyalty: { value: 41, band: 'yellow', confidence: 0.6, change30d: -3 },
    churnRisk: { value: 63, band: 'red', confidence: 0.7, change30d: 12 },
    serviceNeed: { value: 20, band: 'green', confidence: 0.5, change30d: null },
  },
  band: 'yellow',
  confidence: 0.66,
  reasons: [
    { score: 'churnRisk', text: 'No purchase in 200 days', impact: 14 },
    { score: 'satisfaction', text: 'Two promoter NPS answers', impact: 9.5 },
    { score: 'loyalty', text: 'Spend below portal median', impact: -4 },
  ],
  scoredAt: '2026-11-20T08:15:00.000Z',
  modelVersion: 'hubspot:1-2026-11-01',
  ...over,
});

type Call = { url: string; method: string; body?: Record<string, unknown> };
type Reply = { status: number; body?: unknown; text?: string } | Error;

/** A scripted hubspot.fetch: replies in order, records every call. */
function fakeFetch(...replies: Reply[]): { fetch: CardFetch; calls: Call[] } {
  const calls: Call[] = [];
  const fetch: CardFetch = async (url, options) => {
    calls.push({ url, method: options.method, ...(options.body === undefined ? {} : { body: options.body }) });
    const r = replies.shift();
    if (r === undefined) throw new Error('unexpected call');
    if (r instanceof Error) throw r;
    return {
      ok: r.status >= 200 && r.status < 300,
      status: r.status,
      json: async () => (r.text !== undefined ? JSON.parse(r.text) : r.body),
    };
  };
  return { fetch, calls };
}

function renderCard(fetch: CardFetch) {
  const renderer = createRenderer('crm.record.tab');
  renderer.render(createElement(ScoreCard, { contactId: '123', portalId: 62515, backendUrl: `${BACKEND}/`, fetch }));
  return renderer;
}

describe('ScoreCard', () => {
  it('shows a spinner while loading, then every value of a scored contact', async () => {
    const { fetch, calls } = fakeFetch({ status: 200, body: scored() satisfies CardResponse });
    const r = renderCard(fetch);
    expect(r.find(LoadingSpinner).props.label).toBe('Loading Rapport scores');
    await r.waitFor(() => expect(r.maybeFind(LoadingSpinner)).toBeNull());

    expect(calls).toEqual([{ url: `${BACKEND}/api/cards/contacts/123?portalId=62515`, method: 'GET' }]);
    const items = r.findAll(StatisticsItem);
    expect(items.map((i) => [i.props.label, i.props.number])).toEqual([
      ['Satisfaction', '72'],
      ['Loyalty', '41'],
      ['Churn risk', '63%'],
      ['Service need', '20%'],
    ]);
    // 30-day change: a rise in satisfaction is good (green), a rise in churn risk bad (red)
    const sat = r.findByTestId(StatisticsTrend, 'trend-satisfaction').props;
    expect(sat).toMatchObject({ direction: 'increase', color: 'green', value: '+5 in 30 days' });
    expect(r.findByTestId(StatisticsTrend, 'trend-loyalty').props).toMatchObject({ direction: 'decrease', color: 'red', value: '−3 in 30 days' });
    expect(r.findByTestId(StatisticsTrend, 'trend-churnRisk').props).toMatchObject({ direction: 'increase', color: 'red' });
    expect(r.findByTestId(Text, 'trend-serviceNeed').text).toBe('new');

    expect(r.findByTestId(Tag, 'band').props.variant).toBe('warning');
    expect(r.findByTestId(Tag, 'band').text).toBe('Needs attention');
    expect(r.findByTestId(Text, 'confidence').text).toBe('66%');
    expect(r.findByTestId(Text, 'scored-at').text).toBe('2026-11-20 08:15:00 UTC');
    expect(r.findByTestId(Text, 'model-version').text).toBe('hubspot:1-2026-11-01');
    expect(r.findByTestId(Text, 'reason-0').text).toBe('Churn risk: No purchase in 200 days (+14 points)');
    expect(r.findByTestId(Text, 'reason-1').text).toBe('Satisfaction: Two promoter NPS answers (+9.5 points)');
    expect(r.findByTestId(Text, 'reason-2').text).toBe('Loyalty: Spend below portal median (−4 points)');
    expect(r.findByTestId(Text, 'reasons-legend').text).toMatch(/how many points it moves that score/);
    // each tile: its own band colour and its scale
    expect(r.findByTestId(Tag, 'band-churnRisk').props.variant).toBe('error');
    expect(r.findByTestId(Tag, 'band-satisfaction').text).toBe('Healthy');
    expect(r.findByTestId(Text, 'hint-churnRisk').text).toBe('chance of leaving in 90 days');
    expect(r.maybeFind(Alert)).toBeNull();
  });

  it('service need says the likely channel when Rapport knows it, and nothing when it does not', async () => {
    const withChannel = renderCard(fakeFetch({ status: 200, body: scored({ likelyChannel: 'tickets' }) satisfies CardResponse }).fetch);
    await withChannel.waitFor(() => expect(withChannel.maybeFind(LoadingSpinner)).toBeNull());
    expect(withChannel.findByTestId(Text, 'likely-channel').text).toBe('likely to reach out by support tickets');
    const without = renderCard(fakeFetch({ status: 200, body: scored({ likelyChannel: null }) satisfies CardResponse }).fetch);
    await without.waitFor(() => expect(without.maybeFind(LoadingSpinner)).toBeNull());
    expect(without.findAll(Text).filter((t) => (t.props as { testId?: string }).testId === 'likely-channel')).toEqual([]);
  });

  it('"Rescore now" posts to the rescore route and shows the refreshed scores', async () => {
    const after = scored({ scoredAt: '2026-11-23T10:00:00.000Z', band: 'red' });
    const { fetch, calls } = fakeFetch({ status: 200, body: scored() }, { status: 200, body: after });
    const r = renderCard(fetch);
    await r.waitFor(() => expect(r.findByTestId(Text, 'scored-at').text).toBe('2026-11-20 08:15:00 UTC'));
    r.findByTestId(LoadingButton, 'rescore').trigger('onClick');
    await r.waitFor(() => expect(r.findByTestId(Text, 'scored-at').text).toBe('2026-11-23 10:00:00 UTC'));
    expect(calls[1]).toEqual({ url: `${BACKEND}/api/cards/contacts/123/rescore?portalId=62515`, method: 'POST', body: {} });
    expect(r.find(Tag).text).toBe('At risk');
    expect(r.findByTestId(LoadingButton, 'rescore').props.loading).toBe(false);
  });

  it('a failed rescore keeps the last scores and says why', async () => {
    const { fetch } = fakeFetch({ status: 200, body: scored() }, { status: 503, body: { error: { code: 'rescore_failed', message: 'x' } } });
    const r = renderCard(fetch);
    await r.waitFor(() => expect(r.findByTestId(Text, 'scored-at').text).toBe('2026-11-20 08:15:00 UTC'));
    r.findByTestId(LoadingButton, 'rescore').trigger('onClick');
    await r.waitFor(() => expect(r.find(Alert).props.title).toBe('Rescore failed'));
    expect(r.find(Alert).text).toBe('Rapport answered with HTTP 503.');
    expect(r.findByTestId(Text, 'scored-at').text).toBe('2026-11-20 08:15:00 UTC');
  });

  it('not-yet-scored contact: empty state with a rescore action', async () => {
    const { fetch } = fakeFetch({ status: 200, body: { state: 'not_scored', contactId: '123' } });
    const r = renderCard(fetch);
    await r.waitFor(() => expect(r.find(EmptyState).props.title).toBe('Not scored yet'));
    expect(r.findByTestId(LoadingButton, 'rescore').text).toBe('Rescore now');
    expect(r.maybeFind(StatisticsItem)).toBeNull();
  });

  it('contact unknown to Rapport (404): not-synced empty state', async () => {
    const { fetch } = fakeFetch({ status: 404, body: { error: { code: 'not_found', message: 'Not found' } } });
    const r = renderCard(fetch);
    await r.waitFor(() => expect(r.findByTestId(EmptyState, 'not-synced').props.title).toBe('Not scored yet'));
  });

  it('disconnected portal: a warning telling an admin to reinstall', async () => {
    const { fetch } = fakeFetch({ status: 200, body: { state: 'disconnected', contactId: '123' } });
    const r = renderCard(fetch);
    await r.waitFor(() => expect(r.find(Alert).props.title).toBe('Rapport is disconnected'));
    expect(r.find(Alert).props.variant).toBe('warning');
    expect(r.maybeFind(LoadingButton)).toBeNull();
  });

  const malformed: [string, Reply][] = [
    ['a score out of range', { status: 200, body: { ...scored(), scores: { ...scored().scores, loyalty: { value: 140, band: 'green', confidence: 1, change30d: 0 } } } }],
    ['an unknown state', { status: 200, body: { state: 'maybe', contactId: '123' } }],
    ['a missing field', { status: 200, body: { ...scored(), modelVersion: undefined } }],
    ['not JSON', { status: 200, text: '<html>proxy error</html>' }],
  ];
  it.each(malformed)('malformed payload (%s): error state, no values', async (_label, reply) => {
    const { fetch } = fakeFetch(reply);
    const r = renderCard(fetch);
    await r.waitFor(() => expect(r.find(ErrorState).props.title).toBe('Rapport scores are unavailable'));
    expect(r.find(ErrorState).find(Text).text).toContain('Rapport sent a reply');
    expect(r.maybeFind(StatisticsItem)).toBeNull();
  });

  it('bad signature (401) and network failure: error state, and "Try again" reloads', async () => {
    const { fetch, calls } = fakeFetch({ status: 401, body: { error: { code: 'unauthorized', message: 'x' } } }, new Error('timeout'), {
      status: 200,
      body: scored(),
    });
    const r = renderCard(fetch);
    await r.waitFor(() => expect(r.find(ErrorState).find(Text).text).toContain('signature rejected'));
    r.findByTestId(LoadingButton, 'retry').trigger('onClick');
    await r.waitFor(() => expect(r.find(ErrorState).find(Text).text).toContain('Could not reach Rapport (timeout)'));
    r.findByTestId(LoadingButton, 'retry').trigger('onClick');
    await r.waitFor(() => expect(r.findAll(StatisticsItem)).toHaveLength(4));
    expect(calls).toHaveLength(3);
  });
});
