/**
 * Issue 15 items 7 and 10. Before: one state installed two portals, and 30 anonymous callbacks
 * carrying it made 30 code exchanges with the client secret; the callback's error text from the
 * query was shown on the operator's domain. Now the state is bound to an HttpOnly SameSite
 * nonce cookie of the browser that started the install, used once, callbacks are rate-limited,
 * and a declined install shows a fixed message (the detail, capped, goes to the log).
 * Real HTTP both ways against the HubSpot and Salesforce emulators.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubspotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { startSalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { CALLBACK_LIMIT } from '../../src/server/install-guard.ts';
import { createBrowser } from '../support/browser.ts';
import { CLIENT_SECRET, startRapport, type Harness } from '../unit/server/harness.ts';

const APP = { clientId: 'client-id-test', clientSecret: CLIENT_SECRET, appId: 54321 };

/** counts the code exchanges (token endpoint calls) Rapport makes */
function countingFetch(path: string) {
  const counter = { exchanges: 0 };
  const f = (url: string, init?: RequestInit) => {
    if (new URL(url).pathname === path) counter.exchanges += 1;
    return fetch(url, init);
  };
  return { counter, fetch: f };
}

describe('HubSpot install: state bound to the browser, single use, rate-limited (item 7)', () => {
  let hs: Awaited<ReturnType<typeof startHubspotSandbox>>;
  let h: Harness;
  const { counter, fetch: countedFetch } = countingFetch('/oauth/v1/token');

  /** one browser's trip to the consent screen; returns the callback URL HubSpot redirects to */
  async function consent(browser = createBrowser()): Promise<{ callback: string; browser: ReturnType<typeof createBrowser>; setCookie: string }> {
    const start = await browser.get(`${h.url}/oauth/hubspot/install`);
    const approved = await browser.get(start.headers.get('location') ?? '');
    return { callback: approved.headers.get('location') ?? '', browser, setCookie: start.headers.get('set-cookie') ?? '' };
  }

  beforeAll(async () => {
    hs = await startHubspotSandbox({ oauth: APP, limits: false });
    h = await startRapport({ env: { HUBSPOT_BASE_URL: hs.baseUrl, HUBSPOT_APP_ID: String(APP.appId) }, fetch: countedFetch });
  });
  afterAll(async () => {
    await h.close();
    await hs.close();
  });

  it('the nonce cookie is HttpOnly, SameSite=Lax, scoped to the install routes and short-lived', async () => {
    const { setCookie } = await consent();
    expect(setCookie).toMatch(/^rapport_oauth_hubspot=[\w-]{16,};/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).toMatch(/Path=\/oauth\/hubspot/);
    expect(setCookie).toMatch(/Max-Age=600/);
  });

  it('a callback without the cookie of the browser that started the install is refused before any code exchange', async () => {
    const before = counter.exchanges;
    const { callback } = await consent();
    // anyone else following the link: no cookie at all
    for (let i = 0; i < 5; i++) expect((await createBrowser().get(callback)).status).toBe(400);
    // another browser with its own install cookie
    const other = await consent();
    expect((await other.browser.get(callback)).status).toBe(400);
    expect(counter.exchanges).toBe(before);
    expect(h.installed).toEqual([]);
  });

  it('a state is used once: the same callback again (even from the same browser) makes no second exchange', async () => {
    const before = counter.exchanges;
    const { callback, browser } = await consent();
    expect((await browser.get(callback)).status).toBe(200);
    for (let i = 0; i < 5; i++) {
      const again = await browser.get(callback, { cookie: `rapport_oauth_hubspot=${new URL(callback).searchParams.get('state')?.split('.')[0] ?? ''}` });
      expect(again.status).toBe(400);
    }
    expect(counter.exchanges).toBe(before + 1);
    expect(h.installed).toHaveLength(1);
  });

  it('a declined install shows a fixed message, never the query text; the log gets it capped (item 10)', async () => {
    const { callback, browser } = await consent();
    const phishing = 'Your account is locked. Call +1-555-0100 now to restore access. '.repeat(80);
    const u = new URL(callback);
    u.searchParams.delete('code');
    u.searchParams.set('error', 'access_denied<script>alert(1)</script>');
    u.searchParams.set('error_description', phishing);
    const res = await browser.get(u.toString());
    expect(res.status).toBe(400);
    const page = await res.text();
    expect(page).toContain('HubSpot did not grant access');
    expect(page).not.toContain('555-0100');
    expect(page).not.toContain('access_denied');
    const line = h.logLines.find((l) => l.includes('install declined'));
    expect(line).toBeDefined();
    const logged = JSON.parse(line ?? '{}') as { description?: string; error?: string };
    expect(logged.description?.length).toBeLessThanOrEqual(300);
    expect(logged.error?.length).toBeLessThanOrEqual(100);
  });
});

describe('callbacks are rate-limited', () => {
  let h: Harness;
  const { counter, fetch: countedFetch } = countingFetch('/oauth/v1/token');
  beforeAll(async () => {
    h = await startRapport({ env: { HUBSPOT_BASE_URL: 'http://127.0.0.1:9' }, fetch: countedFetch });
  });
  afterAll(async () => h.close());

  it(`at most ${CALLBACK_LIMIT.limit} per minute, then 429`, async () => {
    const statuses: number[] = [];
    for (let i = 0; i < CALLBACK_LIMIT.limit + 5; i++) statuses.push((await fetch(`${h.url}/oauth/hubspot/callback?code=c${i}&state=s${i}`)).status);
    expect(statuses.slice(0, CALLBACK_LIMIT.limit).every((s) => s === 400)).toBe(true);
    expect(statuses.slice(CALLBACK_LIMIT.limit).every((s) => s === 429)).toBe(true);
    expect(counter.exchanges).toBe(0);
  });
});

describe('a public URL with a path prefix over https', () => {
  it('scopes the cookie to the prefixed install routes and marks it Secure', async () => {
    const h = await startRapport({ publicUrl: 'https://rapport.example.com/rapport' });
    try {
      const res = await fetch(`${h.url}/oauth/hubspot/install`, { redirect: 'manual' });
      const cookie = res.headers.get('set-cookie') ?? '';
      expect(cookie).toMatch(/Path=\/rapport\/oauth\/hubspot/);
      expect(cookie).toMatch(/Secure/);
    } finally {
      await h.close();
    }
  });
});

describe('Salesforce install: the same binding', () => {
  const SF = { clientId: 'sf-client-test', clientSecret: 'sf-secret-test-0123456789' };
  let sf: Awaited<ReturnType<typeof startSalesforceSandbox>>;
  let h: Harness;
  const { counter, fetch: countedFetch } = countingFetch('/services/oauth2/token');
  beforeAll(async () => {
    sf = await startSalesforceSandbox({ oauth: SF });
    h = await startRapport({ env: { SALESFORCE_LOGIN_URL: sf.baseUrl, SALESFORCE_CLIENT_ID: SF.clientId, SALESFORCE_CLIENT_SECRET: SF.clientSecret }, fetch: countedFetch });
  });
  afterAll(async () => {
    await h.close();
    await sf.close();
  });

  it('no cookie → 400 and no exchange; with it → installed once; again → 400; declines show a fixed text', async () => {
    const browser = createBrowser();
    const start = await browser.get(`${h.url}/oauth/salesforce/install`);
    expect(start.headers.get('set-cookie')).toMatch(/^rapport_oauth_salesforce=.*HttpOnly.*SameSite=Lax/i);
    const callback = (await browser.get(start.headers.get('location') ?? '')).headers.get('location') ?? '';
    expect((await createBrowser().get(callback)).status).toBe(400);
    expect(counter.exchanges).toBe(0);
    expect((await browser.get(callback)).status).toBe(200);
    expect((await browser.get(callback)).status).toBe(400);
    expect(counter.exchanges).toBe(1);

    const again = createBrowser();
    const s2 = await again.get(`${h.url}/oauth/salesforce/install`);
    const cb2 = new URL((await again.get(s2.headers.get('location') ?? '')).headers.get('location') ?? '');
    cb2.searchParams.delete('code');
    cb2.searchParams.set('error', 'access_denied');
    cb2.searchParams.set('error_description', 'Call +1-555-0100 to unlock');
    const page = await (await again.get(cb2.toString())).text();
    expect(page).toContain('Salesforce did not grant access');
    expect(page).not.toContain('555-0100');
  });
});
