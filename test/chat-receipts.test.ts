/**
 * Read receipts and unread counts (contract §5, issue 3): A sends, B reads, A's sockets get the
 * receipt; the read position only moves forward; history returns the receipts; unread counts fall
 * to zero after reading.
 */
import { expect } from 'chai';
import { send, type Receipt } from './helpers/chat.js';
import type { TestSocket } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

describe('chat: read receipts and unread counts (contract §5)', () => {
  const world = useWorld();
  const { open, subscribe, flush } = world;

  const receipts = (socket: TestSocket) => socket.of('chat:receipt').map(([r]) => r as Receipt);

  async function read(socket: TestSocket, payload: Record<string, unknown>): Promise<boolean> {
    const ack = await socket.call('chat:read', payload);
    expect(ack, JSON.stringify(ack)).to.include({ ok: true });
    expect(ack.advanced).to.be.a('boolean');
    return ack.advanced as boolean;
  }

  async function unread(socket: TestSocket): Promise<Record<string, number>> {
    const ack = await socket.call('chat:unread', {});
    expect(ack, JSON.stringify(ack)).to.include({ ok: true });
    return ack.unread;
  }

  it('group: B reads, A\'s sockets get the receipt; the position never goes backwards; history and unread agree', async () => {
    await subscribe(['alice', 'bob', 'carol'], ['rooms', '1']);
    const [alice, aliceTab2, bob, carol] = await Promise.all([open('alice'), open('alice'), open('bob'), open('carol')]);
    const m1 = await send(alice, { channel: 'rooms-1', body: 'one' });
    const m2 = await send(alice, { channel: 'rooms-1', body: 'two' });
    const m3 = await send(aliceTab2, { channel: 'rooms-1', body: 'three' });

    expect(await unread(bob)).to.deep.equal({ 'rooms-1': 3 });
    expect(await unread(alice)).to.deep.equal({ 'rooms-1': 0 }, 'own messages are not unread');

    expect(await read(bob, { channel: 'rooms-1', messageId: m2.id })).to.equal(true);
    const [[receipt]] = (await alice.waitFor('chat:receipt')) as [[Receipt]];
    expect(receipt).to.include({ channel: 'rooms-1', userId: 'bob', messageId: m2.id });
    expect(new Date(receipt.readAt).toISOString()).to.equal(receipt.readAt);
    await aliceTab2.waitFor('chat:receipt');
    expect(receipts(aliceTab2)).to.deep.equal([receipt]);
    expect(await unread(bob)).to.deep.equal({ 'rooms-1': 1 });

    // backwards and repeated reads change nothing and send no receipt
    expect(await read(bob, { channel: 'rooms-1', messageId: m1.id })).to.equal(false);
    expect(await read(bob, { channel: 'rooms-1', messageId: m2.id })).to.equal(false);
    expect(await unread(bob)).to.deep.equal({ 'rooms-1': 1 });
    let history = await carol.call('chat:history', { channel: 'rooms-1' });
    expect(history.receipts).to.deep.equal({ bob: m2.id });

    expect(await read(bob, { channel: 'rooms-1', messageId: m3.id })).to.equal(true);
    await flush(alice, aliceTab2, bob, carol);
    for (const socket of [alice, aliceTab2, bob, carol]) {
      expect(receipts(socket).map((r) => [r.userId, r.messageId])).to.deep.equal([
        ['bob', m2.id],
        ['bob', m3.id],
      ]);
    }
    expect(await unread(bob)).to.deep.equal({ 'rooms-1': 0 });

    // after the forward read, an older one still does not move it back
    expect(await read(bob, { channel: 'rooms-1', messageId: m1.id })).to.equal(false);
    history = await alice.call('chat:history', { channel: 'rooms-1' });
    expect(history.ok).to.equal(true);
    expect(history.receipts).to.deep.equal({ bob: m3.id });
    expect(await unread(carol)).to.deep.equal({ 'rooms-1': 3 });

    // a later message from someone else is unread again; carol and alice reading shows in history
    const m4 = await send(carol, { channel: 'rooms-1', body: 'four' });
    expect(await unread(bob)).to.deep.equal({ 'rooms-1': 1 });
    expect(await read(alice, { channel: 'rooms-1', messageId: m4.id })).to.equal(true);
    expect(await read(carol, { channel: 'rooms-1', messageId: m4.id })).to.equal(true);
    history = await bob.call('chat:history', { channel: 'rooms-1' });
    expect(history.receipts).to.deep.equal({ alice: m4.id, bob: m3.id, carol: m4.id });
    expect(await unread(alice)).to.deep.equal({ 'rooms-1': 0 });
  });

  it('private: receipts go to both participants only; unread falls to zero after reading', async () => {
    const [alice, aliceTab2, bob, carol] = await Promise.all([open('alice'), open('alice'), open('bob'), open('carol')]);
    const m1 = await send(alice, { to: 'bob', body: 'one' });
    const m2 = await send(alice, { to: 'bob', body: 'two' });
    expect(await unread(bob)).to.deep.equal({ 'dm:alice:bob': 2 });
    expect(await unread(alice)).to.deep.equal({ 'dm:alice:bob': 0 });

    expect(await read(bob, { to: 'alice', messageId: m1.id })).to.equal(true);
    expect(await unread(bob)).to.deep.equal({ 'dm:alice:bob': 1 });
    expect(await read(bob, { channel: 'dm:alice:bob', messageId: m2.id })).to.equal(true);
    expect(await unread(bob)).to.deep.equal({ 'dm:alice:bob': 0 });
    expect(await read(bob, { to: 'alice', messageId: m1.id })).to.equal(false);

    await flush(alice, aliceTab2, bob, carol);
    for (const socket of [alice, aliceTab2, bob]) {
      expect(receipts(socket).map((r) => [r.channel, r.userId, r.messageId])).to.deep.equal([
        ['dm:alice:bob', 'bob', m1.id],
        ['dm:alice:bob', 'bob', m2.id],
      ]);
    }
    expect(receipts(carol)).to.deep.equal([]);

    const history = await alice.call('chat:history', { to: 'bob' });
    expect(history.receipts).to.deep.equal({ bob: m2.id });
  });

  it('counts unread per conversation across the user\'s groups and private conversations', async () => {
    await subscribe(['alice', 'bob'], ['rooms', '1']);
    await subscribe(['bob'], ['rooms', '2']);
    const [alice, bob, carol] = await Promise.all([open('alice'), open('bob'), open('carol')]);
    await send(alice, { channel: 'rooms-1', body: 'group' });
    await send(alice, { to: 'bob', body: 'private' });
    const fromCarol = await send(carol, { to: 'bob', body: 'hi bob' });
    await send(bob, { to: 'carol', body: 'hi carol' });
    expect(await unread(bob)).to.deep.equal({ 'rooms-1': 1, 'rooms-2': 0, 'dm:alice:bob': 1, 'dm:bob:carol': 1 });
    expect(await unread(carol)).to.deep.equal({ 'dm:bob:carol': 1 });
    expect(await read(bob, { to: 'carol', messageId: fromCarol.id })).to.equal(true);
    expect(await unread(bob)).to.deep.equal({ 'rooms-1': 1, 'rooms-2': 0, 'dm:alice:bob': 1, 'dm:bob:carol': 0 });
  });

  it('refuses a receipt for a message the reader cannot see', async () => {
    await subscribe(['alice', 'bob'], ['rooms', '1']);
    await subscribe(['alice'], ['rooms', '2']);
    const [alice, bob] = await Promise.all([open('alice'), open('bob')]);
    const group = await send(alice, { channel: 'rooms-1', body: 'group' });
    const elsewhere = await send(alice, { channel: 'rooms-2', body: 'not for bob' });
    const toCarol = await send(alice, { to: 'carol', body: 'not for bob either' });
    const res = await world.api.post('/control/notify?method=users:bob', { event: 'changed', attributes: {} });
    const notificationId = Number(res.body.data.id);

    for (const [payload, code] of [
      [{ to: 'alice', messageId: group.id }, 'not_found'], // a message of another conversation
      [{ channel: 'rooms-1', messageId: toCarol.id }, 'not_found'],
      [{ to: 'alice', messageId: toCarol.id }, 'not_found'],
      [{ channel: 'rooms-1', messageId: elsewhere.id }, 'not_found'],
      [{ channel: 'rooms-1', messageId: notificationId }, 'not_found'], // an event id that is not a message
      [{ channel: 'rooms-1', messageId: 999_999 }, 'not_found'],
      [{ channel: 'rooms-2', messageId: elsewhere.id }, 'not_member'],
      [{ channel: 'dm:alice:carol', messageId: toCarol.id }, 'not_member'],
    ] as const) {
      const ack = await bob.call('chat:read', payload);
      expect(ack.ok, JSON.stringify(payload)).to.equal(false);
      expect(ack.error.code, JSON.stringify(payload)).to.equal(code);
    }

    // none of them moved bob's position or told anyone
    expect(await unread(bob)).to.deep.equal({ 'rooms-1': 1 });
    await flush(alice, bob);
    expect(receipts(alice)).to.deep.equal([]);
    const history = await alice.call('chat:history', { channel: 'rooms-1' });
    expect(history.receipts).to.deep.equal({});
  });
});

describe('chat: the caps on receipts and unread counts (issue 9: READ_POSITIONS_LIMIT, UNREAD_COUNT_LIMIT)', () => {
  const world = useWorld({ env: { READ_POSITIONS_LIMIT: '2', UNREAD_COUNT_LIMIT: '3', CHAT_SEND_RATE: '0' } });
  const { open, subscribe } = world;

  it('chat:history returns at most READ_POSITIONS_LIMIT receipts, the most advanced first', async () => {
    const readers = ['r1', 'r2', 'r3', 'r4'];
    await subscribe(['alice', ...readers], ['rooms', '1']);
    const alice = await open('alice');
    const sent = [];
    for (let i = 0; i < 4; i++) sent.push(await send(alice, { channel: 'rooms-1', body: `m${i}` }));
    // r1 read up to the first message, r2 the second, …: r4 and r3 are the most advanced
    const sockets = await Promise.all(readers.map(open));
    for (const [i, reader] of sockets.entries()) {
      expect(await reader.call('chat:read', { channel: 'rooms-1', messageId: sent[i]!.id })).to.include({ ok: true });
    }
    const history = await alice.call('chat:history', { channel: 'rooms-1' });
    expect(history.messages).to.have.length(4);
    expect(history.receipts).to.deep.equal({ r4: sent[3]!.id, r3: sent[2]!.id });
  });

  it('chat:unread counts up to UNREAD_COUNT_LIMIT per conversation and reports the cap beyond it', async () => {
    await subscribe(['alice', 'bob'], ['rooms', '1'], ['rooms', '2']);
    const [alice, bob] = await Promise.all([open('alice'), open('bob')]);
    for (let i = 0; i < 7; i++) await send(alice, { channel: 'rooms-1', body: `group ${i}` });
    for (let i = 0; i < 2; i++) await send(alice, { channel: 'rooms-2', body: `other ${i}` });
    for (let i = 0; i < 5; i++) await send(alice, { to: 'bob', body: `dm ${i}` });
    const ack = await bob.call('chat:unread', {});
    expect(ack).to.deep.equal({ ok: true, unread: { 'rooms-1': 3, 'rooms-2': 2, 'dm:alice:bob': 3 } });
  });
});
