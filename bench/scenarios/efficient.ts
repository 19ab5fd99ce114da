/**
 * efficient: 5,000 sockets across 5 overlapping channels; 100 notifies in `channels-efficient` mode
 * with `add=origin`. Every socket must get each notify exactly once, with `origin` the first
 * listed channel its user is in. Baseline: bare `io.to([...]).emit` (Socket.IO deduplicates too).
 * Target: every socket exactly once; ≥ 0.8 of the baseline's deliveries/s.
 *
 * User i is in the channels of the bits of `(i % 31) + 1`: every non-empty subset of the five
 * channels, about 160 users each, so each channel holds about 2,600 sockets.
 */
import { Audience, countMismatches } from '../delivery.js';
import { buildRequest } from '../http-load.js';
import { LeanClient, type DeliveryHook } from '../lean-client.js';
import { Product } from '../product.js';
import { alternate, scaled, SOCKETS, type Scenario } from '../scenario.js';
import { startBaseline, type ServerProcess } from '../server-process.js';
import { compare } from '../stats.js';
import { ATTRIBUTES, figures } from './fan-out.js';

const CHANNELS = ['topics-0', 'topics-1', 'topics-2', 'topics-3', 'topics-4'];
const EVENT = 'bench';
const ROUNDS = 4;
const NOTIFIES_PER_ROUND = scaled(25);
const NOTIFIES = ROUNDS * NOTIFIES_PER_ROUND;

const maskOf = (i: number) => (i % 31) + 1;
const channelsOf = (mask: number) => CHANNELS.filter((_, bit) => mask & (1 << bit));

/** What each socket checks about its deliveries (parsed: this scenario needs the payload). */
interface Expectation {
  readonly origin: string | undefined;
  lastId: unknown;
  duplicates: number;
  wrongOrigin: number;
}

/** A client that checks each delivery; parsed on both sides alike, so the load costs the same. */
function checkingClient(url: string, auth: Record<string, unknown>, hook: DeliveryHook, origin: string | undefined): LeanClient {
  const expectation: Expectation = { origin, lastId: undefined, duplicates: 0, wrongOrigin: 0 };
  const client = new LeanClient(url, auth, hook);
  client.tag = expectation;
  return client.on(EVENT, (_client, [payload, meta]) => {
    const id = (meta as { id?: unknown } | undefined)?.id;
    if (id !== undefined && id === expectation.lastId) expectation.duplicates++;
    expectation.lastId = id;
    if (expectation.origin !== undefined && (payload as { origin?: unknown }).origin !== expectation.origin) expectation.wrongOrigin++;
  });
}

function tally(audience: Audience) {
  const expectations = audience.clients.map((client) => client.tag as Expectation);
  return {
    mismatches: countMismatches(audience.clients, EVENT, NOTIFIES),
    duplicates: expectations.reduce((sum, e) => sum + e.duplicates, 0),
    wrongOrigin: expectations.reduce((sum, e) => sum + e.wrongOrigin, 0),
  };
}

export const efficient: Scenario = {
  name: 'efficient',
  description: `${SOCKETS} sockets across 5 overlapping channels, ${NOTIFIES} channels-efficient notifies with add=origin`,
  timeoutMs: 120_000,
  async run(context) {
    let baselineServer: ServerProcess | undefined;
    let product: Product | undefined;
    const audiences: Audience[] = [];
    try {
      context.log('baseline: bare Socket.IO io.to([...]).emit, connecting');
      baselineServer = await startBaseline('efficient');
      const baselineUrl = baselineServer.wsUrl;
      const baseline = await Audience.connect(baselineServer, EVENT, SOCKETS, (i, hook) =>
        checkingClient(baselineUrl, { rooms: channelsOf(maskOf(i)) }, hook, undefined),
      );
      audiences.push(baseline);

      // connected first, subscribed after, as in fan-out (no n² presence storm in the set-up)
      context.log('product: connecting, subscribing');
      product = await Product.start({ label: 'efficient' });
      const users = Array.from({ length: SOCKETS }, (_, i) => `eff${i}`);
      const tokens = users.map((user) => product!.token(user));
      const productUrl = product.wsUrl;
      const measured = await Audience.connect(product.server, EVENT, SOCKETS, (i, hook) =>
        checkingClient(productUrl, { token: tokens[i] }, hook, channelsOf(maskOf(i))[0]),
      );
      audiences.push(measured);
      for (let mask = 1; mask <= 31; mask++) {
        await product.subscribeUsers(
          users.filter((_, i) => maskOf(i) === mask),
          channelsOf(mask),
        );
      }

      context.log(`notifying, ${ROUNDS} rounds each`);
      const emit = buildRequest('POST', `/emit?rooms=${CHANNELS.join(',')}`, {}, { event: EVENT, attributes: ATTRIBUTES });
      const notify = product.notifyRequest(`channels-efficient:${CHANNELS.join(',')}`, EVENT, ATTRIBUTES, ['origin']);
      await alternate(
        ROUNDS,
        () => baseline.notify(NOTIFIES_PER_ROUND, () => emit),
        () => measured.notify(NOTIFIES_PER_ROUND, () => notify),
      );

      const [p, b] = [measured.summary(), baseline.summary()];
      const [pt, bt] = [tally(measured), tally(baseline)];
      const notes = [...measured.problems, ...baseline.problems, ...pt.mismatches.examples.map((e) => `product: ${e}`), ...bt.mismatches.examples.map((e) => `baseline: ${e}`)];
      if (pt.duplicates > 0) notes.push(`product: ${pt.duplicates} duplicate deliveries`);
      if (pt.wrongOrigin > 0) notes.push(`product: ${pt.wrongOrigin} deliveries with the wrong origin`);
      const exact = (summary: typeof p, t: typeof pt) => summary.notifies === NOTIFIES && t.mismatches.count === 0 && t.duplicates === 0;
      return {
        product: { ...figures(p, measured), socketsWithWrongCount: pt.mismatches.count, duplicates: pt.duplicates, wrongOrigin: pt.wrongOrigin },
        baseline: { ...figures(b, baseline), socketsWithWrongCount: bt.mismatches.count, duplicates: bt.duplicates },
        comparisons: [
          compare('deliveries/s', '/s', p.deliveriesPerSecond, b.deliveriesPerSecond, { min: 0.8 }),
          compare('notify→last delivery p99', 'ms', p.latencyMs.p99, b.latencyMs.p99),
        ],
        complete: exact(p, pt) && pt.wrongOrigin === 0 && exact(b, bt),
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
