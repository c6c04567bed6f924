/**
 * Issue 15 item 1: the card API checked the signature only after reading the whole body, with no
 * size limit (one unsigned 500 MB chunked POST took the process from 145 MB to 1.7 GB). Now the
 * signature headers are checked first and a body is read only up to 1 MB, as for webhooks.
 * Real server on 127.0.0.1, raw node:http client streaming the upload.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRapport, type Harness } from '../unit/server/harness.ts';
import { cardHeaders, rawExchange, streamingPost } from './support.ts';

const PATH = '/api/cards/contacts/1/rescore?portalId=62515';
const MB = 1024 * 1024;

describe('card API bodies (issue 15 item 1)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startRapport();
  });
  afterAll(async () => h.close());

  it('an unsigned 256 MB chunked POST gets 401 at once: the upload is not read and memory does not grow', async () => {
    const rssBefore = process.memoryUsage().rss;
    const r = await streamingPost(`${h.url}${PATH}`, { 'content-type': 'application/json' }, 256 * MB);
    expect(r.status).toBe(401);
    // what the socket buffers hold, not the upload: the old code read all 256 MB before answering
    expect(r.sentAtResponse).toBeLessThan(32 * MB);
    expect(r.ms).toBeLessThan(5000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * MB);
  });

  it('six at once: all refused quickly, memory flat', async () => {
    const rssBefore = process.memoryUsage().rss;
    const all = await Promise.all(Array.from({ length: 6 }, () => streamingPost(`${h.url}${PATH}`, {}, 64 * MB)));
    for (const r of all) {
      expect(r.status).toBe(401);
      expect(r.sentAtResponse).toBeLessThan(32 * MB);
    }
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(96 * MB);
  });

  it('a stale or malformed timestamp is refused before the body too', async () => {
    const stale = cardHeaders({ method: 'POST', publicUrl: h.config.publicUrl, pathAndQuery: PATH, now: Date.now() - 10 * 60_000 });
    const r = await streamingPost(`${h.url}${PATH}`, stale, 64 * MB);
    expect(r.status).toBe(401);
    expect(r.sentAtResponse).toBeLessThan(32 * MB);
    const bad = await streamingPost(`${h.url}${PATH}`, { 'x-hubspot-signature-v3': 'x', 'x-hubspot-request-timestamp': '1e12' }, 8 * MB);
    expect(bad.status).toBe(401);
  });

  it('signature headers that look fine but a chunked body over 1 MB: 413 after reading at most ~1 MB', async () => {
    const headers = cardHeaders({ method: 'POST', publicUrl: h.config.publicUrl, pathAndQuery: PATH, body: 'whatever' });
    const r = await streamingPost(`${h.url}${PATH}`, headers, 64 * MB);
    expect(r.status).toBe(413);
    expect(r.sentAtResponse).toBeLessThan(32 * MB);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'bad_request' } });
  });

  it('a declared content-length over 1 MB: 413 without reading it', async () => {
    const headers = { ...cardHeaders({ method: 'POST', publicUrl: h.config.publicUrl, pathAndQuery: PATH }), 'content-length': String(200 * MB) };
    const r = await streamingPost(`${h.url}${PATH}`, headers, 200 * MB);
    expect(r.status).toBe(413);
    expect(r.sentAtResponse).toBeLessThan(32 * MB);
  });

  it('conflicting lengths (content-length and chunked) never reach a handler', async () => {
    const headers = cardHeaders({ method: 'POST', publicUrl: h.config.publicUrl, pathAndQuery: PATH, body: '{}' });
    const answer = await rawExchange(
      h.url,
      `POST ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n` +
        Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') +
        `\r\n2\r\n{}\r\n0\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
  });
});
