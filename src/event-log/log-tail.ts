/**
 * A node's tail of the shared log (contract §9, many nodes): every node reads every entry of the
 * log in id order, whichever node committed it, and applies it to its own sockets: an event is
 * delivered, a subscription change moves sockets, a key-ring change reloads the ring. Nothing goes
 * from node to node but the log, so an entry cannot arrive twice or out of order, and a change is
 * applied before every event that has a greater id.
 *
 * The tail reads when woken: by PostgreSQL's `LISTEN` on every commit to the log, by this node
 * right after its own commits, and by a slow poll, the safety net for a notification lost while the
 * listening connection was down.
 */
import type { Clock, ClockTimer } from '../time/clock.js';
import { nextTurn } from '../time/timers.js';
import type { Logger } from '../logger.js';
import type { EventId, LogEntry, SharedLog } from '../store/store.js';

/** Entries read per query. */
const TAIL_PAGE = 500;
/** The safety-net poll. */
export const TAIL_POLL_MS = 1000;

export class LogTail {
  private position: EventId = 0;
  /** The read in flight, and the one queued behind it for callers that came during it. */
  private current: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private stopListening: (() => Promise<void>) | undefined;
  private poll: ClockTimer | undefined;
  private stopped = false;

  constructor(
    private readonly log: SharedLog,
    /** Applies one entry; entries come in id order, each once, the next after this one's promise. */
    private readonly apply: (entry: LogEntry) => void | Promise<void>,
    private readonly options: { logger: Logger; clock: Clock },
  ) {}

  /** Follows the log from after `from` (the newest id when the node starts). */
  async start(from: EventId): Promise<void> {
    this.position = from;
    this.stopListening = await this.log.listen(() => void this.catchUp().catch(() => {}));
    this.schedulePoll();
  }

  /**
   * Reads and applies every entry committed before the call. Rejects when the store cannot be
   * read (the tail tries again on the next wake-up or poll).
   */
  catchUp(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (!this.current) {
      this.current = this.read().finally(() => (this.current = undefined));
      return this.current;
    }
    // the read in flight may have started before what the caller waits for was committed
    return (this.next ??= this.current
      .catch(() => {})
      .then(() => {
        this.next = undefined;
        return this.catchUp();
      }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.poll?.cancel();
    await this.stopListening?.();
    await this.current?.catch(() => {});
  }

  private async read(): Promise<void> {
    for (;;) {
      let entries: LogEntry[];
      try {
        entries = await this.log.entriesAfter(this.position, TAIL_PAGE);
      } catch (error) {
        this.options.logger.warn({ err: error, through: this.position }, 'reading the shared log failed; retrying on the next wake-up');
        throw error;
      }
      for (const entry of entries) {
        if (this.stopped) return;
        try {
          await this.apply(entry);
        } catch (error) {
          // the entry is durable; one that cannot be applied must not stop the ones after it
          this.options.logger.error({ err: error, entryId: entry.id }, 'applying a log entry failed');
        }
        this.position = entry.id;
      }
      if (entries.length < TAIL_PAGE || this.stopped) return;
      // a long backlog (a node that was cut off) lets other work in between its pages
      await nextTurn();
    }
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.poll = this.options.clock.setTimeout(
      () =>
        this.catchUp()
          .catch(() => {})
          .finally(() => this.schedulePoll()),
      TAIL_POLL_MS,
    );
  }
}
