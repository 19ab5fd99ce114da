/**
 * Socket authentication (contract §3, §5): where a handshake's token may come from, the
 * `connect_error` codes, the `ready` payload, expiry at `exp` and `auth:refresh`, and key
 * retirement after a refresh. Expiry runs on a hand-moved clock: no test waits for a token to age.
 */
import crypto from 'node:crypto';
import { expect } from 'chai';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import type { ChattySocket } from '../src/realtime/types.js';
import { client, doc } from './helpers/http.js';
import { ManualClock } from './helpers/manual-clock.js';
import { signToken, unsignedToken } from './helpers/server.js';
import { StoreGate, gatedStore } from './helpers/store-gate.js';
import { connect, type TestSocket } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

/** Resolves with the `connect_error`'s `data.code`; fails when the socket connects instead. */
async function connectErrorCode(url: string, auth: Record<string, unknown>, extraHeaders?: Record<string, string>): Promise<string> {
  try {
    const socket = await connect(url, auth, { extraHeaders });
    socket.close();
  } catch (error) {
    const code = (error as { data?: { code?: unknown } }).data?.code;
    expect(code, `connect_error without data.code: ${String(error)}`).to.be.a('string');
    return code as string;
  }
  throw new Error(`the handshake ${JSON.stringify(auth)} was accepted`);
}

/** Resolves when the socket is disconnected, with the reason. */
function disconnected(s: TestSocket, timeoutMs = 5000): Promise<{ reason: string; receivedBefore: string[] }> {
  return new Promise((resolve, reject) => {
    if (!s.socket.connected) return reject(new Error('already disconnected'));
    const timer = setTimeout(() => reject(new Error('timed out waiting for disconnect')), timeoutMs);
    s.socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve({ reason, receivedBefore: s.received.map((r) => r.event) });
    });
  });
}

/** The `exp` claim of a token, in seconds. */
function expOf(token: string): number {
  return Number(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp);
}

/** A socket.io-client connection that is not waited on (its admission may never finish). */
function rawSocket(url: string, auth: Record<string, unknown>): ClientSocket {
  const socket = ioClient(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
  opened.push(socket);
  return socket;
}
/** Sockets opened by rawSocket, closed after each test. */
const opened: ClientSocket[] = [];

describe('socket authentication (contract §3, §5)', () => {
  const world = useWorld();
  const { open, flush } = world;
  afterEach(() => {
    for (const socket of opened.splice(0)) socket.close();
  });

  /** The user's connections as the server counts them (GET /control/search/online). */
  async function onlineCount(user: string): Promise<number> {
    const res = await world.api.get('/control/search/online');
    expect(res.status).to.equal(200);
    return (res.body.data as { id: string; attributes: { connections: number } }[]).find((u) => u.id === user)?.attributes.connections ?? 0;
  }

  describe('connect_error codes', () => {
    it('is token_missing without any token', async () => {
      expect(await connectErrorCode(world.server.url, {})).to.equal('token_missing');
      expect(await connectErrorCode(world.server.url, { token: '' })).to.equal('token_missing');
    });

    it('is token_invalid for a token signed with another secret', async () => {
      const token = signToken('another-secret-that-is-long-enough-0123456789', 'alice', { expiresIn: 3600 });
      expect(await connectErrorCode(world.server.url, { token })).to.equal('token_invalid');
    });

    it('is token_invalid for alg none', async () => {
      const token = unsignedToken({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 3600 });
      expect(await connectErrorCode(world.server.url, { token })).to.equal('token_invalid');
    });

    it('is token_invalid for a sub breaking the name rules, a missing sub, or an unknown role', async () => {
      for (const sub of ['a,b', 'a b', 'tab\there', 'a:b', '[x]', '', 'x'.repeat(201)]) {
        expect(await connectErrorCode(world.server.url, { token: world.server.token(sub) }), `sub ${JSON.stringify(sub)}`).to.equal('token_invalid');
      }
      expect(await connectErrorCode(world.server.url, { token: signToken(world.server.secret, undefined, { expiresIn: 60 }) })).to.equal('token_invalid');
      expect(await connectErrorCode(world.server.url, { token: world.server.token('alice', { role: 'root' }) })).to.equal('token_invalid');
    });

    it('is token_invalid for something that is not a JWT at all', async () => {
      expect(await connectErrorCode(world.server.url, { token: 'not-a-jwt' })).to.equal('token_invalid');
      expect(await connectErrorCode(world.server.url, { token: 'a.b.c' })).to.equal('token_invalid');
    });

    it('is token_expired for an expired token signed with the right key', async () => {
      expect(await connectErrorCode(world.server.url, { token: world.server.token('alice', { expiresIn: -10 }) })).to.equal('token_expired');
    });

    it('is token_invalid (not token_expired) for an expired token signed with another secret', async () => {
      const token = signToken('another-secret-that-is-long-enough-0123456789', 'alice', { expiresIn: -10 });
      expect(await connectErrorCode(world.server.url, { token })).to.equal('token_invalid');
    });

    it('rejects a handshake whose lastEventId is not a non-negative integer', async () => {
      const token = world.server.token('alice');
      for (const lastEventId of [-1, 1.5, 'abc', '12x', { id: 1 }, [3], true]) {
        const code = await connectErrorCode(world.server.url, { token, lastEventId });
        expect(code, `lastEventId ${JSON.stringify(lastEventId)}`).to.equal('invalid_parameter');
      }
      // the server is still fine, and a valid lastEventId is accepted
      const alice = await connect(world.server.url, { token, lastEventId: 0 });
      expect(alice.ready.userId).to.equal('alice');
    });
  });

  describe('where the token comes from', () => {
    it('accepts handshake.auth.token', async () => {
      const alice = await open('alice');
      expect(alice.ready.userId).to.equal('alice');
    });

    it('accepts Authorization: Bearer', async () => {
      const bob = await connect(world.server.url, {}, { extraHeaders: { authorization: `Bearer ${world.server.token('bob')}` } });
      expect(bob.ready.userId).to.equal('bob');
    });

    it('accepts the Bearer scheme in any case, as the HTTP routes do (RFC 7235: the scheme is case-insensitive)', async () => {
      const token = world.server.token('bob');
      const http = await client(world.server.url).get('/auth/test-jwt', undefined, { headers: { authorization: `bearer ${token}` } });
      expect(http.status, 'HTTP accepts "bearer"').to.equal(200);
      const bob = await connect(world.server.url, {}, { extraHeaders: { authorization: `bearer ${token}` } });
      expect(bob.ready.userId).to.equal('bob');
    });

    it('rejects a bad Bearer token with its code', async () => {
      const code = await connectErrorCode(world.server.url, {}, { authorization: `Bearer ${world.server.token('bob', { expiresIn: -5 })}` });
      expect(code).to.equal('token_expired');
    });

    it('accepts the jwt cookie', async () => {
      const carol = await connect(world.server.url, {}, { extraHeaders: { cookie: `theme=dark; jwt=${world.server.token('carol')}` } });
      expect(carol.ready.userId).to.equal('carol');
    });

    it('accepts the cookie set by POST /auth/login', async () => {
      const anonymous = client(world.server.url);
      const registered = await anonymous.post('/auth/register', { username: 'dora', password: 'correct horse' });
      expect(registered.status).to.equal(201);
      const login = await anonymous.post('/auth/login', { username: 'dora', password: 'correct horse' });
      expect(login.status).to.equal(200);
      const setCookie = login.headers.getSetCookie().find((c) => c.startsWith('jwt='));
      expect(setCookie, 'login sets the jwt cookie').to.be.a('string');
      const dora = await connect(world.server.url, {}, { extraHeaders: { cookie: setCookie!.split(';')[0]! } });
      expect(dora.ready.userId).to.equal('@dora');
    });

    it("never lets a stranger who registers `alice` read what the app server sends its alice (issue 28: safe by default)", async () => {
      // the app server's Alice has channels and events before anyone registers anything
      await world.subscribe(['alice'], ['posts', '1']);
      await world.notify('users:alice', 'private-note', { secret: 'for alice' });
      await world.notify('channels:posts-1', 'post-updated', { n: 1 });

      const stranger = client(world.server.url);
      expect((await stranger.post('/auth/register', { username: 'alice', password: 'correct horse' })).status).to.equal(201);
      const login = await stranger.post('/auth/login', { username: 'alice', password: 'correct horse' });
      expect(login.status).to.equal(200);
      const impostor = await connect(world.server.url, { token: login.body.data.attributes.token, lastEventId: 0 });
      expect(impostor.ready).to.include({ userId: '@alice', replayed: 0 });
      expect(impostor.ready.channels).to.deep.equal([]);

      // live too: the app server's alice gets the next events, the account @alice none
      const alice = await world.open('alice');
      await world.notify('users:alice', 'private-note', { secret: 'again' });
      await world.notify('channels:posts-1', 'post-updated', { n: 2 });
      await alice.waitFor('post-updated');
      await world.flush(impostor);
      expect(impostor.received.map((r) => r.event)).to.not.include.members(['private-note', 'post-updated']);
      expect(alice.of('private-note')).to.have.length(1);
    });
  });

  describe('ready', () => {
    it('reports the user, its channels, nothing replayed and the last event id', async () => {
      await world.api.post('/control/subscription/subscribe?method=users:alice', doc(['posts', '2'], ['posts', '1']));
      const notified = await world.api.post('/control/notify?method=users:someone-else', { event: 'x', attributes: {} });
      expect(notified.status).to.equal(202);
      const alice = await open('alice');
      expect(alice.ready).to.deep.equal({ userId: 'alice', channels: ['posts-1', 'posts-2'], replayed: 0, lastEventId: Number(notified.body.data.id) });
      expect(alice.received.map((r) => r.event)).to.deep.equal(['ready']);
    });

    it('reports an empty channel list for a user never seen', async () => {
      const zed = await open('zed');
      expect(zed.ready).to.include({ userId: 'zed', replayed: 0 });
      expect(zed.ready.channels).to.deep.equal([]);
      expect(zed.ready.lastEventId).to.be.a('number');
    });
  });

  describe('token expiry (on a clock the test moves)', () => {
    let clock: ManualClock;
    beforeEach(async () => {
      clock = new ManualClock();
      await world.start({ clock });
    });

    it('sends auth:expired and then disconnects the socket when exp passes, not a millisecond before', async () => {
      const token = world.server.token('alice', { expiresIn: 60 });
      const alice = await connect(world.server.url, { token });
      clock.advanceTo(expOf(token) * 1000 - 1);
      await flush(alice);
      expect(alice.socket.connected).to.equal(true);
      expect(alice.of('auth:expired')).to.have.length(0);

      const gone = disconnected(alice);
      clock.advanceTo(expOf(token) * 1000);
      const { reason, receivedBefore } = await gone;
      expect(reason).to.equal('io server disconnect');
      expect(receivedBefore).to.include('auth:expired');
      expect(alice.of('auth:expired')[0]![0]).to.deep.equal({ reason: 'token_expired' });
    });

    it('keeps a socket that sent auth:refresh with a newer token past the old exp, until the new one', async () => {
      const token = world.server.token('alice', { expiresIn: 60 });
      const alice = await connect(world.server.url, { token });
      const newer = world.server.token('alice', { expiresIn: 120 });
      const ack = await alice.call('auth:refresh', { token: newer });
      expect(ack).to.deep.equal({ ok: true, exp: expOf(newer) });
      clock.advanceTo(expOf(token) * 1000 + 30_000);
      await flush(alice);
      expect(alice.of('auth:expired')).to.have.length(0);
      expect(alice.socket.connected).to.equal(true);
      // the refreshed token's own exp still applies
      const gone = disconnected(alice);
      clock.advanceTo(expOf(newer) * 1000);
      const { receivedBefore } = await gone;
      expect(receivedBefore).to.include('auth:expired');
    });

    it('answers ok:false to a bad refresh, and the socket still expires on time', async () => {
      const token = world.server.token('alice', { expiresIn: 60 });
      const alice = await connect(world.server.url, { token });
      const other = 'another-secret-that-is-long-enough-0123456789';
      const cases: [unknown, string[]][] = [
        [{ token: world.server.token('bob', { expiresIn: 600 }) }, ['token_invalid', 'forbidden']],
        [{ token: 'garbage' }, ['token_invalid']],
        [{ token: signToken(other, 'alice', { expiresIn: 600 }) }, ['token_invalid']],
        [{ token: unsignedToken({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600 }) }, ['token_invalid']],
        [{ token: world.server.token('alice', { expiresIn: -5 }) }, ['token_expired']],
        [{ token: world.server.token('alice', { role: 'root', expiresIn: 600 }) }, ['token_invalid']],
        [{}, ['validation_failed']],
        ['just a string', ['validation_failed']],
        [null, ['validation_failed']],
      ];
      for (const [payload, codes] of cases) {
        const ack = await alice.call('auth:refresh', payload);
        expect(ack.ok, `refresh with ${JSON.stringify(payload)}`).to.equal(false);
        expect(ack.error.code, `refresh with ${JSON.stringify(payload)}`).to.be.oneOf(codes);
        expect(ack.error.message).to.be.a('string');
      }
      const gone = disconnected(alice);
      clock.advanceTo(expOf(token) * 1000);
      const { receivedBefore } = await gone;
      expect(receivedBefore).to.include('auth:expired');
    });

    it('refuses a refresh token that expires before the current one', async () => {
      const alice = await connect(world.server.url, { token: world.server.token('alice', { expiresIn: 3600 }) });
      const ack = await alice.call('auth:refresh', { token: world.server.token('alice', { expiresIn: 60 }) });
      expect(ack.ok).to.equal(false);
      expect(ack.error.code).to.equal('token_invalid');
      expect(alice.socket.connected).to.equal(true);
    });

    it('counts no presence for a socket whose token expires while it is being admitted (issue 9: phantom presence)', async () => {
      const gate = new StoreGate('channelsOf');
      clock = new ManualClock();
      await world.start({ clock, wrapStore: gatedStore(gate) });
      await world.subscribe(['alice', 'bob'], ['rooms', '1']);
      const bob = await world.open('bob');
      const admitted = new Promise<ChattySocket>((resolve) => world.server.chatty.io.once('connection', (s) => resolve(s as ChattySocket)));

      // alice's admission stops at its read of her channels; her token expires meanwhile
      gate.close();
      const token = world.server.token('alice', { expiresIn: 60 });
      const alice = rawSocket(world.server.url, { token });
      const server = await admitted;
      await gate.reached;
      clock.advanceTo(expOf(token) * 1000);
      const gone = new Promise<void>((resolve) => alice.once('disconnect', () => resolve()));
      gate.open();

      // admission notices the expiry at its next step: the socket goes, and is never counted
      expect(await server.data.admitted).to.equal(false);
      await gone;
      expect(alice.listeners('ready')).to.have.length(0);
      expect(await onlineCount('alice')).to.equal(0);
      expect(await bob.call('presence:query', { channel: 'rooms-1' })).to.deep.equal({ ok: true, channel: 'rooms-1', online: ['bob'] });
      await flush(bob);
      expect(bob.of('presence')).to.deep.equal([]);

      // and alice's next socket is her first again: announced online, then offline when it closes
      const again = await world.open('alice');
      await bob.waitFor('presence');
      expect(await onlineCount('alice')).to.equal(1);
      again.close();
      await bob.waitFor('presence', 2);
      expect(bob.of('presence').map(([p]) => p)).to.deep.equal([
        { userId: 'alice', status: 'online' },
        { userId: 'alice', status: 'offline' },
      ]);
      expect(await onlineCount('alice')).to.equal(0);
    });

    it('uncounts a socket whose token expires while its online announcement is being prepared, and announces in order', async () => {
      const gate = new StoreGate('privateConversationsOf');
      clock = new ManualClock();
      await world.start({ clock, wrapStore: gatedStore(gate) });
      await world.subscribe(['alice', 'bob'], ['rooms', '1']);
      const bob = await world.open('bob');
      await flush(bob);

      // alice is counted, then her announcement waits for the store; her token expires meanwhile
      gate.close();
      const token = world.server.token('alice', { expiresIn: 60 });
      const admitted = new Promise<ChattySocket>((resolve) => world.server.chatty.io.once('connection', (s) => resolve(s as ChattySocket)));
      rawSocket(world.server.url, { token });
      const server = await admitted;
      await gate.reached;
      const gone = new Promise<void>((resolve) => server.once('disconnect', () => resolve()));
      clock.advanceTo(expOf(token) * 1000);
      await gone;
      // whatever the disconnect set off has reached the store by now; let the latest call out
      // first, so that an offline announcement racing the online one would overtake it
      await new Promise((resolve) => setImmediate(resolve));
      gate.open('lastFirst');

      await bob.waitFor('presence', 2);
      expect(bob.of('presence').map(([p]) => p)).to.deep.equal([
        { userId: 'alice', status: 'online' },
        { userId: 'alice', status: 'offline' },
      ]);
      expect(await onlineCount('alice')).to.equal(0);
    });
  });

  describe('key retirement after auth:refresh (contract §3)', () => {
    /** Rotates to a new secret; the keys in use now retire after `graceMs` of wall-clock time. */
    async function rotate(graceMs: number): Promise<string> {
      const secret = crypto.randomBytes(32).toString('hex');
      await world.server.chatty.keys.rotate(secret, graceMs / 1000);
      return secret;
    }

    it('keeps a socket that refreshed to a token of the new key when the old key retires', async () => {
      const alice = await connect(world.server.url, { token: world.server.token('alice', { expiresIn: 3600 }) });
      // a socket that did not refresh: its end marks the retirement
      const witness = await connect(world.server.url, { token: world.server.token('carol', { expiresIn: 3600 }) });
      const witnessGone = disconnected(witness);
      const secret = await rotate(300);
      const ack = await alice.call('auth:refresh', { token: signToken(secret, 'alice', { expiresIn: 7200 }) });
      expect(ack.ok, JSON.stringify(ack)).to.equal(true);

      await witnessGone;
      expect(witness.of('auth:expired').map(([e]) => e)).to.deep.equal([{ reason: 'key_retired' }]);
      // the retirement reached every socket of the old key at once; a round trip after it has
      // brought anything it sent alice (the service token of world.flush is of the old key too)
      expect(await alice.call('chat:unread', {})).to.include({ ok: true });
      expect(alice.socket.connected).to.equal(true);
      expect(alice.of('auth:expired')).to.deep.equal([]);
    });

    it('ends a socket that refreshed to another token of the old key when the old key retires', async () => {
      const alice = await connect(world.server.url, { token: world.server.token('alice', { expiresIn: 3600 }) });
      const gone = disconnected(alice);
      await rotate(300);
      // still valid during the grace period, and newer: accepted, but it is the old key's
      const ack = await alice.call('auth:refresh', { token: world.server.token('alice', { expiresIn: 7200 }) });
      expect(ack.ok, JSON.stringify(ack)).to.equal(true);

      const { receivedBefore } = await gone;
      expect(receivedBefore).to.include('auth:expired');
      expect(alice.of('auth:expired').map(([e]) => e)).to.deep.equal([{ reason: 'key_retired' }]);
    });
  });
});
