/**
 * channels-efficient: `channels-efficient` with 100 listed channels (issue 9: its delivery must do
 * work linear in the number of listed channels, not quadratic). 1,000 sockets (1,000 users), each
 * user in 1 to 9 of the 100 channels (5 on average, about 50 users a channel, picked by a seeded
 * generator, so every run has the same audience). Excluding every earlier channel from each emit
 * costs about (100 / 2) × 5,000 memberships = 250,000 set insertions a notify, a third to a half
 * of the cost of the 1,000 deliveries themselves; walking each membership once costs 5,000. 100 notifies
 * `method=channels-efficient:lists-1,...,lists-100&add=origin`, each sent when the previous one's
 * last delivery arrived; every socket must get each exactly once, with `origin` the first listed
 * channel its user is in.
 *
 * Baselines, all in the same run, taking turns round by round:
 * - the product itself, notifying the same 1,000 sockets with `method=channels:<the same 100
 *   channels>` (one copy per membership, about 5,000 a notify): the target, notifies/s
 *   ≥ 0.8× that. Deduplicating must not cost more than the duplicates it saves.
 * - the product itself, notifying the same 1,000 sockets with `method=users:<the 1,000 users>`
 *   (one emit to 1,000 user rooms): the same audience, auth, log and delivery, without the list of
 *   channels. The ratio is what the 100-channel list costs.
 * - bare Socket.IO `io.to([100 rooms]).emit` (which deduplicates too), as in the efficient scenario.
 * The other ratios are reported (the server's CPU per notify, p99, deliveries/s). A delivery quadratic in the list pays for it in server CPU per notify and in notifies/s against
 * `users:`; a linear one comes close to `users:`.
 */
import { Audience, countMismatches, type SeriesSummary } from '../delivery.js';
import { buildRequest } from '../http-load.js';
import { LeanClient, type DeliveryHook } from '../lean-client.js';
import { Product } from '../product.js';
import { rotate, scaled, type Scenario } from '../scenario.js';
import { startBaseline, type ServerProcess } from '../server-process.js';
import { compare, round } from '../stats.js';
import { ATTRIBUTES, figures } from './fan-out.js';

const LISTED = 100;
const CHANNELS = Array.from({ length: LISTED }, (_, k) => `lists-${k + 1}`);
const SOCKETS = scaled(1_000);
const EVENT = 'bench';
const ROUNDS = 4;
const NOTIFIES_PER_ROUND = scaled(25);
const NOTIFIES = ROUNDS * NOTIFIES_PER_ROUND;

/** mulberry32: a small seeded generator, so the audience is the same in every run. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** User i's channels, as indexes into CHANNELS in list order: 1 + (i mod 9) distinct ones. */
const MEMBERSHIP: readonly (readonly number[])[] = (() => {
  const random = generator(9);
  return Array.from({ length: SOCKETS }, (_, i) => {
    const picked = new Set<number>();
    while (picked.size < 1 + (i % 9)) picked.add(Math.floor(random() * LISTED));
    return [...picked].sort((a, b) => a - b);
  });
})();
const channelsOf = (i: number) => MEMBERSHIP[i].map((k) => CHANNELS[k]);

/** The series being notified: `channels:` copies are counted apart (a user gets one per channel). */
type Series = 'efficient' | 'users' | 'channels' | 'bare';
let series: Series = 'efficient';
const inSeries = (name: Series, notify: () => Promise<void>) => async () => {
  series = name;
  await notify();
};

/** What each socket checks about its deliveries (parsed on every side alike). */
interface Expectation {
  /** The first listed channel the user is in; undefined on the bare server (its origin is the first room). */
  readonly origin: string | undefined;
  lastId: unknown;
  duplicates: number;
  wrongOrigin: number;
  /** Deliveries carrying an origin: the channels-efficient ones (users: copies have none). */
  withOrigin: number;
  /** Deliveries of the `channels:` series. */
  channelCopies: number;
}

function checkingClient(url: string, auth: Record<string, unknown>, hook: DeliveryHook, origin: string | undefined): LeanClient {
  const expectation: Expectation = { origin, lastId: undefined, duplicates: 0, wrongOrigin: 0, withOrigin: 0, channelCopies: 0 };
  const client = new LeanClient(url, auth, hook);
  client.tag = expectation;
  return client.on(EVENT, (_client, [payload, meta]) => {
    if (series === 'channels') {
      expectation.channelCopies++;
      return;
    }
    const id = (meta as { id?: unknown } | undefined)?.id;
    if (id !== undefined && id === expectation.lastId) expectation.duplicates++;
    expectation.lastId = id;
    const got = (payload as { origin?: unknown }).origin;
    if (got === undefined) return;
    expectation.withOrigin++;
    if (expectation.origin !== undefined && got !== expectation.origin) expectation.wrongOrigin++;
  });
}

/** `channels:` copies socket i of an audience gets: one per channel of its user for each notify (none on the bare server). */
const channelCopiesOf = (expectation: Expectation, i: number) => (expectation.origin === undefined ? 0 : NOTIFIES * MEMBERSHIP[i].length);

function tally(audience: Audience, perSocket: number) {
  const expectations = audience.clients.map((client) => client.tag as Expectation);
  return {
    mismatches: countMismatches(audience.clients, EVENT, (i) => perSocket + channelCopiesOf(expectations[i], i)),
    duplicates: expectations.reduce((sum, e) => sum + e.duplicates, 0),
    wrongOrigin: expectations.reduce((sum, e) => sum + e.wrongOrigin, 0),
    /** Sockets that did not get exactly one channels-efficient copy of each notify. */
    wrongEfficientCount: expectations.filter((e) => e.withOrigin !== NOTIFIES).length,
    wrongChannelCopies: expectations.filter((e, i) => e.channelCopies !== channelCopiesOf(e, i)).length,
  };
}

const perNotify = (summary: SeriesSummary) => summary.notifies / summary.seconds;
/** The server's CPU time per notify, ms: less sensitive than rates to what else the machine runs. */
const cpuPerNotify = (summary: SeriesSummary) => (summary.serverCpuMicrosPerDelivery * SOCKETS) / 1000;

export const channelsEfficient: Scenario = {
  name: 'channels-efficient',
  description: `${SOCKETS} sockets over ${LISTED} channels (1–9 each), ${NOTIFIES} notifies listing all ${LISTED} channels-efficient, vs channels: and users: of the same sockets and vs bare io.to([${LISTED} rooms])`,
  timeoutMs: 90_000,
  async run(context) {
    let baselineServer: ServerProcess | undefined;
    let product: Product | undefined;
    const audiences: Audience[] = [];
    try {
      context.log('baseline: bare Socket.IO io.to([...]).emit, connecting');
      baselineServer = await startBaseline('channels-efficient');
      const baselineUrl = baselineServer.wsUrl;
      const bare = await Audience.connect(baselineServer, EVENT, SOCKETS, (i, hook) => checkingClient(baselineUrl, { rooms: channelsOf(i) }, hook, undefined));
      audiences.push(bare);

      // connected first, subscribed after, as in fan-out (no presence storm in the set-up)
      context.log('product: connecting, subscribing');
      product = await Product.start({ label: 'channels-efficient' });
      const users = Array.from({ length: SOCKETS }, (_, i) => `ce${i}`);
      const tokens = users.map((user) => product!.token(user));
      const productUrl = product.wsUrl;
      const efficient = await Audience.connect(product.server, EVENT, SOCKETS, (i, hook) => checkingClient(productUrl, { token: tokens[i] }, hook, channelsOf(i)[0]));
      audiences.push(efficient);
      const byUsers = efficient.sibling();
      const byChannels = efficient.sibling(MEMBERSHIP.reduce((sum, m) => sum + m.length, 0));
      for (const [k, channel] of CHANNELS.entries()) {
        const members = users.filter((_, i) => MEMBERSHIP[i].includes(k));
        if (members.length > 0) await product.subscribeUsers(members, [channel]);
      }

      context.log(`notifying, ${ROUNDS} rounds each: channels-efficient, channels:, users:, bare`);
      const emit = buildRequest('POST', `/emit?rooms=${CHANNELS.join(',')}`, {}, { event: EVENT, attributes: ATTRIBUTES });
      const notifyEfficient = product.notifyRequest(`channels-efficient:${CHANNELS.join(',')}`, EVENT, ATTRIBUTES, ['origin']);
      const notifyUsers = product.notifyRequest(`users:${users.join(',')}`, EVENT, ATTRIBUTES, ['origin']);
      const notifyChannels = product.notifyRequest(`channels:${CHANNELS.join(',')}`, EVENT, ATTRIBUTES, ['origin']);
      await rotate(ROUNDS, [
        inSeries('efficient', () => efficient.notify(NOTIFIES_PER_ROUND, () => notifyEfficient)),
        inSeries('channels', () => byChannels.notify(NOTIFIES_PER_ROUND, () => notifyChannels)),
        inSeries('users', () => byUsers.notify(NOTIFIES_PER_ROUND, () => notifyUsers)),
        inSeries('bare', () => bare.notify(NOTIFIES_PER_ROUND, () => emit)),
      ]);

      const [e, c, u, b] = [efficient.summary(), byChannels.summary(), byUsers.summary(), bare.summary()];
      // the product's sockets got the efficient and users: series once per notify each (channels: is counted apart)
      const [pt, bt] = [tally(efficient, 2 * NOTIFIES), tally(bare, NOTIFIES)];
      const notes = [
        ...efficient.problems,
        ...byChannels.problems,
        ...byUsers.problems,
        ...bare.problems,
        ...pt.mismatches.examples.map((example) => `product: ${example}`),
        ...bt.mismatches.examples.map((example) => `baseline: ${example}`),
      ];
      if (pt.duplicates > 0) notes.push(`product: ${pt.duplicates} duplicate deliveries`);
      if (pt.wrongOrigin > 0) notes.push(`product: ${pt.wrongOrigin} deliveries with the wrong origin`);
      if (pt.wrongEfficientCount > 0) notes.push(`product: ${pt.wrongEfficientCount} sockets without exactly one channels-efficient copy of each notify`);
      if (pt.wrongChannelCopies > 0) notes.push(`product: ${pt.wrongChannelCopies} sockets without one channels: copy per channel of theirs`);
      const channelSizes = CHANNELS.map((_, k) => MEMBERSHIP.filter((m) => m.includes(k)).length);
      const audience = {
        listedChannels: LISTED,
        channelsPerUser: round(MEMBERSHIP.reduce((sum, m) => sum + m.length, 0) / SOCKETS),
        usersPerChannel: { min: Math.min(...channelSizes), max: Math.max(...channelSizes) },
      };
      const side = (summary: SeriesSummary, of: Audience) => ({ ...figures(summary, of), notifiesPerSecond: round(perNotify(summary), 1), serverCpuMsPerNotify: round(cpuPerNotify(summary), 2) });
      return {
        product: {
          ...side(e, efficient),
          ...audience,
          /** What listing the channels costs beyond reaching the same sockets by user. */
          listCostServerCpuMsPerNotify: round(cpuPerNotify(e) - cpuPerNotify(u), 2),
          socketsWithWrongCount: pt.mismatches.count,
          duplicates: pt.duplicates,
          wrongOrigin: pt.wrongOrigin,
          socketsWithoutOneEfficientCopy: pt.wrongEfficientCount,
        },
        baseline: {
          channelsMethod: side(c, efficient),
          usersMethod: side(u, efficient),
          bareSocketIo: { ...side(b, bare), socketsWithWrongCount: bt.mismatches.count, duplicates: bt.duplicates },
        },
        comparisons: [
          compare(`notifies/s, ${LISTED} channels vs channels: (same sockets)`, '/s', perNotify(e), perNotify(c), { min: 0.8 }),
          compare(`notifies/s, ${LISTED} channels vs users: (same sockets)`, '/s', perNotify(e), perNotify(u)),
          compare('server CPU per notify vs users:', 'ms', cpuPerNotify(e), cpuPerNotify(u)),
          compare('notify→last delivery p99 vs users:', 'ms', e.latencyMs.p99, u.latencyMs.p99),
          compare(`deliveries/s vs io.to([${LISTED} rooms])`, '/s', e.deliveriesPerSecond, b.deliveriesPerSecond),
        ],
        complete:
          e.notifies === NOTIFIES &&
          u.notifies === NOTIFIES &&
          c.notifies === NOTIFIES &&
          pt.wrongChannelCopies === 0 &&
          b.notifies === NOTIFIES &&
          pt.mismatches.count === 0 &&
          pt.duplicates === 0 &&
          pt.wrongOrigin === 0 &&
          pt.wrongEfficientCount === 0 &&
          bt.mismatches.count === 0 &&
          bt.duplicates === 0,
        notes,
      };
    } finally {
      await Promise.all([baselineServer?.stop(), product?.stop()]);
      for (const audience of audiences) audience.close();
    }
  },
};
