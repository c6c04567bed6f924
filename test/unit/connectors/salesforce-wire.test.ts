import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSalesforceConnector } from '../../../src/connectors/salesforce/index.ts';
import type { WriteResult } from '../../../src/connectors/types.ts';

/**
 * Rare Salesforce answers the emulator does not stage, at the HTTP edge of the real jsforce client
 * inside the connector. Not msw: jsforce fetches through its own copy of undici with its own
 * dispatcher, which msw's interceptors (global fetch, http.ClientRequest) do not see; so a real
 * loopback server answers instead. Any request a test did not expect is answered 599 and recorded.
 */
type Answer = (req: IncomingMessage, body: string) => { status: number; body: string };
let answer: Answer | undefined;
const requests: string[] = [];
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d: string) => (body += d));
  req.on('end', () => {
    requests.push(`${req.method} ${req.url}`);
    const a = req.method === 'PATCH' && req.url === '/services/data/v62.0/composite/sobjects' ? answer?.(req, body) : undefined;
    res.writeHead(a?.status ?? 599, { 'content-type': 'application/json;charset=UTF-8' });
    res.end(a?.body ?? '[{"errorCode":"UNEXPECTED","message":"the test did not expect this request"}]');
  });
});
let INSTANCE = '';
beforeAll(async () => {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  INSTANCE = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(() => {
  answer = undefined;
  requests.length = 0;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

const connector = () =>
  createSalesforceConnector({
    instanceUrl: INSTANCE,
    apiVersion: '62.0',
    accessToken: async () => '00Dwire!token',
    portal: 'salesforce:00D000000000001',
    retry: { retries: 2, baseMs: 1, maxMs: 5 },
    timeoutMs: 2_000,
  });
const signal = new AbortController().signal;
const updates = (ids: readonly string[]) => ids.map((contactId) => ({ contactId, properties: { satisfaction: '70', health: 'green' } }));
const outcome = (rs: readonly WriteResult[]) => Object.fromEntries(rs.map((r) => [r.contactId, r.ok ? 'ok' : r.error.kind]));
const PATCH = 'PATCH /services/data/v62.0/composite/sobjects';

describe('Salesforce connector on rare wire answers', () => {
  it('an sObject Collections answer cut short: every record of the call fails as bad_response, sent once', async () => {
    answer = () => ({ status: 200, body: '[{"id":"003000000000001AAA","success":true,"errors":[]},{"id":"003' });
    const res = await connector().writeScores(updates(['003000000000001AAA', '003000000000002AAA']), signal);
    expect(outcome(res)).toEqual({ '003000000000001AAA': 'bad_response', '003000000000002AAA': 'bad_response' });
    // a malformed body is not retried: the same bytes would come back
    expect(requests).toEqual([PATCH]);
  });

  it('an sObject Collections answer with fewer results than records: the unanswered one fails, the answered one is written', async () => {
    answer = (_req, body) => {
      const { records } = JSON.parse(body) as { records: Array<{ id: string }> };
      return { status: 200, body: JSON.stringify([{ id: records[0]?.id, success: true, errors: [] }]) };
    };
    const res = await connector().writeScores(updates(['003000000000001AAA', '003000000000002AAA']), signal);
    expect(outcome(res)).toEqual({ '003000000000001AAA': 'ok', '003000000000002AAA': 'invalid_request' });
    expect(requests).toEqual([PATCH]);
  });
});
