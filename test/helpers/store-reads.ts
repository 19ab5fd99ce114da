/** Reads tests make of a store through its interface, beyond what the product needs. */
import type { EventId, Store } from '../../src/store/store.js';

/** The oldest id still in the log, or undefined when it is empty. */
export async function oldestEventId(store: Store): Promise<EventId | undefined> {
  const [first] = await store.eventsBetween(0, Number.MAX_SAFE_INTEGER, 1);
  return first?.id;
}
