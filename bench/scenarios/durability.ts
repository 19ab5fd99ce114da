/**
 * durability (issue 4): notify throughput with the event log on (`EVENT_LOG=durable`: every
 * notify committed and fsync'd before its 202) against the same server with the log disabled
 * (`EVENT_LOG=off`), both running at once and taking turns: 32 concurrent keep-alive clients
 * notify one channel of 100 sockets, a warm-up then 5 rounds of 1 s each. Every socket must
 * receive every accepted notify. No target: the ratio is reported (group commit should keep it
 * close to 1).
 */
import { countMismatches, DeliveryCounter, settle } from '../delivery.js';
import { pool, runLoad, type LoadResult } from '../http-load.js';
import { closeAll, LeanClient, openMany } from '../lean-client.js';
import { Product, type EventLogMode, type ProductOptions } from '../product.js';
import { alternate, CONNECT_CONCURRENCY, cpuMeter, type Scenario } from '../scenario.js';
import { compare, round } from '../stats.js';
import { ATTRIBUTES } from './fan-out.js';

const SOCKETS = 100;
const CONNECTIONS = 32;
const WARMUP_MS = 1_000;
const ROUNDS = 5;
const ROUND_MS = 1_000;
const CHANNEL = 'feeds-1';
const EVENT = 'bench';

/**
 * One product under notify load: 100 sockets in one channel, 32 keep-alive clients notifying it,
 * every delivery counted. Also used by the postgres scenario.
 */
export class NotifySide {
  readonly rounds: LoadResult[] = [];
  readonly counter = new DeliveryCounter(EVENT);
  clients: LeanClient[] = [];
  accepted = 0;
  serverCpuSeconds = 0;
  private request: Buffer | undefined;

  private constructor(readonly product: Product) {}

  static async start(options: ProductOptions): Promise<NotifySide> {
    const side = new NotifySide(await Product.start(options));
    try {
      await side.connect();
    } catch (error) {
      await side.stop();
      throw error;
    }
    return side;
  }

  private async connect(): Promise<void> {
    const users = Array.from({ length: SOCKETS }, (_, i) => `dur${i}`);
    await this.product.subscribeUsers(users, [CHANNEL]);
    const opened = await openMany(SOCKETS, (i) => new LeanClient(this.product.wsUrl, { token: this.product.token(users[i]) }, this.counter.hook), {
      concurrency: CONNECT_CONCURRENCY,
      waitFor: 'ready',
    });
    this.clients = opened.clients;
    if (opened.failures > 0) throw new Error(`${opened.failures} sockets failed to connect: ${opened.errors.join('; ')}`);
    this.request = this.product.notifyRequest(`channels:${CHANNEL}`, EVENT, ATTRIBUTES, ['origin']);
  }

  /** The same load (32 clients for `durationMs`) with `request`, by default the notify of the 100 sockets. */
  load(durationMs: number, request = this.request!): Promise<LoadResult> {
    return runLoad({ port: this.product.port, connections: CONNECTIONS, durationMs, next: () => request });
  }

  async warmUp(): Promise<void> {
    this.accepted += (await this.load(WARMUP_MS)).statuses['202'] ?? 0;
  }

  async round(): Promise<void> {
    const cpu = cpuMeter(this.product.server);
    const result = await this.load(ROUND_MS);
    this.serverCpuSeconds += cpu().serverCpuSeconds;
    this.rounds.push(result);
    this.accepted += result.statuses['202'] ?? 0;
  }

  async check() {
    await settle(() => this.counter.total >= this.accepted * SOCKETS, 15_000);
    return countMismatches(this.clients, EVENT, this.accepted);
  }

  figures(mismatches: { count: number }) {
    const load = pool(this.rounds);
    return {
      sockets: SOCKETS,
      connections: CONNECTIONS,
      notifiesPerSecond: round(load.requestsPerSecond, 0),
      deliveriesPerSecond: round(load.requestsPerSecond * SOCKETS, 0),
      statuses: load.statuses,
      latencyP50Ms: round(load.latencyMs.p50),
      latencyP99Ms: round(load.latencyMs.p99),
      serverCpuMicrosPerNotify: round((this.serverCpuSeconds * 1e6) / Math.max(1, load.requests), 1),
      socketsWithWrongCount: mismatches.count,
    };
  }

  async stop(): Promise<void> {
    closeAll(this.clients);
    await this.product.stop();
  }
}

const options = (eventLog: EventLogMode): ProductOptions => ({ label: `durability-${eventLog}`, eventLog });

export const durability: Scenario = {
  name: 'durability',
  description: `notify throughput, EVENT_LOG=durable vs off: ${CONNECTIONS} clients → 1 channel of ${SOCKETS} sockets, ${ROUNDS} rounds of ${ROUND_MS / 1000} s`,
  timeoutMs: 60_000,
  async run(context) {
    const sides: NotifySide[] = [];
    try {
      context.log('starting the product with EVENT_LOG=off (baseline) and with EVENT_LOG=durable');
      const off = await NotifySide.start(options('off'));
      sides.push(off);
      const durable = await NotifySide.start(options('durable'));
      sides.push(durable);
      await off.warmUp();
      await durable.warmUp();
      context.log(`${ROUNDS} rounds each`);
      await alternate(ROUNDS, () => off.round(), () => durable.round());

      const [dm, om] = [await durable.check(), await off.check()];
      const [d, o] = [pool(durable.rounds), pool(off.rounds)];
      const notes: string[] = [];
      for (const [label, load, mismatches] of [['durable', d, dm], ['off', o, om]] as const) {
        if (load.errors > 0 || Object.keys(load.statuses).some((status) => status !== '202')) notes.push(`${label}: statuses ${JSON.stringify(load.statuses)}, ${load.errors} errors`);
        notes.push(...mismatches.examples.map((example) => `${label}: ${example}`));
      }
      return {
        product: durable.figures(dm),
        baseline: off.figures(om),
        comparisons: [
          compare('notifies/s, durable vs off', '/s', d.requestsPerSecond, o.requestsPerSecond),
          compare('notify p99, durable vs off', 'ms', d.latencyMs.p99, o.latencyMs.p99),
        ],
        complete: d.requests > 0 && o.requests > 0 && dm.count === 0 && om.count === 0 && d.errors === 0 && o.errors === 0,
        notes,
      };
    } finally {
      await Promise.all(sides.map((side) => side.stop()));
    }
  },
};
