import { expect } from 'chai';
import { doc } from './helpers/http.js';
import { useWorld } from './helpers/world.js';

describe('presence limit (PRESENCE_LIMIT)', () => {
  const world = useWorld({ env: { PRESENCE_LIMIT: '2' } });
  const { open } = world;

  it('announces presence in channels with at most the limit of subscribers, and not in bigger ones', async () => {
    await world.api.post('/control/subscription/subscribe?method=users:alice,bob', doc(['rooms', 'small']));
    await world.api.post('/control/subscription/subscribe?method=users:alice,bob,carol', doc(['rooms', 'big']));
    const alice = await open('alice');
    await open('bob');
    // a later event that must arrive: everything announced before it has arrived too
    await world.api.post('/control/notify?method=users:alice', { event: 'marker', attributes: {} });
    await alice.waitFor('marker');
    const presence = alice.of('presence').map(([event]) => event);
    expect(presence).to.deep.equal([{ userId: 'bob', status: 'online' }]);
    // presence:query answers in the big channel all the same
    expect(await alice.call('presence:query', { channel: 'rooms-big' })).to.deep.equal({ ok: true, channel: 'rooms-big', online: ['alice', 'bob'] });
  });

  it('follows subscription changes made through the API', async () => {
    await world.api.post('/control/subscription/subscribe?method=users:alice,bob,carol', doc(['rooms', 'r']));
    const alice = await open('alice');
    await open('bob');
    await world.api.post('/control/subscription/unsubscribe?method=users:carol', doc(['rooms', 'r']));
    await open('dave'); // not in rooms-r: no event
    await world.api.post('/control/subscription/subscribe?method=users:dave', doc(['rooms', 'other']));
    const carol = await open('carol');
    expect(carol.ready.channels).to.deep.equal([]);
    const bob2 = await open('bob');
    bob2.close();
    await world.api.post('/control/subscription/unsubscribe?method=users:bob', doc(['rooms', 'r']));
    await world.api.post('/control/subscription/subscribe?method=users:erin', doc(['rooms', 'r']));
    await open('erin');
    await world.api.post('/control/notify?method=users:alice', { event: 'marker', attributes: {} });
    await alice.waitFor('marker');
    // bob's first connect was while rooms-r had 3 members (no event); erin's when it had 2
    expect(alice.of('presence').map(([event]) => event)).to.deep.equal([{ userId: 'erin', status: 'online' }]);
  });
});
