/**
 * PostgreSQL outage (contract §9.8, issue 10): the real server (`node bin/www`) reaches its
 * database through a TCP proxy that the test cuts (every connection dropped, new ones refused) and
 * restores. While cut, whatever needs the database answers 503 `unavailable` (acks `unavailable`),
 * `/readyz` is 503 and `/healthz` 200; after, service resumes by itself; nothing acknowledged is
 * lost; the process never exits.
 */
import crypto from 'node:crypto';
import { expect } from 'chai';
import { io as ioClient } from 'socket.io-client';
import { client, doc, expectJsonApiError, request } from './helpers/http.js';
import { createTestDatabase, requirePostgres, viaHost, type TestDatabase } from './helpers/postgres.js';
import { signToken } from './helpers/server.js';
import { requireBuild, startServerProcess, stopServerProcesses, type ServerProcess } from './helpers/server-process.js';
import { closeAllSockets, connect, type TestSocket } from './helpers/sockets.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

/** Polls `GET /readyz` until it answers `status` (the pool notices a cut or a return on its own). */
async function readyzBecomes(url: string, status: number, timeoutMs = 10_000): Promise<Awaited<ReturnType<typeof request>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await request('GET', `${url}/readyz`);
    if (res.status === status) return res;
    if (Date.now() > deadline) throw new Error(`/readyz still answers ${res.status} after ${timeoutMs} ms: ${JSON.stringify(res.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A socket that tries to connect: `ready` when admitted, else how it was turned away. */
function tryConnect(url: string, token: string): Promise<{ outcome: 'ready' | 'disconnect' | 'connect_error'; detail: unknown }> {
  const socket = ioClient(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve) => {
    const done = (outcome: 'ready' | 'disconnect' | 'connect_error') => (detail: unknown) => {
      socket.close();
      resolve({ outcome, detail });
    };
    socket.once('ready', done('ready'));
    socket.once('disconnect', done('disconnect'));
    socket.once('connect_error', (error: Error & { data?: unknown }) => done('connect_error')(error.data));
  });
}

describe('PostgreSQL outage through a TCP proxy (contract §9.8, issue 10)', function () {
  requirePostgres();
  this.timeout(60_000);
  let db: TestDatabase;
  let proxy: TcpProxy;
  let server: ServerProcess;
  let secret: string;
  const token = (sub: string) => signToken(secret, sub, { expiresIn: 3600 });

  before(requireBuild);
  beforeEach(async () => {
    db = await createTestDatabase();
    proxy = await TcpProxy.start('127.0.0.1', Number(new URL(db.url).port || 5432));
    secret = crypto.randomBytes(32).toString('hex');
    server = await startServerProcess({ DATABASE_URL: viaHost(db.url, '127.0.0.1', proxy.port), JWT_SECRET: secret });
  });
  afterEach(async () => {
    closeAllSockets();
    await stopServerProcesses();
    await proxy.close();
    await db.drop();
  });

  it('answers 503 unavailable while the database is cut off, recovers by itself, and loses nothing acknowledged', async () => {
    const api = client(server.url, signToken(secret, 'app-server', { role: 'service', expiresIn: 3600 }));
    expect((await api.post('/control/subscription/subscribe?method=users:reader,talker', doc(['rooms', '1']))).status).to.equal(200);
    const reader = await connect(server.url, { token: token('reader') });
    const talker = await connect(server.url, { token: token('talker') });

    const acked = new Set<number>();
    const statuses = new Map<number, number>();
    const chatAcks: string[] = [];
    const notify = async (key: string) => {
      const res = await api.post('/control/notify?method=channels:rooms-1', { event: 'tick', attributes: { key } }, { headers: { 'Idempotency-Key': key } });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 202) acked.add(Number(res.body.data.id));
      else expectJsonApiError(res, 503, 'unavailable');
      return res.status;
    };
    const say = async (socket: TestSocket, body: string) => {
      const ack = await socket.call('chat:send', { channel: 'rooms-1', body });
      chatAcks.push(ack.ok ? 'ok' : ack.error.code);
      if (ack.ok) acked.add(ack.message.id);
      return ack;
    };

    // a stream of notifies that runs across the cut and the restore
    let streaming = true;
    let sent = 0;
    const stream = Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        while (streaming) await notify(`stream-${w}-${sent++}`);
      }),
    );
    const before = async () => {
      for (let i = 0; i < 10; i++) expect(await notify(`before-${i}`)).to.equal(202);
      expect((await say(talker, 'before the cut')).ok).to.equal(true);
    };
    await before();

    proxy.cut();
    const down = await readyzBecomes(server.url, 503);
    expectJsonApiError(down, 503, 'unavailable');
    expect(down.body.meta.checks).to.deep.equal({ store: 'unreachable' });
    expect((await request('GET', `${server.url}/healthz`)).status).to.equal(200);
    expect(await notify('during')).to.equal(503);
    const chat = await say(talker, 'during the cut');
    expect(chat.error?.code, JSON.stringify(chat)).to.equal('unavailable');
    expect((await talker.call('chat:history', { channel: 'rooms-1' })).error?.code).to.equal('unavailable');
    expectJsonApiError(await api.post('/control/subscription/subscribe?method=users:late', doc(['rooms', '1'])), 503, 'unavailable');
    expectJsonApiError(await api.get('/control/search/subscriptions?userId=reader'), 503, 'unavailable');
    expectJsonApiError(await request('POST', `${server.url}/auth/login`, { username: 'someone', password: 'a password' }), 503, 'unavailable');
    // a socket that connects now is turned away without crashing anything
    expect((await tryConnect(server.url, token('reader'))).outcome).to.not.equal('ready');
    // sockets already connected stay connected, and the process is alive
    expect(reader.socket.connected && talker.socket.connected).to.equal(true);
    expect(server.running).to.equal(true);

    proxy.restore();
    await readyzBecomes(server.url, 200);
    streaming = false;
    await stream;
    for (let i = 0; i < 10; i++) expect(await notify(`after-${i}`)).to.equal(202);
    expect((await say(talker, 'after the cut')).ok).to.equal(true);
    expect((await api.post('/control/subscription/subscribe?method=users:late', doc(['rooms', '1']))).status).to.equal(200);
    expect(server.running, server.output.join('\n')).to.equal(true);
    expect([...statuses.keys()].sort(), 'notify answers: 202 or 503, nothing else').to.deep.equal([202, 503]);
    expect(chatAcks.filter((a) => a !== 'ok' && a !== 'unavailable')).to.deep.equal([]);

    // nothing acknowledged is lost: live, the reader got every acknowledged event; a replay from 0 has them all
    const marker = await api.post('/control/notify?method=users:reader', { event: 'marker', attributes: {} });
    await reader.waitFor('marker');
    const liveIds = reader.received.map((r) => (r.event === 'chat:message' ? (r.args[0] as { id: number }).id : (r.args[1] as { id?: number } | undefined)?.id));
    for (const id of acked) expect(liveIds, `acknowledged event ${id} delivered live`).to.include(id);
    const replay = await connect(server.url, { token: token('reader'), lastEventId: 0 }, { timeoutMs: 10_000 });
    const replayedIds = new Set(replay.received.map((r) => (r.event === 'chat:message' ? (r.args[0] as { id: number }).id : (r.args[1] as { id?: number } | undefined)?.id)));
    for (const id of acked) expect(replayedIds.has(id), `acknowledged event ${id} replayed`).to.equal(true);
    expect(replayedIds.has(Number(marker.body.data.id))).to.equal(true);
    const history = await replay.call('chat:history', { channel: 'rooms-1' });
    expect(history.messages.map((m: { body: string }) => m.body)).to.deep.equal(['before the cut', 'after the cut']);
    expect(proxy.accepted, 'the pool opened new connections after the restore').to.be.greaterThan(1);
  });
});
