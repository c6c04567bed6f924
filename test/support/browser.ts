/**
 * Test support: a client that keeps cookies per origin like a browser (Rapport binds the OAuth
 * state to a cookie) and does not follow redirects, so tests can inspect each hop.
 */
export type Browser = {
  get(url: string, headers?: Record<string, string>): Promise<Response>;
  cookies(origin: string): Map<string, string>;
};

export function createBrowser(): Browser {
  const jar = new Map<string, Map<string, string>>();
  const cookiesOf = (origin: string) => {
    let m = jar.get(origin);
    if (m === undefined) jar.set(origin, (m = new Map()));
    return m;
  };
  return {
    async get(url, headers = {}) {
      const origin = new URL(url).origin;
      const cookies = cookiesOf(origin);
      const cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await fetch(url, { redirect: 'manual', headers: { ...(cookie === '' ? {} : { cookie }), ...headers } });
      for (const line of res.headers.getSetCookie()) {
        const [pair = '', ...attrs] = line.split(';');
        const eq = pair.indexOf('=');
        if (eq <= 0) continue;
        const name = pair.slice(0, eq).trim();
        if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))) cookies.delete(name);
        else cookies.set(name, pair.slice(eq + 1).trim());
      }
      return res;
    },
    cookies: cookiesOf,
  };
}
