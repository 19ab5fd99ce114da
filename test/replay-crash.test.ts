/**
 * Crash safety (contract §6, §7; issue 4): the real server as a child process (`node bin/www`, the
 * compiled dist/ that `npm test` builds first), killed with SIGKILL in the middle of a stream of
 * notifies and chat messages, then restarted on the same database: everything it acknowledged is
 * in the log and replayable, idempotency keys are still recognised, subscriptions are intact.
 * And SIGTERM: in-flight requests finish with 202, then the process exits 0.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { client, doc, request } from './helpers/http.js';
import { signToken } from './helpers/server.js';
import { requireBuild, startServerProcess, stopServerProcesses, type ServerProcess } from './helpers/server-process.js';
import { closeAllSockets, connect, type Received, type TestSocket } from './helpers/sockets.js';

/** `node bin/www` on port 0 with its own SQLite file and secret (test/helpers/server-process.ts). */
const startChild = (env: { dbPath: string; secret: string }): Promise<ServerProcess> =>
  startServerProcess({ JWT_SECRET: env.secret, DATABASE_URL: `sqlite:${env.dbPath}` });

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

function replayedCopies(s: TestSocket): Copy[] {
  const readyAt = s.received.findIndex((r) => r.event === 'ready');
  return s.received
    .slice(0, readyAt)
    .map(copyOf)
    .filter((c): c is Copy => c !== undefined);
}

/** How the stream addresses its notifies, and the copies the reader gets of each (origins). */
const STREAM_METHODS: { method: string; origins: (string | undefined)[] }[] = [
  { method: 'channels:crash-1,crash-2', origins: ['crash-1', 'crash-2'] },
  { method: 'users:reader,nobody', origins: [undefined] },
  { method: 'channels-efficient:crash-2,crash-1', origins: ['crash-2'] },
  { method: 'channels:crash-3,crash-1', origins: ['crash-1'] },
];

describe('crash safety with the real server process (contract §6, §7)', function () {
  this.timeout(30_000);
  let dir: string;
  let dbPath: string;
  let secret: string;
  let serviceToken: string;
  const token = (sub: string) => signToken(secret, sub, { expiresIn: 3600 });

  before(() => requireBuild());
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatty-crash-'));
    dbPath = path.join(dir, 'chatty.db');
    secret = crypto.randomBytes(32).toString('hex');
    serviceToken = signToken(secret, 'app-server', { role: 'service', expiresIn: 3600 });
  });
  afterEach(async () => {
    closeAllSockets();
    await stopServerProcesses();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged notify and chat message through kill -9, replayable and idempotent', async () => {
    let server = await startChild({ dbPath, secret });
    let api = client(server.url, serviceToken);
    const senders = ['s1', 's2', 's3', 's4'];
    const subscriptions: Record<string, string[]> = { reader: ['crash-1', 'crash-2'] };
    for (const s of senders) subscriptions[s] = ['crash-1'];
    expect((await api.post('/control/subscription/subscribe?method=users:reader', doc(['crash', '1'], ['crash', '2']))).status).to.equal(200);
    expect((await api.post(`/control/subscription/subscribe?method=users:${senders.join(',')}`, doc(['crash', '1']))).status).to.equal(200);
    const senderSockets = await Promise.all(senders.map((s) => connect(server.url, { token: token(s) })));

    // the stream: notify workers over HTTP and chat senders over sockets, until SIGKILL
    let killed = false;
    const failures: string[] = [];
    const sentKeys: { key: string; method: string; attributes: Record<string, unknown>; origins: (string | undefined)[] }[] = [];
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
        sentKeys.push({ key, method, attributes, origins });
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
          ack = await Promise.race([s.call('chat:send', { channel: 'crash-1', body, clientId: `${s.ready.userId}-${n}` }, 5000), gone]);
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
        // stay under the per-socket flood limit (10 per second)
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
    // what any socket saw before the crash must have been logged before it was emitted
    const seenLive = new Set(senderSockets.flatMap((s) => s.received.map(copyOf).filter((c) => c !== undefined).map((c) => c.id)));
    expect(seenLive.size).to.be.greaterThan(0);
    closeAllSockets();

    server = await startChild({ dbPath, secret });
    api = client(server.url, serviceToken);

    // subscriptions are intact
    for (const [user, channels] of Object.entries(subscriptions)) {
      const res = await api.get(`/control/search/subscriptions?userId=${user}`);
      expect(res.status).to.equal(200);
      expect(res.body.data.map((r: { id: string }) => r.id), `channels of ${user}`).to.deep.equal(channels);
    }

    // every acknowledged event is replayed, in id order, with the copies live delivery would give
    const reader = await connect(server.url, { token: token('reader'), lastEventId: 0 }, { timeoutMs: 10_000 });
    const replayed = replayedCopies(reader);
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

    // chat history has every acknowledged message too
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

    // a retry of a key sent before the crash, acknowledged or not, is answered from the log or
    // logged once; acknowledged ones keep their id, and no retry reaches a socket again. All the
    // unacknowledged keys (the requests in flight at the kill) are retried, and a sample of the others.
    const ackedIds = new Map(ackedNotifies.map((a) => [a.key, a.id]));
    const retried = sentKeys.filter(({ key }, i) => !ackedIds.has(key) || i % 4 === 0);
    for (let i = 0; i < retried.length; i += 50) {
      await Promise.all(
        retried.slice(i, i + 50).map(async ({ key, method, attributes }) => {
          const res = await api.post(`/control/notify?method=${method}`, { event: 'stream', attributes }, { headers: { 'Idempotency-Key': key } });
          expect(res.status, JSON.stringify(res.body)).to.equal(202);
          if (ackedIds.has(key)) expect(Number(res.body.data.id), `retry of ${key}`).to.equal(ackedIds.get(key));
        }),
      );
    }
    // only the keys that never reached the log before the crash are delivered now, once each
    const loggedBeforeCrash = new Set(replayed.filter((c) => c.event === 'stream').map((c) => String(c.payload.key)));
    const expectedLive = retried
      .filter(({ key }) => !loggedBeforeCrash.has(key))
      .flatMap(({ key, origins }) => origins.map((origin) => `${key}@${origin ?? ''}`))
      .sort();
    const marker = await api.post('/control/notify?method=users:reader', { event: 'marker', attributes: {} });
    expect(marker.status).to.equal(202);
    await reader.waitFor('marker');
    const live = reader.received
      .slice(reader.received.findIndex((r) => r.event === 'ready') + 1)
      .map(copyOf)
      .filter((c): c is Copy => c?.event === 'stream')
      .map((c) => `${String(c.payload.key)}@${c.origin ?? ''}`)
      .sort();
    expect(live, 'stream events delivered after the retries').to.deep.equal(expectedLive);
    const again = await connect(server.url, { token: token('reader'), lastEventId: 0 }, { timeoutMs: 10_000 });
    const perKey = new Map<string, Set<number>>();
    for (const c of replayedCopies(again).filter((c) => c.event === 'stream')) {
      const k = String(c.payload.key);
      perKey.set(k, (perKey.get(k) ?? new Set()).add(c.id));
    }
    for (const { key } of retried) expect([...(perKey.get(key) ?? [])], `log entries for key ${key}`).to.have.length(1);
    for (const { key } of ackedNotifies) expect([...(perKey.get(key) ?? [])], `log entries for key ${key}`).to.have.length(1);
  });

  it('on SIGTERM finishes in-flight notifies with 202, closes sockets, and exits 0', async () => {
    let server = await startChild({ dbPath, secret });
    const watcher = await connect(server.url, { token: token('watcher') });
    const watcherGone = new Promise<string>((resolve) => watcher.socket.once('disconnect', resolve));

    // requests whose headers the server has parsed (it answered 100 Continue) but whose bodies are
    // still to come: in flight for sure when SIGTERM arrives
    const { port } = new URL(server.url);
    const inFlight = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const body = JSON.stringify({ event: 'late', attributes: { i } });
        const req = http.request({
          host: '127.0.0.1',
          port: Number(port),
          method: 'POST',
          path: '/control/notify?method=users:watcher',
          agent: false,
          headers: {
            authorization: `Bearer ${serviceToken}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            expect: '100-continue',
          },
        });
        const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
          req.once('error', reject);
          req.once('response', (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () => resolve({ status: res.statusCode!, body: text }));
          });
        });
        const continued = new Promise<void>((resolve) => req.once('continue', resolve));
        req.flushHeaders();
        await continued;
        return { req, body, response };
      }),
    );

    server.proc.kill('SIGTERM');
    // the server has begun shutting down once it closes the sockets
    expect(await watcherGone).to.equal('io server disconnect');
    for (const { req, body } of inFlight) req.end(body);
    const responses = await Promise.all(inFlight.map((f) => f.response));
    const ids: number[] = [];
    for (const res of responses) {
      expect(res.status, res.body).to.equal(202);
      ids.push(Number(JSON.parse(res.body).data.id));
    }
    const exit = await server.exited;
    expect(exit, server.output.join('')).to.deep.equal({ code: 0, signal: null });
    // the server is gone: nothing listens any more
    const refused = await request('GET', `${server.url}/healthz`).then(
      () => false,
      () => true,
    );
    expect(refused, 'connection refused after exit').to.equal(true);

    // and what it acknowledged while draining was flushed
    server = await startChild({ dbPath, secret });
    const back = await connect(server.url, { token: token('watcher'), lastEventId: 0 });
    expect(replayedCopies(back).map((c) => c.id)).to.have.members(ids);
    expect(back.ready.replayed).to.equal(ids.length);
  });
});
