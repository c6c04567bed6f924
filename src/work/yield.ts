import { setPriority } from 'node:os';

/**
 * Lets the event loop run (I/O: webhook and card requests) before going on. A chain of promises
 * that settle at once (SQLite's calls are synchronous behind the async port) runs as microtasks
 * without ever yielding, so a loop of N saves would hold the serving thread for all N of them.
 */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Lowers the calling worker thread's CPU priority to the lowest (nice 19), so that on a busy
 * machine the serving thread is scheduled first and background work takes what is left. On
 * Linux the nice value is per thread (setpriority(2), "BUGS": "under the current Linux/NPTL
 * implementation of POSIX threads, the nice value is a per-thread attribute"), and libuv's
 * `uv_os_setpriority(0, …)`, behind `os.setPriority`, applies to the caller. Elsewhere it may
 * apply to the whole process or be refused; then the worker keeps its priority.
 */
export function lowerThreadPriority(): void {
  if (process.platform !== 'linux') return;
  try {
    setPriority(19);
  } catch {
    // refused (e.g. a sandbox without the right): the work still runs, at normal priority
  }
}
