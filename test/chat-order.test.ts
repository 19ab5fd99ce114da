/**
 * One socket's messages are stored, acknowledged and delivered in the order it sent them, even
 * when the store answers out of order (PostgreSQL runs each query on whichever pooled connection
 * is free). The store here answers earlier membership checks later, on purpose.
 */
import { expect } from 'chai';
import type { Store } from '../src/store/store.js';
import { messages, type ChatMessage } from './helpers/chat.js';
import { useWorld } from './helpers/world.js';

const SENDS = 8;

type Ack = { ok: boolean; message?: ChatMessage; messages?: ChatMessage[]; error?: { code: string } };

/** A store whose n-th membership check answers after (SENDS - n) × 5 ms: later checks overtake earlier ones. */
function slowerFirst(store: Store): Store {
  let calls = 0;
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (property !== 'isSubscribed') return value.bind(target);
      return async (...args: unknown[]) => {
        const delay = Math.max(0, SENDS - calls++) * 5;
        const result = await value.apply(target, args);
        await new Promise((resolve) => setTimeout(resolve, delay));
        return result;
      };
    },
  });
}

describe('chat:send keeps one socket\'s order (contract §5)', () => {
  const world = useWorld({ manual: true });

  it('stores, acknowledges and delivers a burst in the order sent, though the store answers the later ones first', async () => {
    await world.start({ wrapStore: slowerFirst, env: { CHAT_SEND_RATE: '0' } });
    await world.subscribe(['alice', 'bob'], ['rooms', '1']);
    const [alice, bob] = await Promise.all([world.open('alice'), world.open('bob')]);
    const bodies = Array.from({ length: SENDS }, (_, i) => `message ${i}`);
    const acks = (await Promise.all(bodies.map((body) => alice.call('chat:send', { channel: 'rooms-1', body })))) as Ack[];
    expect(acks.every((ack) => ack.ok)).to.equal(true);
    const ids = acks.map((ack) => ack.message!.id);
    expect(ids, 'ids in the order sent').to.deep.equal([...ids].sort((a, b) => a - b));
    expect(acks.map((ack) => ack.message!.body)).to.deep.equal(bodies);
    await bob.waitFor('chat:message', SENDS);
    expect(messages(bob).map((m) => m.body), 'delivered in the order sent').to.deep.equal(bodies);
    const history = (await bob.call('chat:history', { channel: 'rooms-1' })) as Ack;
    expect(history.messages!.map((m) => m.body)).to.deep.equal(bodies);
  });

  it('does not let a refused message hold up the ones after it', async () => {
    await world.start({ wrapStore: slowerFirst, env: { CHAT_SEND_RATE: '0' } });
    await world.subscribe(['alice', 'bob'], ['rooms', '1']);
    const alice = await world.open('alice');
    const acks = (await Promise.all([
      alice.call('chat:send', { channel: 'rooms-2', body: 'not a member' }),
      alice.call('chat:send', { channel: 'rooms-1', body: 'first' }),
      alice.call('chat:send', { channel: 'rooms-1', body: 'second' }),
    ])) as Ack[];
    expect(acks.map((ack) => (ack.ok ? ack.message!.body : ack.error!.code))).to.deep.equal(['not_member', 'first', 'second']);
    expect(acks[1]!.message!.id).to.be.below(acks[2]!.message!.id);
  });
});
