/**
 * Faults on many nodes (contract §9 guarantee 8; issue 26): three real node processes whose Redis
 * and PostgreSQL connections all go through TCP proxies of this test, which cut them (the shared
 * services themselves are never touched). And `kill -9` of a node in the middle of a stream.
 */
import { expect } from 'chai';
import { client, doc, expectJsonApiError, request, type ApiResponse } from './helpers/http.js';
import { signToken } from './helpers/server.js';
import { REDIS_URL, requireRedis, useCluster, type TestCluster, type TestNode } from './helpers/cluster.js';
import { requirePostgres } from './helpers/postgres.js';
import { connect, type TestSocket } from './helpers/sockets.js';
import { TcpProxy } from './helpers/tcp-proxy.js';
import { ADMIN_URL } from './helpers/postgres.js';

function accepted(res: ApiResponse): number {
  expect(res.status, JSON.stringify(res.body)).to.equal(202);
  return Number(res.body.data.id);
}

/** Notification ids of `event` a socket received, in order. */
const idsOf = (socket: TestSocket, event: string) => socket.of(event).map(([, meta]) => (meta as { id: number }).id);

/** Resolves once `check` holds, trying every 50 ms; for what has no event to wait for. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('many nodes: faults (contract §9 guarantee 8, issue 26)', function () {
  this.timeout(90_000);
  requirePostgres();
  requireRedis();
  let redisProxy: TcpProxy;
  let postgresProxy: TcpProxy;
  before(async () => {
    const redis = new URL(REDIS_URL);
    const postgres = new URL(ADMIN_URL);
    redisProxy = await TcpProxy.start(redis.hostname, Number(redis.port || 6379));
    postgresProxy = await TcpProxy.start(postgres.hostname, Number(postgres.port || 5432));
  });
  after(async () => {
    await redisProxy?.close();
    await postgresProxy?.close();
  });
  let cluster: TestCluster;
  let a: TestNode, b: TestNode, c: TestNode;
  useCluster(3, {
    env: () => ({ REDIS_URL: `redis://127.0.0.1:${redisProxy.port}` }),
    databaseVia: () => ({ host: '127.0.0.1', port: postgresProxy.port }),
    started: (started, nodes) => ([cluster, [a, b, c]] = [started, nodes as [TestNode, TestNode, TestNode]]),
  });
  afterEach(() => {
    redisProxy.restore();
    postgresProxy.restore();
  });

  const open = (node: TestNode, user: string, lastEventId?: number) =>
    connect(node.url, { token: cluster.token(user), ...(lastEventId !== undefined ? { lastEventId } : {}) }, { timeoutMs: 10_000 });
  const notify = async (node: TestNode, method: string, event: string, attributes: Record<string, unknown> = {}) =>
    accepted(await cluster.api(node).post(`/control/notify?method=${method}`, { event, attributes }));
  const subscribe = async (node: TestNode, users: string, ...resources: [string, string][]) => {
    const res = await cluster.api(node).post(`/control/subscription/subscribe?method=users:${users}`, doc(...resources));
    expect(res.status, JSON.stringify(res.body)).to.be.oneOf([200, 201]);
  };

  it('keeps notifications, subscriptions and chat reaching every node while Redis is cut, and recovers typing after', async () => {
    await subscribe(a, 'f1-bob', ['rooms', 'f1']);
    const bob = await open(b, 'f1-bob');
    redisProxy.cut();
    // a socket connects while Redis is unreachable, and a subscription made then reaches it
    const alice = await open(c, 'f1-alice');
    await subscribe(a, 'f1-alice', ['rooms', 'f1']);
    const id = await notify(b, 'channels:rooms-f1', 'changed', { during: 'redis cut' });
    await alice.waitFor('changed');
    await bob.waitFor('changed');
    expect(idsOf(alice, 'changed')).to.deep.equal([id]);
    const sent = await alice.call('chat:send', { channel: 'rooms-f1', body: 'still here' });
    expect(sent.ok, JSON.stringify(sent)).to.equal(true);
    await bob.waitFor('chat:message');
    // a presence query does not wait for Redis: it answers from the node's own counts
    const query = await alice.call('presence:query', { channel: 'rooms-f1' });
    expect(query).to.deep.include({ ok: true, online: ['f1-alice'] });
    // the operator's list of sockets answers with this node's own, saying it is not complete
    const operator = client(c.url, signToken(cluster.secret, 'operator', { role: 'admin', expiresIn: 3600 }));
    const sockets = await operator.get('/control/sockets?userId=f1-alice');
    expect(sockets.status).to.equal(200);
    expect(sockets.body.meta).to.deep.equal({ complete: false });
    expect(sockets.body.data.map((r: { id: string }) => r.id)).to.deep.equal([alice.socket.id]);
    const ready = await request('GET', `${a.url}/readyz`);
    expect(ready.status, 'Redis is not a reason to take a node out of the balancer').to.equal(200);
    expect(ready.body.meta.checks).to.deep.equal({ store: 'ok', redis: 'unreachable' });
    redisProxy.restore();
    // volatile events pause while Redis is cut; once the nodes have reconnected by themselves they flow again
    await until('typing crosses nodes again', async () => {
      await alice.call('chat:typing', { channel: 'rooms-f1' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      return bob.of('chat:typing').length > 0;
    });
    // and the presence counts made while Redis was away are put back
    await until('alice counts as online again', async () => {
      const online = await cluster.api(a).get('/control/search/online?page[size]=1000');
      return (online.body.data as { id: string }[]).some((u) => u.id === 'f1-alice');
    });
  });

  it('answers 503 unavailable and acks unavailable while PostgreSQL is cut, then resumes by itself with nothing acknowledged lost', async () => {
    await subscribe(a, 'f2-alice,f2-bob', ['rooms', 'f2']);
    const alice = await open(a, 'f2-alice');
    const bob = await open(c, 'f2-bob');
    const before = await notify(b, 'channels:rooms-f2', 'changed', { when: 'before' });
    await bob.waitFor('changed');
    postgresProxy.cut();
    expectJsonApiError(await cluster.api(b).post('/control/notify?method=channels:rooms-f2', { event: 'changed', attributes: {} }), 503, 'unavailable');
    const ack = await alice.call('chat:send', { channel: 'rooms-f2', body: 'while cut' });
    expect(ack).to.include({ ok: false });
    expect(ack.error.code).to.equal('unavailable');
    const ready = await request('GET', `${c.url}/readyz`);
    expect(ready.status).to.equal(503);
    expect(ready.body.meta.checks.store).to.equal('unreachable');
    postgresProxy.restore();
    // every node's pool reconnects by itself
    let after = 0;
    await until('a notify through B is accepted again', async () => {
      const res = await cluster.api(b).post('/control/notify?method=channels:rooms-f2', { event: 'changed', attributes: { when: 'after' } });
      if (res.status === 202) after = Number(res.body.data.id);
      return res.status === 202;
    });
    // and the tails: alice on A and bob on C get it (the listening connections came back too)
    await alice.waitFor('changed', 2, 15_000);
    await bob.waitFor('changed', 2, 15_000);
    expect(idsOf(bob, 'changed')).to.deep.equal([before, after]);
    const back = await open(b, 'f2-carol', 0);
    expect(back.ready.userId).to.equal('f2-carol');
  });

  // last: it kills node A
  it('loses nothing a node acknowledged before kill -9: its clients replay it on another node', async () => {
    await subscribe(b, 'f3-alice', ['posts', 'f3']);
    const alice = await open(a, 'f3-alice');
    const acknowledged: number[] = [];
    let stop = false;
    // four requests in flight at a time: some are cut off by the kill, unacknowledged
    const stream = Promise.all(
      Array.from({ length: 4 }, async (_, lane) => {
        for (let i = lane; !stop; i += 4) {
          const res = await cluster.api(a).post('/control/notify?method=channels:posts-f3', { event: 'streamed', attributes: { i } }).catch(() => undefined);
          if (!res || res.status !== 202) return;
          acknowledged.push(Number(res.body.data.id));
        }
      }),
    );
    await alice.waitFor('streamed', 20);
    // a socket can hear an event before its notify's answer is back with the client
    await until('20 notifies acknowledged', async () => acknowledged.length >= 20);
    a.proc.kill('SIGKILL');
    await a.exited;
    stop = true;
    await stream;
    expect(acknowledged.length).to.be.at.least(20);
    const seen = idsOf(alice, 'streamed');
    const back = await open(b, 'f3-alice', seen.at(-1));
    const replayed = idsOf(back, 'streamed');
    expect([...seen, ...replayed], 'seen before the kill, then replayed on B: every acknowledged id, once, in order').to.include.members(acknowledged);
    const all = [...seen, ...replayed];
    expect(new Set(all).size).to.equal(all.length);
    expect(all).to.deep.equal([...all].sort((x, y) => x - y));
  });
});
