/**
 * postgres (PostgreSQL store 2): the same server on PostgreSQL against itself on SQLite, both
 * running at once and taking turns, so each figure is a ratio to the SQLite figure of the same run.
 *
 * - durable notifies: 32 keep-alive clients notify one channel of 100 sockets, 5 rounds of 1 s;
 *   every socket must receive every accepted notify. Target: PostgreSQL ≥ 0.5× SQLite.
 * - control path: the same clients notify a channel without subscribers (the log's cost, no fan-out).
 * - subscribe: one request `channels:seed-1` subscribing 10,000 users to 5 channels (×3, median).
 * - connect: 2,000 handshakes of users with 10 channels each, 100 in flight (2 rounds of 1,000).
 *
 * PostgreSQL is the machine's (127.0.0.1:5432, user postgres, or BENCH_POSTGRES_URL): each run
 * makes its own database and drops it.
 */
import { countMismatches, DeliveryCounter, settle } from '../delivery.js';
import { pool, runLoad, type LoadResult } from '../http-load.js';
import { closeAll, LeanClient, openMany } from '../lean-client.js';
import { documentOf, Product } from '../product.js';
import { alternate, CONNECT_CONCURRENCY, scaled, type Scenario } from '../scenario.js';
import { compare, percentile, round } from '../stats.js';
import { ATTRIBUTES } from './fan-out.js';

type Kind = 'sqlite' | 'postgres';

const SOCKETS = 100;
const CONNECTIONS = 32;
const WARMUP_MS = 1_000;
const ROUNDS = 5;
const ROUND_MS = 1_000;
const CHANNEL = 'feeds-1';
const EMPTY_CHANNEL = 'nobody-1';
const EVENT = 'bench';
const SUBSCRIBE_USERS = scaled(10_000);
const SEED = 'seed-1';
const CHANNEL_SETS = [1, 6, 11].map((first) => Array.from({ length: 5 }, (_, k) => `posts-${first + k}`));
const CONNECT_ROUNDS = 2;
const CONNECTS_PER_ROUND = scaled(1_000);
const CONNECT_CHANNELS = Array.from({ length: 10 }, (_, k) => `teams-${k + 1}`);

class Side {
  readonly notifyRounds: LoadResult[] = [];
  readonly controlRounds: LoadResult[] = [];
  readonly subscribeMs: number[] = [];
  readonly connectSeconds: number[] = [];
  readonly counter = new DeliveryCounter(EVENT);
  readonly notes: string[] = [];
  clients: LeanClient[] = [];
  accepted = 0;
  connectFailures = 0;
  private connectRound = 0;

  private constructor(
    readonly kind: Kind,
    readonly product: Product,
  ) {}

  static async start(kind: Kind): Promise<Side> {
    const product = await Product.start({ label: `postgres-${kind}`, store: kind, env: { MAX_SUBSCRIPTION_PAIRS: String(SUBSCRIBE_USERS * 5) } });
    const side = new Side(kind, product);
    try {
      const users = Array.from({ length: SOCKETS }, (_, i) => `pg${i}`);
      await product.subscribeUsers(users, [CHANNEL]);
      const opened = await openMany(SOCKETS, (i) => new LeanClient(product.wsUrl, { token: product.token(users[i]!) }, side.counter.hook), {
        concurrency: CONNECT_CONCURRENCY,
        waitFor: 'ready',
      });
      side.clients = opened.clients;
      if (opened.failures > 0) throw new Error(`${kind}: ${opened.failures} sockets failed to connect: ${opened.errors.join('; ')}`);
      await product.subscribeUsers(Array.from({ length: SUBSCRIBE_USERS }, (_, i) => `sub${i}`), [SEED]);
      await product.subscribeUsers(Array.from({ length: CONNECT_ROUNDS * CONNECTS_PER_ROUND }, (_, i) => `con${i}`), CONNECT_CHANNELS);
    } catch (error) {
      await side.stop();
      throw error;
    }
    return side;
  }

  private load(channel: string, durationMs: number): Promise<LoadResult> {
    const request = this.product.notifyRequest(`channels:${channel}`, EVENT, ATTRIBUTES, ['origin']);
    return runLoad({ port: this.product.port, connections: CONNECTIONS, durationMs, next: () => request });
  }

  async warmUp(): Promise<void> {
    this.accepted += (await this.load(CHANNEL, WARMUP_MS)).statuses['202'] ?? 0;
    await this.load(EMPTY_CHANNEL, WARMUP_MS);
  }

  async notifyRound(): Promise<void> {
    const result = await this.load(CHANNEL, ROUND_MS);
    this.notifyRounds.push(result);
    this.accepted += result.statuses['202'] ?? 0;
  }

  async controlRound(): Promise<void> {
    this.controlRounds.push(await this.load(EMPTY_CHANNEL, ROUND_MS));
  }

  async subscribeOnce(round: number): Promise<void> {
    const request = this.product.subscribeRequest(`channels:${SEED}`, documentOf(CHANNEL_SETS[round]!));
    const started = performance.now();
    const response = await this.product.send(request, 60_000);
    this.subscribeMs.push(performance.now() - started);
    const changed = Number(response.json?.meta?.changed);
    if (response.status !== 200 || changed !== SUBSCRIBE_USERS * 5) this.notes.push(`${this.kind}: subscribe answered ${response.status}, changed ${changed}`);
  }

  async connectOnce(): Promise<void> {
    const first = this.connectRound++ * CONNECTS_PER_ROUND;
    const opened = await openMany(CONNECTS_PER_ROUND, (i) => new LeanClient(this.product.wsUrl, { token: this.product.token(`con${first + i}`) }), {
      concurrency: CONNECT_CONCURRENCY,
      waitFor: 'ready',
    });
    closeAll(opened.clients);
    this.connectSeconds.push(opened.seconds);
    this.connectFailures += opened.failures;
    if (opened.failures > 0) this.notes.push(`${this.kind}: ${opened.failures} connects failed: ${opened.errors.join('; ')}`);
  }

  async check(): Promise<{ count: number; examples: string[] }> {
    await settle(() => this.counter.total >= this.accepted * SOCKETS, 15_000);
    return countMismatches(this.clients, EVENT, this.accepted);
  }

  figures(mismatches: { count: number }) {
    const notify = pool(this.notifyRounds);
    const control = pool(this.controlRounds);
    return {
      store: this.kind,
      notifiesPerSecond: round(notify.requestsPerSecond, 0),
      notifyP99Ms: round(notify.latencyMs.p99),
      controlRequestsPerSecond: round(control.requestsPerSecond, 0),
      controlP99Ms: round(control.latencyMs.p99),
      subscribeOneRequestMs: this.subscribeMs.map((ms) => round(ms)),
      connectsPerSecond: round(this.connectsPerSecond(), 0),
      socketsWithWrongCount: mismatches.count,
    };
  }

  connectsPerSecond(): number {
    return (this.connectSeconds.length * CONNECTS_PER_ROUND - this.connectFailures) / this.connectSeconds.reduce((a, b) => a + b, 0);
  }

  async stop(): Promise<void> {
    closeAll(this.clients);
    await this.product.stop();
  }
}

export const postgres: Scenario = {
  name: 'postgres',
  description: `the server on PostgreSQL vs on SQLite: durable notifies (${CONNECTIONS} clients → ${SOCKETS} sockets), control path, one subscribe of ${SUBSCRIBE_USERS} users × 5 channels, ${CONNECT_ROUNDS * CONNECTS_PER_ROUND} connects`,
  timeoutMs: 150_000,
  async run(context) {
    const sides: Side[] = [];
    try {
      context.log('starting the product on SQLite (baseline) and on a fresh PostgreSQL database');
      const sqlite = await Side.start('sqlite');
      sides.push(sqlite);
      const postgresSide = await Side.start('postgres');
      sides.push(postgresSide);
      await sqlite.warmUp();
      await postgresSide.warmUp();
      context.log(`notifies and the control path, ${ROUNDS} rounds each`);
      await alternate(ROUNDS, () => sqlite.notifyRound(), () => postgresSide.notifyRound());
      await alternate(ROUNDS, () => sqlite.controlRound(), () => postgresSide.controlRound());
      context.log('subscribe and connect');
      await alternate(CHANNEL_SETS.length, (r) => sqlite.subscribeOnce(r), (r) => postgresSide.subscribeOnce(r));
      await alternate(CONNECT_ROUNDS, () => sqlite.connectOnce(), () => postgresSide.connectOnce());

      const [pm, sm] = [await postgresSide.check(), await sqlite.check()];
      const notes = [...sqlite.notes, ...postgresSide.notes];
      for (const [side, mismatches] of [[postgresSide, pm], [sqlite, sm]] as const) {
        for (const load of [pool(side.notifyRounds), pool(side.controlRounds)]) {
          if (load.errors > 0 || Object.keys(load.statuses).some((status) => status !== '202')) notes.push(`${side.kind}: statuses ${JSON.stringify(load.statuses)}, ${load.errors} errors`);
        }
        notes.push(...mismatches.examples.map((example) => `${side.kind}: ${example}`));
      }
      const [pn, sn] = [pool(postgresSide.notifyRounds), pool(sqlite.notifyRounds)];
      const [pc, sc] = [pool(postgresSide.controlRounds), pool(sqlite.controlRounds)];
      return {
        product: postgresSide.figures(pm),
        baseline: sqlite.figures(sm),
        comparisons: [
          compare('durable notifies/s, PostgreSQL vs SQLite', '/s', pn.requestsPerSecond, sn.requestsPerSecond, { min: 0.5 }),
          compare('notify p99, PostgreSQL vs SQLite', 'ms', pn.latencyMs.p99, sn.latencyMs.p99),
          compare('control path requests/s, PostgreSQL vs SQLite', '/s', pc.requestsPerSecond, sc.requestsPerSecond),
          compare(`subscribe one request, ${SUBSCRIBE_USERS} users × 5 channels`, 'ms', percentile(postgresSide.subscribeMs, 0.5), percentile(sqlite.subscribeMs, 0.5)),
          compare('connects/s, PostgreSQL vs SQLite', '/s', postgresSide.connectsPerSecond(), sqlite.connectsPerSecond()),
        ],
        complete:
          pn.requests > 0 && sn.requests > 0 && pm.count === 0 && sm.count === 0 && pn.errors === 0 && sn.errors === 0 && postgresSide.connectFailures === 0 && sqlite.connectFailures === 0 && notes.length === 0,
        notes,
      };
    } finally {
      await Promise.all(sides.map((side) => side.stop()));
    }
  },
};
