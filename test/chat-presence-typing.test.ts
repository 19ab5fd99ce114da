/**
 * Presence and typing (contract §5, issue 3). Presence counts a user's sockets: a second tab keeps
 * the user online when the first closes; the last one closing sends `offline` to channel peers.
 * Typing reaches the other members' sockets and none of the sender's.
 */
import { expect } from 'chai';
import type { TestSocket } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

interface Presence {
  userId: string;
  status: 'online' | 'offline';
}

describe('chat: presence and typing (contract §5)', () => {
  const world = useWorld();
  const { open, subscribe, flush } = world;

  /** Polls the server's own connection count (GET /control/search/online) until `user` has `count` sockets. */
  async function connectionsReach(user: string, count: number) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const res = await world.api.get('/control/search/online');
      expect(res.status).to.equal(200);
      const entry = (res.body.data as { id: string; attributes: { connections: number } }[]).find((u) => u.id === user);
      if ((entry?.attributes.connections ?? 0) === count) return;
      if (Date.now() > deadline) throw new Error(`${user} never reached ${count} connections (${JSON.stringify(res.body.data)})`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  const presenceOf = (socket: TestSocket) => socket.of('presence').map(([p]) => p as Presence);

  it('two tabs: closing one keeps the user online, closing the second sends offline to a channel peer', async () => {
    await subscribe(['alice', 'bob'], ['rooms', '1']);
    const bob = await open('bob');
    const tab1 = await open('alice');
    await bob.waitFor('presence');
    expect(presenceOf(bob)).to.deep.equal([{ userId: 'alice', status: 'online' }]);

    const tab2 = await open('alice');
    await connectionsReach('alice', 2);
    let query = await bob.call('presence:query', { channel: 'rooms-1' });
    expect(query).to.deep.equal({ ok: true, channel: 'rooms-1', online: ['alice', 'bob'] });

    tab1.close();
    await connectionsReach('alice', 1);
    query = await bob.call('presence:query', { channel: 'rooms-1' });
    expect(query.online).to.deep.equal(['alice', 'bob']);
    await flush(bob, tab2);
    // the second tab neither announced alice again nor let the first tab's close say offline
    expect(presenceOf(bob)).to.deep.equal([{ userId: 'alice', status: 'online' }]);
    // a user's own sockets never hear about the user; alice's tabs heard of nobody else (bob was first)
    expect(presenceOf(tab2)).to.deep.equal([]);

    tab2.close();
    await bob.waitFor('presence', 2);
    expect(presenceOf(bob)).to.deep.equal([
      { userId: 'alice', status: 'online' },
      { userId: 'alice', status: 'offline' },
    ]);
    query = await bob.call('presence:query', { channel: 'rooms-1' });
    expect(query.online).to.deep.equal(['bob']);

    // and back online with a new tab
    await open('alice');
    await bob.waitFor('presence', 3);
    expect(presenceOf(bob)[2]).to.deep.equal({ userId: 'alice', status: 'online' });
  });

  it('sends presence to sockets sharing a channel only, and tells the newcomer nothing about itself', async () => {
    await subscribe(['alice', 'bob'], ['rooms', '1'], ['rooms', '4']);
    await subscribe(['alice', 'carol'], ['rooms', '2']);
    await subscribe(['dave'], ['rooms', '3']);
    const [bob, carol, dave] = await Promise.all([open('bob'), open('carol'), open('dave')]);
    const alice = await open('alice');
    await Promise.all([bob.waitFor('presence'), carol.waitFor('presence')]);
    await flush(alice, bob, carol, dave);
    // one announcement per peer socket, though bob shares two channels with alice
    expect(presenceOf(bob)).to.deep.equal([{ userId: 'alice', status: 'online' }]);
    expect(presenceOf(carol)).to.deep.equal([{ userId: 'alice', status: 'online' }]);
    expect(presenceOf(dave)).to.deep.equal([]);
    expect(presenceOf(alice)).to.deep.equal([]);
  });

  it('answers presence:query with the sorted online members, for members only', async () => {
    await subscribe(['zoe', 'alice', 'bob', 'mallory'], ['rooms', '1']);
    const [zoe, , bob, carol] = await Promise.all([open('zoe'), open('alice'), open('bob'), open('carol')]);
    const query = await zoe.call('presence:query', { channel: 'rooms-1' });
    expect(query).to.deep.equal({ ok: true, channel: 'rooms-1', online: ['alice', 'bob', 'zoe'] });

    const refused = await carol.call('presence:query', { channel: 'rooms-1' });
    expect(refused.ok).to.equal(false);
    expect(refused.error.code).to.equal('not_member');

    // a private conversation: its participants who are online, once it holds a message (the
    // presence rule: test/socket-presence-policy.test.ts)
    expect((await bob.call('chat:send', { to: 'mallory', body: 'hello' })).ok).to.equal(true);
    const dm = await bob.call('presence:query', { channel: 'dm:bob:mallory' });
    expect(dm).to.deep.equal({ ok: true, channel: 'dm:bob:mallory', online: ['bob'] });
    expect((await bob.call('chat:send', { to: 'alice', body: 'hello' })).ok).to.equal(true);
    const dm2 = await bob.call('presence:query', { to: 'alice' });
    expect(dm2).to.deep.equal({ ok: true, channel: 'dm:alice:bob', online: ['alice', 'bob'] });
  });

  it('typing in a group reaches the other members\' sockets and none of the sender\'s', async () => {
    await subscribe(['alice', 'bob', 'carol'], ['rooms', '1']);
    await subscribe(['dave'], ['rooms', '2']);
    const [alice, aliceTab2, bob, bobTab2, carol, dave] = await Promise.all(['alice', 'alice', 'bob', 'bob', 'carol', 'dave'].map(open));

    const ack = await alice.call('chat:typing', { channel: 'rooms-1' });
    expect(ack.ok).to.equal(true);
    for (const socket of [bob, bobTab2, carol]) {
      const [[typing]] = await socket.waitFor('chat:typing');
      expect(typing).to.deep.equal({ channel: 'rooms-1', userId: 'alice' });
    }
    // bob typing now must reach alice's tabs; anything of alice's own typing would have come first
    expect((await bob.call('chat:typing', { channel: 'rooms-1' })).ok).to.equal(true);
    await Promise.all([alice.waitFor('chat:typing'), aliceTab2.waitFor('chat:typing'), carol.waitFor('chat:typing', 2)]);
    await flush(alice, aliceTab2, bob, bobTab2, carol, dave);
    for (const socket of [alice, aliceTab2]) expect(socket.of('chat:typing').map(([t]) => t)).to.deep.equal([{ channel: 'rooms-1', userId: 'bob' }]);
    for (const socket of [bob, bobTab2]) expect(socket.of('chat:typing').map(([t]) => t)).to.deep.equal([{ channel: 'rooms-1', userId: 'alice' }]);
    expect(carol.of('chat:typing').map(([t]) => t)).to.deep.equal([
      { channel: 'rooms-1', userId: 'alice' },
      { channel: 'rooms-1', userId: 'bob' },
    ]);
    expect(dave.of('chat:typing')).to.deep.equal([]);

    const refused = await dave.call('chat:typing', { channel: 'rooms-1' });
    expect(refused.ok).to.equal(false);
    expect(refused.error.code).to.equal('not_member');
  });

  it('typing in a private conversation reaches the other participant only', async () => {
    const [alice, aliceTab2, bob, carol] = await Promise.all(['alice', 'alice', 'bob', 'carol'].map(open));
    expect((await alice.call('chat:typing', { to: 'bob' })).ok).to.equal(true);
    const [[typing]] = await bob.waitFor('chat:typing');
    expect(typing).to.deep.equal({ channel: 'dm:alice:bob', userId: 'alice' });
    expect((await bob.call('chat:typing', { channel: 'dm:alice:bob' })).ok).to.equal(true);
    await Promise.all([alice.waitFor('chat:typing'), aliceTab2.waitFor('chat:typing')]);
    await flush(alice, aliceTab2, bob, carol);
    expect(alice.of('chat:typing').map(([t]) => t)).to.deep.equal([{ channel: 'dm:alice:bob', userId: 'bob' }]);
    expect(aliceTab2.of('chat:typing').map(([t]) => t)).to.deep.equal([{ channel: 'dm:alice:bob', userId: 'bob' }]);
    expect(bob.of('chat:typing')).to.have.length(1);
    expect(carol.of('chat:typing')).to.deep.equal([]);
  });
});
