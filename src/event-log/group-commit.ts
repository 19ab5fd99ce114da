/**
 * Group commit: many small requests share one durable transaction (and its fsync). An item waits
 * for the end of the current turn of the event loop (`setImmediate`), so every request whose data
 * arrived in the same turn joins the same batch; with an asynchronous driver (PostgreSQL), items
 * added while a commit is in flight wait for the next one. Commits run one after another, in order.
 *
 * With a synchronous driver (better-sqlite3) the commit, fsync included, blocks the event loop:
 * nothing arrives during it. Requests that came in meanwhile are read in the next turn and form
 * the next batch, so batches still grow with load, one turn at a time. Appending on a worker
 * thread with a connection of its own, so that requests arrive during the fsync, was measured
 * against this (`npm run bench -- durability`, two runs each, 2026-12-06): 0.88–0.89× the
 * notifies/s of EVENT_LOG=off with p99 1.09–1.25×, against 0.89–0.94× and 0.87–1.04× here. The
 * copies to and from the worker cost what the overlap saves on two cores, so the commit stays here.
 *
 * @example
 *   const log = new GroupCommit((events) => store.appendEvents(events));
 *   const logged = await log.add(event); // resolves once its batch is committed
 */
export class GroupCommit<T, R> {
  private queue: { item: T; resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  private chain: Promise<void> = Promise.resolve();

  /**
   * @param commit commits a batch and returns one result per item, in order; what must happen
   *   before any caller hears back (delivering events, moving sockets) belongs in it too.
   */
  constructor(private readonly commit: (items: T[]) => Promise<R[]>) {}

  /** Resolves with the item's result once its batch is committed; rejects if the item could not be. */
  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // setImmediate, not a microtask: lets requests that already arrived join this batch
      setImmediate(() => {
        this.chain = this.chain.then(() => this.flush());
      });
    });
  }

  /** Waits until everything added so far is committed (or failed). */
  async drain(): Promise<void> {
    // the chain first: a commit in flight has already emptied the queue
    do {
      if (this.scheduled) await new Promise((resolve) => setImmediate(resolve));
      await this.chain;
    } while (this.queue.length > 0 || this.scheduled);
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    try {
      const results = await this.commit(batch.map((pending) => pending.item));
      batch.forEach((pending, i) => pending.resolve(results[i]!));
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      // one bad item must not fail the requests that happened to share its batch: the batch
      // rolled back as a whole, so each item is tried again alone
      for (const pending of batch) {
        try {
          const [result] = await this.commit([pending.item]);
          pending.resolve(result!);
        } catch (itemError) {
          pending.reject(itemError);
        }
      }
    }
  }
}
