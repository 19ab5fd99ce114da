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

  /** Moves time forward by `ms`, running every timer due on the way at its own moment. */
  advance(ms: number): void {
    this.advanceTo(this.time + ms);
  }

  /** Moves time forward to `at` (never back), running every timer due on the way at its own moment. */
  advanceTo(at: number): void {
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      const next = this.timers.filter((t) => t.at <= at).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.time = Math.max(this.time, next.at);
      next.fn();
    }
    this.time = Math.max(this.time, at);
  }
}
