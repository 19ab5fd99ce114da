/**
 * Webhooks survive `kill -9` (contract §10, issue 14): the real server as a child process is
 * killed while deliveries are pending, and restarted on the same database: every event arrives,
 * in order, and an event delivered again keeps its `webhook-id` (and body), so the receiver can
 * deduplicate.
 */
import crypto from 'node:crypto';
import { expect } from 'chai';
import { client } from './helpers/http.js';
import { signToken, tempDbPath } from './helpers/server.js';
import { defaultTestStore, serverDatabase } from './helpers/server-store.js';
import { requireBuild, startServerProcess, stopServerProcesses } from './helpers/server-process.js';
import { startReceiver, type Receiver } from './helpers/webhook-receiver.js';

describe('webhooks and kill -9 (contract §10)', function () {
  this.timeout(60_000);
  let receiver: Receiver;
  before(requireBuild);
  beforeEach(async () => (receiver = await startReceiver()));
  afterEach(async () => {
    await stopServerProcesses();
    await receiver.close();
  });

  it('delivers every pending event after a restart, in order, a repeated one with the same id and body', async () => {
    const database = await serverDatabase(defaultTestStore, tempDbPath());
    const secret = crypto.randomBytes(32).toString('hex');
    const env = { DATABASE_URL: database.url, JWT_SECRET: secret, WEBHOOK_ALLOW_PRIVATE: 'true' };
    try {
      let server = await startServerProcess(env);
      const admin = () => client(server.url, signToken(secret, 'operator', { role: 'admin', expiresIn: 3600 }));
      const service = () => client(server.url, signToken(secret, 'app', { role: 'service', expiresIn: 3600 }));
      const created = await admin().post('/control/webhooks', { data: { type: 'webhooks', attributes: { url: receiver.url, events: ['notification.accepted'] } } });
      expect(created.status).to.equal(201);
      const key = created.body.data.attributes.secret as string;
      // the first ten are delivered, the eleventh hangs: the rest are pending when the server dies
      receiver.answer((_call, index) => (index < 10 ? 204 : 'hang'));
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) {
        const res = await service().post('/control/notify?method=users:alice', { event: 'tick', attributes: { i } });
        expect(res.status).to.equal(202);
        ids.push(`evt_${res.body.data.id}`);
      }
      await receiver.waitForCalls(11);
      server.proc.kill('SIGKILL');
      await server.exited;
      const beforeCrash = receiver.calls.length;

      receiver.answer(204);
      server = await startServerProcess(env);
      // a repeated delivery counts too: wait for the last event itself
      while (!receiver.delivered().some((c) => c.id === ids[39])) await receiver.waitForDelivered(receiver.delivered().length + 1, 30_000);
      const delivered = receiver.delivered();
      const uniqueInOrder = delivered.map((c) => c.id).filter((id, i, all) => all.indexOf(id) === i);
      expect(uniqueInOrder, 'every event, in log order').to.deep.equal(ids);
      // after the restart: in order from where the stored cursor was, nothing skipped
      const after = receiver.calls.slice(beforeCrash).map((c) => c.id);
      const from = ids.indexOf(after[0]!);
      expect(from).to.be.within(0, 10);
      expect(after).to.deep.equal(ids.slice(from));
      // a repeated delivery is the same call: same id, same body, verified with the same secret
      for (const call of receiver.calls) {
        receiver.verify(call, key);
        const first = receiver.calls.find((c) => c.id === call.id)!;
        expect(call.raw).to.equal(first.raw);
      }
    } finally {
      database.release();
    }
  });
});
