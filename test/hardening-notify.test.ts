/**
 * Issue 9: `notify` may not impersonate Chatty's own events, and its body is exactly
 * `{event, attributes}`. A refused notify logs nothing, takes no id and reaches no socket.
 */
import { expect } from 'chai';
import { expectJsonApiError } from './helpers/http.js';
import type { TestSocket } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

/** Every event name Chatty emits (contract §5), in several spellings, and Socket.IO's own. */
const RESERVED = [
  'ready',
  'READY',
  'presence',
  'Presence',
  'auth:expired',
  'AUTH:Expired',
  'auth:refresh',
  'auth:anything',
  'chat:message',
  'Chat:message',
  'CHAT:MESSAGE',
  'chat:deleted',
  'chat:receipt',
  'chat:typing',
  'chat:',
  'subscriptions:changed',
  'Subscriptions:Changed',
  'subscriptions:x',
  // contract §11's names, reserved whether or not profiles are served yet
  'profile',
  'Profile',
  'profiles:get',
  'labels:get',
  'labels:',
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
  'NewListener',
  'removelistener',
  'Disconnect',
];

/** Names that only look like reserved ones: a prefix is reserved with its colon, a name exactly. */
const ALLOWED = ['chat', 'chatroom:update', 'chat.message', 'auth.changed', 'ready-set', 'readyz', 'presences', 'subscriptions', 'my:chat:message', 'connected', 'profiles', 'profile-updated', 'labels', 'my:profile'];

describe('notify refuses what it must not send (issue 9)', () => {
  const world = useWorld();

  /** The log's last id, as the store and the live log both see it. */
  const lastIds = async () => [await world.server.chatty.store.lastEventId(), world.server.chatty.eventLog.deliveredThrough];

  /**
   * Runs the refused requests against a connected, subscribed socket, then proves that nothing was
   * logged (the ids did not move, the next notify takes the very next id) and nothing was emitted
   * (the marker that follows is the only event the socket got after ready).
   */
  async function expectNothingHappens(alice: TestSocket, refused: () => Promise<void>) {
    const before = await lastIds();
    const receivedBefore = alice.received.length;
    await refused();
    expect(await lastIds()).to.deep.equal(before);
    const markerId = await world.flush(alice);
    expect(markerId).to.equal(before[0]! + 1);
    expect(alice.received.slice(receivedBefore).map((r) => r.event)).to.deep.equal(['marker']);
  }

  async function aliceOnPosts1() {
    await world.subscribe(['alice'], ['posts', '1']);
    return world.open('alice');
  }

  it('refuses every event name Chatty emits and those Socket.IO reserves, in any case, with 422 at /event', async () => {
    const alice = await aliceOnPosts1();
    await expectNothingHappens(alice, async () => {
      for (const event of RESERVED) {
        for (const method of ['users:alice', 'channels:posts-1', 'channels-efficient:posts-1']) {
          const res = await world.api.post(`/control/notify?method=${method}`, { event, attributes: { from: 'mallory', body: 'forged' } });
          expect(res.status, `${event} by ${method}: ${JSON.stringify(res.body)}`).to.equal(422);
          expectJsonApiError(res, 422, 'validation_failed', { pointer: '/event' });
        }
      }
    });
  });

  it('still accepts names that only resemble reserved ones', async () => {
    const alice = await world.open('alice');
    for (const event of ALLOWED) await world.notify('users:alice', event, { n: 1 });
    await world.flush(alice);
    expect(alice.received.filter((r) => r.event !== 'ready' && r.event !== 'marker').map((r) => r.event)).to.deep.equal(ALLOWED);
  });

  it('refuses a body without attributes (422 at /attributes) instead of sending an empty payload', async () => {
    const alice = await aliceOnPosts1();
    await expectNothingHappens(alice, async () => {
      const res = await world.api.post('/control/notify?method=users:alice', { event: 'changed' });
      expectJsonApiError(res, 422, 'validation_failed', { pointer: '/attributes' });
      const nullAttributes = await world.api.post('/control/notify?method=users:alice', { event: 'changed', attributes: null });
      expectJsonApiError(nullAttributes, 422, 'validation_failed', { pointer: '/attributes' });
    });
  });

  it('refuses an unknown top-level member (a typo such as "attribute") with a pointer to it', async () => {
    const alice = await aliceOnPosts1();
    await expectNothingHappens(alice, async () => {
      const typo = await world.api.post('/control/notify?method=users:alice', { event: 'changed', attribute: { n: 1 } });
      expectJsonApiError(typo, 422, 'validation_failed', { pointer: '/attribute' });
      const extra = await world.api.post('/control/notify?method=channels:posts-1', { event: 'changed', attributes: { n: 1 }, meta: { x: 1 } });
      expectJsonApiError(extra, 422, 'validation_failed', { pointer: '/meta' });
      // JSON pointer escaping (RFC 6901) of the member's name
      const slashed = await world.api.post('/control/notify?method=users:alice', { event: 'changed', attributes: {}, 'a/b~c': 1 });
      expectJsonApiError(slashed, 422, 'validation_failed', { pointer: '/a~1b~0c' });
    });
  });

  it('accepts exactly {event, attributes} with an empty attributes object', async () => {
    const alice = await aliceOnPosts1();
    const res = await world.api.post('/control/notify?method=channels:posts-1', { event: 'changed', attributes: {} });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const [[payload]] = (await alice.waitFor('changed')) as [[unknown]];
    expect(payload).to.deep.equal({});
  });
});
