/**
 * Webhooks on many nodes (contract §10, issue 14): each endpoint is served by one node at a time,
 * the one holding its lease in the database, so every event is sent once and in order whichever
 * node accepted it; when that node is killed (`kill -9`, no goodbye), another takes the endpoint
 * over from its stored cursor once the lease runs out, and nothing is lost.
 */
import { expect } from 'chai';
import pg from 'pg';
import { client } from './helpers/http.js';
import { signToken } from './helpers/server.js';
import { requireRedis, useCluster, type TestCluster, type TestNode } from './helpers/cluster.js';
import { requirePostgres } from './helpers/postgres.js';
import { startReceiver, type Receiver } from './helpers/webhook-receiver.js';

describe('many nodes: webhooks (contract §10, issue 14)', function () {
  this.timeout(90_000);
  requirePostgres();
  requireRedis();
  let cluster: TestCluster;
  let nodes: TestNode[];
  useCluster(2, { env: { WEBHOOK_ALLOW_PRIVATE: 'true' }, started: (started, all) => ([cluster, nodes] = [started, all]) });
  let receiver: Receiver;
  beforeEach(async () => (receiver = await startReceiver()));
  afterEach(() => receiver.close());

  const notify = async (node: TestNode, i: number) => {
    const res = await cluster.api(node).post('/control/notify?method=users:alice', { event: 'tick', attributes: { i } });
    expect(res.status).to.equal(202);
    return `evt_${res.body.data.id}`;
  };
  const leaseOwner = async (): Promise<string | null> => {
    const db = new pg.Client({ connectionString: cluster.db.url });
    await db.connect();
    try {
      return (await db.query<{ lease_owner: string | null }>('SELECT lease_owner FROM webhooks')).rows[0]?.lease_owner ?? null;
    } finally {
      await db.end();
    }
  };

  it('sends each event once, in order, from whichever node; a killed holder is taken over without a loss', async () => {
    const [a, b] = nodes as [TestNode, TestNode];
    const admin = client(a.url, signToken(cluster.secret, 'operator', { role: 'admin', expiresIn: 3600 }));
    const created = await admin.post('/control/webhooks', { data: { type: 'webhooks', attributes: { url: receiver.url, events: ['notification.accepted'] } } });
    expect(created.status).to.equal(201);
    // B hears of the endpoint through the log: its own list says so
    const adminOfB = client(b.url, signToken(cluster.secret, 'operator', { role: 'admin', expiresIn: 3600 }));
    expect((await adminOfB.get('/control/webhooks')).body.data.map((w: { id: string }) => w.id)).to.deep.equal([created.body.data.id]);

    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await notify(i % 2 === 0 ? a : b, i));
    await receiver.waitForDelivered(10);
    expect(receiver.calls.map((c) => c.id), 'once each, in log order, though both nodes accepted them').to.deep.equal(ids);

    const owner = await leaseOwner();
    const holder = nodes.find((node) => node.id === owner);
    expect(holder, 'a node holds the lease').to.not.equal(undefined);
    const survivor = holder === a ? b : a;
    // the holder dies with calls pending: the receiver hangs on the next one
    receiver.answer((_call, index) => (index < 10 ? 204 : 'hang'));
    ids.push(await notify(survivor, 10));
    await receiver.waitForCalls(11);
    holder!.proc.kill('SIGKILL');
    await holder!.exited;
    receiver.answer(204);
    for (let i = 11; i < 20; i++) ids.push(await notify(survivor, i));
    // the survivor takes over once the lease (15 s) runs out
    while (!receiver.delivered().some((c) => c.id === ids[19])) await receiver.waitForDelivered(receiver.delivered().length + 1, 40_000);
    const delivered = receiver.delivered().map((c) => c.id);
    expect(delivered.filter((id, i) => delivered.indexOf(id) === i), 'every event, in order').to.deep.equal(ids);
    expect(await leaseOwner()).to.equal(survivor.id);
  });
});
