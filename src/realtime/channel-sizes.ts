/**
 * How many subscribers channels have, remembered for a while: presence is announced only in
 * channels with at most PRESENCE_LIMIT members, and asking the store on every connect and
 * disconnect would cost more than the announcement.
 */
import { systemClock, type Clock } from '../time/clock.js';
import type { ChannelName } from '../channels/names.js';
import type { Store } from '../store/store.js';

/** How long a count is trusted when this node did not change the channel itself. */
const TTL_MS = 30_000;
/** Counts remembered at most; the oldest go first. */
const CAPACITY = 50_000;

export class ChannelSizes {
  private readonly counts = new Map<ChannelName, { size: number; at: number }>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock = systemClock,
  ) {}

  /** The channels among `channels` with at most `limit` subscribers, in the order given. */
  async atMost(channels: readonly ChannelName[], limit: number): Promise<ChannelName[]> {
    const now = this.clock.now();
    const stale = channels.filter((channel) => {
      const known = this.counts.get(channel);
      return !known || now - known.at > TTL_MS;
    });
    if (stale.length > 0) {
      for (const [channel, size] of await this.store.countSubscribers(stale)) {
        this.counts.delete(channel);
        this.counts.set(channel, { size, at: now });
      }
      for (const oldest of this.counts.keys()) {
        if (this.counts.size <= CAPACITY) break;
        this.counts.delete(oldest);
      }
    }
    return channels.filter((channel) => (this.counts.get(channel)?.size ?? 0) <= limit);
  }

  /** Forgets the counts of channels whose subscriptions changed. */
  forget(channels: readonly ChannelName[]): void {
    for (const channel of channels) this.counts.delete(channel);
  }
}
