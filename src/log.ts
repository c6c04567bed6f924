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

/**
 * Keys whose values are never written, wherever they appear (two levels deep). `code` is not
 * one of them: CRM error codes (`RATE_LIMIT`, `INVALID_SESSION_ID`) are what an operator needs
 * in a log. The one secret named `code`, an OAuth authorization code, is redacted by its path
 * (SECRET_PATHS) instead.
 */
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
  'encryptionKey',
  'authorizationCode',
  'authorization_code',
];

/** Secrets that share a name with harmless fields: redacted where they live, not by name. */
const SECRET_PATHS = ['query.code', '*.query.code', 'params.code', '*.params.code', 'oauth.code', '*.oauth.code'];

/**
 * Where a command logs when it draws on a terminal: a file next to its database
 * (`./data/demo.db` → `./data/demo.log`), so JSON lines never tear through progress bars.
 */
export function logFileFor(dbPath: string): string {
  return `${dbPath.replace(/\.(db|sqlite3?)$/, '')}.log`;
}

/** A synchronous pino destination appending to (or replacing) `path`; its folder is created. */
export function logFileDestination(path: string, opts: { append: boolean }): DestinationStream {
  return pino.destination({ dest: path, sync: true, mkdir: true, append: opts.append });
}

export function createLogger(opts: { level: LogLevel; destination?: DestinationStream }): Logger {
  const paths = [...SECRET_FIELDS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]), ...SECRET_PATHS];
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
