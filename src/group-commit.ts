/**
 * Group commit: items added while a commit (and its fsync) runs wait for the next one, so many
 * small requests share one durable transaction. Commits run one after another, in order.
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

  /** Resolves with the item's result once its batch is committed; rejects if the batch failed. */
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
    while (this.queue.length > 0 || this.scheduled) {
      await new Promise((resolve) => setImmediate(resolve));
      await this.chain;
    }
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
      for (const pending of batch) pending.reject(error);
    }
  }
}
