/**
 * Who may see whose presence (issue 9): one rule for `presence` announcements and `presence:query`.
 * A user's presence is visible to the members of a group channel both are subscribed to, and to
 * the other participant of a private conversation holding at least one message; to nobody else.
 * Naming somebody in a `dm:` channel is no contact: such a probe answers `not_member`.
 */
import { expect } from 'chai';
import { send } from './helpers/chat.js';
import type { TestSocket } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

interface Presence {
  userId: string;
  status: 'online' | 'offline';
}

const presenceOf = (socket: TestSocket) => socket.of('presence').map(([p]) => p as Presence);

function expectRefused(ack: { ok: boolean; error?: { code: string; message: string } }, code: string): void {
  expect(ack.ok, JSON.stringify(ack)).to.equal(false);
  expect(ack.error?.code, JSON.stringify(ack)).to.equal(code);
  expect(ack.error?.message).to.be.a('string').and.not.equal('');
}

describe('presence policy (issue 9)', () => {
  const world = useWorld({ manual: true });
  const { open, subscribe, flush } = world;

  describe('presence:query', () => {
    beforeEach(async () => {
      await world.start({ env: { PRESENCE_QUERY_LIMIT: '3' } });
    });

    it('does not answer a probe of a private conversation that holds no message', async () => {
      const [victim, mallory] = await Promise.all([open('victim'), open('mallory')]);
      expectRefused(await mallory.call('presence:query', { channel: 'dm:mallory:victim' }), 'not_member');
      expectRefused(await mallory.call('presence:query', { to: 'victim' }), 'not_member');
      // typing is no contact either
      expect((await mallory.call('chat:typing', { to: 'victim' })).ok).to.equal(true);
      expectRefused(await mallory.call('presence:query', { to: 'victim' }), 'not_member');
      // nor is being the one probed
      expectRefused(await victim.call('presence:query', { to: 'mallory' }), 'not_member');
    });

    it('answers for the partner of a conversation with a message, both ways and by either name', async () => {
      const [alice, bob] = await Promise.all([open('alice'), open('bob')]);
      await send(alice, { to: 'bob', body: 'hello' });
      const expected = { ok: true, channel: 'dm:alice:bob', online: ['alice', 'bob'] };
      expect(await alice.call('presence:query', { to: 'bob' })).to.deep.equal(expected);
      expect(await bob.call('presence:query', { to: 'alice' })).to.deep.equal(expected);
      expect(await bob.call('presence:query', { channel: 'dm:alice:bob' })).to.deep.equal(expected);
      bob.close();
      await alice.waitFor('presence', 1);
      expect(await alice.call('presence:query', { to: 'bob' })).to.deep.equal({ ...expected, online: ['alice'] });
      // a third user still cannot see into it
      const carol = await open('carol');
      expectRefused(await carol.call('presence:query', { channel: 'dm:alice:bob' }), 'not_member');
    });

    it('answers for group channels up to PRESENCE_QUERY_LIMIT subscribers, and refuses bigger ones without scanning them', async () => {
      await subscribe(['alice', 'bob', 'carol'], ['rooms', 'small']);
      await subscribe(['alice', 'bob', 'carol', 'dave'], ['rooms', 'big']);
      const [alice] = await Promise.all([open('alice'), open('bob')]);
      expect(await alice.call('presence:query', { channel: 'rooms-small' })).to.deep.equal({ ok: true, channel: 'rooms-small', online: ['alice', 'bob'] });
      const refused = await alice.call('presence:query', { channel: 'rooms-big' });
      expectRefused(refused, 'validation_failed');
      expect(refused.error.message).to.match(/PRESENCE_QUERY_LIMIT/);
      // a non-member learns nothing, not even the size
      const erin = await open('erin');
      expectRefused(await erin.call('presence:query', { channel: 'rooms-big' }), 'not_member');
    });
  });

  describe('announcements', () => {
    it('go to the partners of conversations with a message, as well as to channel peers, once per socket', async () => {
      await world.start();
      // bob: a partner only; carol: a channel peer and a partner; dave: typed at, never written to;
      // erin: nothing to do with alice
      await subscribe(['alice', 'carol'], ['rooms', '1']);
      const first = await open('alice');
      await send(first, { to: 'bob', body: 'hi bob' });
      await send(first, { to: 'carol', body: 'hi carol' });
      expect((await first.call('chat:typing', { to: 'dave' })).ok).to.equal(true);
      first.close();
      const [bob, carol, dave, erin] = await Promise.all(['bob', 'carol', 'dave', 'erin'].map(open));
      await flush(bob, carol, dave, erin);
      for (const s of [bob, carol, dave, erin]) s.received.splice(0);

      const alice = await open('alice');
      await Promise.all([bob.waitFor('presence'), carol.waitFor('presence')]);
      alice.close();
      await Promise.all([bob.waitFor('presence', 2), carol.waitFor('presence', 2)]);
      await flush(bob, carol, dave, erin);
      const onlineThenOffline = [
        { userId: 'alice', status: 'online' },
        { userId: 'alice', status: 'offline' },
      ];
      expect(presenceOf(bob)).to.deep.equal(onlineThenOffline);
      expect(presenceOf(carol)).to.deep.equal(onlineThenOffline);
      expect(presenceOf(dave)).to.deep.equal([]);
      expect(presenceOf(erin)).to.deep.equal([]);
    });

    it('go to at most PRESENCE_LIMIT partners, and to none with 0', async () => {
      await world.start({ env: { PRESENCE_LIMIT: '2' } });
      const alice = await open('alice');
      for (const partner of ['p1', 'p2', 'p3']) await send(alice, { to: partner, body: 'hi' });
      alice.close();
      const partners = await Promise.all(['p1', 'p2', 'p3'].map(open));
      await flush(...partners);
      await open('alice');
      await Promise.all([partners[0]!.waitFor('presence'), partners[1]!.waitFor('presence')]);
      await flush(...partners);
      // the first two conversations by name hear that she came online (alice's offline announcement
      // may reach a partner who connected while it was being sent: on PostgreSQL it takes queries)
      expect(partners.map((p) => presenceOf(p).filter((e) => e.status === 'online').length)).to.deep.equal([1, 1, 0]);
      expect(presenceOf(partners[2]!)).to.deep.equal([]);

      await world.start({ env: { PRESENCE_LIMIT: '0', JWT_SECRET: world.server.secret }, dbPath: world.server.dbPath });
      const p1 = await open('p1');
      await open('alice');
      await flush(p1);
      expect(presenceOf(p1)).to.deep.equal([]);
    });
  });
});
