/**
 * Webhooks (contract §10, issue 14): endpoints managed by admins, every event type delivered to a
 * real receiver on port 0 and verified there with the `standardwebhooks` library, retries in
 * order with the same `webhook-id`, timeouts, `failing`, disabled and deleted endpoints, channel
 * filters, and outbound safety.
 */
import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import { client, expectJsonApiError as expectError } from './helpers/http.js';
import { useWorld } from './helpers/world.js';
import { startReceiver, type Receiver } from './helpers/webhook-receiver.js';
import type { TestServer } from './helpers/server.js';
import { captureLog } from './helpers/log.js';
import { ManualClock } from './helpers/manual-clock.js';
import { compileComponent } from './helpers/openapi.js';
import { webhookSchemaName } from '../src/http/openapi.js';
import type { ReceivedCall } from './helpers/webhook-receiver.js';
import type { Store } from '../src/store/store.js';

/** The receiver listens on 127.0.0.1: allowed only with WEBHOOK_ALLOW_PRIVATE. */
const ALLOW = { WEBHOOK_ALLOW_PRIVATE: 'true' };
const ALL_EVENTS = ['chat.message', 'chat.read', 'chat.deleted', 'presence.online', 'presence.offline', 'subscription.changed', 'notification.accepted'];

const webhookBody = (attributes: Record<string, unknown>) => ({ data: { type: 'webhooks', attributes } });

async function createEndpoint(server: TestServer, attributes: Record<string, unknown>): Promise<{ id: string; secret: string; attributes: Record<string, unknown> }> {
  const res = await client(server.url, server.adminToken()).post('/control/webhooks', webhookBody(attributes));
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return { id: res.body.data.id, secret: res.body.data.attributes.secret, attributes: res.body.data.attributes };
}

describe('webhooks (contract §10)', function () {
  this.timeout(20_000);
  const world = useWorld({ env: ALLOW });
  const admin = () => client(world.server.url, world.server.adminToken());
  let receiver: Receiver;
  beforeEach(async () => (receiver = await startReceiver()));
  afterEach(() => receiver.close());

  describe('the routes', () => {
    it('creates an endpoint (201, its secret this once), lists and reads it without the secret, changes and deletes it', async () => {
      const res = await admin().post('/control/webhooks', webhookBody({ url: receiver.url, events: ['notification.accepted', 'chat.message', 'chat.message'], channels: ['posts-*'] }));
      expect(res.status).to.equal(201);
      const { id, attributes } = res.body.data;
      expect(res.headers.get('location')).to.equal(`/control/webhooks/${id}`);
      expect(attributes.secret).to.match(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(attributes).to.deep.include({ url: receiver.url, events: ['notification.accepted', 'chat.message'], channels: ['posts-*'], disabled: false, status: 'active', lastError: null, lag: 0 });

      const listed = await admin().get('/control/webhooks');
      expect(listed.status).to.equal(200);
      expect(listed.body.data.map((w: { id: string }) => w.id)).to.deep.equal([id]);
      expect(JSON.stringify(listed.body)).to.not.include(attributes.secret);
      const one = await admin().get(`/control/webhooks/${id}`);
      expect(one.body.data.attributes).to.not.have.property('secret');

      const patched = await admin().patch(`/control/webhooks/${id}`, webhookBody({ events: ['chat.read'], channels: null, disabled: true }));
      expect(patched.status).to.equal(200);
      expect(patched.body.data.attributes).to.deep.include({ events: ['chat.read'], channels: null, disabled: true, status: 'disabled' });
      expect(patched.body.data.attributes).to.not.have.property('secret');

      expect((await admin().delete(`/control/webhooks/${id}`)).status).to.equal(204);
      expectError(await admin().get(`/control/webhooks/${id}`), 404, 'not_found');
      expectError(await admin().delete(`/control/webhooks/${id}`), 404, 'not_found');
      expectError(await admin().patch(`/control/webhooks/${id}`, webhookBody({ disabled: false })), 404, 'not_found');
    });

    it('is for admins only: 403 to service and user tokens, 401 without one', async () => {
      const { id } = await createEndpoint(world.server, { url: receiver.url, events: ['chat.message'] });
      for (const [method, path] of [
        ['get', '/control/webhooks'],
        ['post', '/control/webhooks'],
        ['get', `/control/webhooks/${id}`],
        ['patch', `/control/webhooks/${id}`],
        ['delete', `/control/webhooks/${id}`],
        ['post', `/control/webhooks/${id}/rotate-secret`],
      ] as const) {
        const body = method === 'get' ? undefined : webhookBody({ url: receiver.url, events: ['chat.message'] });
        expectError(await world.api[method](path, body), 403, 'forbidden');
        expectError(await client(world.server.url, world.server.token('alice'))[method](path, body), 403, 'forbidden');
        expectError(await client(world.server.url)[method](path, body), 401, 'token_missing');
      }
      expect((await admin().get(`/control/webhooks/${id}`)).status).to.equal(200);
    });

    it('refuses bad documents with 422 and a pointer, creating nothing', async () => {
      const cases: [unknown, string][] = [
        [webhookBody({ url: 'ftp://example.com/x', events: ['chat.message'] }), '/data/attributes/url'],
        [webhookBody({ url: 'not a url', events: ['chat.message'] }), '/data/attributes/url'],
        [webhookBody({ url: 'https://user:pw@example.com/', events: ['chat.message'] }), '/data/attributes/url'],
        [webhookBody({ url: receiver.url, events: [] }), '/data/attributes/events'],
        [webhookBody({ url: receiver.url, events: ['chat.typing'] }), '/data/attributes/events/0'],
        [webhookBody({ url: receiver.url }), '/data/attributes/events'],
        [webhookBody({ url: receiver.url, events: ['chat.message'], channels: ['has space'] }), '/data/attributes/channels/0'],
        [webhookBody({ url: receiver.url, events: ['chat.message'], channels: [] }), '/data/attributes/channels'],
        [webhookBody({ url: receiver.url, events: ['chat.message'], secret: 'whsec_mine' }), '/data/attributes'],
        [{ data: { type: 'hooks', attributes: { url: receiver.url, events: ['chat.message'] } } }, '/data/type'],
      ];
      for (const [body, pointer] of cases) {
        const res = await admin().post('/control/webhooks', body);
        expectError(res, 422, 'validation_failed', { pointer });
      }
      expect((await admin().get('/control/webhooks')).body.data).to.deep.equal([]);
    });

    it('writes an audit line for each change, never with the secret', async () => {
      const { logger, lines, text } = captureLog('warn');
      await world.start({ env: ALLOW, logger });
      const { id, secret } = await createEndpoint(world.server, { url: receiver.url, events: ['chat.message'] });
      await admin().patch(`/control/webhooks/${id}`, webhookBody({ disabled: true }));
      const rotated = (await admin().post(`/control/webhooks/${id}/rotate-secret`)).body.data.attributes.secret;
      await admin().delete(`/control/webhooks/${id}`);
      const audits = lines.filter((line) => line.audit === 'webhook_changed');
      expect(audits.map((line) => [line.action, line.webhookId, line.by])).to.deep.equal(['created', 'changed', 'secret_rotated', 'deleted'].map((action) => [action, id, 'operator']));
      expect(audits[0]).to.include({ url: receiver.url });
      expect(text()).to.not.include(secret.slice(6)).and.not.include(rotated.slice(6));
    });

    it('rotates the secret: calls are signed with the new one and, for 24 h, the old one too', async () => {
      const { id, secret: old } = await createEndpoint(world.server, { url: receiver.url, events: ['notification.accepted'] });
      const rotated = await admin().post(`/control/webhooks/${id}/rotate-secret`);
      expect(rotated.status).to.equal(200);
      const fresh = rotated.body.data.attributes.secret;
      expect(fresh).to.match(/^whsec_/).and.not.equal(old);
      await world.notify('users:alice', 'hello');
      const [call] = await receiver.waitForDelivered(1);
      receiver.verify(call!, fresh);
      receiver.verify(call!, old);
      expect(call!.signature.split(' ')).to.have.length(2);
    });
  });

  describe('delivery', () => {
    it('sends notification.accepted, signed as Standard Webhooks defines it, with the id the notify answered', async () => {
      const { secret } = await createEndpoint(world.server, { url: receiver.url, events: ['notification.accepted'] });
      const id = await world.notify('channels:posts-1,posts-2', 'post.updated', { title: 'x' });
      const [call] = await receiver.waitForDelivered(1);
      expect(receiver.verify(call!, secret)).to.deep.include({ type: 'notification.accepted' });
      expectDocumented(call!);
      expect(call!.body.data).to.deep.equal({ id: String(id), event: 'post.updated', mode: 'channels', targets: ['posts-1', 'posts-2'] });
      expect(call!.id).to.equal(`evt_${id}`);
      expect(Date.parse(call!.body.timestamp)).to.be.closeTo(Date.now(), 10_000);
      expect(Number(call!.timestamp)).to.be.closeTo(Date.now() / 1000, 10);
      expect(call!.headers['content-type']).to.equal('application/json');
      // the contract's own words: v1, base64 HMAC-SHA256 of "<id>.<timestamp>.<body>", keyed by the decoded secret
      const expected = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64')).update(`${call!.id}.${call!.timestamp}.${call!.raw}`).digest('base64');
      expect(call!.signature).to.equal(`v1,${expected}`);
      expect(() => receiver.verify(call!, `whsec_${Buffer.alloc(32, 1).toString('base64')}`)).to.throw();
    });

    it('starts at the head of the log: nothing from before the endpoint existed', async () => {
      await world.notify('users:alice', 'before');
      await createEndpoint(world.server, { url: receiver.url, events: ['notification.accepted'] });
      await world.notify('users:alice', 'after');
      const calls = await receiver.waitForDelivered(1);
      await world.notify('users:alice', 'later');
      await receiver.waitForDelivered(2);
      expect(receiver.calls.map((c) => c.body.data.event)).to.deep.equal(['after', 'later']);
      expect(calls).to.have.length.at.least(1);
    });

    it('sends every event type, each verified: chat.message with the offline members, chat.read, chat.deleted, presence, subscription.changed', async () => {
      const { secret } = await createEndpoint(world.server, { url: receiver.url, events: ALL_EVENTS });
      // carol is a member who never connects: offline when the message is accepted
      await world.subscribe(['alice', 'bob', 'carol'], ['rooms', '1']);
      const alice = await world.open('alice');
      const bob = await world.open('bob');
      const sent = await alice.call('chat:send', { channel: 'rooms-1', body: 'hi all', clientId: 'c1' });
      expect(sent.ok).to.equal(true);
      expect((await bob.call('chat:read', { channel: 'rooms-1', messageId: sent.message.id })).advanced).to.equal(true);
      expect((await admin().delete(`/control/conversations/rooms-1/messages/${sent.message.id}`)).status).to.equal(200);
      bob.close();
      const types = () => receiver.delivered().map((c) => c.body.type);
      await waitUntil(() => types().includes('presence.offline'));
      for (const call of receiver.delivered()) {
        receiver.verify(call, secret);
        expectDocumented(call);
      }
      const of = (type: string) => receiver.delivered().filter((c) => c.body.type === type).map((c) => c.body.data);
      expect(of('subscription.changed')).to.have.deep.members(['alice', 'bob', 'carol'].map((userId) => ({ userId, added: ['rooms-1'], removed: [] })));
      expect(of('presence.online')).to.deep.equal([{ userId: 'alice' }, { userId: 'bob' }]);
      expect(of('chat.message')).to.deep.equal([{ ...sent.message, offline: ['carol'] }]);
      expect(of('chat.read')).to.have.length(1);
      expect(of('chat.read')[0]).to.deep.include({ channel: 'rooms-1', userId: 'bob', messageId: sent.message.id });
      expect(of('chat.deleted')).to.deep.equal([{ id: sent.message.id, channel: 'rooms-1' }]);
      expect(of('presence.offline')).to.deep.equal([{ userId: 'bob' }]);
      // in log order: the subscription, the connections, the message, the read, the deletion, the disconnect
      expect(types()).to.deep.equal([...Array(3).fill('subscription.changed'), 'presence.online', 'presence.online', 'chat.message', 'chat.read', 'chat.deleted', 'presence.offline']);
      // each delivery has an id of its own
      expect(new Set(receiver.delivered().map((c) => c.id)).size).to.equal(receiver.delivered().length);
    });

    it('says which members of a private conversation were offline', async () => {
      await createEndpoint(world.server, { url: receiver.url, events: ['chat.message'] });
      const alice = await world.open('alice');
      const sent = await alice.call('chat:send', { to: 'bob', body: 'are you there?' });
      const [call] = await receiver.waitForDelivered(1);
      expect(call!.body.data).to.deep.include({ id: sent.message.id, channel: 'dm:alice:bob', from: 'alice', offline: ['bob'] });
    });

    it('lists at most WEBHOOK_OFFLINE_LIMIT offline members, the first by id, and says the list was cut', async () => {
      await world.start({ env: { ...ALLOW, WEBHOOK_OFFLINE_LIMIT: '2' } });
      await createEndpoint(world.server, { url: receiver.url, events: ['chat.message'] });
      await world.subscribe(['alice', 'dora', 'bob', 'carol', 'eve'], ['rooms', '9']);
      const alice = await world.open('alice');
      await alice.call('chat:send', { channel: 'rooms-9', body: 'who is there?' });
      await world.subscribe(['alice', 'bob'], ['rooms', '10']);
      await alice.call('chat:send', { channel: 'rooms-10', body: 'just us' });
      const calls = await receiver.waitForDelivered(2);
      calls.forEach(expectDocumented);
      const [cut, whole] = calls.map((c) => c.body.data);
      expect(cut).to.deep.include({ offline: ['bob', 'carol'], offlineTruncated: true });
      expect(whole).to.deep.include({ offline: ['bob'] });
      expect(whole).to.not.have.property('offlineTruncated');
    });

    it('stops sending when it cannot renew its lease (the database away), and resumes once it can', async () => {
      let refuse = false;
      const clock = new ManualClock();
      const refusing = (store: Store): Store =>
        new Proxy(store, {
          get(target, key) {
            const value = Reflect.get(target, key, target);
            if (typeof value !== 'function') return value;
            if (key !== 'claimWebhooks') return value.bind(target);
            return async (...args: unknown[]) => {
              if (refuse) throw new Error('database away');
              return value.apply(target, args);
            };
          },
        });
      await world.start({ clock, wrapStore: refusing, env: ALLOW });
      const { id } = await createEndpoint(world.server, { url: receiver.url, events: ['notification.accepted'] });
      await world.notify('users:alice', 'before');
      await receiver.waitForDelivered(1);
      refuse = true;
      // past the last renewal's lease, less the margin: another node could take the endpoint soon
      clock.advance(11_000);
      await world.notify('users:alice', 'while-away');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(receiver.calls.map((c) => c.body.data.event)).to.deep.equal(['before']);
      refuse = false;
      // any change of the endpoint makes this node claim again
      expect((await admin().patch(`/control/webhooks/${id}`, webhookBody({ disabled: false }))).status).to.equal(200);
      await receiver.waitForDelivered(2);
      expect(receiver.calls.map((c) => c.body.data.event)).to.deep.equal(['before', 'while-away']);
    });

    it('filters by channel: names and prefix* patterns; events about users only pass on their type', async () => {
      await createEndpoint(world.server, { url: receiver.url, events: ['notification.accepted', 'presence.online'], channels: ['teams-3', 'posts-*'] });
      await world.notify('channels:rooms-1', 'no');
      await world.notify('channels:teams-3', 'yes-name');
      await world.notify('channels:rooms-1,posts-77', 'yes-prefix');
      await world.notify('users:alice', 'users-pass');
      await world.open('zed');
      await world.notify('channels:teams-30', 'no-longer-name');
      await world.notify('channels:posts-1', 'last');
      await receiver.waitForDelivered(5);
      expect(receiver.delivered().map((c) => (c.body.type === 'presence.online' ? 'online' : c.body.data.event))).to.deep.equal(['yes-name', 'yes-prefix', 'users-pass', 'online', 'last']);
    });

    it('retries a failing call with the same webhook-id, in order, and delivers everything once the receiver recovers', async () => {
      const { id } = await createEndpoint(world.server, { url: receiver.url, events: ['notification.accepted'] });
      receiver.answer((_call, index) => (index < 2 ? 500 : 204));
      const ids = [await world.notify('users:alice', 'one'), await world.notify('users:alice', 'two'), await world.notify('users:alice', 'three')];
      await receiver.waitForDelivered(3);
      expect(receiver.calls.map((c) => [c.id, c.answered])).to.deep.equal([
        [`evt_${ids[0]}`, 500],
        [`evt_${ids[0]}`, 500],
        [`evt_${ids[0]}`, 204],
        [`evt_${ids[1]}`, 204],
        [`evt_${ids[2]}`, 204],
      ]);
      const [attributes] = [(await admin().get(`/control/webhooks/${id}`)).body.data.attributes];
      expect(attributes).to.include({ status: 'active', lastError: 'HTTP 500: receiver says no', failingSince: null });
    });

    it('times out a hung call and retries it, while notify and the other endpoints go on', async () => {
      await world.start({ env: { ...ALLOW, WEBHOOK_TIMEOUT: '300ms' } });
      const other = await startReceiver();
      try {
        const { id } = await createEndpoint(world.server, { url: receiver.url, events: ['notification.accepted'] });
        await createEndpoint(world.server, { url: other.url, events: ['notification.accepted'] });
        receiver.answer((_call, index) => (index === 0 ? 'hang' : 204));
        const alice = await world.open('alice');
        // while the first endpoint hangs, notifies are answered and delivered, and the other endpoint gets them all
        for (let i = 0; i < 20; i++) await world.notify('users:alice', 'tick', { i });
        await alice.waitFor('tick', 20);
        await other.waitForDelivered(20);
        await receiver.waitForDelivered(20);
        expect(receiver.calls[0]!.answered).to.equal('hung');
        expect(receiver.calls[1]!.id).to.equal(receiver.calls[0]!.id);
        expect(receiver.delivered().map((c) => c.body.data.id)).to.deep.equal(other.delivered().map((c) => c.body.data.id));
        const attributes = (await admin().get(`/control/webhooks/${id}`)).body.data.attributes;
        expect(attributes.lastError).to.equal('no answer within 300 ms');
      } finally {
        await other.close();
      }
    });

    it('reads failing after WEBHOOK_RETRY_FOR, says why, keeps retrying, and is active again once delivered', async () => {
      await world.start({ env: { ...ALLOW, WEBHOOK_RETRY_FOR: '1s' } });
      const { id } = await createEndpoint(world.server, { url: receiver.url, events: ['notification.accepted'] });
      receiver.answer(503);
      await world.notify('users:alice', 'doomed');
      await receiver.waitForCalls(2);
      await waitUntil(async () => (await admin().get(`/control/webhooks/${id}`)).body.data.attributes.status === 'failing');
      const failing = (await admin().get(`/control/webhooks/${id}`)).body.data.attributes;
      expect(failing.lastError).to.equal('HTTP 503: receiver says no');
      expect(Date.parse(failing.failingSince)).to.be.at.most(Date.parse(failing.lastErrorAt));
      receiver.answer(204);
      await receiver.waitForDelivered(1, 15_000);
      await waitUntil(async () => (await admin().get(`/control/webhooks/${id}`)).body.data.attributes.status === 'active');
    });

    it('sends nothing to a disabled endpoint, skips what happened meanwhile when re-enabled, and nothing once deleted', async () => {
      const { id } = await createEndpoint(world.server, { url: receiver.url, events: ['notification.accepted'] });
      await world.notify('users:alice', 'first');
      await receiver.waitForDelivered(1);
      await admin().patch(`/control/webhooks/${id}`, webhookBody({ disabled: true }));
      await world.notify('users:alice', 'while-disabled');
      expect((await admin().get(`/control/webhooks/${id}`)).body.data.attributes).to.include({ status: 'disabled', lag: 0 });
      await admin().patch(`/control/webhooks/${id}`, webhookBody({ disabled: false }));
      await world.notify('users:alice', 'enabled-again');
      await receiver.waitForDelivered(2);
      await admin().delete(`/control/webhooks/${id}`);
      await world.notify('users:alice', 'deleted');
      // a later endpoint's delivery shows the log went past it
      const later = await startReceiver();
      try {
        await createEndpoint(world.server, { url: later.url, events: ['notification.accepted'] });
        await world.notify('users:alice', 'marker');
        await later.waitForDelivered(1);
      } finally {
        await later.close();
      }
      expect(receiver.calls.map((c) => c.body.data.event)).to.deep.equal(['first', 'enabled-again']);
    });

    it('counts deliveries, failures and lag per endpoint in /metrics', async () => {
      const { id } = await createEndpoint(world.server, { url: receiver.url, events: ['notification.accepted'] });
      receiver.answer((_call, index) => (index === 0 ? 500 : 204));
      await world.notify('users:alice', 'one');
      await world.notify('users:alice', 'two');
      await receiver.waitForDelivered(2);
      const metrics = await (await fetch(`${world.server.url}/metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*endpoint="${id}"[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
      expect(value('chatty_webhook_deliveries_total')).to.equal(2);
      expect(value('chatty_webhook_failures_total')).to.equal(1);
      expect(value('chatty_webhook_lag_events')).to.be.a('number').and.at.least(0);
    });

    it('warns at start when HISTORY_TTL is shorter than WEBHOOK_RETRY_FOR and an endpoint exists', async () => {
      const warning = 'HISTORY_TTL is shorter than WEBHOOK_RETRY_FOR: a failing webhook endpoint may find its oldest events pruned';
      const env = { ...ALLOW, JWT_SECRET: world.server.secret, HISTORY_TTL: '1h', WEBHOOK_RETRY_FOR: '2h' };
      const quiet = captureLog('warn');
      await world.start({ dbPath: world.server.dbPath, logger: quiet.logger, env });
      expect(quiet.lines.map((line) => line.msg), 'no endpoint, nothing to warn about').to.not.include(warning);
      await createEndpoint(world.server, { url: receiver.url, events: ['chat.message'] });
      const { logger, lines } = captureLog('warn');
      await world.start({ dbPath: world.server.dbPath, logger, env });
      expect(lines.map((line) => line.msg)).to.include(warning);
    });
  });

  describe('outbound safety', () => {
    it('refuses loopback, link-local and private addresses by default (422), by name too', async () => {
      await world.start({});
      for (const url of ['http://127.0.0.1:9/x', 'http://localhost:9/x', 'https://10.1.2.3/x', 'https://192.168.0.1/', 'http://169.254.169.254/latest/meta-data', 'http://[::1]:9/', 'http://[fd00::1]/', 'http://[::ffff:127.0.0.1]/', 'http://0.0.0.0/']) {
        expectError(await admin().post('/control/webhooks', webhookBody({ url, events: ['chat.message'] })), 422, 'validation_failed', { pointer: '/data/attributes/url' });
      }
      expect((await admin().get('/control/webhooks')).body.data).to.deep.equal([]);
    });

    it('follows no redirect, and reads only the start of an answer', async () => {
      await world.start({ env: { ...ALLOW, WEBHOOK_TIMEOUT: '3s' } });
      const http = await import('node:http');
      const redirecting = http.createServer((_req, res) => res.writeHead(302, { location: receiver.url }).end());
      // an answer that never ends: only a bounded read gets to say what it was before the deadline
      const chatty = http.createServer((req, res) => {
        req.resume();
        res.writeHead(500, { 'content-type': 'text/plain' });
        const timer = setInterval(() => res.write('x'.repeat(1000)), 5);
        res.on('close', () => clearInterval(timer));
      });
      for (const server of [redirecting, chatty]) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const urlOf = (server: typeof chatty) => `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
      try {
        const moved = await createEndpoint(world.server, { url: urlOf(redirecting), events: ['notification.accepted'] });
        const big = await createEndpoint(world.server, { url: urlOf(chatty), events: ['notification.accepted'] });
        await world.notify('users:alice', 'somewhere');
        const lastError = async (endpoint: string) => (await admin().get(`/control/webhooks/${endpoint}`)).body.data.attributes.lastError as string | null;
        await waitUntil(async () => (await lastError(moved.id)) !== null && (await lastError(big.id)) !== null);
        expect(await lastError(moved.id)).to.equal('HTTP 302');
        expect(await lastError(big.id)).to.equal(`HTTP 500: ${'x'.repeat(200)}`);
        expect(receiver.calls, 'the redirect was not followed').to.deep.equal([]);
      } finally {
        for (const server of [redirecting, chatty]) {
          server.closeAllConnections();
          server.close();
        }
      }
    });

    it('checks the address again at call time: an endpoint saved while allowed is refused once it is not', async () => {
      const { id } = await createEndpoint(world.server, { url: receiver.url, events: ['notification.accepted'] });
      // by name: the address is checked where the connection resolves it, as DNS answers then
      const byName = await createEndpoint(world.server, { url: receiver.url.replace('127.0.0.1', 'localhost'), events: ['notification.accepted'] });
      await world.start({ dbPath: world.server.dbPath, env: { JWT_SECRET: world.server.secret } });
      await world.notify('users:alice', 'never');
      const lastError = async (endpoint: string) => (await admin().get(`/control/webhooks/${endpoint}`)).body.data.attributes.lastError as string | null;
      await waitUntil(async () => (await lastError(id)) !== null && (await lastError(byName.id)) !== null);
      expect(await lastError(id)).to.equal('127.0.0.1 is a loopback, link-local or private address');
      expect(await lastError(byName.id)).to.match(/^localhost resolves to (127\.0\.0\.1|::1), a loopback, link-local or private address$/);
      expect(receiver.calls).to.deep.equal([]);
    });
  });
});

/** Checks a call's body against its schema in /openapi.json (`webhooks`, contract §10). */
function expectDocumented(call: ReceivedCall): void {
  const validate = compileComponent(webhookSchemaName(call.body.type));
  expect(validate(call.body), `${call.body.type}: ${JSON.stringify(validate.errors)}`).to.equal(true);
}

/** Polls `check` every 20 ms until it holds (10 s at most). */
async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

