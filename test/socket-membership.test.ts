/**
 * Live sockets and durable subscriptions (contract §4.3, §5): whatever the order of a subscribe and
 * a connect, a socket ends up in exactly the channels its user is subscribed to, and (un)subscribe
 * responses are only sent once every live socket has moved.
 */
import { expect } from 'chai';
import { client, doc } from './helpers/http.js';
import { startServer, type TestServer } from './helpers/server.js';
import { closeAllSockets, connect, type TestSocket } from './helpers/sockets.js';

/** A random pause of 0–`maxMs` ms, to spread racing calls over each other's windows. */
const jitter = (maxMs: number) => new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * (maxMs + 1))));

describe('socket membership (contract §4.3, §5)', () => {
  let server: TestServer;
  let api: ReturnType<typeof client>;

  beforeEach(async () => {
    server = await startServer();
    api = client(server.url, server.serviceToken());
  });
  afterEach(async () => {
    closeAllSockets();
    await server.close();
  });

  async function subscribe(method: string, document: unknown, action: 'subscribe' | 'unsubscribe' = 'subscribe') {
    const res = await api.post(`/control/subscription/${action}?method=${method}`, document);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body as { data: { type: string; id: string }[]; meta: { users: number; changed: number } };
  }

  async function notify(method: string, event: string, attributes: Record<string, unknown> = {}) {
    const res = await api.post(`/control/notify?method=${method}`, { event, attributes });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    return Number(res.body.data.id);
  }

  /** A users-mode notify to `marker` for every socket's user: once it arrives, all earlier events have. */
  async function flush(sockets: TestSocket[]) {
    const users = [...new Set(sockets.map((s) => s.ready.userId))];
    const before = sockets.map((s) => s.of('marker').length);
    for (let i = 0; i < users.length; i += 500) await notify(`users:${users.slice(i, i + 500).join(',')}`, 'marker');
    await Promise.all(sockets.map((s, i) => s.waitFor('marker', before[i]! + 1)));
  }

  async function channelsOf(userId: string): Promise<string[]> {
    const res = await api.get(`/control/search/subscriptions?userId=${userId}`);
    expect(res.status).to.equal(200);
    return res.body.data.map((r: { id: string }) => r.id);
  }

  it('puts a user subscribed before connecting in the channel from the start', async () => {
    await subscribe('users:alice', doc(['posts', '1']));
    const alice = await connect(server.url, { token: server.token('alice') });
    expect(alice.ready.channels).to.deep.equal(['posts-1']);
    await notify('channels:posts-1', 'changed');
    await flush([alice]);
    expect(alice.of('changed')).to.have.length(1);
  });

  it('ends with every socket in the channel when connects and subscribes race (20 users × 5 rounds)', async () => {
    const sockets: TestSocket[] = [];
    for (let round = 0; round < 5; round++) {
      const users = Array.from({ length: 20 }, (_, i) => `racer-${round}-${i}`);
      const joined = await Promise.all(
        users.map(async (user, i) => {
          const [socket, body] = await Promise.all([
            (async () => {
              if (i % 2 === 1) await jitter(15);
              return connect(server.url, { token: server.token(user) });
            })(),
            (async () => {
              if (i % 2 === 0) await jitter(15);
              return subscribe(`users:${user}`, doc(['race', String(round)]));
            })(),
          ]);
          expect(body.meta).to.deep.equal({ users: 1, changed: 1 });
          return socket;
        }),
      );
      sockets.push(...joined);
      await notify(`channels:race-${round}`, 'raced', { round });
      await flush(joined);
      const counts = joined.map((s) => s.of('raced').length);
      expect(counts, `round ${round}: copies per socket`).to.deep.equal(users.map(() => 1));
    }
    // and they stay there: one more notify per round reaches everyone exactly once more
    for (let round = 0; round < 5; round++) await notify(`channels:race-${round}`, 'raced', { round });
    await flush(sockets);
    expect(sockets.map((s) => s.of('raced').length)).to.deep.equal(sockets.map(() => 2));
  });

  it('ends with no socket in the channel when connects and unsubscribes race (20 users × 3 rounds)', async () => {
    for (let round = 0; round < 3; round++) {
      const users = Array.from({ length: 20 }, (_, i) => `leaver-${round}-${i}`);
      await subscribe(`users:${users.join(',')}`, doc(['gone', String(round)], ['kept', String(round)]));
      const sockets = await Promise.all(
        users.map(async (user, i) => {
          const [socket, body] = await Promise.all([
            (async () => {
              if (i % 2 === 1) await jitter(15);
              return connect(server.url, { token: server.token(user) });
            })(),
            (async () => {
              if (i % 2 === 0) await jitter(15);
              return subscribe(`users:${user}`, doc(['gone', String(round)]), 'unsubscribe');
            })(),
          ]);
          expect(body.meta).to.deep.equal({ users: 1, changed: 1 });
          return socket;
        }),
      );
      await notify(`channels:gone-${round}`, 'gone');
      await notify(`channels:kept-${round}`, 'kept');
      await flush(sockets);
      expect(sockets.map((s) => s.of('gone').length), `round ${round}: copies from the left channel`).to.deep.equal(users.map(() => 0));
      expect(sockets.map((s) => s.of('kept').length), `round ${round}: copies from the kept channel`).to.deep.equal(users.map(() => 1));
    }
  });

  it('removes every live socket from the room before the unsubscribe response', async () => {
    await subscribe('users:alice,bob', doc(['posts', '1'], ['posts', '2']));
    const sockets = await Promise.all([
      connect(server.url, { token: server.token('alice') }),
      connect(server.url, { token: server.token('alice') }),
      connect(server.url, { token: server.token('bob') }),
    ]);
    const body = await subscribe('users:alice', doc(['posts', '1']), 'unsubscribe');
    expect(body.meta).to.deep.equal({ users: 1, changed: 1 });
    // no pause: the notify follows the response at once
    await notify('channels:posts-1', 'one');
    await notify('channels:posts-2', 'two');
    await flush(sockets);
    expect(sockets.map((s) => s.of('one').length)).to.deep.equal([0, 0, 1]);
    expect(sockets.map((s) => s.of('two').length)).to.deep.equal([1, 1, 1]);
    expect(await channelsOf('alice')).to.deep.equal(['posts-2']);
  });

  it('removes live sockets in channels mode before the response too', async () => {
    await subscribe('users:alice,bob', doc(['teams', '1'], ['posts', '1']));
    await subscribe('users:carol', doc(['posts', '1']));
    const sockets = await Promise.all(['alice', 'bob', 'carol'].map((u) => connect(server.url, { token: server.token(u) })));
    const body = await subscribe('channels:teams-1', doc(['posts', '1']), 'unsubscribe');
    expect(body.meta).to.deep.equal({ users: 2, changed: 2 });
    await notify('channels:posts-1', 'one');
    await flush(sockets);
    expect(sockets.map((s) => s.of('one').length)).to.deep.equal([0, 0, 1]);
  });

  it('joins every socket of a user, however many', async () => {
    const tabs = await Promise.all(Array.from({ length: 8 }, () => connect(server.url, { token: server.token('alice') })));
    const body = await subscribe('users:alice', doc(['posts', '7']));
    expect(body.meta).to.deep.equal({ users: 1, changed: 1 });
    await notify('channels:posts-7', 'changed');
    // a socket opened afterwards joins too
    tabs.push(await connect(server.url, { token: server.token('alice') }));
    await notify('channels:posts-7', 'changed');
    await flush(tabs);
    expect(tabs.map((s) => s.of('changed').length)).to.deep.equal([2, 2, 2, 2, 2, 2, 2, 2, 1]);
    // a repeat changes nothing and does not double the room
    expect((await subscribe('users:alice', doc(['posts', '7']))).meta).to.deep.equal({ users: 1, changed: 0 });
    await notify('channels:posts-7', 'again');
    await flush(tabs);
    expect(tabs.map((s) => s.of('again').length)).to.deep.equal(tabs.map(() => 1));
  });

  it('moves the live sockets of every subscriber of the source channel in channels mode', async () => {
    await subscribe('users:alice,bob,dave', doc(['teams', '1']));
    await subscribe('users:carol', doc(['teams', '2']));
    const [alice1, alice2, bob, carol] = await Promise.all([
      connect(server.url, { token: server.token('alice') }),
      connect(server.url, { token: server.token('alice') }),
      connect(server.url, { token: server.token('bob') }),
      connect(server.url, { token: server.token('carol') }),
    ]);
    const body = await subscribe('channels:teams-1,teams-9', doc(['posts', '5'], ['posts', '6']));
    expect(body.data).to.deep.equal([
      { type: 'channels', id: 'posts-5' },
      { type: 'channels', id: 'posts-6' },
    ]);
    expect(body.meta).to.deep.equal({ users: 3, changed: 6 });
    await notify('channels:posts-5', 'changed');
    const sockets = [alice1!, alice2!, bob!, carol!];
    await flush(sockets);
    expect(sockets.map((s) => s.of('changed').length)).to.deep.equal([1, 1, 1, 0]);
    // the offline subscriber got it durably, and receives it on connect
    expect(await channelsOf('dave')).to.deep.equal(['posts-5', 'posts-6', 'teams-1']);
    expect(await channelsOf('carol')).to.deep.equal(['teams-2']);
    const dave = await connect(server.url, { token: server.token('dave') });
    expect(dave.ready.channels).to.deep.equal(['posts-5', 'posts-6', 'teams-1']);
    await notify('channels:posts-6', 'changed');
    await flush([...sockets, dave]);
    expect([...sockets, dave].map((s) => s.of('changed').length)).to.deep.equal([2, 2, 2, 0, 1]);
  });

  it('keeps subscriptions across a restart on the same database', async () => {
    await subscribe('users:alice,bob', doc(['posts', '1'], ['teams', '4']));
    const alice = await connect(server.url, { token: server.token('alice') });
    const lastBefore = await notify('channels:posts-1', 'before');
    await alice.waitFor('before');
    const gone = new Promise<string>((resolve) => alice.socket.once('disconnect', resolve));
    server = await server.restart();
    api = client(server.url, server.serviceToken());
    expect(await gone).to.be.a('string');

    expect(await channelsOf('alice')).to.deep.equal(['posts-1', 'teams-4']);
    expect(await channelsOf('bob')).to.deep.equal(['posts-1', 'teams-4']);
    const [alice2, bob] = await Promise.all([
      connect(server.url, { token: server.token('alice') }),
      connect(server.url, { token: server.token('bob') }),
    ]);
    for (const s of [alice2, bob]) {
      expect(s.ready.channels).to.deep.equal(['posts-1', 'teams-4']);
      expect(s.ready.lastEventId).to.equal(lastBefore);
    }
    const after = await notify('channels:teams-4', 'after');
    expect(after).to.be.greaterThan(lastBefore);
    await flush([alice2, bob]);
    expect([alice2, bob].map((s) => s.of('after').length)).to.deep.equal([1, 1]);
    expect([alice2, bob].map((s) => s.of('before').length)).to.deep.equal([0, 0]);
  });
});
