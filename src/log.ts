import { pino, type DestinationStream } from 'pino';

/** The narrow logger the app depends on (not pino's whole surface). */
export type Logger = {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
  child(fields: Record<string, unknown>): Logger;
};

export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug';

/** Keys whose values are never written, wherever they appear (two levels deep). */
const SECRET_FIELDS = [
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'clientSecret',
  'client_secret',
  'secret',
  'authorization',
  'password',
  'code',
  'encryptionKey',
];

export function createLogger(opts: { level: LogLevel; destination?: DestinationStream }): Logger {
  const paths = SECRET_FIELDS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
  const base = pino(
    { level: opts.level, redact: { paths, censor: '[redacted]' }, base: null },
    opts.destination ?? pino.destination({ dest: 2, sync: true }),
  );
  return wrap(base);
}

function wrap(p: pino.Logger): Logger {
  return {
    debug: (f, m) => p.debug(f, m),
    info: (f, m) => p.info(f, m),
    warn: (f, m) => p.warn(f, m),
    error: (f, m) => p.error(f, m),
    child: (f) => wrap(p.child(f)),
  };
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
