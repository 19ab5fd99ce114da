/** Timers for moments that may be weeks away. */

/** setTimeout's longest delay: a longer one fires at once. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export interface ScheduledRun {
  cancel(): void;
}

/**
 * Runs `fn` at `at` (ms since the epoch), however far off, re-arming in steps setTimeout accepts.
 * The timer does not keep the process alive.
 */
export function runAt(at: number, fn: () => void): ScheduledRun {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const delay = at - Date.now();
    if (delay <= 0) return fn();
    timer = setTimeout(arm, Math.min(delay, MAX_DELAY_MS)).unref();
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}
