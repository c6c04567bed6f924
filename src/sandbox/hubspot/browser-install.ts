/**
 * Plays the admin's browser through an OAuth install against the sandbox: Rapport's install URL
 * → the sandbox's authorize page (which auto-approves) → Rapport's callback. Used by the demo and
 * the end-to-end tests; a real install happens in a real browser. Like a browser, it keeps the
 * cookies each origin sets (Rapport binds the OAuth state to one) and sends them back to it.
 */
export async function installThroughBrowser(installUrl: string, maxHops = 5): Promise<void> {
  const jar = new Map<string, Map<string, string>>();
  let next = installUrl;
  for (let hop = 0; hop < maxHops; hop++) {
    const origin = new URL(next).origin;
    const cookies = jar.get(origin);
    const headers: Record<string, string> = cookies === undefined || cookies.size === 0 ? {} : { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
    const res = await fetchOnce(next, headers);
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const store = jar.get(origin) ?? new Map<string, string>();
      jar.set(origin, store);
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired) store.delete(pair.slice(0, eq).trim());
      else store.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
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

/**
 * One GET as a browser makes it: a kept-alive connection the server closed while idle ("other side
 * closed" before any answer) is retried once on a new connection, as browsers do for a reused
 * connection (https://fetch.spec.whatwg.org/#http-network-or-cache-fetch leaves it to the client;
 * Node's fetch does not retry), so a server's keep-alive timeout racing our next hop is no failure.
 */
async function fetchOnce(url: string, headers: Record<string, string>): Promise<Response> {
  try {
    return await fetch(url, { redirect: 'manual', headers });
  } catch (e) {
    const cause = (e as { cause?: { code?: unknown } }).cause;
    if (cause?.code !== 'UND_ERR_SOCKET') throw e;
    return fetch(url, { redirect: 'manual', headers });
  }
}
