/**
 * Many nodes, one ordered log (contract §9 guarantees 1–4; issue 25): three real nodes as separate
 * `node bin/www` processes on one fresh PostgreSQL database, with sockets on other nodes than the
 * HTTP calls. Nothing here sleeps to wait for propagation: tests wait for the event, with a timeout,
 * and prove an absence with a later marker event (delivered in id order, it comes after).
 */
import crypto from 'node:crypto';
import { expect } from 'chai';
import { TAIL_POLL_MS } from '../src/event-log/log-tail.js';
import type { Store } from '../src/store/store.js';
import { client, doc, request, type ApiResponse } from './helpers/http.js';
import { ManualClock } from './helpers/manual-clock.js';
import { signToken, startServer, type TestServer } from './helpers/server.js';
import { REDIS_URL, useCluster, type TestCluster, type TestNode } from './helpers/cluster.js';
import { requirePostgres } from './helpers/postgres.js';
import { closeAllSockets, connect, type Received, type TestSocket } from './helpers/sockets.js';

/** The log ids of the notifications named `event` a socket received, in the order received. */
function idsOf(socket: TestSocket, event: string, which: 'all' | 'beforeReady' = 'all'): number[] {
  const readyAt = socket.received.findIndex((r) => r.event === 'ready');
  const list = which === 'beforeReady' ? socket.received.slice(0, readyAt) : socket.received;
  return list.filter((r: Received) => r.event === event).map((r) => (r.args[1] as { id: number }).id);
}

function accepted(res: ApiResponse): number {
  expect(res.status, JSON.stringify(res.body)).to.equal(202);
  return Number(res.body.data.id);
}

describe('many nodes: one ordered log tailed by every node (contract §9 guarantees 1–4, issue 25)', function () {
  this.timeout(60_000);
  requirePostgres();
  let cluster: TestCluster;
  let a: TestNode, b: TestNode, c: TestNode;
  useCluster(3, { started: (started, nodes) => ([cluster, [a, b, c]] = [started, nodes as [TestNode, TestNode, TestNode]]) });

  const open = (node: TestNode, user: string, lastEventId?: number) =>
    connect(node.url, { token: cluster.token(user), ...(lastEventId !== undefined ? { lastEventId } : {}) }, { timeoutMs: 10_000 });
  const notify = async (node: TestNode, method: string, event: string, attributes: Record<string, unknown> = {}, headers?: Record<string, string>) =>
    accepted(await cluster.api(node).post(`/control/notify?method=${method}`, { event, attributes }, { headers }));
  const subscribe = async (node: TestNode, users: string, ...resources: [string, string][]) => {
    const res = await cluster.api(node).post(`/control/subscription/subscribe?method=users:${users}`, doc(...resources));
    expect(res.status, JSON.stringify(res.body)).to.be.oneOf([200, 201]);
  };
  const unsubscribe = async (node: TestNode, users: string, ...resources: [string, string][]) => {
    const res = await cluster.api(node).post(`/control/subscription/unsubscribe?method=users:${users}`, doc(...resources));
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
  };

  it('applies a subscribe answered by A to a socket on C before a notify sent through B right after', async () => {
    const alice = await open(c, 'g2-alice');
    for (let round = 1; round <= 5; round++) {
      await subscribe(a, 'g2-alice', ['posts', `g2-${round}`]);
      const id = await notify(b, `channels:posts-g2-${round}`, 'changed', { round });
      const [[, meta]] = (await alice.waitFor('changed', round)).slice(-1) as [[unknown, { id: number; origin: string }]];
      expect(meta).to.include({ id, origin: `posts-g2-${round}` });
    }
    // and the other way: unsubscribed through B, a notify through A right after does not reach C
    await unsubscribe(b, 'g2-alice', ['posts', 'g2-1']);
    await notify(a, 'channels:posts-g2-1', 'changed', { after: 'unsubscribe' });
    const marker = await notify(b, 'users:g2-alice', 'marker');
    await alice.waitFor('marker');
    expect(idsOf(alice, 'changed')).to.have.length(5);
    expect(idsOf(alice, 'marker')).to.deep.equal([marker]);
    // C's socket was told of each change (contract §5), each before the notify that followed it
    const told = alice.received.filter((r) => r.event === 'subscriptions:changed' || r.event === 'changed').map((r) => [r.event, r.args[0]]);
    expect(told).to.deep.equal([
      ...[1, 2, 3, 4, 5].flatMap((round) => [
        ['subscriptions:changed', { added: [`posts-g2-${round}`], removed: [] }],
        ['changed', { round }],
      ]),
      ['subscriptions:changed', { added: [], removed: ['posts-g2-1'] }],
    ]);
  });

  it('delivers concurrent notifies through all three nodes to sockets on every node, each once, in id order', async () => {
    await subscribe(a, 'g1-a,g1-b,g1-c', ['rooms', 'g1']);
    const sockets = await Promise.all([open(a, 'g1-a'), open(b, 'g1-b'), open(c, 'g1-c'), open(c, 'g1-a')]);
    const PER_NODE = 40;
    const ids = (
      await Promise.all(
        [a, b, c].map(async (node) => {
          const mine: number[] = [];
          // several requests in flight on each node: they share group commits, which interleave across nodes
          await Promise.all(Array.from({ length: 4 }, async (_, lane) => {
            for (let i = lane; i < PER_NODE; i += 4) mine.push(await notify(node, 'channels:rooms-g1', 'burst', { node: node.id, i }));
          }));
          return mine;
        }),
      )
    ).flat();
    expect(new Set(ids).size, 'ids are unique across the cluster').to.equal(3 * PER_NODE);
    const expected = [...ids].sort((x, y) => x - y);
    for (const socket of sockets) {
      await socket.waitFor('burst', expected.length, 15_000);
      expect(idsOf(socket, 'burst'), `socket of ${socket.ready.userId}`).to.deep.equal(expected);
    }
  });

  it('delivers chat sent on one node to members on the others', async () => {
    await subscribe(b, 'g5-alice,g5-bob', ['rooms', 'g5']);
    const bob = await open(a, 'g5-bob');
    const alice = await open(c, 'g5-alice');
    const sent = await bob.call('chat:send', { channel: 'rooms-g5', body: 'hello from A' });
    expect(sent.ok, JSON.stringify(sent)).to.equal(true);
    const [[message]] = (await alice.waitFor('chat:message')) as [[{ id: number; body: string; from: string }]];
    expect(message).to.include({ body: 'hello from A', from: 'g5-bob' });
    const direct = await alice.call('chat:send', { to: 'g5-bob', body: 'psst' });
    expect(direct.ok, JSON.stringify(direct)).to.equal(true);
    await bob.waitFor('chat:message', 2);
  });

  it('replays to a socket reconnecting on another node exactly what it missed, wherever it was accepted', async () => {
    await subscribe(c, 'g3-alice', ['posts', 'g3']);
    const witness = await open(b, 'g3-alice');
    const first = await open(a, 'g3-alice');
    await notify(b, 'channels:posts-g3', 'seen', {});
    await first.waitFor('seen');
    first.close();
    const L0 = idsOf(first, 'seen').at(-1)!;
    const missed: number[] = [];
    for (let i = 0; i < 12; i++) missed.push(await notify([a, b, c][i % 3]!, i % 2 ? 'channels:posts-g3' : 'users:g3-alice', 'missed', { i }));
    await witness.waitFor('missed', missed.length);
    const back = await open(c, 'g3-alice', L0);
    expect(idsOf(back, 'missed', 'beforeReady')).to.deep.equal(missed);
    expect(back.ready.replayed).to.equal(missed.length);
    // and live again on C: the next one arrives once, after ready
    const next = await notify(a, 'channels:posts-g3', 'missed', { live: true });
    await back.waitFor('missed', missed.length + 1);
    expect(idsOf(back, 'missed')).to.deep.equal([...missed, next]);
  });

  it('honours an idempotency key sent to every node at once: one notification', async () => {
    const alice = await open(c, 'g4-alice');
    // several keys, each sent to the three nodes together: every look-up finds nothing, and all but
    // one append of each key meet the one another node committed first
    const keys = Array.from({ length: 6 }, (_, k) => `g4-${Date.now()}-${k}`);
    const answers = await Promise.all(
      keys.map((key) => Promise.all([a, b, c].map((node) => cluster.api(node).post('/control/notify?method=users:g4-alice', { event: 'once', attributes: { key } }, { headers: { 'Idempotency-Key': key } })))),
    );
    const ids = answers.map((sent) => {
      const named = sent.map(accepted);
      expect(new Set(named).size, 'every answer names the same notification').to.equal(1);
      expect(sent.filter((res) => res.headers.get('idempotent-replayed') === 'true')).to.have.length(2);
      return named[0]!;
    });
    const marker = await notify(b, 'users:g4-alice', 'marker');
    await alice.waitFor('marker');
    expect(idsOf(alice, 'once')).to.deep.equal([...ids].sort((x, y) => x - y));
    expect(idsOf(alice, 'marker')).to.deep.equal([marker]);
  });
  // the key ring last: the rotation with no grace retires the secret the other tests sign with
  const adminToken = () => signToken(cluster.secret, 'ops', { role: 'admin', expiresIn: 3600 });
  const rotate = async (node: TestNode, graceSeconds: number) => {
    const res = await request('PUT', `${node.url}/auth/update-jwt-secret`, { secret: crypto.randomBytes(32).toString('hex'), graceSeconds }, { token: adminToken() });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.data.id as string;
  };
  const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid?: string }).kid;

  it('signs on every node with the key a rotation on A made current, from the moment A answers', async () => {
    const PASSWORD = 'correct horse battery staple';
    expect((await request('POST', `${a.url}/auth/register`, { username: 'k1-alice', password: PASSWORD })).status).to.equal(201);
    for (const [rotator, signer, verifier] of [[a, b, c], [b, c, a], [c, a, b]] as const) {
      const keyId = await rotate(rotator, 3600);
      // no wait: the login on another node right after the answer signs with the new key
      const login = await request('POST', `${signer.url}/auth/login`, { username: 'k1-alice', password: PASSWORD });
      expect(login.status, JSON.stringify(login.body)).to.equal(200);
      const token = login.body.data.attributes.token as string;
      expect(kidOf(token), `signed on ${signer.id} after a rotation on ${rotator.id}`).to.equal(keyId);
      // and a third node, which may not have read the rotation yet, takes the token
      const socket = await connect(verifier.url, { token }, { timeoutMs: 10_000 });
      expect(socket.ready.userId).to.equal('@k1-alice');
      socket.close();
    }
  });

  it('retires the old keys on every node: their sockets on the other nodes are disconnected, their tokens refused', async () => {
    const old = cluster.token('k2-alice');
    const sockets = await Promise.all([b, c, c].map((node) => connect(node.url, { token: old }, { timeoutMs: 10_000 })));
    const gone = sockets.map((s) => new Promise<string>((resolve) => s.socket.once('disconnect', (reason) => resolve(reason))));
    // no grace: every key but the new one retires the moment A answers
    await rotate(a, 0);
    expect(await Promise.all(gone)).to.deep.equal(['io server disconnect', 'io server disconnect', 'io server disconnect']);
    for (const node of [a, b, c]) {
      const refused = await connect(node.url, { token: old }).then(
        () => 'connected',
        (error: { data?: { code?: string } }) => error.data?.code,
      );
      expect(refused, node.id).to.equal('token_invalid');
    }
  });
});

describe('many nodes: an operator disabling an account (issue 32)', function () {
  this.timeout(60_000);
  requirePostgres();
  let cluster: TestCluster;
  let a: TestNode, b: TestNode, c: TestNode;
  useCluster(3, { started: (started, nodes) => ([cluster, [a, b, c]] = [started, nodes as [TestNode, TestNode, TestNode]]) });

  it("ends the account's sockets and tokens on every node, through the shared log", async () => {
    const password = 'correct horse battery';
    expect((await request('POST', `${a.url}/auth/register`, { username: 'acct-ann', password })).status).to.equal(201);
    const token = (await request('POST', `${b.url}/auth/login`, { username: 'acct-ann', password })).body.data.attributes.token as string;
    const sockets = await Promise.all([b, c].map((node) => connect(node.url, { token }, { timeoutMs: 10_000 })));
    const gone = sockets.map((s) => new Promise<string>((resolve) => s.socket.once('disconnect', (reason) => resolve(reason))));
    const operator = signToken(cluster.secret, 'ops', { role: 'admin', expiresIn: 3600 });
    const res = await request('PATCH', `${a.url}/control/accounts/acct-ann`, { data: { type: 'accounts', attributes: { disabled: true } } }, { token: operator });
    expect(res.status).to.equal(200);
    expect(await Promise.all(gone)).to.deep.equal(['io server disconnect', 'io server disconnect']);
    for (const node of [a, b, c]) expect((await request('GET', `${node.url}/auth/test-jwt`, undefined, { token })).status, node.id).to.equal(401);
  });
});

describe('many nodes: a node that hears no notification from the others (issue 25)', function () {
  this.timeout(30_000);
  requirePostgres();
  const dbPath = () => `cluster-deaf-${crypto.randomBytes(4).toString('hex')}`;
  const servers: TestServer[] = [];
  afterEach(async () => {
    closeAllSockets();
    for (const server of servers.splice(0)) await server.close();
  });

  /**
   * Node A as usual, and node B in the same process and database whose LISTEN hears nothing and
   * whose clock only moves by hand: B learns of A's commits only by asking the log, when it must.
   */
  async function twoNodes() {
    const shared = { store: 'postgres' as const, dbPath: dbPath(), env: { REDIS_URL } };
    const a = await startServer(shared);
    servers.push(a);
    const clock = new ManualClock();
    const deaf = (store: Store): Store =>
      new Proxy(store, {
        get(target, property) {
          if (property === 'listen') return async () => async () => {};
          const value = Reflect.get(target, property);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    const b = await startServer({ ...shared, env: { ...shared.env, JWT_SECRET: a.secret }, wrapStore: deaf, clock });
    servers.push(b);
    return { a, b, clock };
  }

  it('catches up with a rotation before signing, and before refusing a token of a key it does not know yet', async () => {
    const { a, b } = await twoNodes();
    const PASSWORD = 'correct horse battery staple';
    const login = async (node: TestServer) => (await request('POST', `${node.url}/auth/login`, { username: 'alice', password: PASSWORD })).body.data.attributes.token as string;
    const rotate = async () => {
      const rotation = await request('PUT', `${a.url}/auth/update-jwt-secret`, { secret: crypto.randomBytes(32).toString('hex'), graceSeconds: 3600 }, { token: a.adminToken() });
      expect(rotation.status).to.equal(200);
      return rotation.body.data.id as string;
    };
    const kidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;
    expect((await request('POST', `${a.url}/auth/register`, { username: 'alice', password: PASSWORD })).status).to.equal(201);
    // B signs with the key A's rotation made current, though it heard nothing of it
    const first = await rotate();
    expect(kidOf(await login(b))).to.equal(first);
    // a token of a key B does not know yet reaches B: B looks in the log before refusing it
    const second = await rotate();
    const fromA = await login(a);
    expect(kidOf(fromA)).to.equal(second);
    const socket = await connect(b.url, { token: fromA });
    expect(socket.ready.userId).to.equal('@alice');
  });

  it('delivers what the others committed on its next poll, the safety net for lost notifications', async () => {
    const { a, b, clock } = await twoNodes();
    const api = client(a.url, a.serviceToken());
    expect((await api.post('/control/subscription/subscribe?method=users:alice', doc(['posts', '1']))).status).to.be.oneOf([200, 201]);
    const alice = await connect(b.url, { token: b.token('alice', { expiresIn: 3600 }) });
    const res = await api.post('/control/notify?method=channels:posts-1', { event: 'changed', attributes: {} });
    expect(res.status).to.equal(202);
    clock.advance(TAIL_POLL_MS);
    const [[, meta]] = (await alice.waitFor('changed')) as [[unknown, { id: number }]];
    expect(meta.id).to.equal(Number(res.body.data.id));
  });
});
