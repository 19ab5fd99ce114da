/**
 * The guards every socket lives under (issue 9): the bytes queued for it (SOCKET_BUFFER_LIMIT),
 * the requests it has in hand (MAX_PENDING_REQUESTS), the rate of its events (SOCKET_EVENT_RATE)
 * and the sockets its user may hold (MAX_SOCKETS_PER_USER). Races are opened with a store whose
 * reads the test holds, and rates run on a clock the test moves.
 */
import { expect } from 'chai';
import { io as ioClient } from 'socket.io-client';
import { queuedBytes } from '../src/realtime/outbound-buffer.js';
import { SWEEP_INTERVAL_MS } from '../src/realtime/slow-consumers.js';
import type { ChattySocket } from '../src/realtime/types.js';
import { send, type ChatMessage } from './helpers/chat.js';
import { captureLog } from './helpers/log.js';
import { ManualClock } from './helpers/manual-clock.js';
import { connect, type TestSocket } from './helpers/sockets.js';
import { StoreGate, gatedStore } from './helpers/store-gate.js';
import { useWorld } from './helpers/world.js';

type Ack = { ok: boolean; error?: { code: string; message: string } } & Record<string, unknown>;

/** The server's side of a test socket. */
function serverSide(world: ReturnType<typeof useWorld>, client: TestSocket): ChattySocket {
  const socket = world.server.chatty.io.sockets.sockets.get(client.socket.id!);
  if (!socket) throw new Error('the server has no such socket');
  return socket as ChattySocket;
}

/** Resolves with the reason when the server side of a socket disconnects. */
function serverDisconnect(socket: ChattySocket, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    if (socket.disconnected) return resolve('already');
    const timer = setTimeout(() => reject(new Error(`the server kept the socket (${queuedBytes(socket)} bytes queued)`)), timeoutMs);
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

/** Makes a client stop reading, as a stalled or hostile one would: its TCP socket is paused. */
function stopReading(client: TestSocket): void {
  const transport = client.socket.io.engine.transport as unknown as { ws?: { _socket?: { pause(): void } } };
  const tcp = transport.ws?._socket;
  if (!tcp) throw new Error('no WebSocket under this client');
  tcp.pause();
}

function codes(acks: Ack[]): string[] {
  return acks.map((a) => (a.ok ? 'ok' : a.error!.code));
}

describe('socket guards (issue 9)', () => {
  const world = useWorld({ manual: true });
  const { open, subscribe, flush } = world;

  describe('SOCKET_BUFFER_LIMIT: a socket that does not read is cut', () => {
    const LIMIT = 256 * 1024;

    it('cuts a client that stops reading and keeps asking for history, before its answers pile up', async function () {
      this.timeout(20_000);
      const log = captureLog('warn');
      await world.start({ logger: log.logger, env: { SOCKET_BUFFER_LIMIT: '256kb', CHAT_SEND_RATE: '0', SOCKET_EVENT_RATE: '0', MAX_PENDING_REQUESTS: '10000' } });
      await subscribe(['alice', 'mallory'], ['rooms', '1']);
      const alice = await open('alice');
      // a page of history of 100 messages of 4,000 characters: about 400 KB per answer
      for (let i = 0; i < 100; i++) await send(alice, { channel: 'rooms-1', body: `${i} `.padEnd(4000, 'x') });
      const answerBytes = JSON.stringify((await alice.call('chat:history', { channel: 'rooms-1', limit: 100 })).messages).length;
      expect(answerBytes).to.be.above(400_000);

      const mallory = await open('mallory');
      const server = serverSide(world, mallory);
      const cut = serverDisconnect(server);
      stopReading(mallory);
      // what the server holds for mallory, looked at while the requests are answered
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, queuedBytes(server))), 2);
      // 80 answers are 32 MB: far more than the kernel's socket buffers take in
      for (let i = 0; i < 80; i++) mallory.socket.emit('chat:history', { channel: 'rooms-1', limit: 100 }, () => {});
      try {
        await cut;
      } finally {
        clearInterval(sampler);
      }
      expect(world.server.chatty.io.sockets.sockets.has(server.id)).to.equal(false);
      // the reason is in the log, with whose socket it was; the client, which does not read, cannot be told
      const drops = log.lines.filter((line) => line.reason === 'slow_consumer');
      expect(drops.map(({ userId, socketId, limit }) => ({ userId, socketId, limit }))).to.deep.equal([{ userId: 'mallory', socketId: server.id, limit: LIMIT }]);
      // at most the limit plus the answer that crossed it, and one more in flight
      expect(peak, `peak bytes queued for the socket`).to.be.below(LIMIT + 2 * answerBytes);
      // everybody else is served as before
      expect(await alice.call('chat:unread', {})).to.include({ ok: true });
      expect(alice.socket.connected).to.equal(true);
    });

    it('cuts, at the next sweep, a client that stops reading while events are pushed to it, and only that one', async function () {
      this.timeout(20_000);
      const clock = new ManualClock();
      await world.start({ clock, env: { SOCKET_BUFFER_LIMIT: '256kb' } });
      const reader = await open('reader');
      const stalled = await open('stalled');
      const server = serverSide(world, stalled);
      let cut = false;
      server.once('disconnect', () => (cut = true));
      stopReading(stalled);
      // notifications of ~500 KB each, to both: only the reader takes them in
      const big = 'y'.repeat(500_000);
      for (let i = 0; i < 30 && queuedBytes(server) <= LIMIT; i++) await world.notify('users:reader,stalled', 'big', { big });
      expect(queuedBytes(server), 'bytes queued for the stalled socket').to.be.above(LIMIT);
      await flush(reader);
      // nothing answers it, so only the sweep can see it: it runs on the clock
      expect(cut).to.equal(false);
      const gone = serverDisconnect(server);
      clock.advance(SWEEP_INTERVAL_MS);
      await gone;
      // what was queued is let go (Engine.IO empties its buffer on the next tick)
      await new Promise((resolve) => setImmediate(resolve));
      expect(queuedBytes(server)).to.equal(0);
      const engineClients = (world.server.chatty.io.engine as unknown as { clients: Record<string, unknown> }).clients;
      expect(Object.values(engineClients), 'the connection is gone from the server').to.not.include(server.conn);
      clock.advance(SWEEP_INTERVAL_MS);
      await flush(reader);
      expect(reader.socket.connected).to.equal(true);
    });
  });

  describe('MAX_PENDING_REQUESTS: requests in hand per socket', () => {
    it('refuses a request beyond the cap at once with rate_limited, and takes requests again once answered', async () => {
      const gate = new StoreGate('history');
      await world.start({ env: { MAX_PENDING_REQUESTS: '3' }, wrapStore: gatedStore(gate) });
      await subscribe(['alice'], ['rooms', '1']);
      const alice = await open('alice');
      gate.close();
      const calls = Array.from({ length: 5 }, () => alice.call('chat:history', { channel: 'rooms-1' }) as Promise<Ack>);
      // the two beyond the cap are answered while the first three are still held at the store
      const refused = await Promise.all(calls.slice(3));
      expect(gate.waited).to.be.at.most(3);
      expect(codes(refused)).to.deep.equal(['rate_limited', 'rate_limited']);
      expect(refused[0]!.error!.message).to.match(/unanswered/);
      gate.open();
      expect(codes(await Promise.all(calls.slice(0, 3)))).to.deep.equal(['ok', 'ok', 'ok']);
      const again = await Promise.all(Array.from({ length: 3 }, () => alice.call('chat:history', { channel: 'rooms-1' }) as Promise<Ack>));
      expect(codes(again)).to.deep.equal(['ok', 'ok', 'ok']);
    });
  });

  describe('SOCKET_EVENT_RATE: every client event, per socket', () => {
    let clock: ManualClock;
    beforeEach(async () => {
      clock = new ManualClock();
      await world.start({ clock, env: { SOCKET_EVENT_RATE: '5', CHAT_SEND_RATE: '0' } });
      await subscribe(['alice', 'bob'], ['rooms', '1']);
    });

    it('answers rate_limited beyond a burst of twice the rate, then lets the rate through', async () => {
      const [alice, aliceTab2] = await Promise.all([open('alice'), open('alice')]);
      const burst = await Promise.all(Array.from({ length: 14 }, () => alice.call('chat:unread', {}) as Promise<Ack>));
      expect(codes(burst)).to.deep.equal([...Array(10).fill('ok'), ...Array(4).fill('rate_limited')]);
      // any event counts, an unknown one or a refresh too; the other tab has its own bucket
      expect(codes([await alice.call('no-such-event', {})])).to.deep.equal(['rate_limited']);
      expect(codes(await Promise.all(Array.from({ length: 10 }, () => aliceTab2.call('chat:unread', {}) as Promise<Ack>)))).to.deep.equal(Array(10).fill('ok'));
      clock.advance(200);
      expect(codes(await Promise.all([alice.call('chat:unread', {}), alice.call('chat:unread', {})]))).to.deep.equal(['ok', 'rate_limited']);
      expect(alice.socket.connected).to.equal(true);
    });

    it('drops events sent without an ack beyond the rate', async () => {
      const [alice, bob] = await Promise.all([open('alice'), open('bob')]);
      for (let i = 0; i < 15; i++) alice.socket.emit('chat:send', { channel: 'rooms-1', body: `no ack ${i}` });
      // refused too: the fifteen before it were admitted or dropped on arrival (the admitted may
      // still be on their way to the store)
      expect(codes([await alice.call('chat:unread', {})])).to.deep.equal(['rate_limited']);
      await bob.waitFor('chat:message', 10);
      await flush(bob);
      expect(bob.of('chat:message').map(([m]) => (m as ChatMessage).body)).to.deep.equal(Array.from({ length: 10 }, (_, i) => `no ack ${i}`));
    });
  });

  describe('MAX_SOCKETS_PER_USER', () => {
    async function attempt(user: string): Promise<TestSocket | string> {
      try {
        return await connect(world.server.url, { token: world.server.token(user) });
      } catch (error) {
        return String((error as { data?: { code?: string } }).data?.code ?? error);
      }
    }

    /** Connects a socket whose admission is expected to fail: resolves with its disconnect reason. */
    function failedAdmission(user: string): Promise<string> {
      const socket = ioClient(world.server.url, { auth: { token: world.server.token(user) }, transports: ['websocket'], reconnection: false, forceNew: true });
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('neither ready nor a disconnect')), 5000);
        const done = (outcome: string) => {
          clearTimeout(timer);
          socket.close();
          resolve(outcome);
        };
        socket.on('ready', () => done('ready'));
        socket.on('connect_error', (error) => done(`connect_error ${(error as { data?: { code?: string } }).data?.code}`));
        socket.on('disconnect', (reason) => done(reason));
      });
    }

    it('admits exactly the cap out of 50 parallel handshakes; the rest get too_many_sockets', async () => {
      await world.start({ env: { MAX_SOCKETS_PER_USER: '3' } });
      const results = await Promise.all(Array.from({ length: 50 }, () => attempt('alice')));
      const admitted = results.filter((r): r is TestSocket => typeof r !== 'string');
      expect(admitted).to.have.length(3);
      expect(results.filter((r) => r === 'too_many_sockets')).to.have.length(47);
      // per user: another user is not affected
      expect(typeof (await attempt('bob'))).to.not.equal('string');
      // a socket that closes gives its slot back
      const gone = serverDisconnect(serverSide(world, admitted[0]!));
      admitted[0]!.close();
      await gone;
      expect(typeof (await attempt('alice'))).to.not.equal('string');
      expect(await attempt('alice')).to.equal('too_many_sockets');
    });

    it('gives the slot back when admission fails', async () => {
      let failing = 0;
      await world.start({
        env: { MAX_SOCKETS_PER_USER: '1' },
        wrapStore: (store) =>
          new Proxy(store, {
            get(target, property, receiver) {
              const value = Reflect.get(target, property, receiver);
              if (property !== 'channelsOf') return typeof value === 'function' ? value.bind(target) : value;
              return async (...args: unknown[]) => {
                if (failing > 0 && failing--) throw new Error('the store is down');
                return value.apply(target, args);
              };
            },
          }),
      });
      failing = 3;
      for (let i = 0; i < 3; i++) expect(await failedAdmission('alice'), `attempt ${i}`).to.equal('io server disconnect');
      const alice = await attempt('alice');
      expect(typeof alice, String(alice)).to.not.equal('string');
    });

    it('is off with 0', async () => {
      await world.start({ env: { MAX_SOCKETS_PER_USER: '0' } });
      const results = await Promise.all(Array.from({ length: 60 }, () => attempt('alice')));
      expect(results.filter((r) => typeof r === 'string')).to.deep.equal([]);
    });
  });
});
