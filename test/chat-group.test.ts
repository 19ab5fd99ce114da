/**
 * Group conversations (contract §5, issue 3): the channels a user is subscribed to through the
 * control API. Several real clients; every socket of every member sees each message once, in order,
 * with the same id, and `from` is the authenticated user whatever the payload says.
 */
import { expect } from 'chai';
import { messages, send, type ChatMessage } from './helpers/chat.js';
import { useWorld } from './helpers/world.js';

describe('chat: group conversations (contract §5)', () => {
  const world = useWorld();
  const { open, reconnect, subscribe, unsubscribe, flush } = world;

  it('three users: every socket of every member sees each message once, in order, with the same id', async () => {
    await subscribe(['alice', 'bob', 'carol'], ['rooms', '1']);
    await subscribe(['dave'], ['rooms', '2']);
    const [alice, aliceTab2, bob, carol, dave] = await Promise.all([open('alice'), open('alice'), open('bob'), open('carol'), open('dave')]);
    expect(alice.ready.channels).to.deep.equal(['rooms-1']);

    const sent: ChatMessage[] = [];
    sent.push(await send(alice, { channel: 'rooms-1', body: 'one', clientId: 'a-1' }));
    sent.push(await send(bob, { channel: 'rooms-1', body: 'two' }));
    sent.push(await send(carol, { channel: 'rooms-1', body: 'three', clientId: 'c-1' }));
    sent.push(await send(aliceTab2, { channel: 'rooms-1', body: 'four' }));

    expect(sent.map((m) => m.from)).to.deep.equal(['alice', 'bob', 'carol', 'alice']);
    expect(sent.map((m) => m.channel)).to.deep.equal(['rooms-1', 'rooms-1', 'rooms-1', 'rooms-1']);
    expect(sent.map((m) => m.body)).to.deep.equal(['one', 'two', 'three', 'four']);
    expect(sent.map((m) => m.clientId)).to.deep.equal(['a-1', null, 'c-1', null]);
    for (const m of sent) {
      expect(m.id).to.be.a('number');
      expect(new Date(m.sentAt).toISOString()).to.equal(m.sentAt);
    }
    const ids = sent.map((m) => m.id);
    expect([...ids].sort((a, b) => a - b)).to.deep.equal(ids);
    expect(new Set(ids).size).to.equal(4);

    const members = [alice, aliceTab2, bob, carol];
    await flush(...members, dave);
    for (const socket of members) {
      // once each, in order, and exactly the payload the sender's ack returned
      expect(messages(socket)).to.deep.equal(sent);
    }
    expect(messages(dave)).to.deep.equal([]);
  });

  it('refuses a non-member with not_member and delivers nothing', async () => {
    await subscribe(['alice', 'bob'], ['rooms', '1']);
    await subscribe(['dave'], ['rooms', '2']);
    const [alice, bob, dave] = await Promise.all([open('alice'), open('bob'), open('dave')]);

    const ack = await dave.call('chat:send', { channel: 'rooms-1', body: 'let me in' });
    expect(ack.ok).to.equal(false);
    expect(ack.error.code).to.equal('not_member');
    expect(ack.error.message).to.be.a('string').and.not.equal('');

    await flush(alice, bob, dave);
    for (const socket of [alice, bob, dave]) expect(messages(socket)).to.deep.equal([]);
  });

  it('ignores a spoofed `from` (and other server-owned fields) in the payload', async () => {
    await subscribe(['alice', 'bob'], ['rooms', '1']);
    const [alice, bob] = await Promise.all([open('alice'), open('bob')]);

    const message = await send(alice, { channel: 'rooms-1', body: 'it was bob', from: 'bob', id: 1, sentAt: '2000-01-01T00:00:00.000Z' });
    expect(message.from).to.equal('alice');
    expect(message.sentAt).to.not.equal('2000-01-01T00:00:00.000Z');

    const [[received]] = (await bob.waitFor('chat:message')) as [[ChatMessage]];
    expect(received).to.deep.equal(message);
    expect(received.from).to.equal('alice');

    const history = await bob.call('chat:history', { channel: 'rooms-1' });
    expect(history.ok).to.equal(true);
    expect(history.messages).to.deep.equal([message]);
  });

  it('stores a body exactly as sent: HTML, entities, whitespace and non-ASCII round-trip unchanged', async () => {
    await subscribe(['alice', 'bob'], ['rooms', '1']);
    const [alice, bob] = await Promise.all([open('alice'), open('bob')]);
    const body = '  <script>alert("x")</script> &amp; &lt;b&gt; <b onclick=\'y()\'>bold</b>\n\ttab é 😀 \u200b ';

    const message = await send(alice, { channel: 'rooms-1', body });
    expect(message.body).to.equal(body);
    const [[received]] = (await bob.waitFor('chat:message')) as [[ChatMessage]];
    expect(received.body).to.equal(body);
    const history = await bob.call('chat:history', { channel: 'rooms-1' });
    expect(history.messages.map((m: ChatMessage) => m.body)).to.deep.equal([body]);
  });

  it('follows membership changes made through the control API while sockets are connected', async () => {
    await subscribe(['alice'], ['rooms', '1']);
    const [alice, carol] = await Promise.all([open('alice'), open('carol')]);

    const refused = await carol.call('chat:send', { channel: 'rooms-1', body: 'early' });
    expect(refused.error?.code).to.equal('not_member');

    await subscribe(['carol'], ['rooms', '1']);
    const hello = await send(carol, { channel: 'rooms-1', body: 'hello' });
    const fromAlice = await send(alice, { channel: 'rooms-1', body: 'welcome' });
    await flush(alice, carol);
    expect(messages(carol)).to.deep.equal([hello, fromAlice]);
    expect(messages(alice)).to.deep.equal([hello, fromAlice]);

    await unsubscribe(['carol'], ['rooms', '1']);
    const after = await carol.call('chat:send', { channel: 'rooms-1', body: 'still here?' });
    expect(after.error?.code).to.equal('not_member');
    const history = await carol.call('chat:history', { channel: 'rooms-1' });
    expect(history.error?.code).to.equal('not_member');

    const bye = await send(alice, { channel: 'rooms-1', body: 'bye' });
    await flush(alice, carol);
    expect(messages(alice)).to.deep.equal([hello, fromAlice, bye]);
    expect(messages(carol)).to.deep.equal([hello, fromAlice]);
  });

  it('replays missed messages to a member reconnecting with lastEventId, and to no one else', async () => {
    await subscribe(['alice', 'bob'], ['rooms', '1']);
    await subscribe(['carol'], ['rooms', '2']);
    const [alice, bob, carol] = await Promise.all([open('alice'), open('bob'), open('carol')]);
    const seen = await send(alice, { channel: 'rooms-1', body: 'seen live' });
    await bob.waitFor('chat:message');
    bob.close();
    carol.close();
    const missed = await send(alice, { channel: 'rooms-1', body: 'missed' });
    const direct = await send(alice, { to: 'bob', body: 'missed dm' });

    const back = await reconnect('bob', seen.id);
    expect(back.ready.replayed).to.equal(2);
    expect(messages(back)).to.deep.equal([missed, direct]);
    const ready = back.received.findIndex((r) => r.event === 'ready');
    expect(back.received.slice(0, ready).map((r) => r.event)).to.deep.equal(['chat:message', 'chat:message']);
    const carolBack = await reconnect('carol', seen.id);
    expect(carolBack.ready.replayed).to.equal(0);
    expect(messages(carolBack)).to.deep.equal([]);
  });

  it('keeps one increasing id sequence with notifications', async () => {
    await subscribe(['alice'], ['rooms', '1']);
    const alice = await open('alice');
    const first = await send(alice, { channel: 'rooms-1', body: 'a' });
    const res = await world.api.post('/control/notify?method=channels:rooms-1', { event: 'changed', attributes: {} });
    expect(res.status).to.equal(202);
    const second = await send(alice, { channel: 'rooms-1', body: 'b' });
    const notificationId = Number(res.body.data.id);
    expect(notificationId).to.be.greaterThan(first.id);
    expect(second.id).to.be.greaterThan(notificationId);
  });
});
