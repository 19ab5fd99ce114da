/**
 * Private conversations (contract §5, issue 3): addressed with `to`, stored under `dm:<a>:<b>`
 * (ids sorted), visible to those two users only. A third user cannot send to, read, type in or see
 * the presence of a conversation that is not theirs.
 */
import { expect } from 'chai';
import { messages, send, type ChatMessage } from './helpers/chat.js';
import { doc } from './helpers/http.js';
import { useWorld } from './helpers/world.js';

describe('chat: private conversations (contract §5)', () => {
  const world = useWorld();
  const { open, flush } = world;

  /** Asserts a refused ack: `ok:false` with `code` and a non-empty message. */
  function expectError(ack: { ok: boolean; error?: { code: string; message: string } }, code: string) {
    expect(ack.ok, JSON.stringify(ack)).to.equal(false);
    expect(ack.error?.code, JSON.stringify(ack)).to.equal(code);
    expect(ack.error?.message).to.be.a('string').and.not.equal('');
  }

  it('delivers `to` messages to both participants (all their sockets) under dm:<a>:<b>, and to no one else', async () => {
    const [alice, aliceTab2, bob, carol] = await Promise.all([open('alice'), open('alice'), open('bob'), open('carol')]);

    const first = await send(bob, { to: 'alice', body: 'hi alice' });
    const second = await send(alice, { to: 'bob', body: 'hi bob', clientId: 'x1' });
    expect(first).to.include({ channel: 'dm:alice:bob', from: 'bob', body: 'hi alice', clientId: null });
    expect(second).to.include({ channel: 'dm:alice:bob', from: 'alice', body: 'hi bob', clientId: 'x1' });
    expect(second.id).to.be.greaterThan(first.id);

    await flush(alice, aliceTab2, bob, carol);
    for (const socket of [alice, aliceTab2, bob]) expect(messages(socket)).to.deep.equal([first, second]);
    expect(messages(carol)).to.deep.equal([]);

    // both ways of naming it give the same conversation
    const viaTo = await bob.call('chat:history', { to: 'alice' });
    const viaChannel = await alice.call('chat:history', { channel: 'dm:alice:bob' });
    expect(viaTo).to.deep.include({ ok: true, channel: 'dm:alice:bob', messages: [first, second] });
    expect(viaChannel).to.deep.include({ ok: true, channel: 'dm:alice:bob', messages: [first, second] });
  });

  it('lets a participant address it by its channel name', async () => {
    const [alice, bob] = await Promise.all([open('alice'), open('bob')]);
    const message = await send(bob, { channel: 'dm:alice:bob', body: 'by name' });
    expect(message).to.include({ channel: 'dm:alice:bob', from: 'bob' });
    const [[received]] = (await alice.waitFor('chat:message')) as [[ChatMessage]];
    expect(received).to.deep.equal(message);
  });

  it('keeps a third user out: cannot send to, read, mark read, type in or query presence of it', async () => {
    await world.api.post('/control/subscription/subscribe?method=users:alice,bob,carol', doc(['rooms', '1']));
    const [alice, bob, carol] = await Promise.all([open('alice'), open('bob'), open('carol')]);
    const secret = await send(alice, { to: 'bob', body: 'just between us' });

    expectError(await carol.call('chat:send', { channel: 'dm:alice:bob', body: 'me too' }), 'not_member');
    expectError(await carol.call('chat:history', { channel: 'dm:alice:bob' }), 'not_member');
    expectError(await carol.call('chat:read', { channel: 'dm:alice:bob', messageId: secret.id }), 'not_member');
    expectError(await carol.call('chat:typing', { channel: 'dm:alice:bob' }), 'not_member');
    expectError(await carol.call('presence:query', { channel: 'dm:alice:bob' }), 'not_member');
    // carol's own conversation with alice is another one: the message is not in it
    expectError(await carol.call('chat:read', { to: 'alice', messageId: secret.id }), 'not_found');
    expectError(await carol.call('chat:read', { channel: 'rooms-1', messageId: secret.id }), 'not_found');
    const own = await carol.call('chat:history', { to: 'alice' });
    expect(own).to.deep.include({ ok: true, channel: 'dm:alice:carol', messages: [] });

    const unread = await carol.call('chat:unread', {});
    expect(unread.ok).to.equal(true);
    expect(unread.unread).to.not.have.property('dm:alice:bob');

    // nothing of the conversation reached carol, and none of her attempts reached alice or bob
    await flush(alice, bob, carol);
    expect(messages(carol)).to.deep.equal([]);
    expect(carol.of('chat:receipt')).to.deep.equal([]);
    expect(messages(alice)).to.deep.equal([secret]);
    expect(messages(bob)).to.deep.equal([secret]);
    expect(alice.of('chat:typing')).to.deep.equal([]);
    expect(bob.of('chat:typing')).to.deep.equal([]);
  });

  it('gives a third user no presence of the participants when they share no channel', async () => {
    await world.api.post('/control/subscription/subscribe?method=users:alice,bob', doc(['teams', '1']));
    await world.api.post('/control/subscription/subscribe?method=users:carol', doc(['teams', '2']));
    const [bob, carol] = await Promise.all([open('bob'), open('carol')]);
    const alice = await open('alice');
    await send(alice, { to: 'bob', body: 'hello' });
    await bob.waitFor('presence');
    alice.close();
    const events = await bob.waitFor('presence', 2);
    expect(events.map(([p]) => p)).to.deep.equal([
      { userId: 'alice', status: 'online' },
      { userId: 'alice', status: 'offline' },
    ]);
    await flush(carol);
    expect(carol.of('presence')).to.deep.equal([]);
  });

  it('reaches a participant who was offline when it was sent', async () => {
    const alice = await open('alice');
    const message = await send(alice, { to: 'erin', body: 'are you there?' });
    expect(message.channel).to.equal('dm:alice:erin');
    const erin = await open('erin');
    const history = await erin.call('chat:history', { to: 'alice' });
    expect(history.messages).to.deep.equal([message]);
    const unread = await erin.call('chat:unread', {});
    expect(unread.unread).to.deep.equal({ 'dm:alice:erin': 1 });
  });

  it('does not open a second conversation under an unsorted name (dm:bob:alice)', async () => {
    const [alice, bob] = await Promise.all([open('alice'), open('bob')]);
    const ack = await alice.call('chat:send', { channel: 'dm:bob:alice', body: 'which one?' });
    if (ack.ok) {
      // accepted: then it must be the one conversation of alice and bob
      expect(ack.message.channel).to.equal('dm:alice:bob');
      const history = await bob.call('chat:history', { to: 'alice' });
      expect(history.messages.map((m: ChatMessage) => m.id)).to.deep.equal([ack.message.id]);
    } else {
      expect(ack.error.code).to.be.oneOf(['validation_failed', 'not_member', 'not_found']);
      await flush(alice, bob);
      expect(messages(bob)).to.deep.equal([]);
    }
  });

  it('refuses dm names that are not a conversation between two valid, different users', async () => {
    const alice = await open('alice');
    const accepted: string[] = [];
    for (const channel of ['dm:alice:alice', 'dm:alice:b ob', 'dm:alice:x,y', `dm:alice:${'z'.repeat(201)}`, 'dm:alice:', 'dm::alice']) {
      const ack = await alice.call('chat:send', { channel, body: 'hello?' });
      if (ack.ok) accepted.push(channel.length > 40 ? `${channel.slice(0, 20)}…(${channel.length} chars)` : channel);
      else expect(ack.error.code, channel).to.be.oneOf(['validation_failed', 'not_member']);
    }
    expect(accepted, 'dm names accepted for chat:send').to.deep.equal([]);
    // the `to` form of the same mistakes
    for (const to of ['alice', 'b ob', 'x,y', 'z'.repeat(201), 'a:b']) {
      const ack = await alice.call('chat:send', { to, body: 'hello?' });
      expectError(ack, 'validation_failed');
    }
  });
});
