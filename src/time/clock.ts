/**
 * Time, as one injectable seam: every rate limit, token expiry and retention decision reads the
 * clock it was given, so tests move time forward instead of sleeping through it.
 *
 * @example
 *   const chatty = await createChatty(config, { clock: manualClock }); // tests
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` after `ms` on this clock; the timer never keeps the process alive. */
  setTimeout(fn: () => void, ms: number): ClockTimer;
}

export interface ClockTimer {
  cancel(): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms).unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
