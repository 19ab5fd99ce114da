/**
 * Live sockets and durable subscriptions (contract §4.3, §5): whatever the order of a subscribe and
 * a connect, a socket ends up in exactly the channels its user is subscribed to, and (un)subscribe
 * responses are only sent once every live socket has moved.
 */
import { expect } from 'chai';
import { doc } from './helpers/http.js';
import type { TestSocket } from './helpers/sockets.js';
import { useWorld, type SubscriptionBody } from './helpers/world.js';

/** A random pause of 0–`maxMs` ms, to spread racing calls over each other's windows. */
const jitter = (maxMs: number) => new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * (maxMs + 1))));

describe('socket membership (contract §4.3, §5)', () => {
  const world = useWorld();
  const { open, notify } = world;
  const subscribe = (method: string, document: unknown, action: 'subscribe' | 'unsubscribe' = 'subscribe') => world.subscription(action, method, document);
  const flush = (sockets: TestSocket[]) => world.flush(...sockets);

  /** Opens `user`'s socket and runs `change` at the same time, delaying one or the other by up to 15 ms (by `i`) so that they race. */
  function racing(user: string, i: number, change: () => Promise<SubscriptionBody>): Promise<[TestSocket, SubscriptionBody]> {
    return Promise.all([
      (async () => {
        if (i % 2 === 1) await jitter(15);
        return open(user);
      })(),
      (async () => {
        if (i % 2 === 0) await jitter(15);
        return change();
      })(),
    ]);
  }

  async function channelsOf(userId: string): Promise<string[]> {
    const res = await world.api.get(`/control/search/subscriptions?userId=${userId}`);
    expect(res.status).to.equal(200);
    return res.body.data.map((r: { id: string }) => r.id);
  }

  it('puts a user subscribed before connecting in the channel from the start', async () => {
    await subscribe('users:alice', doc(['posts', '1']));
    const alice = await open('alice');
    expect(alice.ready.channels).to.deep.equal(['posts-1']);
    await notify('channels:posts-1', 'changed');
    await flush([alice]);
    expect(alice.of('changed')).to.have.length(1);
  });

  it('ends with every socket in the channel when connects and subscribes race (20 users × 5 rounds)', async () => {
    const sockets: TestSocket[] = [];
    for (let round = 0; round < 5; round++) {
      const users = Array.from({ length: 20 }, (_, i) => `racer-${round}-${i}`);
      const joined = await Promise.all(
        users.map(async (user, i) => {
          const [socket, body] = await racing(user, i, () => subscribe(`users:${user}`, doc(['race', String(round)])));
          expect(body.meta).to.deep.equal({ users: 1, changed: 1 });
          return socket;
        }),
      );
      sockets.push(...joined);
      await notify(`channels:race-${round}`, 'raced', { round });
      await flush(joined);
      const counts = joined.map((s) => s.of('raced').length);
      expect(counts, `round ${round}: copies per socket`).to.deep.equal(users.map(() => 1));
    }
    // and they stay there: one more notify per round reaches everyone exactly once more
    for (let round = 0; round < 5; round++) await notify(`channels:race-${round}`, 'raced', { round });
    await flush(sockets);
    expect(sockets.map((s) => s.of('raced').length)).to.deep.equal(sockets.map(() => 2));
  });

  it('ends with no socket in the channel when connects and unsubscribes race (20 users × 3 rounds)', async () => {
    for (let round = 0; round < 3; round++) {
      const users = Array.from({ length: 20 }, (_, i) => `leaver-${round}-${i}`);
      await subscribe(`users:${users.join(',')}`, doc(['gone', String(round)], ['kept', String(round)]));
      const sockets = await Promise.all(
        users.map(async (user, i) => {
          const [socket, body] = await racing(user, i, () => subscribe(`users:${user}`, doc(['gone', String(round)]), 'unsubscribe'));
          expect(body.meta).to.deep.equal({ users: 1, changed: 1 });
          return socket;
        }),
      );
      await notify(`channels:gone-${round}`, 'gone');
      await notify(`channels:kept-${round}`, 'kept');
      await flush(sockets);
      expect(sockets.map((s) => s.of('gone').length), `round ${round}: copies from the left channel`).to.deep.equal(users.map(() => 0));
      expect(sockets.map((s) => s.of('kept').length), `round ${round}: copies from the kept channel`).to.deep.equal(users.map(() => 1));
    }
  });

  it('removes every live socket from the room before the unsubscribe response', async () => {
    await subscribe('users:alice,bob', doc(['posts', '1'], ['posts', '2']));
    const sockets = await Promise.all([open('alice'), open('alice'), open('bob')]);
    const body = await subscribe('users:alice', doc(['posts', '1']), 'unsubscribe');
    expect(body.meta).to.deep.equal({ users: 1, changed: 1 });
    // no pause: the notify follows the response at once
    await notify('channels:posts-1', 'one');
    await notify('channels:posts-2', 'two');
    await flush(sockets);
    expect(sockets.map((s) => s.of('one').length)).to.deep.equal([0, 0, 1]);
    expect(sockets.map((s) => s.of('two').length)).to.deep.equal([1, 1, 1]);
    expect(await channelsOf('alice')).to.deep.equal(['posts-2']);
  });

  it('removes live sockets in channels mode before the response too', async () => {
    await subscribe('users:alice,bob', doc(['teams', '1'], ['posts', '1']));
    await subscribe('users:carol', doc(['posts', '1']));
    const sockets = await Promise.all(['alice', 'bob', 'carol'].map((u) => open(u)));
    const body = await subscribe('channels:teams-1', doc(['posts', '1']), 'unsubscribe');
    expect(body.meta).to.deep.equal({ users: 2, changed: 2 });
    await notify('channels:posts-1', 'one');
    await flush(sockets);
    expect(sockets.map((s) => s.of('one').length)).to.deep.equal([0, 0, 1]);
  });

  it('joins every socket of a user, however many', async () => {
    const tabs = await Promise.all(Array.from({ length: 8 }, () => open('alice')));
    const body = await subscribe('users:alice', doc(['posts', '7']));
    expect(body.meta).to.deep.equal({ users: 1, changed: 1 });
    await notify('channels:posts-7', 'changed');
    // a socket opened afterwards joins too
    tabs.push(await open('alice'));
    await notify('channels:posts-7', 'changed');
    await flush(tabs);
    expect(tabs.map((s) => s.of('changed').length)).to.deep.equal([2, 2, 2, 2, 2, 2, 2, 2, 1]);
    // a repeat changes nothing and does not double the room
    expect((await subscribe('users:alice', doc(['posts', '7']))).meta).to.deep.equal({ users: 1, changed: 0 });
    await notify('channels:posts-7', 'again');
    await flush(tabs);
    expect(tabs.map((s) => s.of('again').length)).to.deep.equal(tabs.map(() => 1));
  });

  it('moves the live sockets of every subscriber of the source channel in channels mode', async () => {
    await subscribe('users:alice,bob,dave', doc(['teams', '1']));
    await subscribe('users:carol', doc(['teams', '2']));
    const [alice1, alice2, bob, carol] = await Promise.all([open('alice'), open('alice'), open('bob'), open('carol')]);
    const body = await subscribe('channels:teams-1,teams-9', doc(['posts', '5'], ['posts', '6']));
    expect(body.data).to.deep.equal([
      { type: 'channels', id: 'posts-5' },
      { type: 'channels', id: 'posts-6' },
    ]);
    expect(body.meta).to.deep.equal({ users: 3, changed: 6 });
    await notify('channels:posts-5', 'changed');
    const sockets = [alice1!, alice2!, bob!, carol!];
    await flush(sockets);
    expect(sockets.map((s) => s.of('changed').length)).to.deep.equal([1, 1, 1, 0]);
    // the offline subscriber got it durably, and receives it on connect
    expect(await channelsOf('dave')).to.deep.equal(['posts-5', 'posts-6', 'teams-1']);
    expect(await channelsOf('carol')).to.deep.equal(['teams-2']);
    const dave = await open('dave');
    expect(dave.ready.channels).to.deep.equal(['posts-5', 'posts-6', 'teams-1']);
    await notify('channels:posts-6', 'changed');
    await flush([...sockets, dave]);
    expect([...sockets, dave].map((s) => s.of('changed').length)).to.deep.equal([2, 2, 2, 0, 1]);
  });

  it('keeps subscriptions across a restart on the same database', async () => {
    await subscribe('users:alice,bob', doc(['posts', '1'], ['teams', '4']));
    const alice = await open('alice');
    const lastBefore = await notify('channels:posts-1', 'before');
    await alice.waitFor('before');
    const gone = new Promise<string>((resolve) => alice.socket.once('disconnect', resolve));
    await world.restart();
    expect(await gone).to.be.a('string');

    expect(await channelsOf('alice')).to.deep.equal(['posts-1', 'teams-4']);
    expect(await channelsOf('bob')).to.deep.equal(['posts-1', 'teams-4']);
    const [alice2, bob] = await Promise.all([open('alice'), open('bob')]);
    for (const s of [alice2, bob]) {
      expect(s.ready.channels).to.deep.equal(['posts-1', 'teams-4']);
      expect(s.ready.lastEventId).to.equal(lastBefore);
    }
    const after = await notify('channels:teams-4', 'after');
    expect(after).to.be.greaterThan(lastBefore);
    await flush([alice2, bob]);
    expect([alice2, bob].map((s) => s.of('after').length)).to.deep.equal([1, 1]);
    expect([alice2, bob].map((s) => s.of('before').length)).to.deep.equal([0, 0]);
  });
});
