import { expect } from 'chai';
import { doc } from './helpers/http.js';
import { useWorld } from './helpers/world.js';

describe('notify delivery (contract §4.2)', () => {
  const world = useWorld();
  const { open, flush } = world;

  it('gives one copy per listed channel in channels mode, with its origin', async () => {
    await world.api.post('/control/subscription/subscribe?method=users:alice', doc(['posts', '1'], ['posts', '2']));
    const alice = await open('alice');
    expect(alice.ready.channels).to.deep.equal(['posts-1', 'posts-2']);
    const res = await world.api.post('/control/notify?method=channels:posts-1,posts-2&add=origin', { event: 'changed', attributes: { n: 1 } });
    expect(res.status).to.equal(202);
    await flush(alice);
    const copies = alice.of('changed');
    expect(copies).to.have.length(2);
    expect(copies.map(([payload]) => (payload as { origin: string }).origin)).to.deep.equal(['posts-1', 'posts-2']);
    expect(copies.map(([, meta]) => (meta as { origin: string }).origin)).to.deep.equal(['posts-1', 'posts-2']);
    expect((copies[0]![1] as { id: number }).id).to.equal(Number(res.body.data.id));
  });

  it('gives exactly one copy in channels-efficient mode, from the first listed channel the user is in', async () => {
    await world.api.post('/control/subscription/subscribe?method=users:alice', doc(['posts', '2'], ['posts', '3']));
    await world.api.post('/control/subscription/subscribe?method=users:bob', doc(['posts', '1']));
    const [alice, bob, aliceTab2] = await Promise.all([open('alice'), open('bob'), open('alice')]);
    await world.api.post('/control/notify?method=channels-efficient:posts-1,posts-3,posts-2&add=origin', { event: 'changed', attributes: {} });
    await flush(alice, bob, aliceTab2);
    for (const [socket, origin] of [[alice, 'posts-3'], [aliceTab2, 'posts-3'], [bob, 'posts-1']] as const) {
      expect(socket.of('changed')).to.have.length(1);
      expect(socket.of('changed')[0]![0]).to.deep.equal({ origin });
    }
  });

  it('reaches every socket of each listed user once in users mode', async () => {
    const sockets = await Promise.all([open('alice'), open('alice'), open('bob'), open('carol')]);
    await world.api.post('/control/notify?method=users:alice,bob&add=date-time', { event: 'ping', attributes: { x: true } });
    await flush(...sockets);
    expect(sockets.map((s) => s.of('ping').length)).to.deep.equal([1, 1, 1, 0]);
    const [payload, meta] = sockets[0]!.of('ping')[0] as [Record<string, unknown>, Record<string, unknown>];
    expect(payload.x).to.equal(true);
    expect(payload['date-time']).to.equal(meta.time);
    expect(meta).to.not.have.property('origin');
  });

  it('delivers to a user subscribed while offline once they connect', async () => {
    await world.api.post('/control/subscription/subscribe?method=users:dave', doc(['teams', '3']));
    const dave = await open('dave');
    await world.api.post('/control/notify?method=channels:teams-3', { event: 'hello', attributes: {} });
    await dave.waitFor('hello');
  });

  it('moves live sockets into a channel before the subscribe response', async () => {
    const erin = await open('erin');
    const res = await world.api.post('/control/subscription/subscribe?method=users:erin', doc(['posts', '9']));
    expect(res.body.meta).to.deep.equal({ users: 1, changed: 1 });
    await world.api.post('/control/notify?method=channels:posts-9', { event: 'hello', attributes: {} });
    await erin.waitFor('hello');
  });
});
