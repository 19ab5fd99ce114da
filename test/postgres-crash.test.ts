/**
 * Crash safety on PostgreSQL (contract §6, §7; issue 10): the real server (`node bin/www`) on a
 * fresh PostgreSQL database, killed with SIGKILL in the middle of a stream of notifies and chat
 * messages, then restarted on the same database: every acknowledged notification and message is
 * in the log, replayable in id order with the copies live delivery gives, in chat history, and its
 * idempotency key still answers with its id; subscriptions are intact.
 */
import crypto from 'node:crypto';
import { expect } from 'chai';
import { client, doc } from './helpers/http.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './helpers/postgres.js';
import { signToken } from './helpers/server.js';
import { requireBuild, startServerProcess, stopServerProcesses } from './helpers/server-process.js';
import { closeAllSockets, connect, type Received, type TestSocket } from './helpers/sockets.js';

/** A logged event's id and copy as a socket received it (`meta.id` or a chat message's `id`). */
interface Copy {
  event: string;
  id: number;
  origin: string | undefined;
  payload: Record<string, unknown>;
}

function copyOf(r: Received): Copy | undefined {
  if (r.event === 'chat:message') {
    const payload = r.args[0] as { id: number; channel: string };
    return { event: r.event, id: payload.id, origin: payload.channel, payload };
  }
  const meta = r.args[1] as { id?: unknown; origin?: string } | undefined;
  if (meta && typeof meta === 'object' && typeof meta.id === 'number') {
    return { event: r.event, id: meta.id, origin: meta.origin, payload: r.args[0] as Record<string, unknown> };
  }
  return undefined;
}

/** How the stream addresses its notifies, and the copies the reader gets of each (origins). */
const STREAM_METHODS: { method: string; origins: (string | undefined)[] }[] = [
  { method: 'channels:crash-1,crash-2', origins: ['crash-1', 'crash-2'] },
  { method: 'users:reader,nobody', origins: [undefined] },
  { method: 'channels-efficient:crash-2,crash-1', origins: ['crash-2'] },
];

describe('crash safety on PostgreSQL with the real server process (issue 10)', function () {
  requirePostgres();
  this.timeout(60_000);
  let db: TestDatabase;
  let secret: string;
  let serviceToken: string;
  const token = (sub: string) => signToken(secret, sub, { expiresIn: 3600 });
  const start = () => startServerProcess({ DATABASE_URL: db.url, JWT_SECRET: secret });

  before(requireBuild);
  beforeEach(async () => {
    db = await createTestDatabase();
    secret = crypto.randomBytes(32).toString('hex');
    serviceToken = signToken(secret, 'app-server', { role: 'service', expiresIn: 3600 });
  });
  afterEach(async () => {
    closeAllSockets();
    await stopServerProcesses();
    await db.drop();
  });

  it('keeps every acknowledged notify and chat message through kill -9, replayable and idempotent', async () => {
    let server = await start();
    let api = client(server.url, serviceToken);
    const senders = ['s1', 's2', 's3', 's4'];
    expect((await api.post('/control/subscription/subscribe?method=users:reader', doc(['crash', '1'], ['crash', '2']))).status).to.equal(200);
    expect((await api.post(`/control/subscription/subscribe?method=users:${senders.join(',')}`, doc(['crash', '1']))).status).to.equal(200);
    const senderSockets = await Promise.all(senders.map((s) => connect(server.url, { token: token(s) })));

    // the stream: notify workers over HTTP and chat senders over sockets, until SIGKILL
    let killed = false;
    const failures: string[] = [];
    const ackedNotifies: { id: number; key: string; method: string; attributes: Record<string, unknown>; origins: (string | undefined)[] }[] = [];
    const ackedChats: { id: number; body: string }[] = [];
    let reachedTarget!: () => void;
    const targetReached = new Promise<void>((resolve) => (reachedTarget = resolve));
    const check = () => {
      if (ackedNotifies.length >= 150 && ackedChats.length >= 15) reachedTarget();
    };
    const notifyWorker = async (w: number) => {
      for (let n = 0; !killed; n++) {
        const { method, origins } = STREAM_METHODS[(w + n) % STREAM_METHODS.length]!;
        const key = `stream-${w}-${n}`;
        const attributes = { key, w, n };
        let res;
        try {
          res = await api.post(`/control/notify?method=${method}`, { event: 'stream', attributes }, { headers: { 'Idempotency-Key': key } });
        } catch (error) {
          if (!killed) failures.push(`notify ${key}: ${String(error)}`);
          return;
        }
        if (res.status !== 202) {
          failures.push(`notify ${key}: ${res.status} ${JSON.stringify(res.body)}`);
          return;
        }
        ackedNotifies.push({ id: Number(res.body.data.id), key, method, attributes, origins });
        check();
      }
    };
    const chatWorker = async (s: TestSocket) => {
      const gone = new Promise<'gone'>((resolve) => s.socket.once('disconnect', () => resolve('gone')));
      for (let n = 0; !killed; n++) {
        const body = `${s.ready.userId} says ${n}`;
        let ack;
        try {
          ack = await Promise.race([s.call('chat:send', { channel: 'crash-1', body }, 5000), gone]);
        } catch (error) {
          if (!killed) failures.push(`chat ${body}: ${String(error)}`);
          return;
        }
        if (ack === 'gone') return;
        if (ack.ok) {
          ackedChats.push({ id: ack.message.id, body });
          check();
        } else if (ack.error?.code !== 'rate_limited') {
          failures.push(`chat ${body}: ${JSON.stringify(ack)}`);
          return;
        }
        // stay under the per-user flood limit (10 per second)
        await Promise.race([new Promise((resolve) => setTimeout(resolve, 110)), gone]);
      }
    };
    const stream = Promise.all([...Array.from({ length: 8 }, (_, w) => notifyWorker(w)), ...senderSockets.map(chatWorker)]);
    await Promise.race([targetReached, stream.then(() => Promise.reject(new Error(`the stream stopped early: ${failures.join('; ')}`)))]);
    server.proc.kill('SIGKILL');
    killed = true;
    expect((await server.exited).signal).to.equal('SIGKILL');
    await stream;
    expect(failures, 'errors before the kill').to.deep.equal([]);
    const seenLive = new Set(senderSockets.flatMap((s) => s.received.map(copyOf).filter((c) => c !== undefined).map((c) => c.id)));
    expect(seenLive.size).to.be.greaterThan(0);
    closeAllSockets();

    server = await start();
    api = client(server.url, serviceToken);
    for (const [user, channels] of [['reader', ['crash-1', 'crash-2']], ...senders.map((s) => [s, ['crash-1']] as const)] as const) {
      const res = await api.get(`/control/search/subscriptions?userId=${user}`);
      expect(res.body.data.map((r: { id: string }) => r.id), `channels of ${user}`).to.deep.equal(channels);
    }

    // every acknowledged event is replayed, in id order, with the copies live delivery would give
    const reader = await connect(server.url, { token: token('reader'), lastEventId: 0 }, { timeoutMs: 10_000 });
    const replayed = reader.received.slice(0, reader.received.findIndex((r) => r.event === 'ready')).map(copyOf).filter((c): c is Copy => c !== undefined);
    expect(reader.ready.replayed).to.equal(replayed.length);
    for (let i = 1; i < replayed.length; i++) expect(replayed[i]!.id, `id order at ${i}`).to.be.at.least(replayed[i - 1]!.id);
    const byId = new Map<number, Copy[]>();
    for (const c of replayed) byId.set(c.id, [...(byId.get(c.id) ?? []), c]);
    for (const acked of ackedNotifies) {
      const got = byId.get(acked.id);
      expect(got, `acknowledged notify ${acked.id} (${acked.key}) is replayed`).to.not.equal(undefined);
      expect(got!.map((c) => c.origin), `copies of ${acked.id} (${acked.method})`).to.deep.equal(acked.origins);
      for (const c of got!) expect(c.payload, `payload of ${acked.id}`).to.deep.equal(acked.attributes);
    }
    for (const acked of ackedChats) {
      const got = byId.get(acked.id);
      expect(got, `acknowledged chat message ${acked.id} is replayed`).to.not.equal(undefined);
      expect(got!.map((c) => [c.event, c.payload.body, c.payload.channel])).to.deep.equal([['chat:message', acked.body, 'crash-1']]);
    }
    for (const id of seenLive) expect(byId.has(id), `event ${id}, seen by a socket before the crash, is replayed`).to.equal(true);
    const maxAcked = Math.max(...ackedNotifies.map((a) => a.id), ...ackedChats.map((a) => a.id));
    expect(reader.ready.lastEventId).to.be.at.least(maxAcked);

    // chat history has every acknowledged message
    const history = new Map<number, string>();
    let before: number | undefined;
    for (;;) {
      const ack = await reader.call('chat:history', { channel: 'crash-1', limit: 100, ...(before !== undefined ? { before } : {}) });
      expect(ack.ok, JSON.stringify(ack)).to.equal(true);
      for (const m of ack.messages) history.set(m.id, m.body);
      if (ack.messages.length < 100) break;
      before = ack.messages[0].id;
    }
    for (const acked of ackedChats) expect(history.get(acked.id), `history has message ${acked.id}`).to.equal(acked.body);

    // the idempotency keys of acknowledged notifies still answer with their ids, and nothing is sent again
    await Promise.all(
      ackedNotifies.filter((_, i) => i % 5 === 0).map(async ({ key, method, attributes, id }) => {
        const res = await api.post(`/control/notify?method=${method}`, { event: 'stream', attributes }, { headers: { 'Idempotency-Key': key } });
        expect(res.status, JSON.stringify(res.body)).to.equal(202);
        expect(Number(res.body.data.id), `retry of ${key}`).to.equal(id);
      }),
    );
    expect((await api.post('/control/notify?method=users:reader', { event: 'marker', attributes: {} })).status).to.equal(202);
    await reader.waitFor('marker');
    const afterReady = reader.received.slice(reader.received.findIndex((r) => r.event === 'ready') + 1);
    expect(afterReady.map((r) => r.event)).to.deep.equal(['marker']);
  });
});
