/**
 * Which turn of the event loop a store call happens in: for the guards that make long work yield
 * (replay pages, subscription pieces). With a synchronous store, work that never yields makes all
 * its calls in one turn.
 *
 *   const spy = new TurnSpy('eventsByIds');
 *   await world.start({ wrapStore: spy.wrap });
 *   spy.start(); … spy.stop();
 *   expect(spy.repeatedTurns()).to.equal(0);
 */
import type { Store } from '../../src/store/store.js';

export class TurnSpy {
  private turns = 0;
  private ticking = false;
  /** Each call of the watched method: the turn it came in, and its arguments. */
  readonly calls: { turn: number; args: unknown[] }[] = [];

  constructor(readonly method: keyof Store) {}

  /** Wraps a store so that calls of the method are recorded (pass as `wrapStore`). */
  readonly wrap = (store: Store): Store =>
    new Proxy(store, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        if (property !== this.method) return value.bind(target);
        return (...args: unknown[]) => {
          this.calls.push({ turn: this.turns, args });
          return value.apply(target, args);
        };
      },
    });

  /** Forgets the calls so far and starts counting turns. */
  start(): void {
    this.calls.length = 0;
    this.ticking = true;
    const tick = () => {
      this.turns++;
      if (this.ticking) setImmediate(tick);
    };
    setImmediate(tick);
  }

  stop(): void {
    this.ticking = false;
  }

  /** Calls made in the same turn as the call before them. */
  repeatedTurns(): number {
    return this.calls.filter((call, i) => i > 0 && call.turn === this.calls[i - 1]!.turn).length;
  }

  /** The turns of the calls, for messages. */
  toString(): string {
    return this.calls.map((call) => call.turn).join(',');
  }
}
