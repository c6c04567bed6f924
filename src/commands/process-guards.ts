import type { Logger } from '../log.ts';

/**
 * Process-level handlers for a long-running server. Background work (timers, setImmediate,
 * un-awaited promises) runs outside any request's try; without these, one error there exits the
 * process and takes every tenant's webhooks and cards down with it (issue 15 item 4).
 *
 * - An unhandled rejection is logged and the server keeps serving: nothing was left half-done
 *   by the rejection itself.
 * - An uncaught SQLITE_BUSY / SQLITE_LOCKED (another process holds the write lock) is logged and
 *   the server keeps serving: better-sqlite3 statements are atomic, so the failed one changed
 *   nothing, and the work is retried on the next pass.
 * - Any other uncaught exception is logged with its reason and `onFatal` is called, so the
 *   command stops cleanly (daemon stopped, database closed) and exits 1. Node's documentation
 *   says resuming after an arbitrary uncaught exception is not safe:
 *   https://nodejs.org/api/process.html#warning-using-uncaughtexception-correctly
 *
 * Returns a function removing the handlers.
 */
export function installProcessGuards(logger: Logger, onFatal: (reason: string) => void): () => void {
  const onRejection = (reason: unknown) => {
    logger.error({ err: describe(reason) }, 'unhandled promise rejection; still serving');
  };
  const onException = (e: unknown) => {
    if (isDatabaseBusy(e)) {
      logger.error({ err: describe(e) }, 'database locked by another process during background work; still serving');
      return;
    }
    const reason = describe(e);
    logger.error({ err: reason }, 'uncaught exception; stopping cleanly');
    onFatal(reason);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}

/** SQLite's "another connection holds the lock" codes (https://sqlite.org/rescode.html#busy). */
export function isDatabaseBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
