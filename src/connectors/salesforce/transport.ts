import { PassThrough } from 'node:stream';
import { Transport } from 'jsforce/lib/transport.js';
import { StreamPromise } from 'jsforce/lib/util/promise.js';
import type { HttpRequest, HttpResponse } from 'jsforce/lib/types/common.js';

/**
 * jsforce's HTTP transport with cancellation. jsforce builds the request (instance URL, version,
 * Bearer header) and parses the answer (JSON, Salesforce error arrays, `Sforce-Limit-Info`), but its
 * own fetch (jsforce src/request.ts) owns its AbortController: only its `timeout` aborts it, so a
 * caller's AbortSignal (a stream cancelled, the daemon shutting down) would leave the request
 * running on the org, where a request past 20 s counts against the org's concurrent long-running
 * limit (https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm).
 * This transport sends the request with fetch under `signal` and the deadline (`timeout`), so
 * either one closes the HTTP request itself. No retries here: http.ts's withRetry decides. Unlike
 * jsforce's transport it does not read `https_proxy` / `HTTP_PROXY`: Rapport reaches the org directly.
 */
export type AbortableOptions = {
  timeout?: number;
  signal?: AbortSignal;
  /**
   * A successful answer is handed over as text: its headers go to this callback and jsforce sees it
   * as text/plain, so it does not parse it (Bulk API 2.0 results are CSV, paged by the
   * `Sforce-Locator` header that jsforce's request() does not return). Error answers are left as they
   * are: jsforce still reads their JSON errorCode.
   */
  onText?: (headers: Record<string, string>) => void;
};

export class AbortableTransport extends Transport {
  override httpRequest(req: HttpRequest, options: AbortableOptions = {}): StreamPromise<HttpResponse> {
    return StreamPromise.create(() => {
      const stream = new PassThrough();
      const signals = [options.signal, options.timeout === undefined ? undefined : AbortSignal.timeout(options.timeout)].filter((s): s is AbortSignal => s !== undefined);
      const promise = (async (): Promise<HttpResponse> => {
        // fetch computes content-length from the body; jsforce's own value is refused by undici
        const headers = Object.fromEntries(Object.entries(req.headers ?? {}).filter(([k]) => k.toLowerCase() !== 'content-length'));
        const res = await fetch(req.url, {
          method: req.method,
          headers,
          ...(typeof req.body === 'string' || Buffer.isBuffer(req.body) ? { body: req.body } : {}),
          // as jsforce's transport does (followRedirect); fetch drops the Authorization header on a cross-origin hop
          redirect: 'follow',
          ...(signals.length === 0 ? {} : { signal: AbortSignal.any(signals) }),
        });
        const body = await res.text();
        const answered: Record<string, string> = {};
        res.headers.forEach((v, k) => (answered[k.toLowerCase()] = v));
        if (options.onText !== undefined && res.ok) {
          options.onText({ ...answered });
          answered['content-type'] = 'text/plain';
        }
        stream.end(body);
        return { statusCode: res.status, headers: answered, body };
      })();
      promise.catch(() => stream.destroy());
      return { stream, promise };
    });
  }
}
