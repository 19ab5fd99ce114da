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
import { pool, type LoadResult } from '../http-load.js';
import { closeAll, LeanClient, openMany } from '../lean-client.js';
import { documentOf } from '../product.js';
import { alternate, CONNECT_CONCURRENCY, scaled, type Scenario } from '../scenario.js';
import { compare, percentile, round } from '../stats.js';
import { NotifySide } from './durability.js';
import { ATTRIBUTES } from './fan-out.js';

type Kind = 'sqlite' | 'postgres';

const ROUNDS = 5;
const ROUND_MS = 1_000;
const WARMUP_MS = 1_000;
const EMPTY_CHANNEL = 'nobody-1';
const SUBSCRIBE_USERS = scaled(10_000);
const SEED = 'seed-1';
const CHANNEL_SETS = [1, 6, 11].map((first) => Array.from({ length: 5 }, (_, k) => `posts-${first + k}`));
const CONNECT_ROUNDS = 2;
const CONNECTS_PER_ROUND = scaled(1_000);
const CONNECT_CHANNELS = Array.from({ length: 10 }, (_, k) => `teams-${k + 1}`);

/** The durability scenario's notify load on one store, plus the control path, a big subscribe and connects. */
class Side {
  readonly controlRounds: LoadResult[] = [];
  readonly subscribeMs: number[] = [];
  readonly connectSeconds: number[] = [];
  readonly notes: string[] = [];
  connectFailures = 0;
  private connectRound = 0;
  private readonly controlRequest: Buffer;

  private constructor(
    readonly kind: Kind,
    readonly notify: NotifySide,
  ) {
    this.controlRequest = notify.product.notifyRequest(`channels:${EMPTY_CHANNEL}`, 'bench', ATTRIBUTES, ['origin']);
  }

  static async start(kind: Kind): Promise<Side> {
    const notify = await NotifySide.start({ label: `postgres-${kind}`, store: kind, env: { MAX_SUBSCRIPTION_PAIRS: String(SUBSCRIBE_USERS * 5) } });
    try {
      await notify.product.subscribeUsers(Array.from({ length: SUBSCRIBE_USERS }, (_, i) => `sub${i}`), [SEED]);
      await notify.product.subscribeUsers(Array.from({ length: CONNECT_ROUNDS * CONNECTS_PER_ROUND }, (_, i) => `con${i}`), CONNECT_CHANNELS);
    } catch (error) {
      await notify.stop();
      throw error;
    }
    return new Side(kind, notify);
  }

  async warmUp(): Promise<void> {
    await this.notify.warmUp();
    await this.notify.load(WARMUP_MS, this.controlRequest);
  }

  async controlRound(): Promise<void> {
    this.controlRounds.push(await this.notify.load(ROUND_MS, this.controlRequest));
  }

  async subscribeOnce(round: number): Promise<void> {
    const product = this.notify.product;
    const request = product.subscribeRequest(`channels:${SEED}`, documentOf(CHANNEL_SETS[round]!));
    const started = performance.now();
    const response = await product.send(request, 60_000);
    this.subscribeMs.push(performance.now() - started);
    const changed = Number(response.json?.meta?.changed);
    if (response.status !== 200 || changed !== SUBSCRIBE_USERS * 5) this.notes.push(`${this.kind}: subscribe answered ${response.status}, changed ${changed}`);
  }

  async connectOnce(): Promise<void> {
    const product = this.notify.product;
    const first = this.connectRound++ * CONNECTS_PER_ROUND;
    const opened = await openMany(CONNECTS_PER_ROUND, (i) => new LeanClient(product.wsUrl, { token: product.token(`con${first + i}`) }), {
      concurrency: CONNECT_CONCURRENCY,
      waitFor: 'ready',
    });
    closeAll(opened.clients);
    this.connectSeconds.push(opened.seconds);
    this.connectFailures += opened.failures;
    if (opened.failures > 0) this.notes.push(`${this.kind}: ${opened.failures} connects failed: ${opened.errors.join('; ')}`);
  }

  connectsPerSecond(): number {
    return (this.connectSeconds.length * CONNECTS_PER_ROUND - this.connectFailures) / this.connectSeconds.reduce((a, b) => a + b, 0);
  }

  figures(mismatches: { count: number }) {
    const notify = this.notify.figures(mismatches);
    const control = pool(this.controlRounds);
    return {
      store: this.kind,
      ...notify,
      controlRequestsPerSecond: round(control.requestsPerSecond, 0),
      controlP99Ms: round(control.latencyMs.p99),
      subscribeOneRequestMs: this.subscribeMs.map((ms) => round(ms)),
      connectsPerSecond: round(this.connectsPerSecond(), 0),
    };
  }

  stop(): Promise<void> {
    return this.notify.stop();
  }
}

export const postgres: Scenario = {
  name: 'postgres',
  description: `the server on PostgreSQL vs on SQLite: durable notifies (the durability scenario's load), control path, one subscribe of ${SUBSCRIBE_USERS} users × 5 channels, ${CONNECT_ROUNDS * CONNECTS_PER_ROUND} connects`,
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
      await alternate(ROUNDS, () => sqlite.notify.round(), () => postgresSide.notify.round());
      await alternate(ROUNDS, () => sqlite.controlRound(), () => postgresSide.controlRound());
      context.log('subscribe and connect');
      await alternate(CHANNEL_SETS.length, (r) => sqlite.subscribeOnce(r), (r) => postgresSide.subscribeOnce(r));
      await alternate(CONNECT_ROUNDS, () => sqlite.connectOnce(), () => postgresSide.connectOnce());

      const [pm, sm] = [await postgresSide.notify.check(), await sqlite.notify.check()];
      const notes = [...sqlite.notes, ...postgresSide.notes];
      for (const [side, mismatches] of [[postgresSide, pm], [sqlite, sm]] as const) {
        for (const load of [pool(side.notify.rounds), pool(side.controlRounds)]) {
          if (load.errors > 0 || Object.keys(load.statuses).some((status) => status !== '202')) notes.push(`${side.kind}: statuses ${JSON.stringify(load.statuses)}, ${load.errors} errors`);
        }
        notes.push(...mismatches.examples.map((example) => `${side.kind}: ${example}`));
      }
      const [pn, sn] = [pool(postgresSide.notify.rounds), pool(sqlite.notify.rounds)];
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
