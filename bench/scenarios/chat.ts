/**
 * chat: a 50-member group (one socket per member); 10 of them send 50 messages each, each sender
 * sending its next message when the previous one's ack arrived, but no faster than the product's
 * per-socket flood control allows (10 sends/s sustained: faster senders get `rate_limited`), so
 * messages/s is capped at 100 by policy, not by capacity. Figures: messages/s (until the last
 * `chat:message` arrived everywhere), ack p50/p99, server CPU per message and per delivery; every
 * member must receive every message once.
 * Baseline: the fan-out scenario's per-delivery cost in the same run (product side). No target.
 */
import { countMismatches, DeliveryCounter } from '../delivery.js';
import { closeAll, LeanClient, openMany } from '../lean-client.js';
import { Product } from '../product.js';
import { cpuMeter, CONNECT_CONCURRENCY, scaled, type Scenario } from '../scenario.js';
import { compare, percentile, report, round } from '../stats.js';

const MEMBERS = 50;
const SENDERS = 10;
const MESSAGES_PER_SENDER = scaled(50);
/** The product's flood control for `chat:send` (SEND_RATE in src/realtime/chat-handlers.ts). */
const SENDS_PER_SECOND_PER_SOCKET = 10;
const SEND_INTERVAL_MS = 1000 / SENDS_PER_SECOND_PER_SOCKET;
const CHANNEL = 'groups-1';
const EVENT = 'chat:message';

export const chat: Scenario = {
  name: 'chat',
  description: `${MEMBERS}-member group, ${SENDERS} senders × ${MESSAGES_PER_SENDER} messages (each after the previous ack, ≤ ${SENDS_PER_SECOND_PER_SOCKET}/s per sender)`,
  timeoutMs: 45_000,
  async run(context) {
    const notes: string[] = [];
    const messages = SENDERS * MESSAGES_PER_SENDER;
    const product = await Product.start({ label: 'chat' });
    const counter = new DeliveryCounter(EVENT);
    let clients: LeanClient[] = [];
    try {
      const users = Array.from({ length: MEMBERS }, (_, i) => `member${i}`);
      await product.subscribeUsers(users, [CHANNEL]);
      const opened = await openMany(MEMBERS, (i) => new LeanClient(product.wsUrl, { token: product.token(users[i]) }, counter.hook), {
        concurrency: CONNECT_CONCURRENCY,
        waitFor: 'ready',
      });
      clients = opened.clients;
      if (opened.failures > 0) throw new Error(`${opened.failures} members failed to connect: ${opened.errors.join('; ')}`);

      const acks: number[] = [];
      let failedAcks = 0;
      const cpu = cpuMeter(product.server);
      const started = performance.now();
      const delivered = counter.reach(messages * MEMBERS, 30_000);
      await Promise.all(
        clients.slice(0, SENDERS).map(async (sender, s) => {
          for (let m = 0; m < MESSAGES_PER_SENDER; m++) {
            const due = started + m * SEND_INTERVAL_MS + (s * SEND_INTERVAL_MS) / SENDERS;
            const wait = due - performance.now();
            if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
            const sentAt = performance.now();
            try {
              const [ack] = (await sender.emitWithAck('chat:send', { channel: CHANNEL, body: `message ${m} from sender ${s}: hello, group!`, clientId: `${s}-${m}` })) as [{ ok?: boolean; error?: unknown }];
              acks.push(performance.now() - sentAt);
              if (ack?.ok !== true) {
                failedAcks++;
                if (failedAcks <= 3) notes.push(`ack ${JSON.stringify(ack)}`);
              }
            } catch (error) {
              failedAcks++;
              if (failedAcks <= 3) notes.push((error as Error).message);
              return;
            }
          }
        }),
      );
      const lastDelivery = await delivered;
      const reading = cpu();
      const seconds = ((lastDelivery ?? performance.now()) - started) / 1000;
      const mismatches = countMismatches(clients, EVENT, messages);
      notes.push(...mismatches.examples);
      if (lastDelivery === undefined) notes.push(`${counter.total} of ${messages * MEMBERS} chat:message deliveries arrived`);
      const complete = failedAcks === 0 && lastDelivery !== undefined && mismatches.count === 0;

      const deliveriesPerSecond = (messages * MEMBERS) / seconds;
      const cpuMicrosPerDelivery = (reading.serverCpuSeconds * 1e6) / (messages * MEMBERS);
      const fanOut = context.results.get('fan-out')?.product as { serverCpuMicrosPerDelivery?: number } | undefined;
      const comparisons = [];
      if (fanOut?.serverCpuMicrosPerDelivery) {
        comparisons.push(compare('server CPU per delivery vs fan-out', 'µs', cpuMicrosPerDelivery, fanOut.serverCpuMicrosPerDelivery));
      } else {
        notes.push('run the fan-out scenario in the same run for the per-delivery comparison');
      }
      comparisons.push(report('ack p99', 'ms', percentile(acks, 0.99)));
      comparisons.push(compare(`messages/s (capped at ${SENDERS * SENDS_PER_SECOND_PER_SOCKET} by flood control)`, '/s', messages / seconds, SENDERS * SENDS_PER_SECOND_PER_SOCKET));
      return {
        product: {
          members: MEMBERS,
          senders: SENDERS,
          messages,
          messagesPerSecond: round(messages / seconds, 0),
          deliveriesPerSecond: round(deliveriesPerSecond, 0),
          ackP50Ms: round(percentile(acks, 0.5)),
          ackP99Ms: round(percentile(acks, 0.99)),
          failedAcks,
          serverCpuMicrosPerMessage: round((reading.serverCpuSeconds * 1e6) / messages, 1),
          serverCpuMicrosPerDelivery: round(cpuMicrosPerDelivery, 3),
          serverCores: round(reading.serverCores),
          loadCores: round(reading.loadCores),
        },
        baseline: { fanOutServerCpuMicrosPerDelivery: fanOut?.serverCpuMicrosPerDelivery, floodControlCapPerSecond: SENDERS * SENDS_PER_SECOND_PER_SOCKET },
        comparisons,
        complete,
        notes,
      };
    } finally {
      closeAll(clients);
      await product.stop();
    }
  },
};
