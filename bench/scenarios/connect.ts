/**
 * connect: 5,000 sockets with JWTs whose users have 10 channels each (100 groups of 50 users; the
 * groups with the same `group % 10` share 10 channels, so a channel holds 500 users), at most 100
 * handshakes in flight. A connection counts once `ready` arrived. Connects/s; RSS and heap per
 * connection, each measured after two full GCs (the memory probe, see server-process.ts) before
 * the first and after the last connection.
 * Baseline: bare Socket.IO, no auth, each socket joining the same 10 rooms, then `ready`.
 * Both servers run at once and take turns: 5 rounds of 1,000 connections each.
 * Target: ≥ 0.7 of the baseline's connects/s; memory per connection ≤ 1.3×.
 */
import { closeAll, LeanClient, openMany } from '../lean-client.js';
import { Product } from '../product.js';
import { alternate, CONNECT_CONCURRENCY, cpuMeter, SOCKETS, type Scenario } from '../scenario.js';
import { startBaseline, type MemoryUsage, type ServerProcess } from '../server-process.js';
import { compare, round } from '../stats.js';

const GROUPS = 100;
const CHANNELS_PER_USER = 10;
const ROUNDS = 5;
const PER_ROUND = Math.ceil(SOCKETS / ROUNDS);
const groupOf = (i: number) => i % GROUPS;
const channelsOfGroup = (group: number) =>
  Array.from({ length: CHANNELS_PER_USER }, (_, k) => `rooms-${(group + k * (GROUPS / CHANNELS_PER_USER)) % GROUPS}`);

/** One server's connections, opened round by round. */
class Side {
  readonly clients: LeanClient[] = [];
  before: MemoryUsage | undefined;
  after: MemoryUsage | undefined;
  connected = 0;
  failures = 0;
  seconds = 0;
  serverCpuSeconds = 0;
  otherCpuSeconds = 0;
  /** Sockets whose `ready` listed the wrong number of channels. */
  wrongReady = 0;
  readonly errors: string[] = [];

  constructor(
    readonly server: ServerProcess,
    private readonly auth: (i: number) => Record<string, unknown>,
  ) {}

  async round(round: number): Promise<void> {
    const first = round * PER_ROUND;
    const count = Math.max(0, Math.min(PER_ROUND, SOCKETS - first));
    const cpu = cpuMeter(this.server);
    const opened = await openMany(
      count,
      (i) =>
        new LeanClient(this.server.wsUrl, this.auth(first + i)).on('ready', (_client, [ready]) => {
          if ((ready as { channels?: unknown[] })?.channels?.length !== CHANNELS_PER_USER) this.wrongReady++;
        }),
      { concurrency: CONNECT_CONCURRENCY, waitFor: 'ready', totalTimeoutMs: 20_000 },
    );
    const reading = cpu();
    this.clients.push(...opened.clients);
    this.connected += opened.connected;
    this.failures += opened.failures;
    this.seconds += opened.seconds;
    this.serverCpuSeconds += reading.serverCpuSeconds;
    this.otherCpuSeconds += reading.otherCores * reading.seconds;
    if (this.errors.length < 5) this.errors.push(...opened.errors.slice(0, 5 - this.errors.length));
  }

  get connectsPerSecond(): number {
    return this.connected / this.seconds;
  }

  perConnection(key: keyof MemoryUsage): number {
    return (this.after![key] - this.before![key]) / Math.max(1, this.connected);
  }

  figures() {
    return {
      sockets: SOCKETS,
      connected: this.connected,
      failures: this.failures,
      connectsPerSecond: round(this.connectsPerSecond, 0),
      seconds: round(this.seconds),
      rssPerConnectionBytes: round(this.perConnection('rss'), 0),
      heapPerConnectionBytes: round(this.perConnection('heapUsed'), 0),
      rssBeforeMB: round(this.before!.rss / 2 ** 20, 1),
      rssAfterMB: round(this.after!.rss / 2 ** 20, 1),
      heapBeforeMB: round(this.before!.heapUsed / 2 ** 20, 1),
      heapAfterMB: round(this.after!.heapUsed / 2 ** 20, 1),
      serverCpuMillisPerConnect: round((this.serverCpuSeconds * 1000) / Math.max(1, this.connected), 3),
      serverCores: round(this.serverCpuSeconds / this.seconds),
      otherCores: round(this.otherCpuSeconds / this.seconds),
      presenceDeliveries: this.clients.reduce((sum, client) => sum + client.count('presence'), 0),
    };
  }
}

export const connect: Scenario = {
  name: 'connect',
  description: `${SOCKETS} sockets with JWTs, users with ${CHANNELS_PER_USER} channels each, ${CONNECT_CONCURRENCY} handshakes in flight`,
  timeoutMs: 120_000,
  async run(context) {
    let baselineServer: ServerProcess | undefined;
    let product: Product | undefined;
    const sides: Side[] = [];
    try {
      context.log('starting the bare Socket.IO baseline; the product, subscribing its users');
      baselineServer = await startBaseline('connect', { memoryProbe: true });
      const baseline = new Side(baselineServer, (i) => ({ rooms: channelsOfGroup(groupOf(i)) }));
      sides.push(baseline);
      product = await Product.start({ label: 'connect', memoryProbe: true });
      const users = Array.from({ length: SOCKETS }, (_, i) => `con${i}`);
      for (let group = 0; group < GROUPS; group++) {
        await product.subscribeUsers(
          users.filter((_, i) => groupOf(i) === group),
          channelsOfGroup(group),
        );
      }
      const tokens = users.map((user) => product!.token(user));
      const measured = new Side(product.server, (i) => ({ token: tokens[i] }));
      sides.push(measured);

      baseline.before = await baselineServer.memory();
      measured.before = await product.server.memory();
      context.log(`connecting, ${ROUNDS} rounds of ${PER_ROUND} each`);
      await alternate(ROUNDS, (r) => baseline.round(r), (r) => measured.round(r));
      baseline.after = await baselineServer.memory();
      measured.after = await product.server.memory();

      const notes: string[] = [];
      for (const [label, side] of [['product', measured], ['baseline', baseline]] as const) {
        if (side.failures > 0) notes.push(`${label}: ${side.failures} failed handshakes: ${side.errors.join('; ')}`);
        if (side.wrongReady > 0) notes.push(`${label}: ${side.wrongReady} sockets got a ready without ${CHANNELS_PER_USER} channels`);
      }
      return {
        product: measured.figures(),
        baseline: baseline.figures(),
        comparisons: [
          compare('connects/s', '/s', measured.connectsPerSecond, baseline.connectsPerSecond, { min: 0.7 }),
          compare('RSS per connection', 'B', measured.perConnection('rss'), baseline.perConnection('rss'), { max: 1.3 }),
          compare('heap per connection', 'B', measured.perConnection('heapUsed'), baseline.perConnection('heapUsed'), { max: 1.3 }),
        ],
        complete: sides.every((side) => side.connected === SOCKETS && side.wrongReady === 0),
        notes,
      };
    } finally {
      // servers first, as in fan-out: no offline-presence storm while shutting down
      await Promise.all([baselineServer?.stop(), product?.stop()]);
      for (const side of sides) closeAll(side.clients);
    }
  },
};
