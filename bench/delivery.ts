/**
 * Counting deliveries on the load side: a counter every lean client reports to, an audience of
 * connected sockets on one server, and series of notifies that each wait for their last
 * delivery, timed from just before the HTTP request is written.
 */
import { HttpConnection } from './http-load.js';
import { closeAll, LeanClient, openMany, type DeliveryHook, type EventName, type OpenManyResult } from './lean-client.js';
import { CONNECT_CONCURRENCY, cpuMeter } from './scenario.js';
import type { ServerProcess } from './server-process.js';
import { percentile } from './stats.js';

/** Counts deliveries of one event across all clients; resolves a waiter when a total is reached. */
export class DeliveryCounter {
  total = 0;
  private waiter: { target: number; resolve(at: number): void } | undefined;

  constructor(readonly event: EventName) {}

  readonly hook: DeliveryHook = (_client, event) => {
    if (event !== this.event) return;
    this.total++;
    if (this.waiter && this.total >= this.waiter.target) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.resolve(performance.now());
    }
  };

  /** Resolves with the time (performance.now) the total reached `target`, or undefined on timeout. */
  reach(target: number, timeoutMs: number): Promise<number | undefined> {
    if (this.total >= target) return Promise.resolve(performance.now());
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = {
        target,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
    });
  }
}

/** Pooled figures of one side's notify series. */
export interface SeriesSummary {
  readonly notifies: number;
  readonly deliveries: number;
  readonly seconds: number;
  readonly deliveriesPerSecond: number;
  /** notify (just before the HTTP request is written) → its last delivery, ms. */
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly serverCpuMicrosPerDelivery: number;
  readonly serverCores: number;
  readonly loadCores: number;
  readonly otherCores: number;
}

/**
 * Sockets connected to one server, all counting one event. `notify` sends notifies one after
 * another, each when the previous one's last delivery arrived, so a latency is the notify's own
 * and not the queue's; several calls (rounds) pool their figures.
 */
export class Audience {
  readonly counter: DeliveryCounter;
  readonly problems: string[] = [];
  private latencies: number[] = [];
  private seconds = 0;
  private serverCpuSeconds = 0;
  private loadCpuSeconds = 0;
  private otherCpuSeconds = 0;

  private constructor(
    readonly server: ServerProcess,
    readonly opened: OpenManyResult,
    counter: DeliveryCounter,
    private readonly perNotify: number,
  ) {
    this.counter = counter;
  }

  /**
   * Opens `count` sockets (waiting for `ready`); throws if any fails.
   * @param perNotify deliveries each notify must produce (usually `count`)
   */
  static async connect(
    server: ServerProcess,
    event: EventName,
    count: number,
    makeClient: (index: number, hook: DeliveryHook) => LeanClient,
    perNotify = count,
  ): Promise<Audience> {
    const counter = new DeliveryCounter(event);
    const opened = await openMany(count, (i) => makeClient(i, counter.hook), { concurrency: CONNECT_CONCURRENCY, waitFor: 'ready' });
    if (opened.failures > 0) {
      closeAll(opened.clients);
      throw new Error(`${server.label}: ${opened.failures} of ${count} sockets failed to connect: ${opened.errors.join('; ')}`);
    }
    return new Audience(server, opened, counter, perNotify);
  }

  /**
   * Another series of notifies to the same sockets, with figures of its own (e.g. two notify
   * methods reaching the same audience). It shares the delivery counter, so the two series must
   * not notify at the same time.
   */
  sibling(perNotify = this.perNotify): Audience {
    return new Audience(this.server, this.opened, this.counter, perNotify);
  }

  get clients(): readonly LeanClient[] {
    return this.opened.clients;
  }

  get failed(): boolean {
    return this.problems.length > 0;
  }

  /** Sends `notifies` notifies in sequence; stops at the first whose deliveries do not all arrive. */
  async notify(notifies: number, request: (index: number) => Buffer, timeoutMs = 10_000): Promise<void> {
    if (this.failed) return;
    const connection = await HttpConnection.open(this.server.port);
    const cpu = cpuMeter(this.server);
    const started = performance.now();
    let finished = started;
    try {
      for (let index = 0; index < notifies; index++) {
        const base = this.counter.total;
        const sentAt = performance.now();
        const [response, reachedAt] = await Promise.all([
          connection.send(request(index)),
          this.counter.reach(base + this.perNotify, timeoutMs),
        ]);
        if (response.status !== 202) {
          this.problems.push(`${this.server.label}: notify answered ${response.status}: ${response.body.toString('utf8').slice(0, 300)}`);
          break;
        }
        if (reachedAt === undefined) {
          this.problems.push(`${this.server.label}: ${this.counter.total - base} of ${this.perNotify} deliveries of a notify arrived within ${timeoutMs} ms`);
          break;
        }
        this.latencies.push(reachedAt - sentAt);
        finished = reachedAt;
      }
    } finally {
      connection.close();
      const reading = cpu();
      this.seconds += (finished - started) / 1000;
      this.serverCpuSeconds += reading.serverCpuSeconds;
      this.loadCpuSeconds += reading.loadCores * reading.seconds;
      this.otherCpuSeconds += reading.otherCores * reading.seconds;
    }
  }

  summary(): SeriesSummary {
    const deliveries = this.latencies.length * this.perNotify;
    return {
      notifies: this.latencies.length,
      deliveries,
      seconds: this.seconds,
      deliveriesPerSecond: deliveries / this.seconds,
      latencyMs: { p50: percentile(this.latencies, 0.5), p99: percentile(this.latencies, 0.99), max: percentile(this.latencies, 1) },
      serverCpuMicrosPerDelivery: (this.serverCpuSeconds * 1e6) / deliveries,
      serverCores: this.serverCpuSeconds / this.seconds,
      loadCores: this.loadCpuSeconds / this.seconds,
      otherCores: this.otherCpuSeconds / this.seconds,
    };
  }

  close(): void {
    closeAll(this.clients);
  }
}

/** Clients whose count of `event` is not `expected` (of each, by index), described briefly (at most 5). */
export function countMismatches(
  clients: readonly LeanClient[],
  event: EventName,
  expectedOf: number | ((index: number) => number),
): { count: number; examples: string[] } {
  let count = 0;
  const examples: string[] = [];
  clients.forEach((client, index) => {
    const got = client.count(event);
    const expected = typeof expectedOf === 'number' ? expectedOf : expectedOf(index);
    if (got === expected) return;
    count++;
    if (examples.length < 5) examples.push(`socket ${index}: ${got} × ${event}, expected ${expected}`);
  });
  return { count, examples };
}

/** Waits until `predicate` holds, polling every 20 ms, at most `timeoutMs`; returns whether it held. */
export async function settle(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
