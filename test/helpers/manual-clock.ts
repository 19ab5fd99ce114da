/**
 * A clock the test moves by hand: time stands still until `advance` or `advanceTo`, which run the
 * timers that fall due, in time order (a timer a callback sets that is already due runs too).
 *
 *   const clock = new ManualClock();
 *   await world.start({ clock });
 *   clock.advanceTo(expOf(token) * 1000); // the socket's token expires now, not in a minute
 */
import type { Clock, ClockTimer } from '../../src/time/clock.js';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class ManualClock implements Clock {
  private time: number;
  private timers: Timer[] = [];
  private seq = 0;
  private settling: Promise<void> = Promise.resolve();

  /** Starts at `start` (default: the wall clock now, so tokens signed for real time make sense). */
  constructor(start = Date.now()) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    const timer: Timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Timers armed and not yet run or cancelled. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** The delays, from now, of the timers still armed. */
  armed(): number[] {
    return this.timers.filter((t) => !t.cancelled).map((t) => t.at - this.time);
  }

  /** Moves time forward by `ms`, running every timer due on the way at its own moment. */
  advance(ms: number): void {
    this.advanceTo(this.time + ms);
  }

  /** Moves time forward to `at` (never back), running every timer due on the way at its own moment. */
  advanceTo(at: number): void {
    for (let next = this.takeNextDue(at); next; next = this.takeNextDue(at)) next.fn();
    this.time = Math.max(this.time, at);
  }

  /**
   * Like {@link advance}, for timers that start asynchronous work (the event log's prune): stops
   * at each due timer, waits for the promise it returns, if any, and lets what it started settle
   * before looking for the next. Calls are serialized.
   */
  advanceSettled(ms: number): Promise<void> {
    this.settling = this.settling.then(async () => {
      const target = this.time + ms;
      for (let next = this.takeNextDue(target); next; next = this.takeNextDue(target)) {
        const work = (next.fn as () => unknown)();
        if (work instanceof Promise) await work.catch(() => {});
        await settle();
      }
      this.time = Math.max(this.time, target);
      await settle();
    });
    return this.settling;
  }

  /** Removes the earliest timer due by `at`, moving time to its moment; undefined when none is. */
  private takeNextDue(at: number): Timer | undefined {
    this.timers = this.timers.filter((t) => !t.cancelled);
    const next = this.timers.filter((t) => t.at <= at).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
    if (!next) return undefined;
    this.timers.splice(this.timers.indexOf(next), 1);
    this.time = Math.max(this.time, next.at);
    return next;
  }
}

/** A few turns of the event loop: long enough for what a timer started to reach its next await on I/O. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}
