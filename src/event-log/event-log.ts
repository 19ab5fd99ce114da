/**
 * The event log (contract §6): every notification and chat message is committed here before any
 * socket sees it, then handed to the delivery function in id order.
 *
 * Appends are group-committed (group-commit.ts): durability costs one fsync per batch, not per
 * request.
 *
 * The log also remembers the last events it delivered, so a reconnecting socket can finish its
 * replay and join its rooms in one synchronous step, with no gap and no duplicate (see
 * realtime/admission.ts).
 *
 * On many nodes (a shared log, contract §9) a node does not deliver its own commits: its tail of the
 * log delivers every node's events, and applies every node's changes, in id order (log-tail.ts).
 * A commit here wakes the tail and waits for it before the callers hear back.
 */
import type { EventLogMode } from '../../config.js';
import type { Clock, ClockTimer } from '../time/clock.js';
import { nextTurn } from '../time/timers.js';
import { GroupCommit } from './group-commit.js';
import { LogTail } from './log-tail.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { IDEMPOTENCY_WINDOW_MS, type EventId, type LoggedChange, type LoggedEvent, type NewEvent, type SharedLog, type Store } from '../store/store.js';

export { IDEMPOTENCY_WINDOW_MS };

export type Deliver = (event: LoggedEvent) => void;
/** Applies a change another node (or this one) logged: moves sockets, reloads the key ring. */
export type ApplyChange = (change: LoggedChange) => void | Promise<void>;

const PRUNE_CHUNK = 1000;

export class EventLog {
  private readonly batches = new GroupCommit<NewEvent, LoggedEvent>((events) => this.commitAndDeliver(events));
  /** Delivered events, oldest first, from `recentStart`; with their estimated sizes. */
  private recent: LoggedEvent[] = [];
  private recentSizes: number[] = [];
  private recentStart = 0;
  private recentBytes = 0;
  private delivered: EventId = 0;
  private deliver: Deliver = () => {};
  private pruneTimer: ClockTimer | undefined;
  private stopped = false;
  private pruning = false;
  private tail: LogTail | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: {
      mode: EventLogMode;
      historyTtlMs: number;
      /** How many bytes of delivered events to keep for reconnects finishing their replay. */
      recentBytes: number;
      logger: Logger;
      metrics: Metrics;
      clock: Clock;
      /** Many nodes: the log they share, which this node tails. */
      shared?: SharedLog;
    },
  ) {}

  /**
   * Starts after the store has migrated: learns the last id, begins tailing the shared log (on
   * many nodes, where `applyChange` applies the changes it holds) and pruning.
   */
  async start(deliver: Deliver, applyChange: ApplyChange = () => {}): Promise<void> {
    this.deliver = deliver;
    this.delivered = await this.store.lastEventId();
    if (this.options.shared) {
      const tail = new LogTail(
        this.options.shared,
        (entry) => {
          if (entry.kind !== 'change') return this.deliverOne(entry);
          this.delivered = entry.id;
          return applyChange(entry);
        },
        this.options,
      );
      await tail.start(this.delivered);
      this.tail = tail;
    }
    const every = Math.min(Math.max(this.options.historyTtlMs / 10, 1000), 60_000);
    this.schedulePrune(every);
  }

  /**
   * Many nodes: resolves once this node has applied every entry committed to the shared log
   * before the call (a change another node answered, say). At once on a single node.
   */
  async catchUp(): Promise<void> {
    await this.tail?.catchUp();
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
    // the log hands back the event it was given, with its id
    return this.batches.add(event) as unknown as Promise<E & { id: EventId }>;
  }

  /**
   * The delivered events after `afterId`, when memory still holds all of them; undefined when the
   * caller must read the store instead.
   */
  recentAfter(afterId: EventId, limit = Infinity): LoggedEvent[] | undefined {
    if (afterId >= this.delivered) return [];
    const first = this.recent[this.recentStart];
    // memory must reach back to the event right after afterId, or the store has to fill the gap
    if (!first || first.id > afterId + 1) return undefined;
    // the first event after afterId, by binary search: a lagging reader must not scan all of memory
    let lo = this.recentStart;
    let hi = this.recent.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.recent[mid]!.id > afterId) hi = mid;
      else lo = mid + 1;
    }
    return this.recent.slice(lo, Math.min(this.recent.length, lo + limit));
  }

  /**
   * Moderation removed a chat message: the copy memory keeps for finishing replays is marked
   * deleted too, so that no replay sends it (the store's replay index has already dropped it).
   */
  markDeleted(id: EventId, deletedAt: number): void {
    let lo = this.recentStart;
    let hi = this.recent.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const event = this.recent[mid]!;
      if (event.id === id) {
        if (event.kind === 'chat') this.recent[mid] = { ...event, body: '', deletedAt };
        return;
      }
      if (event.id < id) lo = mid + 1;
      else hi = mid - 1;
    }
  }

  /** Waits for everything queued so far to be committed and delivered. */
  async drain(): Promise<void> {
    await this.batches.drain();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pruneTimer?.cancel();
    await this.drain();
    await this.tail?.stop();
  }

  private schedulePrune(every: number): void {
    if (this.stopped) return;
    // returns the run, so that a test clock can wait for it (a real timer ignores it)
    this.pruneTimer = this.options.clock.setTimeout(() => this.prune(this.options.clock.now()).finally(() => this.schedulePrune(every)), every);
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
        await nextTurn();
      }
      if (total > 0) this.options.logger.debug({ removed: total }, 'pruned event log');
    } catch (error) {
      this.options.logger.error({ err: error }, 'event log pruning failed');
    } finally {
      this.pruning = false;
    }
    return total;
  }

  /** One batch: commit, then deliver in id order, before any caller hears back. */
  private async commitAndDeliver(events: NewEvent[]): Promise<LoggedEvent[]> {
    let logged: LoggedEvent[];
    const timer = this.options.metrics.logCommitSeconds.startTimer();
    try {
      logged = await this.commit(events);
    } catch (error) {
      this.options.logger.error({ err: error, events: events.length }, 'event log commit failed');
      throw error;
    } finally {
      timer();
    }
    this.options.metrics.logBatchSize.observe(events.length);
    if (this.tail) {
      // the tail delivers them, in their place among the other nodes' entries; if it cannot read
      // the log now, it will on its next wake-up: the events are durable, the callers hear back
      await this.tail.catchUp().catch(() => {});
      return logged;
    }
    for (const event of logged) this.deliverOne(event);
    return logged;
  }

  private deliverOne(event: LoggedEvent): void {
    this.remember(event);
    try {
      this.deliver(event);
    } catch (error) {
      // the event is durable; a delivery bug must not lose the ack or stop the batch
      this.options.logger.error({ err: error, eventId: event.id }, 'delivery failed');
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

  /** Keeps `event` for reconnects, forgetting the oldest ones beyond `recentBytes`. */
  private remember(event: LoggedEvent): void {
    this.delivered = event.id;
    const size = sizeOf(event);
    this.recent.push(event);
    this.recentSizes.push(size);
    this.recentBytes += size;
    while (this.recentBytes > this.options.recentBytes && this.recentStart < this.recent.length) {
      this.recentBytes -= this.recentSizes[this.recentStart]!;
      this.recentStart++;
    }
    // compact now and then: dropping from the front of an array one by one would be quadratic
    if (this.recentStart > 1024 && this.recentStart * 2 > this.recent.length) {
      this.recent = this.recent.slice(this.recentStart);
      this.recentSizes = this.recentSizes.slice(this.recentStart);
      this.recentStart = 0;
    }
  }
}

/** Fixed cost of an event held in memory (object, id, times), beyond its payload. */
const EVENT_OVERHEAD_BYTES = 200;

/** An estimate of the memory an event holds: its payload's JSON length, counted as UTF-16. */
export function sizeOf(event: LoggedEvent): number {
  const payload =
    event.kind === 'chat'
      ? event.body.length + event.channel.length + (event.offline?.join().length ?? 0)
      : JSON.stringify(event.attributes).length + event.target.names.join().length;
  return EVENT_OVERHEAD_BYTES + 2 * payload;
}
