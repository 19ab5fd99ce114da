/**
 * The Node SDK (issue 30, `chatty/client`) against a real server on port 0: every call, paging
 * through more than one page, each typed error, and a notify whose first answer is lost on the way
 * back (a proxy that cuts the connection once the server has answered): retried with the same
 * Idempotency-Key, it notifies exactly once.
 */
import http from 'node:http';
import net from 'node:net';
import { expect } from 'chai';
import { Chatty, ChattyApiError, ChattyNetworkError, ChattyWebhookError, verifyWebhook } from '../src/sdk/client.js';
import { startReceiver, type Receiver } from './helpers/webhook-receiver.js';
import { connect } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

/** Resolves with what `promise` rejected with; fails if it resolved. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/**
 * A proxy in front of the server that, on its first connection, lets the request through and cuts
 * the connection as the answer starts to come back: the server did the work, the client never
 * hears of it. Later connections pass untouched.
 */
async function losesFirstAnswer(port: number): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const first = connections++ === 0;
    const upstream = net.connect({ host: '127.0.0.1', port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('close', () => sockets.delete(socket));
    }
    client.pipe(upstream);
    if (first) upstream.once('data', () => (client.resetAndDestroy(), upstream.destroy()));
    else upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connections: () => connections,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * An HTTP front that answers the first `failures` requests itself with `503 unavailable` (as a
 * node whose database is down would) and forwards the rest to the server, headers included.
 */
async function unavailableFirst(port: number, failures: number): Promise<{ url: string; seen: { key: string | null }[]; close(): Promise<void> }> {
  const seen: { key: string | null }[] = [];
  const server = http.createServer(async (req, res) => {
    seen.push({ key: (req.headers['idempotency-key'] as string | undefined) ?? null });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (seen.length <= failures) {
      res.writeHead(503, { 'content-type': 'application/vnd.api+json' });
      res.end(JSON.stringify({ errors: [{ status: '503', code: 'unavailable', title: 'Service unavailable', detail: 'The database is unreachable' }] }));
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => name !== 'host' && name !== 'content-length')) as Record<string, string>;
    const answer = await fetch(`http://127.0.0.1:${port}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('the Node SDK, chatty/client (issue 30)', () => {
  const world = useWorld();
  const sdk = (options: Partial<ConstructorParameters<typeof Chatty>[0]> = {}) => new Chatty({ url: world.server.url, secret: world.server.secret, backoffMs: 1, ...options });

  it('notifies channels, channels-efficient and users, with add and its own Idempotency-Key', async () => {
    const chatty = sdk();
    await chatty.subscribe({ users: ['alice'] }, { data: [{ type: 'posts', id: '1' }, { type: 'posts', id: '2' }] });
    const alice = await world.open('alice');
    const viaChannels = await chatty.notify({ channels: ['posts-1', 'posts-2'] }, 'changed', { n: 1 }, { add: ['origin'] });
    expect(viaChannels).to.include({ event: 'changed', mode: 'channels', repeated: false });
    expect(viaChannels.targets).to.deep.equal(['posts-1', 'posts-2']);
    await chatty.notify({ channelsEfficient: ['posts-2', 'posts-1'] }, 'once', {}, { add: ['origin'] });
    await chatty.notify({ users: ['alice'] }, 'direct', { hello: 'alice' });
    await world.flush(alice);
    expect(alice.of('changed').map(([payload]) => payload)).to.deep.equal([{ n: 1, origin: 'posts-1' }, { n: 1, origin: 'posts-2' }]);
    expect(alice.of('once').map(([payload]) => payload)).to.deep.equal([{ origin: 'posts-2' }]);
    expect(alice.of('direct').map(([payload]) => payload)).to.deep.equal([{ hello: 'alice' }]);

    // a key given by the caller: the repeat is answered from the log and sends nothing
    const first = await chatty.notify({ users: ['alice'] }, 'keyed', {}, { idempotencyKey: 'order-42' });
    const again = await chatty.notify({ users: ['alice'] }, 'keyed', {}, { idempotencyKey: 'order-42' });
    expect(again).to.deep.equal({ ...first, repeated: true });
    await world.flush(alice);
    expect(alice.of('keyed')).to.have.length(1);
  });

  it('subscribes and unsubscribes by users and by channels, with the counts', async () => {
    const chatty = sdk();
    const document = { data: { type: 'posts', id: '12', relationships: { author: { data: { type: 'users', id: '3' } } } } };
    expect(await chatty.subscribe({ users: ['alice', 'bob'] }, document)).to.deep.equal({ channels: ['posts-12', 'users-3'], users: 2, changed: 4 });
    expect(await chatty.subscribe({ users: ['alice', 'bob'] }, document)).to.deep.equal({ channels: ['posts-12', 'users-3'], users: 2, changed: 0 });
    expect(await chatty.unsubscribe({ channels: ['users-3'] }, { data: { type: 'posts', id: '12' } })).to.deep.equal({ channels: ['posts-12'], users: 2, changed: 2 });
    expect(await collect(chatty.subscriptionsOf('alice'))).to.deep.equal(['users-3']);
  });

  it('pages through subscriptions, participants and online users, more than one page each', async () => {
    const chatty = sdk();
    const resources = Array.from({ length: 5 }, (_, i) => ({ type: 'rooms', id: String(i + 1) }));
    await chatty.subscribe({ users: ['u1', 'u2', 'u3', 'u4', 'u5'] }, { data: resources });
    expect(await collect(chatty.subscriptionsOf('u1', { pageSize: 2 }))).to.deep.equal(['rooms-1', 'rooms-2', 'rooms-3', 'rooms-4', 'rooms-5']);
    const [u2, u4, u4b] = await Promise.all([world.open('u2'), world.open('u4'), world.open('u4')]);
    expect(await collect(chatty.participants('rooms-3', { pageSize: 2 }))).to.deep.equal(['u1', 'u2', 'u3', 'u4', 'u5'].map((id) => ({ id, online: id === 'u2' || id === 'u4' })));
    expect(await collect(chatty.participants('rooms-3', { online: true, pageSize: 1 }))).to.deep.equal([{ id: 'u2', online: true }, { id: 'u4', online: true }]);
    expect(await collect(chatty.online({ pageSize: 1 }))).to.deep.equal([{ id: 'u2', connections: 1 }, { id: 'u4', connections: 2 }]);
    for (const socket of [u2, u4, u4b]) socket.close();
  });

  it('mints user tokens the server accepts, and service tokens of its own from the secret', async () => {
    const chatty = sdk();
    const carol = await connect(world.server.url, { token: chatty.mintUserToken('carol', { ttlSeconds: 600 }) });
    expect(carol.ready.userId).to.equal('carol');
    // with a token instead of the secret, it cannot mint
    expect(() => sdk({ secret: undefined, token: world.server.serviceToken() }).mintUserToken('carol')).to.throw(TypeError, /secret/);
  });

  it('rotates the secret with an admin token', async () => {
    const admin = sdk({ secret: undefined, token: world.server.adminToken() });
    const rotated = await admin.rotateSecret('a-brand-new-secret-of-plenty-of-characters-0123456789', { graceSeconds: 60 });
    expect(rotated.keyId).to.be.a('string').and.not.empty;
    expect(Date.parse(rotated.previousKeysExpireAt) - Date.parse(rotated.createdAt)).to.be.within(59_000, 61_000);
    // the old secret still signs within the grace
    expect((await sdk().notify({ users: ['alice'] }, 'still-fine')).event).to.equal('still-fine');
  });

  it('throws ChattyApiError with the JSON:API error: code, status, parameter or pointer', async () => {
    const chatty = sdk();
    const badName = (await rejection(chatty.notify({ users: ['bad name'] }, 'x'))) as ChattyApiError;
    expect(badName).to.be.instanceOf(ChattyApiError);
    expect(badName).to.include({ status: 400, code: 'invalid_parameter', parameter: 'method' });
    const badEvent = (await rejection(chatty.notify({ users: ['alice'] }, 'connect'))) as ChattyApiError;
    expect(badEvent).to.include({ status: 422, code: 'validation_failed' });
    expect(badEvent.pointer).to.be.a('string');
    const badDocument = (await rejection(chatty.subscribe({ users: ['alice'] }, { data: { type: 'posts', id: 12 as unknown as string } }))) as ChattyApiError;
    expect(badDocument).to.include({ status: 422, code: 'validation_failed', pointer: '/data/id' });
    const badToken = (await rejection(sdk({ secret: 'not-the-secret-not-the-secret-not-the-secret' }).notify({ users: ['alice'] }, 'x'))) as ChattyApiError;
    expect(badToken).to.include({ status: 401, code: 'token_invalid' });
    const notAdmin = (await rejection(chatty.rotateSecret('another-brand-new-secret-of-many-characters-0123'))) as ChattyApiError;
    expect(notAdmin).to.include({ status: 403, code: 'forbidden' });
    expect(notAdmin.message).to.match(/^403 forbidden: /);
  });

  it('throws ChattyNetworkError after its bounded retries when nothing answers', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = (await rejection(new Chatty({ url: `http://127.0.0.1:${port}`, secret: world.server.secret, retries: 2, backoffMs: 1 }).notify({ users: ['alice'] }, 'x'))) as ChattyNetworkError;
    expect(error).to.be.instanceOf(ChattyNetworkError);
    expect(error.attempts).to.equal(3);
  });

  it('retries a notify whose answer was lost, with the same Idempotency-Key: delivered exactly once', async () => {
    const alice = await world.open('alice');
    const proxy = await losesFirstAnswer(world.server.port);
    try {
      const notification = await sdk({ url: proxy.url }).notify({ users: ['alice'] }, 'exactly-once', { n: 1 });
      // the first attempt reached the server and was committed; the retry was answered from the log
      expect(proxy.connections()).to.equal(2);
      expect(notification.repeated).to.equal(true);
      await world.flush(alice);
      expect(alice.of('exactly-once')).to.have.length(1);
      expect((alice.of('exactly-once')[0]![1] as { id: number }).id).to.equal(Number(notification.id));
    } finally {
      await proxy.close();
    }
  });

  it('retries after a 503 with the same Idempotency-Key, and gives up with the ChattyApiError after its retries', async () => {
    const alice = await world.open('alice');
    const front = await unavailableFirst(world.server.port, 2);
    try {
      const notification = await sdk({ url: front.url }).notify({ users: ['alice'] }, 'after-503');
      expect(front.seen).to.have.length(3);
      expect(new Set(front.seen.map((request) => request.key)).size, 'one key for every attempt').to.equal(1);
      expect(notification.repeated).to.equal(false);
      await world.flush(alice);
      expect(alice.of('after-503')).to.have.length(1);
    } finally {
      await front.close();
    }
    const down = await unavailableFirst(world.server.port, 10);
    try {
      const error = (await rejection(sdk({ url: down.url, retries: 2 }).subscribe({ users: ['alice'] }, { data: { type: 'posts', id: '1' } }))) as ChattyApiError;
      expect(error).to.be.instanceOf(ChattyApiError);
      expect(error).to.include({ status: 503, code: 'unavailable' });
      expect(down.seen).to.have.length(3);
      // a rotation is never retried: whether a first attempt rotated is unknown
      const rotation = await rejection(sdk({ url: down.url, token: world.server.adminToken(), secret: undefined }).rotateSecret('a-rotation-that-never-gets-through-0123456789'));
      expect(rotation).to.be.instanceOf(ChattyApiError);
      expect(down.seen).to.have.length(4);
    } finally {
      await down.close();
    }
  });
});

describe('the Node SDK and webhooks (issue 14)', () => {
  const world = useWorld({ env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  let receiver: Receiver;
  beforeEach(async () => (receiver = await startReceiver()));
  afterEach(() => receiver.close());

  it('manages endpoints with an admin token, and verifies the calls as the standardwebhooks library does', async () => {
    const chatty = new Chatty({ url: world.server.url, secret: world.server.secret, backoffMs: 1 });
    const admin = new Chatty({ url: world.server.url, token: chatty.mintUserToken('ops', { role: 'admin' }) });
    const created = await admin.createWebhook({ url: receiver.url, events: ['notification.accepted'] });
    expect(created).to.deep.include({ url: receiver.url, events: ['notification.accepted'], channels: null, status: 'active' });
    expect(created.secret).to.match(/^whsec_/);
    expect((await admin.webhooks()).map((w) => w.id)).to.deep.equal([created.id]);
    const notified = await chatty.notify({ users: ['alice'] }, 'hello', { n: 1 });
    const [call] = await receiver.waitForDelivered(1);
    const headers = call!.headers as Record<string, string>;
    const event = verifyWebhook(created.secret, call!.raw, headers);
    expect(event).to.deep.equal({ id: call!.id, type: 'notification.accepted', timestamp: call!.body.timestamp, data: { id: notified.id, event: 'hello', mode: 'users', targets: ['alice'] } });
    expect(event).to.deep.include(receiver.verify(call!, created.secret) as object);
    // a Headers object too, and a Buffer body
    expect(verifyWebhook(created.secret, Buffer.from(call!.raw), new Headers(headers)).id).to.equal(call!.id);

    // forged, tampered, stale, or signed with another secret: refused
    const other = await admin.rotateWebhookSecret(created.id);
    expect(other.secret).to.not.equal(created.secret);
    const refusals = [
      () => verifyWebhook(created.secret, call!.raw.replace('hello', 'HELLO'), headers),
      () => verifyWebhook(other.secret, call!.raw, headers),
      () => verifyWebhook(created.secret, call!.raw, { ...headers, 'webhook-signature': 'v1,' + Buffer.alloc(32).toString('base64') }),
      () => verifyWebhook(created.secret, call!.raw, { ...headers, 'webhook-id': 'evt_1_other' }),
      () => verifyWebhook(created.secret, call!.raw, headers, { now: Date.now() + 600_000 }),
      () => verifyWebhook(created.secret, call!.raw, { 'webhook-id': call!.id }),
    ];
    for (const refuse of refusals) expect(refuse).to.throw(ChattyWebhookError);
    // during the rotation, calls carry both signatures: either secret verifies
    await chatty.notify({ users: ['alice'] }, 'after-rotation');
    const [, second] = await receiver.waitForDelivered(2);
    for (const secret of [created.secret, other.secret]) expect(verifyWebhook(secret, second!.raw, second!.headers as Record<string, string>).type).to.equal('notification.accepted');

    expect(await admin.updateWebhook(created.id, { disabled: true })).to.deep.include({ disabled: true, status: 'disabled' });
    await admin.deleteWebhook(created.id);
    expect(await admin.webhooks()).to.deep.equal([]);
    // a service token is refused, as the contract says
    const error = await rejection(chatty.webhooks());
    expect(error).to.be.instanceOf(ChattyApiError).and.include({ status: 403, code: 'forbidden' });
  });
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
