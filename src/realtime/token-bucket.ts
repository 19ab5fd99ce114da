import type { Clock } from '../time/clock.js';
import { ChattyError } from '../errors.js';

/**
 * Flood control: `perSecond` sustained, `burst` at once, measured on the clock it is given (so
 * tests move time instead of waiting for a refill).
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.updatedAt = clock.now();
  }

  /** Takes one token; false when there is none left. */
  tryTake(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.updatedAt) / 1000) * this.perSecond);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Takes one token or throws `rate_limited` with `message`. */
  take(message: string): void {
    if (!this.tryTake()) throw new ChattyError('rate_limited', message);
  }
}
