/**
 * The card preview in a real Chromium (driven by playwright-core; which Chromium: ./chromium.ts —
 * RAPPORT_CHROMIUM, a system one on PATH, else the one the @sparticuz/chromium devDependency ships):
 * the page runs the card's own component tree; what a rep sees must equal what the store holds.
 * A missing or broken browser FAILS this test, everywhere; it is never skipped.
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import { hubspotCardPreview } from '../../src/connectors/hubspot/card-preview.ts';
import { createPreviewRoutes } from '../../src/server/preview.ts';
import type { Store } from '../../src/store/index.ts';
import { SCORE_KEYS, type ContactScores } from '../../src/store/scores.ts';
import { contact, NOW, PORTAL_A, scores, seedStore } from '../unit/cards/fixtures.ts';
import { findChromium, launchChromium } from './chromium.ts';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

const LABELS = { satisfaction: 'Satisfaction', loyalty: 'Loyalty', churnRisk: 'Churn risk', serviceNeed: 'Service need' } as const;
const BANDS = { green: 'Healthy', yellow: 'Needs attention', red: 'At risk' } as const;
const utc = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;

let store: Store;
let server: ServerType;
let base: string;
let browser: Browser;
let clock = NOW;
const pageErrors: string[] = [];

beforeAll(async () => {
  // first, so that a missing browser fails before anything else is set up
  browser = await launchChromium(await findChromium());
  store = await seedStore();
  const app = new Hono();
  app.route(
    '/preview',
    createPreviewRoutes({
      store,
      now: () => clock,
      logger: silentLogger,
      card: hubspotCardPreview(),
      // the daemon's rescore, reduced to its effect: new scores saved at the current time
      rescore: async (portal, contactId) => {
        clock += 60 * 60 * 1000;
        await store.saveScores(portal, [{ properties: {}, scores: scores(contactId, clock, { sat: 77, churn: 30, health: 'green' }) }], { clearIds: [], readAt: 0, volatile: [] });
      },
    }),
  );
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await browser?.close();
  if (server !== undefined) await new Promise((r) => server.close(r));
  await store?.close();
});

async function open(path: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    // the API's 404 for an unknown contact is expected (Chromium logs every failed fetch)
    if (m.type() === 'error' && !m.location().url.includes('/api/cards/')) pageErrors.push(`${m.text()} ${m.location().url}`);
  });
  await page.goto(`${base}${path}`);
  return page;
}

const text = async (page: Page, testId: string) => (await page.getByTestId(testId).innerText()).trim();

/** What the card must show for stored scores: the strongest reasons across the four scores. */
function expectedReasons(s: ContactScores): string[] {
  return SCORE_KEYS.flatMap((k) => s[k].reasons.map((r) => ({ k, ...r })))
    .sort((a, b) => Math.abs(b.impact) - Math.abs(a.impact))
    .slice(0, 5)
    .map((r) => `${LABELS[r.k]}: ${r.text} (${r.impact >= 0 ? '+' : '−'}${Math.abs(r.impact)} points)`);
}

describe('card preview in Chromium', () => {
  it('shows the stored scores, band and reasons; "Rescore now" shows the refreshed time', async () => {
    const stored = await store.scores.get(PORTAL_A, '101');
    if (stored === undefined) throw new Error('fixture missing');
    const page = await open(`/preview/contacts/101?portal=${PORTAL_A}`);
    await page.getByTestId('scores').waitFor();

    for (const k of SCORE_KEYS) {
      const item = page.getByTestId(`score-${k}`);
      const unit = k === 'churnRisk' || k === 'serviceNeed' ? '%' : '';
      expect((await item.locator('[data-role=number]').innerText()).trim()).toBe(`${Math.round(stored[k].value)}${unit}`);
      expect((await item.locator('[data-role=label]').textContent())?.trim()).toBe(LABELS[k]);
    }
    expect(await text(page, 'band')).toBe(BANDS[stored.health]);
    const reasons = await page.getByTestId('reasons').locator('li').allInnerTexts();
    expect(reasons.map((r) => r.trim())).toEqual(expectedReasons(stored));
    expect(await text(page, 'scored-at')).toBe(utc(stored.scoredAt));
    expect(await text(page, 'model-version')).toBe(stored.modelVersion);
    expect(await text(page, 'trend-satisfaction')).toContain('+12 in 30 days');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('card-preview.png', ARTIFACTS).pathname, fullPage: true });

    await page.getByTestId('rescore').click();
    const refreshed = utc(NOW + 60 * 60 * 1000);
    await page.getByTestId('scored-at').filter({ hasText: refreshed }).waitFor();
    const after = await store.scores.get(PORTAL_A, '101');
    expect(after?.scoredAt).toBe(NOW + 60 * 60 * 1000);
    expect(await text(page, 'band')).toBe(BANDS.green);
    expect((await page.getByTestId('score-churnRisk').locator('[data-role=number]').innerText()).trim()).toBe('30%');
    await page.screenshot({ path: new URL('card-preview-rescored.png', ARTIFACTS).pathname, fullPage: true });
    expect(existsSync(new URL('card-preview.png', ARTIFACTS))).toBe(true);
    await page.close();
  });

  // Issue 17 "Must show": a red, a yellow and a green card, kept as test artifacts.
  it('screenshots of a red, a yellow and a green card', async () => {
    const cards = [
      { id: '301', band: 'red', over: { sat: 31, churn: 64, health: 'red' } },
      { id: '302', band: 'yellow', over: { sat: 55, churn: 35, health: 'yellow' } },
      { id: '303', band: 'green', over: { sat: 82, churn: 9, health: 'green' } },
    ] as const;
    await store.records.upsertPage(cards.map((c) => contact(PORTAL_A, c.id)));
    mkdirSync(ARTIFACTS, { recursive: true });
    for (const c of cards) {
      await store.saveScores(PORTAL_A, [{ properties: {}, scores: scores(c.id, NOW, c.over) }], { clearIds: [], readAt: 0, volatile: [] });
      const page = await open(`/preview/contacts/${c.id}?portal=${PORTAL_A}`);
      await page.getByTestId('scores').waitFor();
      expect(await text(page, 'band')).toBe(BANDS[c.band]);
      const file = new URL(`card-${c.band}.png`, ARTIFACTS);
      await page.screenshot({ path: file.pathname, fullPage: true });
      expect(existsSync(file)).toBe(true);
      await page.close();
    }
  });

  it('not-scored, unknown and other-portal contacts show their states, never another portal\'s data', async () => {
    const page = await open(`/preview/contacts/102?portal=${PORTAL_A}`);
    await page.getByTestId('not-scored').waitFor();
    expect(await page.getByTestId('rescore').innerText()).toContain('Rescore now');
    await page.goto(`${base}/preview/contacts/201?portal=${PORTAL_A}`);
    await page.getByTestId('not-synced').waitFor();
    expect(await page.locator('body').innerText()).not.toContain('Satisfaction');
    await page.close();
    expect(pageErrors).toEqual([]);
  });
});
