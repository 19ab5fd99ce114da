/**
 * Malformed chat payloads and flood control (contract §5, issue 3). Each malformed payload gets
 * `{ok:false, error:{code, message}}` with the right code, changes nothing and reaches no one;
 * a client without an ack callback does not crash anything; flood control (per user, across all
 * of the user's sockets, on a clock the test moves) answers `rate_limited` without disconnecting;
 * and the server stays up throughout.
 */
import { expect } from 'chai';
import { send, type ChatMessage } from './helpers/chat.js';
import { ManualClock } from './helpers/manual-clock.js';
import type { TestSocket } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

type Case = [event: string, payload: unknown, code: string];

describe('chat: validation and flood control (contract §5)', () => {
  const world = useWorld();
  const { open, subscribe, flush } = world;

  beforeEach(async () => {
    await subscribe(['alice', 'bob'], ['rooms', '1']);
    await subscribe(['carol'], ['rooms', '2']);
  });

  async function expectUp(socket: TestSocket) {
    const health = await world.api.get('/healthz');
    expect(health.status).to.equal(200);
    expect(socket.socket.connected).to.equal(true);
    return send(socket, { channel: 'rooms-1', body: 'still working' });
  }

  /** Runs each case and returns the ones whose ack was not `ok:false` with the expected code. */
  async function check(socket: TestSocket, cases: Case[]): Promise<string[]> {
    const wrong: string[] = [];
    for (const [event, payload, code] of cases) {
      const ack = await socket.call(event, payload);
      const good =
        ack?.ok === false && ack.error?.code === code && typeof ack.error.message === 'string' && ack.error.message !== '' && Object.keys(ack).length === 2;
      if (!good) wrong.push(`${event} ${JSON.stringify(payload)?.slice(0, 80)} → expected ${code}, got ${JSON.stringify(ack).slice(0, 200)}`);
    }
    return wrong;
  }

  const body = 'hi';
  const long = 'y'.repeat(4001);

  it('chat:send: wrong types, missing fields, bad addresses and an over-long body are validation_failed', async () => {
    const [alice, bob] = await Promise.all([open('alice'), open('bob')]);
    const cases: Case[] = [
      // payload not an object
      ['chat:send', 'hello', 'validation_failed'],
      ['chat:send', 42, 'validation_failed'],
      ['chat:send', true, 'validation_failed'],
      ['chat:send', null, 'validation_failed'],
      ['chat:send', [], 'validation_failed'],
      ['chat:send', [{ channel: 'rooms-1', body }], 'validation_failed'],
      ['chat:send', undefined, 'validation_failed'],
      // missing fields
      ['chat:send', {}, 'validation_failed'],
      ['chat:send', { channel: 'rooms-1' }, 'validation_failed'],
      ['chat:send', { body }, 'validation_failed'],
      // wrong types
      ['chat:send', { channel: 'rooms-1', body: 42 }, 'validation_failed'],
      ['chat:send', { channel: 'rooms-1', body: null }, 'validation_failed'],
      ['chat:send', { channel: 'rooms-1', body: ['hi'] }, 'validation_failed'],
      ['chat:send', { channel: 'rooms-1', body: { text: 'hi' } }, 'validation_failed'],
      ['chat:send', { channel: 7, body }, 'validation_failed'],
      ['chat:send', { channel: ['rooms-1'], body }, 'validation_failed'],
      ['chat:send', { channel: null, body }, 'validation_failed'],
      ['chat:send', { to: 7, body }, 'validation_failed'],
      ['chat:send', { to: { id: 'bob' }, body }, 'validation_failed'],
      ['chat:send', { channel: 'rooms-1', body, clientId: 5 }, 'validation_failed'],
      ['chat:send', { channel: 'rooms-1', body, clientId: 'c'.repeat(101) }, 'validation_failed'],
      // bodies
      ['chat:send', { channel: 'rooms-1', body: '' }, 'validation_failed'],
      ['chat:send', { channel: 'rooms-1', body: long }, 'validation_failed'],
      ['chat:send', { channel: 'rooms-1', body: '😀'.repeat(4001) }, 'validation_failed'],
      // addresses: both, neither, self, names that break §1
      ['chat:send', { channel: 'rooms-1', to: 'bob', body }, 'validation_failed'],
      ['chat:send', { to: 'alice', body }, 'validation_failed'],
      ['chat:send', { to: '', body }, 'validation_failed'],
      ['chat:send', { to: 'b ob', body }, 'validation_failed'],
      ['chat:send', { to: 'a:b', body }, 'validation_failed'],
      ['chat:send', { to: 'x'.repeat(201), body }, 'validation_failed'],
      ['chat:send', { channel: '', body }, 'validation_failed'],
      ['chat:send', { channel: 'rooms 1', body }, 'validation_failed'],
      ['chat:send', { channel: 'user:alice', body }, 'validation_failed'],
    ];
    expect(await check(alice, cases)).to.deep.equal([]);

    // exactly 4,000 characters is fine, and arrives whole
    const ack = await alice.call('chat:send', { channel: 'rooms-1', body: 'y'.repeat(4000) });
    expect(ack.ok, JSON.stringify(ack).slice(0, 200)).to.equal(true);
    expect(ack.message.body).to.have.length(4000);
    // characters, not UTF-16 units: 4,000 emoji are 4,000 characters
    const emoji = await alice.call('chat:send', { channel: 'rooms-1', body: '😀'.repeat(4000) });
    expect(emoji.ok, JSON.stringify(emoji).slice(0, 200)).to.equal(true);
    expect(emoji.message.body).to.equal('😀'.repeat(4000));

    // none of the refused sends reached anyone or was stored
    await flush(alice, bob);
    expect(bob.of('chat:message').map(([m]) => (m as ChatMessage).id)).to.deep.equal([ack.message.id, emoji.message.id]);
    const history = await bob.call('chat:history', { channel: 'rooms-1' });
    expect(history.messages.map((m: ChatMessage) => m.id)).to.deep.equal([ack.message.id, emoji.message.id]);
    await expectUp(alice);
  });

  it('an event that is no client event of the protocol is not_found, names of Object.prototype included', async () => {
    const alice = await world.open('alice');
    for (const event of ['chat:nonsense', 'constructor', 'toString', 'hasOwnProperty', '__proto__']) {
      const ack = await alice.call(event, {});
      expect(ack, event).to.deep.include({ ok: false });
      expect(ack.error.code, event).to.equal('not_found');
    }
    // and the socket carries on
    expect((await alice.call('chat:unread', {})).ok).to.equal(true);
  });

  it('unknown conversations and conversations of others are not_member', async () => {
    const alice = await open('alice');
    const cases: Case[] = [
      ['chat:send', { channel: 'no-such-room', body }, 'not_member'],
      ['chat:send', { channel: 'rooms-2', body }, 'not_member'],
      ['chat:send', { channel: 'dm:bob:carol', body }, 'not_member'],
      ['chat:read', { channel: 'no-such-room', messageId: 1 }, 'not_member'],
      ['chat:read', { channel: 'rooms-2', messageId: 1 }, 'not_member'],
      ['chat:history', { channel: 'no-such-room' }, 'not_member'],
      ['chat:history', { channel: 'rooms-2' }, 'not_member'],
      ['chat:history', { channel: 'dm:bob:carol' }, 'not_member'],
      ['chat:typing', { channel: 'no-such-room' }, 'not_member'],
      ['chat:typing', { channel: 'dm:bob:carol' }, 'not_member'],
      ['presence:query', { channel: 'no-such-room' }, 'not_member'],
      ['presence:query', { channel: 'rooms-2' }, 'not_member'],
      ['presence:query', { channel: 'dm:bob:carol' }, 'not_member'],
    ];
    expect(await check(alice, cases)).to.deep.equal([]);
    await expectUp(alice);
  });

  it('chat:read, chat:history, chat:unread, chat:typing and presence:query refuse malformed payloads', async () => {
    const alice = await open('alice');
    const sent = await expectUp(alice);
    const cases: Case[] = [
      ['chat:read', 'x', 'validation_failed'],
      ['chat:read', null, 'validation_failed'],
      ['chat:read', undefined, 'validation_failed'],
      ['chat:read', {}, 'validation_failed'],
      ['chat:read', { channel: 'rooms-1' }, 'validation_failed'],
      ['chat:read', { messageId: sent.id }, 'validation_failed'],
      ['chat:read', { channel: 'rooms-1', to: 'bob', messageId: sent.id }, 'validation_failed'],
      ['chat:read', { channel: 'rooms-1', messageId: String(sent.id) }, 'validation_failed'],
      ['chat:read', { channel: 'rooms-1', messageId: sent.id + 0.5 }, 'validation_failed'],
      ['chat:read', { channel: 'rooms-1', messageId: 0 }, 'validation_failed'],
      ['chat:read', { channel: 'rooms-1', messageId: -1 }, 'validation_failed'],
      ['chat:read', { channel: 'rooms-1', messageId: null }, 'validation_failed'],
      ['chat:read', { to: 'alice', messageId: sent.id }, 'validation_failed'],
      ['chat:read', { channel: 'rooms-1', messageId: 987_654 }, 'not_found'],
      ['chat:history', 'rooms-1', 'validation_failed'],
      ['chat:history', null, 'validation_failed'],
      ['chat:history', {}, 'validation_failed'],
      ['chat:history', { channel: 5 }, 'validation_failed'],
      ['chat:history', { channel: 'rooms-1', to: 'bob' }, 'validation_failed'],
      ['chat:history', { channel: 'rooms-1', limit: 101 }, 'validation_failed'],
      ['chat:history', { channel: 'rooms-1', limit: '5' }, 'validation_failed'],
      ['chat:history', { channel: 'rooms-1', before: 'yesterday' }, 'validation_failed'],
      ['chat:unread', 'x', 'validation_failed'],
      ['chat:unread', 5, 'validation_failed'],
      ['chat:unread', null, 'validation_failed'],
      ['chat:unread', [], 'validation_failed'],
      ['chat:typing', 'rooms-1', 'validation_failed'],
      ['chat:typing', null, 'validation_failed'],
      ['chat:typing', {}, 'validation_failed'],
      ['chat:typing', { channel: 5 }, 'validation_failed'],
      ['chat:typing', { channel: 'rooms-1', to: 'bob' }, 'validation_failed'],
      ['chat:typing', { to: 'alice' }, 'validation_failed'],
      ['presence:query', 'rooms-1', 'validation_failed'],
      ['presence:query', null, 'validation_failed'],
      ['presence:query', {}, 'validation_failed'],
      ['presence:query', { channel: 1 }, 'validation_failed'],
      ['presence:query', { channel: '' }, 'validation_failed'],
      ['presence:query', { channel: 'rooms-1', to: 'bob' }, 'validation_failed'],
      ['presence:query', { to: 'alice' }, 'validation_failed'],
    ];
    expect(await check(alice, cases)).to.deep.equal([]);
    expect(await alice.call('chat:unread', {})).to.deep.equal({ ok: true, unread: { 'rooms-1': 0 } });
    await expectUp(alice);
  });

  it('copes with events sent without an ack callback', async () => {
    const [alice, bob] = await Promise.all([open('alice'), open('bob')]);
    // malformed, refused and valid events, all without a callback
    for (const payload of ['junk', null, 42, {}, { channel: 'rooms-1', body: long }, { channel: 'rooms-2', body }]) alice.socket.emit('chat:send', payload);
    alice.socket.emit('chat:send');
    alice.socket.emit('chat:read', { channel: 'rooms-1', messageId: 'x' });
    alice.socket.emit('chat:history', { channel: 'rooms-1' });
    alice.socket.emit('chat:unread', {});
    alice.socket.emit('chat:typing', { channel: 'rooms-1' });
    alice.socket.emit('presence:query', { channel: 'rooms-1' });
    alice.socket.emit('chat:send', { channel: 'rooms-1', body: 'no callback' });
    // the valid send without a callback is still delivered
    const [[delivered]] = (await bob.waitFor('chat:message')) as [[ChatMessage]];
    expect(delivered).to.include({ from: 'alice', body: 'no callback', channel: 'rooms-1' });
    const after = await expectUp(alice);
    await bob.waitFor('chat:message', 2);
    expect(bob.of('chat:message').map(([m]) => (m as ChatMessage).body)).to.deep.equal(['no callback', after.body]);
    expect(bob.of('chat:typing')).to.have.length(1);
  });

  it('keeps serving after a barrage of malformed events from many sockets', async () => {
    const sockets = await Promise.all(['alice', 'bob', 'carol', 'dave'].map(open));
    const junk = ['x', 0, null, [], {}, { channel: {} }, { channel: 'rooms 1', body: { toString: 'x' } }, { to: [], body: [] }];
    const acks = await Promise.all(
      sockets.flatMap((s) => ['chat:send', 'chat:read', 'chat:history', 'chat:typing', 'presence:query'].flatMap((event) => junk.map((p) => s.call(event, p)))),
    );
    for (const ack of acks) {
      expect(ack.ok).to.equal(false);
      expect(ack.error.code).to.be.oneOf(['validation_failed', 'not_member', 'rate_limited']);
    }
    await expectUp(sockets[0]!);
    await expectUp(sockets[1]!);
  });
});

describe('chat: flood control per user (contract §5, issue 9: CHAT_SEND_RATE, TYPING_RATE)', () => {
  const world = useWorld({ manual: true });
  const { open, subscribe, flush } = world;
  let clock: ManualClock;

  /** A server on a clock that stands still until the test moves it: buckets refill only then. */
  async function start(env: Record<string, string> = {}) {
    clock = new ManualClock();
    await world.start({ clock, env });
    await subscribe(['alice', 'bob'], ['rooms', '1']);
  }

  /** Polls GET /control/search/online until `user` has no socket left on the server. */
  async function offline(user: string): Promise<void> {
    for (let polls = 0; ; polls++) {
      const res = await world.api.get('/control/search/online');
      expect(res.status).to.equal(200);
      if (!(res.body.data as { id: string }[]).some((u) => u.id === user)) return;
      if (polls > 500) throw new Error(`${user} stayed online`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  type Ack = { ok: boolean; message?: ChatMessage; error?: { code: string; message: string } };
  const sendAll = (sockets: TestSocket[], perSocket: number, label: string): Promise<Ack[]> =>
    Promise.all(sockets.flatMap((s, i) => Array.from({ length: perSocket }, (_, n) => s.call('chat:send', { channel: 'rooms-1', body: `${label} ${i}.${n}` }) as Promise<Ack>)));

  function split(acks: Ack[]): { ok: Ack[]; limited: Ack[] } {
    const ok = acks.filter((a) => a.ok);
    const limited = acks.filter((a) => !a.ok);
    for (const ack of limited) {
      expect(ack.error?.code, JSON.stringify(ack)).to.equal('rate_limited');
      expect(ack.error?.message).to.be.a('string').and.not.equal('');
    }
    return { ok, limited };
  }

  it('counts chat:send per user across all their sockets: a burst of twice the rate, then the rate, without a disconnect', async () => {
    await start(); // CHAT_SEND_RATE default 10: bursts of 20
    const tabs = await Promise.all(Array.from({ length: 20 }, () => open('alice')));
    const bob = await open('bob');
    let disconnects = 0;
    for (const tab of tabs) tab.socket.on('disconnect', () => disconnects++);

    // twenty tabs of one user share one bucket: 200 sends, 20 accepted, whichever tab sent them
    const first = split(await sendAll(tabs, 10, 'flood'));
    expect(first.ok).to.have.length(20);
    expect(first.limited).to.have.length(180);

    // another user has a bucket of their own
    const fromBob = await send(bob, { channel: 'rooms-1', body: 'bob is fine' });

    // time stands still: nothing refills; a tenth of a second refills one message, a second ten
    expect(split(await sendAll(tabs, 1, 'still')).ok).to.have.length(0);
    clock.advance(100);
    expect(split(await sendAll(tabs, 1, 'tenth')).ok).to.have.length(1);
    clock.advance(1000);
    expect(split(await sendAll(tabs, 3, 'second')).ok).to.have.length(10);

    // only accepted messages were stored and delivered, and nobody was disconnected
    const accepted = [...first.ok.map((a) => a.message!.id), fromBob.id].sort((a, b) => a - b);
    await bob.waitFor('chat:message', 20 + 1 + 1 + 10);
    await flush(bob);
    const delivered = bob.of('chat:message').map(([m]) => (m as ChatMessage).id);
    expect(delivered).to.have.length(32);
    expect(delivered.slice(0, 21)).to.deep.equal(accepted);
    expect(disconnects).to.equal(0);
    for (const tab of tabs) expect(tab.socket.connected).to.equal(true);
  });

  it("keeps a user's bucket while any of their sockets is open, and forgets it with the last", async () => {
    await start();
    const tabs = await Promise.all(Array.from({ length: 3 }, () => open('alice')));
    expect(split(await sendAll(tabs, 10, 'flood')).ok).to.have.length(20);

    // a tab closes and a new one opens: still the same, empty bucket
    tabs.shift()!.close();
    tabs.push(await open('alice'));
    expect(split(await sendAll(tabs, 2, 'again')).ok).to.have.length(0);

    // all of them leave: the user is forgotten (memory follows the users online), so a new
    // socket starts with a full burst, on a clock that has not moved
    for (const tab of tabs) tab.close();
    await offline('alice');
    const back = await open('alice');
    expect(split(await sendAll([back], 25, 'back')).ok).to.have.length(20);
  });

  it('counts chat:typing per user (TYPING_RATE, bursts of twice it), apart from chat:send', async () => {
    await start({ TYPING_RATE: '2' });
    const tabs = await Promise.all(Array.from({ length: 3 }, () => open('alice')));
    const acks = split(await Promise.all(tabs.flatMap((s) => Array.from({ length: 5 }, () => s.call('chat:typing', { channel: 'rooms-1' }) as Promise<Ack>))));
    expect(acks.ok).to.have.length(4);
    expect(acks.limited).to.have.length(11);
    // the typing flood did not use up the send bucket
    expect(split(await sendAll(tabs, 1, 'send')).ok).to.have.length(3);
    clock.advance(500);
    expect(split(await Promise.all(tabs.map((s) => s.call('chat:typing', { channel: 'rooms-1' }) as Promise<Ack>))).ok).to.have.length(1);
  });

  it('turns either limit off with 0', async () => {
    await start({ CHAT_SEND_RATE: '0', TYPING_RATE: '0', SOCKET_EVENT_RATE: '0' });
    const tabs = await Promise.all(Array.from({ length: 4 }, () => open('alice')));
    expect(split(await sendAll(tabs, 30, 'unlimited')).ok).to.have.length(120);
    const typing = await Promise.all(tabs.flatMap((s) => Array.from({ length: 20 }, () => s.call('chat:typing', { channel: 'rooms-1' }) as Promise<Ack>)));
    expect(split(typing).ok).to.have.length(80);
  });
});
