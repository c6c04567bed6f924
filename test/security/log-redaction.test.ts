import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';

/** Captures the JSON lines pino writes. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', destination }) };
}

describe('logger redaction (issue 15 item 12)', () => {
  it('keeps CRM error codes visible, top level and nested', () => {
    const { lines, logger } = capture();
    logger.warn({ portal: 'hubspot:1', code: 'RATE_LIMIT' }, 'portal disconnected');
    logger.child({ component: 'sync' }).error({ err: { kind: 'auth', code: 'INVALID_SESSION_ID' } }, 'call failed');
    expect(lines[0]?.['code']).toBe('RATE_LIMIT');
    expect((lines[1]?.['err'] as Record<string, unknown>)['code']).toBe('INVALID_SESSION_ID');
  });

  it('still redacts every secret, by name and by path', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        accessToken: 'at-secret-1',
        refresh_token: 'rt-secret-2',
        nested: { clientSecret: 'cs-secret-3', deeper: { authorization: 'Bearer secret-4' } },
        query: { code: 'oauth-code-secret-5', state: 'st' },
        req: { query: { code: 'oauth-code-secret-6' } },
        encryptionKey: 'key-secret-7',
      },
      'install callback',
    );
    const text = JSON.stringify(lines);
    for (const s of ['at-secret-1', 'rt-secret-2', 'cs-secret-3', 'secret-4', 'oauth-code-secret-5', 'oauth-code-secret-6', 'key-secret-7']) {
      expect(text).not.toContain(s);
    }
    expect(lines[0]?.['accessToken']).toBe('[redacted]');
    expect((lines[0]?.['query'] as Record<string, unknown>)['code']).toBe('[redacted]');
    expect((lines[0]?.['query'] as Record<string, unknown>)['state']).toBe('st');
  });
});
