/**
 * fan-out: 5,000 sockets (5,000 users) in one channel, 100 notifies over HTTP, each sent when the
 * previous one's last delivery arrived. Deliveries/s and notify → last delivery p50/p99.
 * Baseline: bare Socket.IO, `io.to(room).emit` from an Express handler, same payload, same client.
 * Both servers run at once and take turns, 4 rounds of 25 notifies each. The product's sockets
 * connect before their users are subscribed (see below).
 * Target: ≥ 0.85 of the baseline's deliveries/s; p99 ≤ 1.25×.
 */
import { Audience, countMismatches, type SeriesSummary } from '../delivery.js';
import { buildRequest } from '../http-load.js';
import { LeanClient } from '../lean-client.js';
import { Product } from '../product.js';
import { alternate, scaled, SOCKETS, type Scenario } from '../scenario.js';
import { startBaseline, type ServerProcess } from '../server-process.js';
import { compare, round } from '../stats.js';

const CHANNEL = 'posts-1';
const EVENT = 'bench';
const ROUNDS = 4;
const NOTIFIES_PER_ROUND = scaled(25);
const NOTIFIES = ROUNDS * NOTIFIES_PER_ROUND;

/** The notify body's attributes: a typical small app event (~200 bytes encoded). */
export const ATTRIBUTES = {
  type: 'posts',
  id: '1',
  action: 'updated',
  title: 'A post title of moderate length for the benchmark',
  by: 'u42',
  tags: ['alpha', 'beta', 'gamma'],
  count: 12345,
};

export function figures(summary: SeriesSummary, audience: Audience) {
  return {
    sockets: audience.clients.length,
    notifies: summary.notifies,
    deliveries: summary.deliveries,
    deliveriesPerSecond: round(summary.deliveriesPerSecond, 0),
    latencyP50Ms: round(summary.latencyMs.p50),
    latencyP99Ms: round(summary.latencyMs.p99),
    latencyMaxMs: round(summary.latencyMs.max),
    serverCpuMicrosPerDelivery: round(summary.serverCpuMicrosPerDelivery, 3),
    serverCores: round(summary.serverCores),
    loadCores: round(summary.loadCores),
    otherCores: round(summary.otherCores),
    connectsPerSecond: round(audience.opened.connected / audience.opened.seconds, 0),
  };
}

export const fanOut: Scenario = {
  name: 'fan-out',
  description: `${SOCKETS} sockets in one channel, ${NOTIFIES} notifies over HTTP (each after the previous one's last delivery)`,
  timeoutMs: 120_000,
  async run(context) {
    const users = Array.from({ length: SOCKETS }, (_, i) => `fan${i}`);
    let baselineServer: ServerProcess | undefined;
    let product: Product | undefined;
    const audiences: Audience[] = [];
    try {
      context.log('baseline: bare Socket.IO, connecting');
      baselineServer = await startBaseline('fan-out');
      const baseline = await Audience.connect(baselineServer, EVENT, SOCKETS, (_, hook) => new LeanClient(baselineServer!.wsUrl, { rooms: [CHANNEL] }, hook));
      audiences.push(baseline);

      // connected first, subscribed after: live sockets join at once (contract §4.3), and the
      // set-up does not pay the n² presence announcements of 5,000 users coming online in one channel
      context.log('product: connecting, subscribing');
      product = await Product.start({ label: 'fan-out' });
      const tokens = users.map((user) => product!.token(user));
      const measured = await Audience.connect(product.server, EVENT, SOCKETS, (i, hook) => new LeanClient(product!.wsUrl, { token: tokens[i] }, hook));
      audiences.push(measured);
      await product.subscribeUsers(users, [CHANNEL]);

      context.log(`notifying, ${ROUNDS} rounds each`);
      const emit = buildRequest('POST', `/emit?room=${CHANNEL}`, {}, { event: EVENT, attributes: ATTRIBUTES });
      const notify = product.notifyRequest(`channels:${CHANNEL}`, EVENT, ATTRIBUTES, ['origin']);
      await alternate(
        ROUNDS,
        () => baseline.notify(NOTIFIES_PER_ROUND, () => emit),
        () => measured.notify(NOTIFIES_PER_ROUND, () => notify),
      );

      const [p, b] = [measured.summary(), baseline.summary()];
      const productMismatches = countMismatches(measured.clients, EVENT, NOTIFIES);
      const baselineMismatches = countMismatches(baseline.clients, EVENT, NOTIFIES);
      const notes = [...measured.problems, ...baseline.problems, ...productMismatches.examples.map((e) => `product: ${e}`), ...baselineMismatches.examples.map((e) => `baseline: ${e}`)];
      return {
        product: { ...figures(p, measured), presenceDeliveries: measured.clients.reduce((sum, c) => sum + c.count('presence'), 0) },
        baseline: figures(b, baseline),
        comparisons: [
          compare('deliveries/s', '/s', p.deliveriesPerSecond, b.deliveriesPerSecond, { min: 0.85 }),
          compare('notify→last delivery p99', 'ms', p.latencyMs.p99, b.latencyMs.p99, { max: 1.25 }),
          compare('notify→last delivery p50', 'ms', p.latencyMs.p50, b.latencyMs.p50),
        ],
        complete: p.notifies === NOTIFIES && b.notifies === NOTIFIES && productMismatches.count === 0 && baselineMismatches.count === 0,
        notes,
      };
    } finally {
      // servers first: 5,000 clients dropping at once would make the product announce each one
      // offline to the rest (n² presence frames) while it is asked to shut down
      await Promise.all([baselineServer?.stop(), product?.stop()]);
      for (const audience of audiences) audience.close();
    }
  },
};
