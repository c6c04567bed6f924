import type { MiddlewareHandler } from 'hono';

/**
 * Guards of the operator listener (card preview, report, /metrics; main.ts binds it to
 * 127.0.0.1 only). A loopback bind alone is not enough:
 * - DNS rebinding: a web page whose name resolves to 127.0.0.1 reaches the port with its own
 *   Host header, so only loopback names are answered
 *   (https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Host,
 *   https://en.wikipedia.org/wiki/DNS_rebinding);
 * - CSRF: any page can POST to a local port, so state-changing requests must come from this very
 *   origin (browsers send Origin on every POST: https://fetch.spec.whatwg.org/#origin-header;
 *   Sec-Fetch-Site: https://www.w3.org/TR/fetch-metadata/).
 */

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The hostname of a Host header value ("127.0.0.1:9100" → "127.0.0.1"); undefined when malformed. */
export function hostnameOf(host: string | undefined): string | undefined {
  if (host === undefined || host === '' || host.length > 300) return undefined;
  try {
    const u = new URL(`http://${host}`);
    // "a@b", "a/b" and the like parse into something else than a bare host[:port]
    return u.host === host.toLowerCase() ? u.hostname : undefined;
  } catch {
    return undefined;
  }
}

const forbidden = (reason: string) => Response.json({ error: { code: 'forbidden', message: reason } }, { status: 403, headers: { 'cache-control': 'no-store' } });

export function operatorGuard(): MiddlewareHandler {
  return async (c, next) => {
    // @hono/node-server builds the URL from the Host header (and refuses malformed ones); the
    // Request's own headers do not carry Host
    const host = new URL(c.req.url).host;
    const name = hostnameOf(host);
    if (name === undefined || !LOOPBACK_NAMES.has(name)) return forbidden('This listener answers only requests addressed to 127.0.0.1, localhost or [::1].');
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const origin = c.req.header('origin');
      const site = c.req.header('sec-fetch-site');
      if (origin !== `http://${host}` || (site !== undefined && site !== 'same-origin')) {
        return forbidden('Cross-origin requests are refused: send Origin with this listener\'s own origin.');
      }
    }
    await next();
  };
}
