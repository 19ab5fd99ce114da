/**
 * Presence and volatile events across nodes (contract §9 guarantees 5 and 6; issue 26): three real
 * node processes on one PostgreSQL database and one Redis prefix, sockets on other nodes than the
 * queries. Absences are proven by a state the cluster reports (a connection count) that comes after
 * the decision not to announce, never by a sleep.
 */
import { expect } from 'chai';
import { client, doc, expectJsonApiError, request } from './helpers/http.js';
import { signToken } from './helpers/server.js';
import { requireRedis, useCluster, type TestCluster, type TestNode } from './helpers/cluster.js';
import { requirePostgres } from './helpers/postgres.js';
import { connect, type TestSocket } from './helpers/sockets.js';

describe('many nodes: presence, typing, receipts and limits across nodes (contract §9, issue 26)', function () {
  this.timeout(60_000);
  requirePostgres();
  requireRedis();
  // a short node timeout, so that a killed node's users go offline within the test's patience; small
  // login and registration limits, to reach them through three nodes
  let cluster: TestCluster;
  let a: TestNode, b: TestNode, c: TestNode;
  useCluster(3, { env: { NODE_TIMEOUT: '2s', LOGIN_LIMIT: '3', REGISTER_LIMIT: '2' }, started: (started, nodes) => ([cluster, [a, b, c]] = [started, nodes as [TestNode, TestNode, TestNode]]) });

  const open = (node: TestNode, user: string) => connect(node.url, { token: cluster.token(user) }, { timeoutMs: 10_000 });
  const subscribe = async (users: string, ...resources: [string, string][]) => {
    const res = await cluster.api(a).post(`/control/subscription/subscribe?method=users:${users}`, doc(...resources));
    expect(res.status, JSON.stringify(res.body)).to.be.oneOf([200, 201]);
  };
  /** The presence events `socket` got about `user`, in order. */
  const presenceOf = (socket: TestSocket, user: string) =>
    socket.of('presence').map(([p]) => p as { userId: string; status: string }).filter((p) => p.userId === user).map((p) => p.status);
  /** How many sockets a node says `user` has, cluster-wide. */
  const connections = async (node: TestNode, user: string): Promise<number> => {
    const res = await cluster.api(node).get(`/control/search/online?page[size]=1000`);
    expect(res.status).to.equal(200);
    const found = (res.body.data as { id: string; attributes: { connections: number } }[]).find((u) => u.id === user);
    return found?.attributes.connections ?? 0;
  };
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };

  it('announces a user online when her first socket connects anywhere, offline when her last one closes, with tabs on two nodes', async () => {
    await subscribe('p1-alice,p1-bob', ['rooms', 'p1']);
    const bob = await open(a, 'p1-bob');
    const tab1 = await open(b, 'p1-alice');
    await bob.waitFor('presence');
    expect(presenceOf(bob, 'p1-alice')).to.deep.equal(['online']);
    const tab2 = await open(c, 'p1-alice');
    await until('both tabs count', async () => (await connections(a, 'p1-alice')) === 2);
    tab1.close();
    // the count says the disconnect was handled (and found another tab): no offline was announced
    await until('one tab counts', async () => (await connections(b, 'p1-alice')) === 1);
    expect(presenceOf(bob, 'p1-alice')).to.deep.equal(['online']);
    tab2.close();
    await bob.waitFor('presence', 2);
    expect(presenceOf(bob, 'p1-alice')).to.deep.equal(['online', 'offline']);
    expect(await connections(c, 'p1-alice')).to.equal(0);
  });

  it('answers presence:query, search/online and participants?online=true with the sockets of every node', async () => {
    await subscribe('p2-alice,p2-bob,p2-carol', ['rooms', 'p2']);
    const alice = await open(a, 'p2-alice');
    await open(c, 'p2-bob');
    const query = await alice.call('presence:query', { channel: 'rooms-p2' });
    expect(query).to.deep.equal({ ok: true, channel: 'rooms-p2', online: ['p2-alice', 'p2-bob'] });
    const participants = await cluster.api(b).get('/control/search/participants?channel=rooms-p2&online=true');
    expect(participants.status).to.equal(200);
    expect(participants.body.data.map((u: { id: string; attributes: { online: boolean } }) => [u.id, u.attributes.online])).to.deep.equal([
      ['p2-alice', true],
      ['p2-bob', true],
    ]);
    expect(await connections(b, 'p2-bob')).to.equal(1);
  });

  it('shows the operator every node\'s sockets and channel counts, and disconnects a socket on another node (issue 32)', async () => {
    await subscribe('p7-alice,p7-bob,p7-carol', ['rooms', 'p7']);
    const sockets = [await open(a, 'p7-alice'), await open(b, 'p7-bob'), await open(c, 'p7-alice')];
    const operator = client(b.url, signToken(cluster.secret, 'operator', { role: 'admin', expiresIn: 3600 }));
    const listed = await operator.get('/control/sockets?userId=p7-alice');
    expect(listed.status).to.equal(200);
    expect(listed.body.meta).to.deep.equal({ complete: true });
    expect(listed.body.data.map((r: { id: string; attributes: { node: string } }) => [r.id, r.attributes.node])).to.deep.equal(
      [
        [sockets[0]!.socket.id, a.id],
        [sockets[2]!.socket.id, c.id],
      ].sort(([x], [y]) => (x! < y! ? -1 : 1)),
    );
    const channels = await operator.get('/control/channels?prefix=rooms-p7');
    expect(channels.body.data.map((r: { id: string; attributes: object }) => [r.id, r.attributes])).to.deep.equal([['rooms-p7', { label: null, subscribers: 3, online: 2 }]]);
    expect(channels.body.meta).to.deep.equal({ complete: true });

    // node B disconnects alice's socket on node C
    const gone = new Promise((resolve) => sockets[2]!.socket.once('disconnect', resolve));
    expect((await operator.delete(`/control/sockets/${sockets[2]!.socket.id}`)).status).to.equal(204);
    await gone;
    expectJsonApiError(await operator.delete(`/control/sockets/${sockets[2]!.socket.id}`), 404, 'not_found');
    expect(sockets[0]!.socket.connected).to.equal(true);
  });

  it('carries typing and read receipts to members on the other nodes; history and unread agree on every node', async () => {
    await subscribe('p3-alice,p3-bob', ['rooms', 'p3']);
    const alice = await open(a, 'p3-alice');
    const bob = await open(b, 'p3-bob');
    expect((await alice.call('chat:typing', { channel: 'rooms-p3' })).ok).to.equal(true);
    const [[typing]] = await bob.waitFor('chat:typing');
    expect(typing).to.deep.equal({ channel: 'rooms-p3', userId: 'p3-alice' });
    const sent = await alice.call('chat:send', { channel: 'rooms-p3', body: 'hello' });
    expect(sent.ok).to.equal(true);
    const [[message]] = (await bob.waitFor('chat:message')) as [[{ id: number }]];
    expect((await bob.call('chat:read', { channel: 'rooms-p3', messageId: message.id })).ok).to.equal(true);
    const [[receipt]] = (await alice.waitFor('chat:receipt')) as [[{ userId: string; messageId: number }]];
    expect(receipt).to.include({ userId: 'p3-bob', messageId: message.id });
    // history, receipts and unread counts are the same whichever node a member asks
    const carol = await open(c, 'p3-bob');
    for (const asker of [alice, bob, carol]) {
      const history = await asker.call('chat:history', { channel: 'rooms-p3' });
      expect(history.messages.map((m: { id: number }) => m.id)).to.deep.equal([message.id]);
      expect(history.receipts).to.deep.include({ 'p3-bob': message.id });
    }
    expect((await carol.call('chat:unread', {})).unread['rooms-p3']).to.equal(0);
    expect((await alice.call('chat:unread', {})).unread['rooms-p3'] ?? 0).to.equal(0);
  });

  it('counts failed logins and registrations for the whole cluster, not per node', async () => {
    const PASSWORD = 'correct horse battery staple';
    const register = (node: TestNode, username: string) => request('POST', `${node.url}/auth/register`, { username, password: PASSWORD });
    expect((await register(a, 'p5-alice')).status).to.equal(201);
    expect((await register(b, 'p5-bob')).status).to.equal(201);
    // the third registration from this address, on a third node: over REGISTER_LIMIT=2
    expectJsonApiError(await register(c, 'p5-carol'), 429, 'rate_limited');
    const login = (node: TestNode, password: string) => request('POST', `${node.url}/auth/login`, { username: 'p5-alice', password });
    for (const node of [a, b, c]) expectJsonApiError(await login(node, 'wrong password'), 401, 'invalid_credentials');
    // three failures through three nodes: the fourth attempt is refused, even with the right password
    expectJsonApiError(await login(a, PASSWORD), 429, 'rate_limited');
  });

  it('names the node and the state of each dependency in /readyz, and labels /metrics by node with the tail lag', async () => {
    const ready = await request('GET', `${b.url}/readyz`);
    expect(ready.status).to.equal(200);
    expect(ready.body.meta).to.deep.equal({ status: 'ready', nodeId: 'node-b', checks: { store: 'ok', redis: 'ok' } });
    const metrics = String((await request('GET', `${c.url}/metrics`)).body);
    expect(metrics).to.match(/^chatty_sockets\{node="node-c"\} \d+$/m);
    expect(metrics).to.match(/^chatty_log_tail_lag\{node="node-c"\} \d+$/m);
  });

  // last: it kills node C
  it('counts the sockets of a node killed with kill -9 as offline within NODE_TIMEOUT, except users still on another node', async () => {
    await subscribe('p4-alice,p4-bob,p4-carol', ['rooms', 'p4']);
    const bob = await open(a, 'p4-bob');
    await open(c, 'p4-carol');
    await open(c, 'p4-alice');
    await open(b, 'p4-alice');
    await bob.waitFor('presence', 2);
    c.proc.kill('SIGKILL');
    await c.exited;
    await bob.waitFor('presence', 3, 15_000);
    expect(presenceOf(bob, 'p4-carol')).to.deep.equal(['online', 'offline']);
    expect(await connections(a, 'p4-carol')).to.equal(0);
    // alice's tab on B still counts: she stayed online
    expect(await connections(b, 'p4-alice')).to.equal(1);
    expect(presenceOf(bob, 'p4-alice')).to.deep.equal(['online']);
  });
});
