/**
 * Chat history (contract §5, issue 3): the newest `limit` (≤ 100, default 50) messages with an id
 * below `before`, oldest first, paged over more than 100 messages; members only.
 *
 * The 120 messages come from six sockets (three users, two tabs each), 20 each, sent one after
 * another so that their order is known; per-user flood control is off (CHAT_SEND_RATE=0) in this
 * suite, which is about paging, not pacing.
 */
import { expect } from 'chai';
import { send, type ChatMessage } from './helpers/chat.js';
import { closeAllSockets, type TestSocket } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

const TOTAL = 120;
const PER_SOCKET = 20;

describe('chat: history (contract §5)', () => {
  const world = useWorld({ env: { CHAT_SEND_RATE: '0' } });
  const { open, subscribe } = world;

  async function history(socket: TestSocket, payload: Record<string, unknown>): Promise<ChatMessage[]> {
    const ack = await socket.call('chat:history', payload);
    expect(ack, JSON.stringify(ack).slice(0, 300)).to.include({ ok: true });
    expect(ack.channel).to.be.a('string');
    expect(ack.receipts).to.be.an('object');
    return ack.messages as ChatMessage[];
  }

  /** Sends TOTAL messages `msg-000`… to `address` from six sockets of alice, bob and carol. */
  async function sendMany(address: Record<string, unknown>, senders: TestSocket[]): Promise<ChatMessage[]> {
    const sent: ChatMessage[] = [];
    for (let i = 0; i < TOTAL; i++) {
      const socket = senders[Math.floor(i / PER_SOCKET) % senders.length]!;
      sent.push(await send(socket, { ...address, body: `msg-${String(i).padStart(3, '0')}`, clientId: `c${i}` }));
    }
    return sent;
  }

  it('pages with before/limit over more than 100 messages, oldest first', async () => {
    await subscribe(['alice', 'bob', 'carol'], ['rooms', '1']);
    const sockets = await Promise.all(['alice', 'alice', 'bob', 'bob', 'carol', 'carol'].map(open));
    const dave = await open('dave');
    const sent = await sendMany({ channel: 'rooms-1' }, sockets);
    const ids = sent.map((m) => m.id);
    expect(new Set(ids).size).to.equal(TOTAL);
    expect([...ids].sort((a, b) => a - b)).to.deep.equal(ids);
    // a live reader saw the same messages history will return
    await sockets[0]!.waitFor('chat:message', TOTAL);
    expect(sockets[0]!.of('chat:message').map(([m]) => m)).to.deep.equal(sent);

    const reader = sockets[5]!;
    // default limit: the newest 50
    expect(await history(reader, { channel: 'rooms-1' })).to.deep.equal(sent.slice(-50));
    // the maximum limit: the newest 100
    const newest = await history(reader, { channel: 'rooms-1', limit: 100 });
    expect(newest).to.deep.equal(sent.slice(20));
    // before is exclusive: the remaining 20, then nothing
    const older = await history(reader, { channel: 'rooms-1', before: newest[0]!.id, limit: 100 });
    expect(older).to.deep.equal(sent.slice(0, 20));
    expect(await history(reader, { channel: 'rooms-1', before: older[0]!.id, limit: 100 })).to.deep.equal([]);
    expect(await history(reader, { channel: 'rooms-1', before: sent[1]!.id })).to.deep.equal([sent[0]]);
    expect(await history(reader, { channel: 'rooms-1', limit: 1 })).to.deep.equal([sent.at(-1)]);
    // before an id newer than everything is the newest page
    expect(await history(reader, { channel: 'rooms-1', before: sent.at(-1)!.id + 1000, limit: 3 })).to.deep.equal(sent.slice(-3));

    // walking back in pages of 33 gives every message once, in order
    const walked: ChatMessage[] = [];
    let before: number | undefined;
    for (let page = 0; page < 10; page++) {
      const batch = await history(reader, { channel: 'rooms-1', limit: 33, ...(before !== undefined ? { before } : {}) });
      if (batch.length === 0) break;
      expect(batch.length).to.be.at.most(33);
      walked.unshift(...batch);
      before = batch[0]!.id;
    }
    expect(walked).to.deep.equal(sent);

    // over the maximum, or not a positive integer: refused
    for (const bad of [{ limit: 101 }, { limit: 0 }, { limit: -1 }, { limit: 2.5 }, { limit: '10' }, { before: 'x' }, { before: 0 }, { before: -5 }, { before: 1.5 }]) {
      const ack = await reader.call('chat:history', { channel: 'rooms-1', ...bad });
      expect(ack.ok, JSON.stringify(bad)).to.equal(false);
      expect(ack.error.code, JSON.stringify(bad)).to.equal('validation_failed');
    }
    // members only
    const refused = await dave.call('chat:history', { channel: 'rooms-1' });
    expect(refused.ok).to.equal(false);
    expect(refused.error.code).to.equal('not_member');
  });

  it('pages a private conversation the same way, and keeps conversations apart', async () => {
    await subscribe(['alice', 'bob'], ['rooms', '1']);
    const sockets = await Promise.all(['alice', 'alice', 'alice', 'bob', 'bob', 'bob'].map(open));
    const sent: ChatMessage[] = [];
    for (let i = 0; i < TOTAL; i++) {
      const socket = sockets[Math.floor(i / PER_SOCKET)]!;
      const to = socket.ready.userId === 'alice' ? 'bob' : 'alice';
      sent.push(await send(socket, { to, body: `dm-${i}` }));
    }
    const group = await send(sockets[0]!, { channel: 'rooms-1', body: 'in the group' });

    const bob = sockets[3]!;
    const newest = await history(bob, { to: 'alice', limit: 100 });
    expect(newest).to.deep.equal(sent.slice(20));
    const rest = await history(bob, { channel: 'dm:alice:bob', before: newest[0]!.id, limit: 100 });
    expect(rest).to.deep.equal(sent.slice(0, 20));
    expect(await history(bob, { channel: 'rooms-1' })).to.deep.equal([group]);
  });

  it('returns bodies exactly as sent, HTML included', async () => {
    await subscribe(['alice', 'bob'], ['rooms', '1']);
    const [alice, bob] = await Promise.all([open('alice'), open('bob')]);
    const bodies = [
      '<img src=x onerror="alert(1)">',
      '&lt;not decoded&gt; &amp; &#x27; &quot;',
      '</script><script>document.cookie</script>',
      '   leading and trailing spaces   ',
      'line one\r\nline two\n\n',
      '\u202e reversed \u0000 nul? no: \u0001 control',
      'x'.repeat(4000),
    ];
    const sent: ChatMessage[] = [];
    for (const body of bodies) sent.push(await send(alice, { channel: 'rooms-1', body }));
    expect(sent.map((m) => m.body)).to.deep.equal(bodies);
    const messages = await history(bob, { channel: 'rooms-1' });
    expect(messages.map((m) => m.body)).to.deep.equal(bodies);
    expect(messages).to.deep.equal(sent);
  });

  it('keeps acknowledged messages and read positions across a restart', async () => {
    await subscribe(['alice', 'bob'], ['rooms', '1']);
    let [alice, bob] = await Promise.all([open('alice'), open('bob')]);
    const group = await send(alice, { channel: 'rooms-1', body: 'before restart <b>' });
    const direct = await send(bob, { to: 'alice', body: 'dm before restart' });
    const read = await bob.call('chat:read', { channel: 'rooms-1', messageId: group.id });
    expect(read.ok).to.equal(true);
    closeAllSockets();

    await world.restart();
    [alice, bob] = await Promise.all([open('alice'), open('bob')]);
    const groupHistory = await alice.call('chat:history', { channel: 'rooms-1' });
    expect(groupHistory.messages).to.deep.equal([group]);
    expect(groupHistory.receipts).to.deep.equal({ bob: group.id });
    expect(await history(alice, { to: 'bob' })).to.deep.equal([direct]);
    const next = await send(alice, { channel: 'rooms-1', body: 'after restart' });
    expect(next.id).to.be.greaterThan(direct.id);
  });
});
