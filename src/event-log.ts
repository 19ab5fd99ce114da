/**
 * The event log (contract §6): every notification and chat message is committed here before any
 * socket sees it, then handed to the delivery function in id order.
 *
 * Appends are group-committed: everything that arrives while a commit (and its fsync) runs goes
 * into the next transaction, so durability costs one fsync per batch, not per request.
 *
 * The log also remembers the last events it delivered, so a reconnecting socket can finish its
 * replay and join its rooms in one synchronous step, with no gap and no duplicate (see
 * realtime/admission.ts).
 */
import type { EventLogMode } from '../config.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { EventId, LoggedEvent, NewEvent, Store } from './store/store.js';

export type Deliver = (event: LoggedEvent) => void;

interface Pending {
  event: NewEvent;
  resolve: (logged: LoggedEvent) => void;
  reject: (error: unknown) => void;
}

const RECENT_CAPACITY = 4096;
/** How long an Idempotency-Key is honoured (contract §4.2), even past the log's retention. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
const PRUNE_CHUNK = 1000;

export class EventLog {
  private queue: Pending[] = [];
  private flushScheduled = false;
  private flushing: Promise<void> = Promise.resolve();
  private readonly recent: LoggedEvent[] = [];
  private delivered: EventId = 0;
  private deliver: Deliver = () => {};
  private pruneTimer: NodeJS.Timeout | undefined;
  private pruning = false;

  constructor(
    private readonly store: Store,
    private readonly options: { mode: EventLogMode; historyTtlMs: number; logger: Logger; metrics: Metrics },
  ) {}

  /** Starts after the store has migrated: learns the last id and begins pruning. */
  async start(deliver: Deliver): Promise<void> {
    this.deliver = deliver;
    this.delivered = await this.store.lastEventId();
    const every = Math.min(Math.max(this.options.historyTtlMs / 10, 1000), 60_000);
    this.pruneTimer = setInterval(() => void this.prune(Date.now()), every).unref();
  }

  /** The id of the last event handed to delivery; every event up to it has been emitted. */
  get deliveredThrough(): EventId {
    return this.delivered;
  }

  /** The oldest creation time an event may have and still be replayed. */
  retainedSince(now: number): number {
    return now - this.options.historyTtlMs;
  }

  /**
   * Commits `event`, delivers it, and resolves with its id once it is durable and emitted.
   * Rejects (and delivers nothing) when the store cannot commit.
   */
  append<E extends NewEvent>(event: E): Promise<E & { id: EventId }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve: resolve as unknown as (logged: LoggedEvent) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // setImmediate, not a microtask: lets requests that already arrived join this batch
        setImmediate(() => {
          // flush() reports its own failures; this catch only keeps the chain alive should one escape
          this.flushing = this.flushing
            .then(() => this.flush())
            .catch((error: unknown) => this.options.logger.error({ err: error }, 'event log flush failed'));
        });
      }
    });
  }

  /**
   * The delivered events after `afterId`, when memory still holds all of them; undefined when the
   * caller must read the store instead.
   */
  recentAfter(afterId: EventId): LoggedEvent[] | undefined {
    if (afterId >= this.delivered) return [];
    const first = this.recent[0];
    // memory must reach back to the event right after afterId, or the store has to fill the gap
    if (!first || first.id > afterId + 1) return undefined;
    return this.recent.filter((e) => e.id > afterId);
  }

  /** Waits for everything queued so far to be committed and delivered. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushScheduled) {
      await new Promise((resolve) => setImmediate(resolve));
      await this.flushing;
    }
    await this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.pruneTimer);
    await this.drain();
  }

  /** Deletes events older than the retention in small chunks, yielding between them. */
  async prune(now: number): Promise<number> {
    if (this.pruning) return 0;
    this.pruning = true;
    let total = 0;
    try {
      for (;;) {
        const removed = await this.store.pruneEvents(this.retainedSince(now), now - IDEMPOTENCY_WINDOW_MS, PRUNE_CHUNK);
        total += removed;
        if (removed < PRUNE_CHUNK) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (total > 0) this.options.logger.debug({ removed: total }, 'pruned event log');
    } catch (error) {
      this.options.logger.error({ err: error }, 'event log pruning failed');
    } finally {
      this.pruning = false;
    }
    return total;
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    let logged: LoggedEvent[];
    const timer = this.options.metrics.logCommitSeconds.startTimer();
    try {
      logged = await this.commit(batch.map((p) => p.event));
    } catch (error) {
      this.options.logger.error({ err: error, events: batch.length }, 'event log commit failed');
      for (const p of batch) p.reject(error);
      return;
    } finally {
      timer();
    }
    this.options.metrics.logBatchSize.observe(batch.length);
    for (const [i, event] of logged.entries()) {
      this.remember(event);
      try {
        this.deliver(event);
      } catch (error) {
        // the event is durable; a delivery bug must not lose the ack or stop the batch
        this.options.logger.error({ err: error, eventId: event.id }, 'delivery failed');
      }
      batch[i]!.resolve(event);
    }
  }

  /** Whether events are stored: without the log there is no replay, idempotency or chat. */
  get durable(): boolean {
    return this.options.mode === 'durable';
  }

  private async commit(events: NewEvent[]): Promise<LoggedEvent[]> {
    if (this.durable) return this.store.appendEvents(events);
    // EVENT_LOG=off, a benchmark baseline: ids from memory, nothing stored
    if (events.some((event) => event.kind === 'chat')) throw new Error('chat messages need the event log');
    return events.map((event, i) => ({ ...event, id: this.delivered + i + 1 }));
  }

  private remember(event: LoggedEvent): void {
    this.delivered = event.id;
    this.recent.push(event);
    if (this.recent.length > 2 * RECENT_CAPACITY) this.recent.splice(0, this.recent.length - RECENT_CAPACITY);
  }
}
