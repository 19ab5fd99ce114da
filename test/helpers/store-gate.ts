/**
 * A store whose chosen reads can be held open: the seam that makes a race deterministic. While a
 * gate is closed, calls to its method read the database, then wait at the gate until it opens.
 *
 *   const gate = new StoreGate('channelsOf');
 *   await world.start({ wrapStore: gatedStore(gate) });
 *   gate.close(); … await gate.reached; … gate.open();
 */
import type { Store } from '../../src/store/store.js';

export class StoreGate {
  private closed = false;
  /** The calls waiting at the gate, in arrival order. */
  private waiting: (() => void)[] = [];
  private reach: () => void = () => {};
  private reachedOnce = new Promise<void>((resolve) => (this.reach = resolve));
  /** Calls that have waited at the gate so far. */
  waited = 0;

  constructor(readonly method: keyof Store) {}

  /** Resolves once a call has waited at the gate since it was last closed. */
  get reached(): Promise<void> {
    return this.reachedOnce;
  }

  close(): void {
    this.closed = true;
    this.reachedOnce = new Promise((resolve) => (this.reach = resolve));
  }

  /**
   * Lets every waiting call (and every later one) through: in arrival order, or the last to come
   * first, to give a later call the chance to overtake an earlier one.
   */
  open(order: 'arrival' | 'lastFirst' = 'arrival'): void {
    this.closed = false;
    const waiting = this.waiting.splice(0);
    for (const release of order === 'arrival' ? waiting : waiting.reverse()) release();
  }

  /** @internal the wrapped method's wait. */
  async pass(): Promise<void> {
    if (!this.closed) return;
    this.waited++;
    this.reach();
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
}

/** A `wrapStore` for startServer: the gates' methods wait at their gates while those are closed. */
export function gatedStore(...gates: StoreGate[]) {
  return (store: Store): Store =>
    new Proxy(store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const gate = gates.find((g) => g.method === property);
        if (!gate) return value.bind(target);
        return async (...args: unknown[]) => {
          const result = await value.apply(target, args);
          await gate.pass();
          return result;
        };
      },
    });
}
