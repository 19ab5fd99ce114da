/**
 * The operator's live feed (issue 32): the `/admin` namespace shows every delivered event to admin
 * sockets, filtered by channel or user, and refuses everyone else.
 */
import { expect } from 'chai';
import { io, type Socket } from 'socket.io-client';
import { useWorld } from './helpers/world.js';

interface FeedEntry {
  id: number;
  kind: string;
  event: string;
  mode?: string;
  targets?: string[];
  attributes?: Record<string, unknown>;
  channel?: string;
  from?: string;
  body?: string;
  time: string;
}

describe('the live feed, namespace /admin (issue 32)', () => {
  const world = useWorld();
  const feeds: Socket[] = [];
  afterEach(() => {
    for (const feed of feeds.splice(0)) feed.close();
  });

  /** Connects to the feed; resolves with the socket and what it receives, or rejects with the connect_error. */
  function openFeed(token: string | undefined, watch?: unknown): Promise<{ socket: Socket; entries: FeedEntry[] }> {
    const socket = io(`${world.server.url}/admin`, { auth: { ...(token ? { token } : {}), ...(watch !== undefined ? { watch } : {}) }, transports: ['websocket'], forceNew: true, reconnection: false });
    feeds.push(socket);
    const entries: FeedEntry[] = [];
    socket.on('feed:event', (entry: FeedEntry) => entries.push(entry));
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve({ socket, entries }));
      socket.once('connect_error', reject);
    });
  }
  const adminFeed = (watch?: unknown) => openFeed(world.server.adminToken(), watch);
  /** A users-mode notify to `marker-user`: once a feed watching everything shows it, it has shown everything before. */
  async function flushFeed(entries: FeedEntry[]): Promise<void> {
    const id = await world.notify('users:marker-user', 'marker');
    const deadline = Date.now() + 5000;
    while (!entries.some((e) => e.id === id)) {
      if (Date.now() > deadline) throw new Error('the feed never showed the marker');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('shows every delivered event: notifications, chat messages and subscription changes', async () => {
    const { entries } = await adminFeed();
    await world.subscribe(['alice', 'bob'], ['rooms', '1']);
    const alice = await world.open('alice');
    const notified = await world.notify('channels:rooms-1', 'room:updated', { title: 'Hello' });
    const sent = await alice.call('chat:send', { channel: 'rooms-1', body: 'hi there' });
    expect(sent.ok).to.equal(true);
    await flushFeed(entries);
    const [changed, update, chat] = entries;
    expect(changed).to.deep.include({ kind: 'notify', event: 'subscriptions:changed', mode: 'users', targets: ['alice', 'bob'], attributes: { added: ['rooms-1'], removed: [] } });
    expect(update).to.deep.include({ id: notified, kind: 'notify', event: 'room:updated', mode: 'channels', targets: ['rooms-1'], attributes: { title: 'Hello' } });
    expect(chat).to.deep.include({ id: sent.message.id, kind: 'chat', event: 'chat:message', channel: 'rooms-1', from: 'alice', body: 'hi there' });
    expect(new Date(update!.time).toISOString()).to.equal(update!.time);
    expect(entries.map((e) => e.id)).to.deep.equal([...entries.map((e) => e.id)].sort((a, b) => a - b));
  });

  it('watches one channel, or one user, as asked at connect or with feed:watch', async () => {
    await world.subscribe(['alice'], ['rooms', '1'], ['rooms', '2']);
    const alice = await world.open('alice');
    const everything = await adminFeed();
    const room = await adminFeed({ channel: 'rooms-1' });
    const one = await world.notify('channels:rooms-1', 'one');
    await world.notify('channels:rooms-2', 'two');
    const toAlice = await world.notify('users:alice', 'three');
    const fromAlice = (await alice.call('chat:send', { channel: 'rooms-2', body: 'from alice' })).message.id;
    await flushFeed(everything.entries);
    expect(room.entries.map((e) => e.id)).to.deep.equal([one]);

    expect(await room.socket.emitWithAck('feed:watch', { user: 'alice' })).to.deep.equal({ ok: true, watch: { user: 'alice' } });
    const again = await world.notify('users:alice', 'four');
    await world.notify('channels:rooms-1', 'five');
    await flushFeed(everything.entries);
    expect(room.entries.map((e) => e.id)).to.deep.equal([one, again]);
    expect(toAlice).to.be.below(fromAlice);

    // a user watch shows what is addressed to the user's room and what the user sends
    const user = await adminFeed({ user: 'alice' });
    const six = await world.notify('users:alice,bob', 'six');
    const seven = (await alice.call('chat:send', { channel: 'rooms-1', body: 'again' })).message.id;
    await world.notify('users:bob', 'eight');
    await flushFeed(everything.entries);
    expect(user.entries.map((e) => e.id)).to.deep.equal([six, seven]);
  });

  it('refuses service, user and missing tokens, and a bad watch, with a clear error', async () => {
    for (const [token, code] of [
      [world.server.serviceToken(), 'forbidden'],
      [world.server.token('alice'), 'forbidden'],
      [undefined, 'token_missing'],
    ] as const) {
      const error = await openFeed(token).then(
        () => undefined,
        (err: Error & { data?: { code: string } }) => err,
      );
      expect(error?.data?.code, String(token)).to.equal(code);
    }
    const bad = await adminFeed({ channel: 'a b' }).then(
      () => undefined,
      (err: Error & { data?: { code: string } }) => err,
    );
    expect(bad?.data?.code).to.equal('validation_failed');
    const { socket } = await adminFeed();
    const answer = await socket.emitWithAck('feed:watch', { channel: 'rooms-1', user: 'alice' });
    expect(answer).to.deep.include({ ok: false });
    expect(answer.error.code).to.equal('validation_failed');
    expect(socket.connected).to.equal(true);
  });
});
