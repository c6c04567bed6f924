/**
 * Plays the admin's browser through an OAuth install against the sandbox: Rapport's install URL
 * → the sandbox's authorize page (which auto-approves) → Rapport's callback. Used by the demo and
 * the end-to-end tests; a real install happens in a real browser.
 */
export async function installThroughBrowser(installUrl: string, maxHops = 5): Promise<void> {
  let next = installUrl;
  for (let hop = 0; hop < maxHops; hop++) {
    const res = await fetch(next, { redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location !== null) {
      next = new URL(location, next).toString();
      continue;
    }
    if (!res.ok) throw new Error(`install failed at ${new URL(next).pathname}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
    return;
  }
  throw new Error(`install did not finish within ${maxHops} redirects`);
}
