/** Timers for moments that may be weeks away. */
import { systemClock, type Clock } from './clock.js';

/** setTimeout's longest delay: a longer one fires at once. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export interface ScheduledRun {
  cancel(): void;
}

/**
 * Runs `fn` at `at` (ms since the epoch on `clock`), however far off, re-arming in steps setTimeout
 * accepts. A moment already past runs `fn` before returning. The timer does not keep the process
 * alive.
 */
export function runAt(at: number, fn: () => void, clock: Clock = systemClock): ScheduledRun {
  let timer: { cancel(): void } | undefined;
  let cancelled = false;
  const arm = () => {
    if (cancelled) return;
    const delay = at - clock.now();
    if (delay <= 0) return fn();
    timer = clock.setTimeout(arm, Math.min(delay, MAX_DELAY_MS));
  };
  arm();
  return {
    cancel: () => {
      cancelled = true;
      timer?.cancel();
    },
  };
}

/**
 * Resolves in the next turn of the event loop, after pending I/O. A loop of awaits on a
 * synchronous store (better-sqlite3) only ever waits for microtasks, which run before any I/O: it
 * holds the whole process until it ends. Awaiting this between chunks of work lets everything
 * else in.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
