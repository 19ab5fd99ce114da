/**
 * cluster (issue 27): three nodes on one PostgreSQL database and one Redis, sockets spread evenly
 * over them, all in one channel; notifies through each node in turn, each sent when the previous
 * one's last delivery (on every node) arrived. Deliveries/s, notify → last delivery p50/p99, and the
 * tails' lag (chatty_log_tail_lag, scraped from every node while it runs).
 *
 * Baseline, in the same run, taking turns round by round: three bare Socket.IO servers with
 * `@socket.io/redis-adapter` (the documented way to run Socket.IO on several nodes) doing
 * `io.to(room).emit` from an HTTP handler, same sockets, same payload, same client.
 * Target: ≥ 0.8× the baseline's deliveries/s, every delivery arrived.
 *
 * Then the shared log's append rate: 32 keep-alive clients notifying a channel nobody is in for
 * APPEND_MS, first all through node 1, then spread over the three nodes (every node still tails
 * every entry). Reported, with the ratio: how the one ordered log takes several writers.
 */
import crypto from 'node:crypto';
import { DeliveryCounter } from '../delivery.js';
import { buildRequest, HttpConnection, pool, requestOnce, runLoad } from '../http-load.js';
import { closeAll, LeanClient, openMany } from '../lean-client.js';
import { Product } from '../product.js';
import { alternate, CONNECT_CONCURRENCY, cpuMeter, scaled, type CpuReading } from '../scenario.js';
import type { Scenario } from '../scenario.js';
import { startBaseline, type ServerProcess } from '../server-process.js';
import { compare, percentile, report, round } from '../stats.js';
import { ATTRIBUTES } from './fan-out.js';

const NODES = 3;
const SOCKETS = scaled(3_000);
const CHANNEL = 'posts-1';
const EVENT = 'bench';
const ROUNDS = 4;
const NOTIFIES_PER_ROUND = scaled(30);
const NOTIFIES = ROUNDS * NOTIFIES_PER_ROUND;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const APPEND_CONNECTIONS = 32;
const APPEND_MS = 2_000;
/** How often the product's tails' lag is scraped while it is notified. */
const LAG_SAMPLE_MS = 50;

const roundAll = (figures: Record<string, number | boolean>) => Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, typeof v === 'number' ? round(v, 2) : v]));

/** Sockets on several servers counting one event together; notifies go through each server in turn. */
class SpreadAudience {
  readonly counter = new DeliveryCounter(EVENT);
  readonly problems: string[] = [];
  readonly latencies: number[] = [];
  clients: LeanClient[] = [];
  seconds = 0;
  serverCpuSeconds = 0;

  constructor(
    readonly label: string,
    readonly servers: readonly ServerProcess[],
  ) {}

  async connect(auth: (index: number) => Record<string, unknown>): Promise<void> {
    const opened = await openMany(SOCKETS, (i) => new LeanClient(this.servers[i % this.servers.length]!.wsUrl, auth(i), this.counter.hook), {
      concurrency: CONNECT_CONCURRENCY,
      waitFor: 'ready',
    });
    this.clients = opened.clients;
    if (opened.failures > 0) throw new Error(`${this.label}: ${opened.failures} of ${SOCKETS} sockets failed to connect: ${opened.errors.join('; ')}`);
  }

  async notify(count: number, request: (server: number) => Buffer, timeoutMs = 15_000): Promise<void> {
    if (this.problems.length > 0) return;
    const connections = await Promise.all(this.servers.map((server) => HttpConnection.open(server.port)));
    const meters = this.servers.map((server) => cpuMeter(server));
    const started = performance.now();
    let finished = started;
    try {
      for (let index = 0; index < count; index++) {
        const through = index % this.servers.length;
        const base = this.counter.total;
        const sentAt = performance.now();
        const [response, reachedAt] = await Promise.all([connections[through]!.send(request(through)), this.counter.reach(base + SOCKETS, timeoutMs)]);
        if (response.status !== 202) {
          this.problems.push(`${this.label}: notify through node ${through + 1} answered ${response.status}: ${response.body.toString('utf8').slice(0, 300)}`);
          break;
        }
        if (reachedAt === undefined) {
          this.problems.push(`${this.label}: ${this.counter.total - base} of ${SOCKETS} deliveries of a notify arrived within ${timeoutMs} ms`);
          break;
        }
        this.latencies.push(reachedAt - sentAt);
        finished = reachedAt;
      }
    } finally {
      for (const connection of connections) connection.close();
      this.seconds += (finished - started) / 1000;
      this.serverCpuSeconds += meters.map((meter) => meter()).reduce((sum, reading: CpuReading) => sum + reading.serverCpuSeconds, 0);
    }
  }

  figures() {
    const deliveries = this.latencies.length * SOCKETS;
    const mismatched = this.clients.filter((client) => client.count(EVENT) !== NOTIFIES).length;
    return {
      nodes: this.servers.length,
      sockets: this.clients.length,
      notifies: this.latencies.length,
      deliveries,
      deliveriesPerSecond: round(deliveries / this.seconds, 0),
      latencyP50Ms: round(percentile(this.latencies, 0.5)),
      latencyP99Ms: round(percentile(this.latencies, 0.99)),
      serverCpuMicrosPerDelivery: round((this.serverCpuSeconds * 1e6) / deliveries, 3),
      serverCores: round(this.serverCpuSeconds / this.seconds),
      socketsWithWrongCount: mismatched,
    };
  }
}

/** The greatest `chatty_log_tail_lag` any node reported while `work` ran, sampled every LAG_SAMPLE_MS. */
async function sampleLag<T>(nodes: readonly Product[], work: () => Promise<T>): Promise<{ result: T; lags: number[] }> {
  const lags: number[] = [];
  let running = true;
  const sampler = (async () => {
    const connections = await Promise.all(nodes.map((node) => HttpConnection.open(node.port)));
    const request = buildRequest('GET', '/metrics', {});
    try {
      while (running) {
        for (const connection of connections) {
          const text = (await connection.send(request)).body.toString('utf8');
          const lag = /^chatty_log_tail_lag\{[^}]*\} (\d+)/m.exec(text);
          if (lag) lags.push(Number(lag[1]));
        }
        await new Promise((resolve) => setTimeout(resolve, LAG_SAMPLE_MS));
      }
    } finally {
      for (const connection of connections) connection.close();
    }
  })();
  try {
    return { result: await work(), lags };
  } finally {
    running = false;
    await sampler;
  }
}

export const cluster: Scenario = {
  name: 'cluster',
  description: `${NODES} nodes on PostgreSQL + Redis, ${SOCKETS} sockets spread over them in one channel, ${NOTIFIES} notifies through each node in turn; vs ${NODES} Socket.IO servers with the Redis adapter`,
  timeoutMs: 240_000,
  async run(context) {
    const prefix = `bench-${crypto.randomBytes(4).toString('hex')}`;
    const baselineServers: ServerProcess[] = [];
    const nodes: Product[] = [];
    const audiences: SpreadAudience[] = [];
    try {
      context.log(`baseline: ${NODES} Socket.IO servers with the Redis adapter, connecting`);
      for (let i = 0; i < NODES; i++) baselineServers.push(await startBaseline(`cluster-${i + 1}`, { env: { REDIS_URL, REDIS_PREFIX: `${prefix}-baseline` } }));
      const baseline = new SpreadAudience('baseline', baselineServers);
      audiences.push(baseline);
      await baseline.connect(() => ({ rooms: [CHANNEL] }));

      context.log(`product: ${NODES} nodes on one PostgreSQL database, connecting, subscribing`);
      const env = (i: number) => ({ REDIS_URL, REDIS_PREFIX: `${prefix}-product`, NODE_ID: `bench-${i + 1}` });
      nodes.push(await Product.start({ label: 'cluster-1', store: 'postgres', env: env(0) }));
      for (let i = 1; i < NODES; i++) nodes.push(await Product.start({ label: `cluster-${i + 1}`, joins: nodes[0], env: env(i) }));
      const product = new SpreadAudience('product', nodes.map((node) => node.server));
      audiences.push(product);
      const users = Array.from({ length: SOCKETS }, (_, i) => `cl${i}`);
      await product.connect((i) => ({ token: nodes[0]!.token(users[i]!) }));
      await nodes[0]!.subscribeUsers(users, [CHANNEL]);

      context.log(`notifying, ${ROUNDS} rounds each`);
      const emit = buildRequest('POST', `/emit?room=${CHANNEL}`, {}, { event: EVENT, attributes: ATTRIBUTES });
      const notifies = nodes.map((node) => node.notifyRequest(`channels:${CHANNEL}`, EVENT, ATTRIBUTES, ['origin']));
      const { lags } = await sampleLag(nodes, () =>
        alternate(
          ROUNDS,
          () => baseline.notify(NOTIFIES_PER_ROUND, () => emit),
          () => product.notify(NOTIFIES_PER_ROUND, (through) => notifies[through]!),
        ),
      );

      context.log(`appending: ${APPEND_CONNECTIONS} clients for ${APPEND_MS} ms through node 1, then through all ${NODES}`);
      const quiet = nodes.map((node) => node.notifyRequest('channels:nobody-1', EVENT, ATTRIBUTES));
      /** Events and commits of the event log so far, summed over the nodes (from their /metrics). */
      const commits = async () => {
        let events = 0;
        let batches = 0;
        for (const node of nodes) {
          const text = String((await requestOnce(node.port, buildRequest('GET', '/metrics', {}))).body);
          events += Number(/^chatty_event_log_batch_size_sum\{[^}]*\} (\S+)/m.exec(text)?.[1] ?? 0);
          batches += Number(/^chatty_event_log_batch_size_count\{[^}]*\} (\S+)/m.exec(text)?.[1] ?? 0);
        }
        return { events, batches };
      };
      const appendsThrough = async (through: readonly number[]) => {
        const before = await commits();
        const results = await Promise.all(
          through.map((n) => runLoad({ port: nodes[n]!.port, connections: APPEND_CONNECTIONS / through.length, durationMs: APPEND_MS, next: () => quiet[n]! })),
        );
        const load = pool(results);
        const after = await commits();
        return {
          perSecond: results.reduce((sum, r) => sum + r.requestsPerSecond, 0),
          p99: load.latencyMs.p99,
          eventsPerCommit: (after.events - before.events) / Math.max(1, after.batches - before.batches),
          commitsPerSecond: (after.batches - before.batches) / (APPEND_MS / 1000),
          ok: load.errors === 0 && Object.keys(load.statuses).every((status) => status === '202'),
        };
      };
      await appendsThrough([0]); // warm-up
      const oneNode = await appendsThrough([0]);
      const allNodes = await appendsThrough(nodes.map((_, i) => i));
      if (!oneNode.ok || !allNodes.ok) context.log('appending: some notifies were not answered 202');

      const [p, b] = [product.figures(), baseline.figures()];
      const lag = { samples: lags.length, p50: percentile(lags, 0.5), p99: percentile(lags, 0.99), max: lags.length > 0 ? Math.max(...lags) : 0 };
      const notes = [...product.problems, ...baseline.problems];
      if (p.socketsWithWrongCount > 0) notes.push(`product: ${p.socketsWithWrongCount} sockets did not get exactly ${NOTIFIES} deliveries`);
      if (b.socketsWithWrongCount > 0) notes.push(`baseline: ${b.socketsWithWrongCount} sockets did not get exactly ${NOTIFIES} deliveries`);
      return {
        product: { ...p, tailLag: lag, appends: { oneNode: roundAll(oneNode), allNodes: roundAll(allNodes) } },
        baseline: b,
        comparisons: [
          compare('deliveries/s', '/s', p.deliveriesPerSecond, b.deliveriesPerSecond, { min: 0.8 }),
          compare('notify→last delivery p50', 'ms', p.latencyP50Ms, b.latencyP50Ms),
          compare('notify→last delivery p99', 'ms', p.latencyP99Ms, b.latencyP99Ms),
          compare('server CPU per delivery, all nodes', 'µs', p.serverCpuMicrosPerDelivery, b.serverCpuMicrosPerDelivery),
          compare(`durable notifies/s into the shared log, ${NODES} nodes vs 1 (${APPEND_CONNECTIONS} clients)`, '/s', allNodes.perSecond, oneNode.perSecond),
          compare(`notify p99, ${NODES} nodes vs 1`, 'ms', allNodes.p99, oneNode.p99),
          compare(`commits/s of the shared log, ${NODES} nodes vs 1`, '/s', allNodes.commitsPerSecond, oneNode.commitsPerSecond),
          compare(`events per commit, ${NODES} nodes vs 1`, '', allNodes.eventsPerCommit, oneNode.eventsPerCommit),
          report('tail lag while notified, p99 (log entries)', '', lag.p99),
          report('tail lag while notified, max (log entries)', '', lag.max),
        ],
        complete: p.notifies === NOTIFIES && b.notifies === NOTIFIES && p.socketsWithWrongCount === 0 && b.socketsWithWrongCount === 0 && oneNode.ok && allNodes.ok,
        notes,
      };
    } finally {
      await Promise.all([...baselineServers.map((server) => server.stop()), ...nodes.slice(1).map((node) => node.stop())]);
      await nodes[0]?.stop();
      for (const audience of audiences) closeAll(audience.clients);
    }
  },
};
