import { ChattyError } from '../errors.js';

/** Flood control: `perSecond` sustained, `burst` at once. `take()` throws `rate_limited`. */
export class TokenBucket {
  private tokens: number;
  private updatedAt = Date.now();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(now = Date.now()): void {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.perSecond);
    this.updatedAt = now;
    if (this.tokens < 1) throw new ChattyError('rate_limited', 'Slow down: too many events from this connection');
    this.tokens -= 1;
  }
}
