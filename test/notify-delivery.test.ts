import { expect } from 'chai';
import type { TestSocket } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

/**
 * Every request's status is checked (world.subscribe/subscription expect 200, world.notify 202), and
 * counts are taken after `flush`: its marker is emitted after the events under test, so once it
 * has arrived every copy of them has too, and a duplicate would be counted.
 */
describe('notify delivery (contract §4.2)', () => {
  const world = useWorld();
  const { open, flush, subscribe } = world;

  /** The `event` copies each socket got, as [payload, meta]. */
  const copies = (socket: TestSocket, event: string) => socket.of(event) as [Record<string, unknown>, Record<string, unknown>][];

  it('gives one copy per listed channel in channels mode, with its origin', async () => {
    await subscribe(['alice'], ['posts', '1'], ['posts', '2']);
    const alice = await open('alice');
    expect(alice.ready.channels).to.deep.equal(['posts-1', 'posts-2']);
    const res = await world.api.post('/control/notify?method=channels:posts-1,posts-2&add=origin', { event: 'changed', attributes: { n: 1 } });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    expect(res.body.data).to.include({ type: 'notifications' });
    expect(res.body.data.attributes).to.include({ event: 'changed', mode: 'channels' });
    expect(res.body.data.attributes.targets).to.deep.equal(['posts-1', 'posts-2']);
    await flush(alice);
    const got = copies(alice, 'changed');
    expect(got).to.have.length(2);
    expect(got.map(([payload]) => payload)).to.deep.equal([
      { n: 1, origin: 'posts-1' },
      { n: 1, origin: 'posts-2' },
    ]);
    expect(got.map(([, meta]) => meta.origin)).to.deep.equal(['posts-1', 'posts-2']);
    expect(got.map(([, meta]) => meta.id)).to.deep.equal([Number(res.body.data.id), Number(res.body.data.id)]);
  });

  it('gives exactly one copy in channels-efficient mode, from the first listed channel the user is in', async () => {
    await subscribe(['alice'], ['posts', '2'], ['posts', '3']);
    await subscribe(['bob'], ['posts', '1']);
    await subscribe(['carol'], ['posts', '4']);
    const [alice, bob, aliceTab2, carol] = await Promise.all([open('alice'), open('bob'), open('alice'), open('carol')]);
    const id = await world.notify('channels-efficient:posts-1,posts-3,posts-2&add=origin', 'changed');
    await flush(alice, bob, aliceTab2, carol);
    for (const [socket, origin] of [[alice, 'posts-3'], [aliceTab2, 'posts-3'], [bob, 'posts-1']] as const) {
      expect(copies(socket, 'changed')).to.deep.equal([[{ origin }, { id, time: copies(socket, 'changed')[0]![1].time, origin }]]);
    }
    expect(copies(carol, 'changed')).to.have.length(0);
  });

  it('reaches every socket of each listed user once in users mode', async () => {
    const sockets = await Promise.all([open('alice'), open('alice'), open('bob'), open('carol')]);
    const id = await world.notify('users:alice,bob&add=date-time', 'ping', { x: true });
    await flush(...sockets);
    expect(sockets.map((s) => s.of('ping').length)).to.deep.equal([1, 1, 1, 0]);
    const [payload, meta] = copies(sockets[0]!, 'ping')[0]!;
    expect(payload.x).to.equal(true);
    expect(payload['date-time']).to.equal(meta.time);
    expect(meta.id).to.equal(id);
    expect(meta).to.not.have.property('origin');
  });

  it('gives one copy per user even when a user is listed twice', async () => {
    const [alice, aliceTab2] = await Promise.all([open('alice'), open('alice')]);
    await world.notify('users:alice,alice', 'ping');
    await flush(alice, aliceTab2);
    expect([alice.of('ping').length, aliceTab2.of('ping').length]).to.deep.equal([1, 1]);
  });

  it('delivers to a user subscribed while offline once they connect', async () => {
    await subscribe(['dave'], ['teams', '3']);
    const dave = await open('dave');
    expect(dave.ready.channels).to.deep.equal(['teams-3']);
    const id = await world.notify('channels:teams-3', 'hello');
    await flush(dave);
    expect(copies(dave, 'hello').map(([, meta]) => meta.id)).to.deep.equal([id]);
  });

  it('moves live sockets into a channel before the subscribe response', async () => {
    const erin = await open('erin');
    const body = await world.subscription('subscribe', 'users:erin', { data: { type: 'posts', id: '9' } });
    expect(body.meta).to.deep.equal({ users: 1, changed: 1 });
    // no wait between the response and the notify: the socket must already be in the room
    const id = await world.notify('channels:posts-9', 'hello');
    await flush(erin);
    expect(copies(erin, 'hello').map(([, meta]) => meta.id)).to.deep.equal([id]);
  });

  it('delivers events to a socket in id order, each once', async () => {
    await subscribe(['frank'], ['posts', '1'], ['posts', '2']);
    const frank = await open('frank');
    const ids: number[] = [];
    for (let n = 0; n < 5; n++) ids.push(await world.notify(n % 2 ? 'users:frank' : 'channels-efficient:posts-1,posts-2', 'tick', { n }));
    await flush(frank);
    expect(copies(frank, 'tick').map(([payload, meta]) => [payload.n, meta.id])).to.deep.equal(ids.map((id, n) => [n, id]));
  });
});
