/**
 * Socket authentication (contract §3, §5): where a handshake's token may come from, the
 * `connect_error` codes, the `ready` payload, expiry at `exp` and `auth:refresh`.
 */
import { expect } from 'chai';
import { client, doc } from './helpers/http.js';
import { signToken, unsignedToken } from './helpers/server.js';
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

/** Waits until the wall clock has passed `epochMs` (for "still connected after exp" checks only). */
async function until(epochMs: number): Promise<void> {
  const wait = epochMs - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

describe('socket authentication (contract §3, §5)', () => {
  const world = useWorld();
  const { open, flush } = world;

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
      expect(dora.ready.userId).to.equal('dora');
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

  describe('token expiry', () => {
    it('sends auth:expired and then disconnects the socket when exp passes', async () => {
      const token = world.server.token('alice', { expiresIn: 2 });
      const alice = await connect(world.server.url, { token });
      const { reason, receivedBefore } = await disconnected(alice, 4000);
      expect(reason).to.equal('io server disconnect');
      expect(receivedBefore).to.include('auth:expired');
      expect(alice.of('auth:expired')[0]![0]).to.deep.equal({ reason: 'token_expired' });
      expect(Date.now()).to.be.at.least(expOf(token) * 1000);
    });

    it('keeps a socket that sent auth:refresh with a newer token past the old exp, until the new one', async () => {
      const token = world.server.token('alice', { expiresIn: 2 });
      const alice = await connect(world.server.url, { token });
      const newer = world.server.token('alice', { expiresIn: 4 });
      const ack = await alice.call('auth:refresh', { token: newer });
      expect(ack).to.include({ ok: true });
      await until(expOf(token) * 1000 + 500);
      expect(alice.socket.connected).to.equal(true);
      await flush(alice);
      expect(alice.of('auth:expired')).to.have.length(0);
      expect(alice.socket.connected).to.equal(true);
      // the refreshed token's own exp still applies
      const { receivedBefore } = await disconnected(alice, 4000);
      expect(receivedBefore).to.include('auth:expired');
      expect(Date.now()).to.be.at.least(expOf(newer) * 1000);
    });

    it('answers ok:false to a bad refresh, and the socket still expires on time', async () => {
      const alice = await connect(world.server.url, { token: world.server.token('alice', { expiresIn: 2 }) });
      const other = 'another-secret-that-is-long-enough-0123456789';
      const cases: [unknown, string[]][] = [
        [{ token: world.server.token('bob', { expiresIn: 60 }) }, ['token_invalid', 'forbidden']],
        [{ token: 'garbage' }, ['token_invalid']],
        [{ token: signToken(other, 'alice', { expiresIn: 60 }) }, ['token_invalid']],
        [{ token: unsignedToken({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 60 }) }, ['token_invalid']],
        [{ token: world.server.token('alice', { expiresIn: -5 }) }, ['token_expired']],
        [{ token: world.server.token('alice', { role: 'root', expiresIn: 60 }) }, ['token_invalid']],
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
      const { receivedBefore } = await disconnected(alice, 4000);
      expect(receivedBefore).to.include('auth:expired');
    });

    it('refuses a refresh token that expires before the current one', async () => {
      const alice = await connect(world.server.url, { token: world.server.token('alice', { expiresIn: 3600 }) });
      const ack = await alice.call('auth:refresh', { token: world.server.token('alice', { expiresIn: 60 }) });
      expect(ack.ok).to.equal(false);
      expect(ack.error.code).to.equal('token_invalid');
      expect(alice.socket.connected).to.equal(true);
    });
  });
});
