/** How long a request in flight may take to answer once its process is stopping. */
export const DEFAULT_GRACE_MS = 10_000;

/**
 * A signal that follows `stop` after `graceMs`: a request already sent when the process is asked
 * to stop gets that long to answer, so its result is committed instead of cut half-way ("finish
 * the page, commit, exit"); only a request hanging past the grace is aborted. `graceMs <= 0`
 * follows `stop` at once. Callers check `stop` before starting anything new, and call `dispose`
 * when done; `cut` aborts at once (a request no one will wait for).
 */
export function withGrace(stop: AbortSignal, graceMs: number = DEFAULT_GRACE_MS): { signal: AbortSignal; cut: (reason: unknown) => void; dispose: () => void } {
  const inner = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const onStop = () => {
    if (graceMs <= 0) inner.abort(stop.reason);
    else {
      timer = setTimeout(() => inner.abort(stop.reason), graceMs);
      // the grace never keeps a stopping process alive by itself
      timer.unref();
    }
  };
  if (stop.aborted) onStop();
  else stop.addEventListener('abort', onStop, { once: true });
  return {
    signal: inner.signal,
    cut: (reason) => inner.abort(reason),
    dispose: () => {
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
    },
  };
}
