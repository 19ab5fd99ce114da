/**
 * Admission's windows, opened on purpose (issue 9): a store paused at chosen reads, a small replay
 * page and a hand-moved clock make the races of replay deterministic instead of a microtask wide.
 * Each test names the guard it stands for; without it the test fails.
 */
import { expect } from 'chai';
import { io as ioClient } from 'socket.io-client';
import { queuedBytes } from '../src/realtime/outbound-buffer.js';
import type { ChattySocket } from '../src/realtime/types.js';
import type { Store } from '../src/store/store.js';
import { ManualClock } from './helpers/manual-clock.js';
import { TurnSpy } from './helpers/turns.js';
import { connect, type Received, type TestSocket } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

/** A gate on one store method: calls wait at it (from the `skip`+1-th on) until released. */
class Gate {
  private opened = false;
  private release_: () => void = () => {};
  private readonly released = new Promise<void>((resolve) => (this.release_ = resolve));
  private reach: () => void = () => {};
  /** Resolves when a call first waits at the gate. */
  readonly reached = new Promise<void>((resolve) => (this.reach = resolve));
  calls = 0;

  constructor(
    readonly method: keyof Store,
    private readonly skip = 0,
  ) {}

  async pass(): Promise<void> {
    if (this.opened || this.calls++ < this.skip) return;
    this.reach();
    await this.released;
  }

  open(): void {
    this.opened = true;
    this.release_();
  }
}

/** A store whose gated methods read the database, then wait at their gate before answering. */
function gated(...gates: Gate[]) {
  return (store: Store): Store =>
    new Proxy(store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        const gate = gates.find((g) => g.method === property);
        if (!gate || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: unknown[]) => {
          const result = await value.apply(target, args);
          await gate.pass();
          return result;
        };
      },
    });
}

/** The event-log id a received emit stands for, with its origin; undefined for other events. */
function copyKey(r: Received): string | undefined {
  if (r.event === 'chat:message') return `chat#${(r.args[0] as { id: number }).id}`;
  const meta = r.args[1] as { id?: unknown; origin?: string } | undefined;
  return meta && typeof meta.id === 'number' ? `${r.event}#${meta.id}#${meta.origin ?? ''}` : undefined;
}

function copies(s: TestSocket, which: 'beforeReady' | 'all' = 'all'): string[] {
  const readyAt = s.received.findIndex((r) => r.event === 'ready');
  const list = which === 'beforeReady' ? s.received.slice(0, readyAt) : s.received;
  return list.map(copyKey).filter((k): k is string => k !== undefined);
}

const idOf = (key: string) => Number(key.split('#')[1]);

function expectInOrderOnce(keys: string[], label: string): void {
  expect(new Set(keys).size, `${label}: a copy came twice`).to.equal(keys.length);
  for (let i = 1; i < keys.length; i++) expect(idOf(keys[i]!), `${label}: id order at ${i}`).to.be.at.least(idOf(keys[i - 1]!));
}

describe('replay admission, its windows opened on purpose (issue 9)', () => {
  const world = useWorld({ manual: true });
  const { open, reconnect, notify, flush } = world;

  /** Connects and disconnects once: the last event id the user had seen. */
  async function lastSeen(user: string): Promise<number> {
    const s = await open(user);
    s.close();
    return s.ready.lastEventId;
  }

  /** Pages of 7; alice in three channels, bob in one of them; a witness socket of alice's, and where she left off. */
  async function aliceBobAndAWitness() {
    await world.start({ replayPageSize: 7 });
    await world.subscribe(['alice'], ['posts', '1'], ['posts', '2'], ['rooms', '1']);
    await world.subscribe(['bob'], ['rooms', '1']);
    const witness = await open('alice');
    const bob = await open('bob');
    const L0 = await lastSeen('alice');
    return { witness, bob, L0 };
  }

  it('pages through a long backlog (page of 7, four rooms) and replays exactly what a witness got live', async () => {
    const { witness, bob, L0 } = await aliceBobAndAWitness();
    for (let i = 0; i < 20; i++) {
      await notify(i % 2 ? 'channels:posts-1,posts-2' : 'channels-efficient:posts-2,posts-1', 'changed', { i });
      await notify('users:alice', 'direct', { i });
      await notify('channels:posts-9', 'noise', { i });
      if (i % 2 === 0) expect((await bob.call('chat:send', { channel: 'rooms-1', body: `m${i}` })).ok).to.equal(true);
      if (i % 5 === 0) expect((await bob.call('chat:send', { to: 'alice', body: `dm${i}` })).ok).to.equal(true);
    }
    await flush(witness);
    const replaying = await reconnect('alice', L0);
    const expected = copies(witness);
    // 10 × 2 + 10 channel copies, 20 direct, 10 group and 4 private messages, and flush's marker
    expect(expected.length).to.equal(20 + 10 + 20 + 10 + 4 + 1);
    expect(copies(replaying, 'beforeReady')).to.deep.equal(expected);
    expect(replaying.ready.replayed).to.equal(expected.length);
  });

  it('replays over WebSocket and over long-polling the very payloads a witness got live (the encoded copies)', async () => {
    const { witness, bob, L0 } = await aliceBobAndAWitness();
    const attributes = [{}, { n: 1, text: 'é ✓ 😀 "q" \\ \n' }, { origin: 'spoofed', 'date-time': 'spoofed' }, { nested: { list: [1, null, { x: true }] } }];
    for (let i = 0; i < 24; i++) {
      const add = ['', '&add=origin', '&add=date-time', '&add=origin,date-time'][i % 4];
      await notify(i % 2 ? `channels:posts-1,posts-2${add}` : `channels-efficient:posts-2,posts-1${add}`, 'changed', attributes[i % attributes.length]!);
      await notify(`users:alice${add}`, 'direct', attributes[(i + 1) % attributes.length]!);
      if (i % 3 === 0) expect((await bob.call('chat:send', { channel: 'rooms-1', body: `m${i} ✓` })).ok).to.equal(true);
      if (i % 5 === 0) expect((await bob.call('chat:send', { to: 'alice', body: `dm${i}` })).ok).to.equal(true);
    }
    await flush(witness);
    const live = witness.received.filter((r) => copyKey(r) !== undefined);
    expect(live.length).to.be.greaterThan(60);
    const url = world.server.url;
    for (const transports of [['websocket'], ['polling']] as const) {
      const replaying = await connect(url, { token: world.server.token('alice'), lastEventId: L0 }, { transports: [...transports] });
      try {
        const readyAt = replaying.received.findIndex((r) => r.event === 'ready');
        expect(replaying.received.slice(0, readyAt), transports[0]).to.deep.equal(live);
      } finally {
        replaying.close();
      }
    }
  });

  it('reads one replay page per turn of the event loop, so a long replay lets other work in between its pages', async () => {
    // with a synchronous store every await of the replay is a microtask: without a yield the whole
    // backlog goes out in one turn while HTTP requests and other sockets wait (196 ms in the bench)
    const spy = new TurnSpy('eventsByIds');
    // pacing off: it would yield on its own timer
    await world.start({ replayPageSize: 5, wrapStore: spy.wrap, env: { REPLAY_RATE: '10000000' } });
    const L0 = await lastSeen('alice');
    for (let i = 0; i < 30; i++) await notify('users:alice', 'direct', { i });
    spy.start();
    try {
      const replaying = await reconnect('alice', L0);
      expect(replaying.ready.replayed).to.equal(30);
    } finally {
      spy.stop();
    }
    expect(spy.calls.length, 'pages read').to.be.at.least(6);
    expect(spy.repeatedTurns(), `pages read in the same turn as the one before (turns: ${spy})`).to.equal(0);
  });

  it('replays from memory the events delivered while the store read was paused, each once (the memory tail)', async () => {
    const gate = new Gate('eventsByIds');
    await world.start({ replayPageSize: 5, wrapStore: gated(gate) });
    await world.subscribe(['alice'], ['posts', '1']);
    const witness = await open('alice');
    const L0 = await lastSeen('alice');
    for (let i = 0; i < 12; i++) await notify('channels:posts-1', 'before', { i });
    const pending = reconnect('alice', L0);
    await gate.reached;
    // delivered while the replay waits in the store: after the watermark it read up to
    for (let i = 0; i < 6; i++) await notify('channels:posts-1', 'during', { i });
    gate.open();
    const replaying = await pending;
    await notify('channels:posts-1', 'after', {});
    await flush(witness, replaying);
    const all = copies(replaying);
    expectInOrderOnce(all, 'replaying socket');
    expect(all).to.deep.equal(copies(witness));
    expect(copies(replaying, 'beforeReady').filter((k) => k.startsWith('during'))).to.have.length(6);
  });

  it('reads the store again when memory no longer reaches back to where the store read stopped', async () => {
    const gate = new Gate('eventsByIds');
    // the smallest memory: a few events of 20 kB each push the first ones out
    await world.start({ env: { RECENT_EVENTS_SIZE: '64kb' }, replayPageSize: 5, wrapStore: gated(gate) });
    await world.subscribe(['alice'], ['posts', '1']);
    const witness = await open('alice');
    const L0 = await lastSeen('alice');
    await notify('channels:posts-1', 'before', {});
    const pending = reconnect('alice', L0);
    await gate.reached;
    for (let i = 0; i < 10; i++) await notify('channels:posts-1', 'during', { i, padding: 'x'.repeat(20_000) });
    gate.open();
    const replaying = await pending;
    await flush(witness, replaying);
    expectInOrderOnce(copies(replaying), 'replaying socket');
    expect(copies(replaying)).to.deep.equal(copies(witness));
  });

  it('joins a channel subscribed between reading the channels and joining them (the membership version check)', async () => {
    const gate = new Gate('channelsOf');
    await world.start({ wrapStore: gated(gate) });
    await world.subscribe(['alice'], ['posts', '1']);
    const pending = open('alice');
    await gate.reached;
    // the admission holds alice's channels as they were; the subscribe moves her live sockets, and she has none yet
    await world.subscribe(['alice'], ['posts', '2']);
    gate.open();
    const alice = await pending;
    expect(alice.ready.channels).to.deep.equal(['posts-1', 'posts-2']);
    await notify('channels:posts-2', 'changed', {});
    await alice.waitFor('changed');
  });

  it('never sends a message removed by moderation while the replay was reading, from memory either (issue 33)', async () => {
    const gate = new Gate('eventsByIds');
    await world.start({ replayPageSize: 4, wrapStore: gated(gate) });
    await world.subscribe(['alice'], ['posts', '1']);
    const L0 = await lastSeen('alice');
    for (let i = 0; i < 6; i++) await notify('channels:posts-1', 'one', { i });
    const pending = reconnect('alice', L0);
    await gate.reached; // the first page is read: what comes now reaches her from memory
    const post = (body: string) => world.api.post('/control/conversations/posts-1/messages', { data: { type: 'messages', attributes: { body } } });
    const removed = (await post('removed while she replays')).body.data.id;
    const kept = (await post('kept')).body.data.id;
    expect((await world.api.delete(`/control/conversations/posts-1/messages/${removed}`)).status).to.equal(200);
    gate.open();
    const alice = await pending;
    const messages = alice.of('chat:message').map(([m]) => (m as { id: number }).id);
    expect(messages).to.deep.equal([Number(kept)]);
    expect(alice.of('chat:deleted').map(([d]) => d)).to.deep.equal([{ id: Number(removed), channel: 'posts-1' }]);
  });

  it('replays the older events of a channel subscribed during the replay, without repeating any', async () => {
    const gate = new Gate('eventsByIds');
    await world.start({ replayPageSize: 4, wrapStore: gated(gate) });
    await world.subscribe(['alice'], ['posts', '1']);
    await world.subscribe(['witness'], ['posts', '1'], ['posts', '2']);
    const L0 = await lastSeen('alice');
    const sent: number[] = [];
    for (let i = 0; i < 10; i++) {
      sent.push(await notify('channels:posts-1', 'one', { i }));
      sent.push(await notify('channels:posts-2', 'two', { i }));
      sent.push(await notify('channels-efficient:posts-2,posts-1', 'both', { i }));
    }
    const pending = reconnect('alice', L0);
    await gate.reached; // the first page is read: posts-2 is not hers yet
    await world.subscribe(['alice'], ['posts', '2']);
    gate.open();
    const alice = await pending;
    // what was notified, without the subscribe's own subscriptions:changed (the newest event)
    const replayed = copies(alice, 'beforeReady').filter((k) => !k.startsWith('subscriptions:changed#'));
    expect(new Set(replayed).size, 'no copy twice').to.equal(replayed.length);
    expect(replayed.map(idOf).sort((a, b) => a - b), 'every event of both channels, once').to.deep.equal(sent);
    expect(alice.of('subscriptions:changed')).to.have.length(1);
    expect(replayed.filter((k) => k.startsWith('two#'))).to.have.length(10);
  });

  it('gives up after 50 attempts when the subscriptions never hold still, and the server carries on', async () => {
    let churn = 0;
    const server = await world.start({
      wrapStore: (store) =>
        new Proxy(store, {
          get(target, property) {
            const value = Reflect.get(target, property);
            if (property !== 'channelsOf') return typeof value === 'function' ? value.bind(target) : value;
            return async (user: string, page?: unknown) => {
              const result = await target.channelsOf(user, page as undefined);
              // every read of alice's channels races a change of them
              if (user === 'alice') await world.subscribe(['alice'], ['churn', String(churn++)]);
              return result;
            };
          },
        }),
    });
    const socket = ioClient(server.url, { auth: { token: server.token('alice') }, transports: ['websocket'], reconnection: false, forceNew: true });
    try {
      const outcome = await new Promise<string>((resolve) => {
        socket.on('ready', () => resolve('ready'));
        socket.on('disconnect', (reason) => resolve(reason));
      });
      expect(outcome).to.equal('io server disconnect');
      expect(churn).to.equal(50);
    } finally {
      socket.close();
    }
    const bob = await open('bob');
    expect(bob.ready.userId).to.equal('bob');
  });

  it('paces a replay to REPLAY_RATE on the injected clock', async () => {
    const clock = new ManualClock();
    await world.start({ env: { REPLAY_RATE: '100' }, replayPageSize: 50, clock });
    await world.subscribe(['alice'], ['posts', '1']);
    const L0 = await lastSeen('alice');
    for (let i = 0; i < 120; i++) await notify('channels:posts-1', 'changed', { i });
    const pending = reconnect('alice', L0);
    // a page of 50 at 100/s is half a second of budget: the replay waits for the clock
    let ready = false;
    void pending.then(() => (ready = true));
    const tick = () => new Promise((resolve) => setTimeout(resolve, 20));
    while (clock.pending === 0) await tick();
    clock.advance(499);
    await tick();
    expect(ready, 'waiting for the clock').to.equal(false);
    while (!ready) {
      clock.advance(100);
      await tick();
    }
    const alice = await pending;
    expect(alice.ready.replayed).to.equal(120);
    expect(copies(alice, 'beforeReady')).to.have.length(120);
  });

  it('holds the replay while the client does not read, keeping the queued bytes under half the buffer limit', async function () {
    this.timeout(15_000);
    const server = await world.start({ env: { SOCKET_BUFFER_LIMIT: '256kb', REPLAY_RATE: '10000000' } });
    await world.subscribe(['alice'], ['posts', '1']);
    const L0 = await lastSeen('alice');
    const padding = 'x'.repeat(20_000);
    for (let i = 0; i < 60; i++) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => notify('channels:posts-1', 'big', { i, j, padding })));
    }
    const socket = ioClient(server.url, { auth: { token: server.token('alice'), lastEventId: L0 }, transports: ['websocket'], reconnection: false, forceNew: true });
    let received = 0;
    socket.on('big', () => received++);
    const ready = new Promise<void>((resolve) => socket.on('ready', () => resolve()));
    await new Promise<void>((resolve) => socket.io.engine.once('open', () => resolve()));
    const tcp = (socket.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } }).ws._socket;
    try {
      // stop reading: the kernel buffers fill, then the server's
      tcp.pause();
      let peak = 0;
      for (let i = 0; i < 40; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        for (const s of server.chatty.io.sockets.sockets.values()) peak = Math.max(peak, queuedBytes(s as ChattySocket));
      }
      expect(peak, 'the server queued something: the client really stopped reading').to.be.greaterThan(0);
      expect(peak, 'replay waited instead of queuing everything (600 × 20 kB)').to.be.below(128 * 1024 + 64 * 1024);
      tcp.resume();
      await ready;
      expect(received).to.equal(600);
    } finally {
      tcp.resume();
      socket.close();
    }
  });

  it('a user in no channel replays only her own events, whatever else the log holds', async () => {
    await world.start({ replayPageSize: 3 });
    const L0 = await lastSeen('carol');
    for (let i = 0; i < 10; i++) await notify('channels:posts-1', 'noise', { i });
    const mine = await notify('users:carol', 'direct', {});
    const carol = await reconnect('carol', L0);
    expect(copies(carol, 'beforeReady')).to.deep.equal([`direct#${mine}#`]);
  });
});
