/**
 * Profiles and labels on sockets (contract §11): `profiles:get`, `labels:get` (bounded, members
 * only) and the `profile` event, live and on replay.
 */
import { expect } from 'chai';
import { useWorld } from './helpers/world.js';

const setProfile = (world: ReturnType<typeof useWorld>, userId: string, attributes: Record<string, unknown>) =>
  world.api.put(`/control/users/${userId}/profile`, { data: { type: 'users', attributes } });

describe('profiles and labels on sockets (contract §11)', () => {
  const world = useWorld();
  const { open, reconnect, subscribe, flush } = world;

  it('profiles:get answers every id asked, with the name defaulting to the id; at most 100 ids', async () => {
    expect((await setProfile(world, 'alice', { name: 'Alice', avatar: 'https://example.com/a.png' })).status).to.equal(200);
    const bob = await open('bob');
    const answer = await bob.call('profiles:get', { ids: ['alice', 'zed', 'alice'] });
    expect(answer).to.deep.equal({ ok: true, profiles: { alice: { name: 'Alice', avatar: 'https://example.com/a.png' }, zed: { name: 'zed', avatar: null } } });
    for (const payload of [{ ids: Array.from({ length: 101 }, (_, i) => `u${i}`) }, { ids: [] }, { ids: ['a b'] }, { ids: 'alice' }, {}, { ids: ['a'], more: 1 }]) {
      const refused = await bob.call('profiles:get', payload);
      expect(refused.ok, JSON.stringify(payload).slice(0, 40)).to.equal(false);
      expect(refused.error.code).to.equal('validation_failed');
    }
    expect((await bob.call('profiles:get', { ids: Array.from({ length: 100 }, (_, i) => `u${i}`) })).ok).to.equal(true);
  });

  it("labels:get answers the user's own channels only, at most 100", async () => {
    await world.api.post('/control/subscription/subscribe?method=users:carol', { data: [{ type: 'posts', id: '1', attributes: { title: 'First post' } }, { type: 'posts', id: '2' }] });
    await world.api.put('/control/channels/secret-1', { data: { type: 'channels', attributes: { label: 'Not for carol' } } });
    const carol = await open('carol');
    const answer = await carol.call('labels:get', { ids: ['posts-1', 'posts-2', 'secret-1', 'nowhere-9'] });
    expect(answer).to.deep.equal({ ok: true, labels: { 'posts-1': 'First post', 'posts-2': null } });
    const refused = await carol.call('labels:get', { ids: Array.from({ length: 101 }, (_, i) => `c-${i}`) });
    expect(refused.error.code).to.equal('validation_failed');
  });

  it('sends profile to those who may see the user (channel peers, private partners) and to the user, not to others', async () => {
    await subscribe(['alice', 'bob'], ['rooms', '1']);
    const [alice, bob, carol, dave] = await Promise.all(['alice', 'bob', 'carol', 'dave'].map(open));
    // carol is alice's private partner: a conversation with a message
    expect((await carol.call('chat:send', { to: 'alice', body: 'hi' })).ok).to.equal(true);
    const res = await setProfile(world, 'alice', { name: 'Alice Liddell' });
    expect(res.status).to.equal(200);
    for (const socket of [alice, bob, carol]) {
      const [[payload, meta]] = (await socket.waitFor('profile')) as [[unknown, { id: number }]];
      expect(payload).to.deep.equal({ userId: 'alice', name: 'Alice Liddell', avatar: null });
      expect(meta.id).to.be.a('number');
    }
    await flush(dave);
    expect(dave.of('profile')).to.have.length(0);
  });

  it('replays profile to a socket that was away', async () => {
    await subscribe(['erin', '@fay'], ['rooms', '2']);
    const erin = await open('erin');
    const lastEventId = await flush(erin);
    erin.close();
    await setProfile(world, '@fay', { name: 'Fay', avatar: 'https://example.com/f.png' });
    const back = await reconnect('erin', lastEventId);
    expect(back.received.map((r) => r.event)).to.deep.equal(['profile', 'ready']);
    expect(back.of('profile')[0]![0]).to.deep.equal({ userId: '@fay', name: 'Fay', avatar: 'https://example.com/f.png' });
  });
});
