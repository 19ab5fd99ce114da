import crypto from 'node:crypto';
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { loadConfig } from '../config.js';
import { createLogger } from '../src/logger.js';
import { createChatty } from '../src/server.js';
import { client, expectJsonApiError as expectError, request, type ApiResponse } from './helpers/http.js';
import { tempDbPath, type TestServer } from './helpers/server.js';
import { connect, type TestSocket } from './helpers/sockets.js';
import { ManualClock } from './helpers/manual-clock.js';
import { useWorld } from './helpers/world.js';

const PASSWORD = 'correct horse battery';

function setCookie(res: ApiResponse): string {
  const cookies = res.headers.getSetCookie().filter((c) => c.startsWith('jwt='));
  expect(cookies, 'one jwt Set-Cookie').to.have.length(1);
  return cookies[0]!;
}

/** Resolves when the socket is disconnected by the server (with its reason). */
function disconnected(s: TestSocket): Promise<string> {
  return new Promise((resolve) => {
    if (!s.socket.connected) return resolve('already');
    s.socket.once('disconnect', (reason) => resolve(reason));
  });
}

/** Polls `check` every 50 ms until it returns true or `timeoutMs` passes. */
async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const newSecret = () => crypto.randomBytes(32).toString('hex');

describe('HTTP /auth (contract §3)', () => {
  const world = useWorld({ anonymous: true });

  describe('POST /auth/register', () => {
    it('creates a user account: 201 users resource without any password material, then 409 for the same name', async () => {
      const res = await world.api.post('/auth/register', { username: 'alice', password: PASSWORD });
      expect(res.status).to.equal(201);
      expect(res.headers.get('content-type')).to.match(/^application\/vnd\.api\+json/);
      // the account's user id is in the accounts' namespace: never the `alice` of the app server's tokens
      expect(res.body.data).to.include({ type: 'users', id: '@alice' });
      expect(res.body.data.attributes).to.include({ username: 'alice', role: 'user' });
      expect(Number.isNaN(Date.parse(res.body.data.attributes.createdAt))).to.equal(false);
      const text = JSON.stringify(res.body);
      expect(text).to.not.include(PASSWORD);
      expect(text).to.not.match(/\$2[aby]\$/);

      const again = await world.api.post('/auth/register', { username: 'alice', password: 'another password' });
      expectError(again, 409, 'username_taken', { pointer: '/username' });
      // the first password still works: the failed request changed nothing
      const login = await world.api.post('/auth/login', { username: 'alice', password: PASSWORD });
      expect(login.status).to.equal(200);
    });

    const invalid: [label: string, body: unknown, pointer: string][] = [
      ['a 2-character username', { username: 'ab', password: PASSWORD }, '/username'],
      ['a 65-character username', { username: 'a'.repeat(65), password: PASSWORD }, '/username'],
      ['a username with a space', { username: 'al ice', password: PASSWORD }, '/username'],
      ['a username with a colon', { username: 'al:ice', password: PASSWORD }, '/username'],
      ['a non-ASCII username', { username: 'alïce', password: PASSWORD }, '/username'],
      ['a numeric username', { username: 12345, password: PASSWORD }, '/username'],
      ['a missing username', { password: PASSWORD }, '/username'],
      ['a 7-byte password', { username: 'alice', password: '1234567' }, '/password'],
      ['a 73-byte password', { username: 'alice', password: 'p'.repeat(73) }, '/password'],
      ['a 37-character, 74-byte password', { username: 'alice', password: 'é'.repeat(37) }, '/password'],
      ['a missing password', { username: 'alice' }, '/password'],
      ['a non-string password', { username: 'alice', password: 12345678 }, '/password'],
    ];
    for (const [label, body, pointer] of invalid) {
      it(`rejects ${label} with 422 validation_failed at ${pointer}`, async () => {
        expectError(await world.api.post('/auth/register', body), 422, 'validation_failed', { pointer });
      });
    }

    it('rejects a body that is not an object (null included) with 400 invalid_body asking for {username, password}', async () => {
      for (const body of [null, [], ['alice', PASSWORD], 'alice', 42, true]) {
        const error = expectError(await world.api.post('/auth/register', body), 400, 'invalid_body');
        expect(error.detail, JSON.stringify(body)).to.equal('The body must be a JSON object {username, password}');
      }
    });

    it('treats usernames case-insensitively: ADMIN is taken by admin (409), and the account keeps its spelling', async () => {
      await world.start({ env: { ADMIN_USERNAME: 'admin', ADMIN_PASSWORD: PASSWORD } });
      for (const username of ['ADMIN', 'Admin', 'aDmIn']) {
        expectError(await world.api.post('/auth/register', { username, password: 'another password' }), 409, 'username_taken', { pointer: '/username' });
      }
      expect((await world.api.post('/auth/register', { username: 'Alice', password: PASSWORD })).status).to.equal(201);
      expectError(await world.api.post('/auth/register', { username: 'alice', password: 'another password' }), 409, 'username_taken');
      // nothing was overwritten
      expect((await world.api.post('/auth/login', { username: 'admin', password: PASSWORD })).status).to.equal(200);
      expect((await world.api.post('/auth/login', { username: 'Alice', password: PASSWORD })).status).to.equal(200);
    });

    it('is 403 registration_closed when REGISTRATION=closed, and creates nothing', async () => {
      await world.start({ env: { REGISTRATION: 'closed' } });
      expectError(await world.api.post('/auth/register', { username: 'alice', password: PASSWORD }), 403, 'registration_closed');
      expectError(await world.api.post('/auth/login', { username: 'alice', password: PASSWORD }), 401, 'invalid_credentials');
    });
  });

  describe('POST /auth/login, /auth/logout', () => {
    it('returns a token and sets an HttpOnly, SameSite=Lax jwt cookie; the token works as Bearer and as cookie', async () => {
      expect((await world.api.post('/auth/register', { username: 'alice', password: PASSWORD })).status).to.equal(201);
      const before = Date.now();
      const res = await world.api.post('/auth/login', { username: 'alice', password: PASSWORD });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/vnd\.api\+json/);
      expect(res.body.data.type).to.equal('tokens');
      const { token, expiresAt } = res.body.data.attributes;
      expect(token).to.be.a('string');
      // the resource's id is the token's own id (jti): every JSON:API resource has one
      const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
      expect(res.body.data.id).to.be.a('string').and.equal(claims.jti);
      // default TOKEN_TTL is 1h
      expect(Date.parse(expiresAt) - before).to.be.within(3600_000 - 5_000, 3600_000 + 5_000);

      const cookie = setCookie(res);
      expect(cookie.split(';')[0]).to.equal(`jwt=${token}`);
      expect(cookie).to.match(/;\s*HttpOnly/i);
      expect(cookie).to.match(/;\s*SameSite=Lax/i);
      expect(cookie).to.match(/;\s*Path=\//i);
      expect(cookie).to.match(/;\s*Expires=/i);
      expect(cookie, 'no Secure outside production by default').to.not.match(/;\s*Secure/i);
      expect(JSON.stringify(res.body)).to.not.include(PASSWORD);

      const bearer = await client(world.server.url, token).get('/auth/test-jwt');
      expect(bearer.status).to.equal(200);
      expect(bearer.body.meta).to.include({ sub: '@alice', role: 'user' });
      expect(bearer.body.meta.exp).to.equal(Math.floor(Date.parse(expiresAt) / 1000));

      const viaCookie = await world.api.get('/auth/test-jwt', undefined, { headers: { cookie: `jwt=${token}` } });
      expect(viaCookie.status).to.equal(200);
      expect(viaCookie.body.meta.sub).to.equal('@alice');

      const socket = await connect(world.server.url, { token });
      expect(socket.ready.userId).to.equal('@alice');

      // a user token is not a control token
      expectError(await client(world.server.url, token).get('/control/search/online'), 403, 'forbidden');
    });

    it('answers 401 invalid_credentials with one message for an unknown user and a wrong password', async () => {
      expect((await world.api.post('/auth/register', { username: 'alice', password: PASSWORD })).status).to.equal(201);
      const unknown = await world.api.post('/auth/login', { username: 'nobody', password: PASSWORD });
      const wrong = await world.api.post('/auth/login', { username: 'alice', password: 'wrong password' });
      expectError(unknown, 401, 'invalid_credentials');
      expectError(wrong, 401, 'invalid_credentials');
      expect(unknown.body).to.deep.equal(wrong.body);
      expect(unknown.headers.getSetCookie()).to.deep.equal([]);
      expect(wrong.headers.getSetCookie()).to.deep.equal([]);
    });

    it('logs in as ALICE for the account alice, with a token whose sub is the stored spelling', async () => {
      expect((await world.api.post('/auth/register', { username: 'alice', password: PASSWORD })).status).to.equal(201);
      for (const username of ['ALICE', 'Alice', 'alice']) {
        const login = await world.api.post('/auth/login', { username, password: PASSWORD });
        expect(login.status, username).to.equal(200);
        const meta = (await client(world.server.url, login.body.data.attributes.token).get('/auth/test-jwt')).body.meta;
        expect(meta).to.include({ sub: '@alice', role: 'user' });
      }
      expectError(await world.api.post('/auth/login', { username: 'ALICE', password: 'wrong password' }), 401, 'invalid_credentials');
    });

    it('rejects a body that is not an object (null included) with 400 invalid_body asking for {username, password}', async () => {
      for (const body of [null, [], 'alice', 42]) {
        const error = expectError(await world.api.post('/auth/login', body), 400, 'invalid_body');
        expect(error.detail, JSON.stringify(body)).to.equal('The body must be a JSON object {username, password}');
      }
    });

    it('rejects non-string credentials with 422 before checking anything', async () => {
      expectError(await world.api.post('/auth/login', { username: ['alice'], password: PASSWORD }), 422, 'validation_failed', { pointer: '/username' });
      expectError(await world.api.post('/auth/login', { username: 'alice', password: { $gt: '' } }), 422, 'validation_failed', { pointer: '/password' });
    });

    it('rate limits repeated failures with 429 rate_limited and Retry-After, even for the right password', async () => {
      await world.start({ env: { ADMIN_USERNAME: 'root', ADMIN_PASSWORD: PASSWORD } });
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await world.api.post('/auth/login', { username: 'root', password: `wrong-${i}-password` })).status);
      expect(statuses).to.deep.equal(Array(10).fill(401));
      const limited = await world.api.post('/auth/login', { username: 'root', password: 'wrong-again-password' });
      const error = expectError(limited, 429, 'rate_limited');
      expect(Number(limited.headers.get('retry-after'))).to.be.above(0);
      expect(error.detail).to.not.include('wrong-again-password');
      expectError(await world.api.post('/auth/login', { username: 'root', password: PASSWORD }), 429, 'rate_limited');
    });

    it('sets the cookie Secure when SECURE_COOKIES=true', async () => {
      await world.start({ env: { SECURE_COOKIES: 'true', ADMIN_USERNAME: 'root', ADMIN_PASSWORD: PASSWORD } });
      const res = await client(world.server.url).post('/auth/login', { username: 'root', password: PASSWORD });
      expect(res.status).to.equal(200);
      expect(setCookie(res)).to.match(/;\s*Secure/i);
    });

    it('logout clears the jwt cookie', async () => {
      const res = await world.api.post('/auth/logout', undefined, { headers: { cookie: `jwt=${world.server.token('alice')}` } });
      expect(res.status).to.be.within(200, 204);
      const cookie = setCookie(res);
      expect(cookie.split(';')[0]).to.equal('jwt=');
      expect(cookie).to.match(/Expires=Thu, 01 Jan 1970 00:00:00 GMT/i);
      expect(cookie).to.match(/;\s*Path=\//i);
    });
  });

  describe('GET /auth/test-jwt', () => {
    it('returns meta {sub, role, exp} for any valid token', async () => {
      const exp = Math.floor(Date.now() / 1000) + 600;
      const res = await client(world.server.url, world.server.token('carol', { claims: { exp } })).get('/auth/test-jwt');
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/vnd\.api\+json/);
      expect(res.body).to.deep.equal({ meta: { sub: 'carol', role: 'user', exp } });
      const service = await client(world.server.url, world.server.serviceToken()).get('/auth/test-jwt');
      expect(service.body.meta).to.include({ sub: 'app-server', role: 'service' });
      const admin = await client(world.server.url, world.server.adminToken()).get('/auth/test-jwt');
      expect(admin.body.meta).to.include({ sub: 'operator', role: 'admin' });
    });

    it('accepts the jwt cookie', async () => {
      const res = await world.api.get('/auth/test-jwt', undefined, { headers: { cookie: `other=1; jwt=${world.server.token('dave', { role: 'service' })}` } });
      expect(res.status).to.equal(200);
      expect(res.body.meta).to.include({ sub: 'dave', role: 'service' });
    });

    const failures: [label: string, headers: (s: TestServer) => Record<string, string>, code: string][] = [
      ['no token', () => ({}), 'token_missing'],
      ['an empty Bearer', () => ({ authorization: 'Bearer ' }), 'token_missing'],
      ['a garbage token', () => ({ authorization: 'Bearer nonsense' }), 'token_invalid'],
      ['a token signed with another secret', (s) => ({ authorization: `Bearer ${s.token('alice', { secret: newSecret() })}` }), 'token_invalid'],
      ['an expired token', (s) => ({ authorization: `Bearer ${s.token('alice', { expiresIn: -10 })}` }), 'token_expired'],
      ['an expired token in the cookie', (s) => ({ cookie: `jwt=${s.token('alice', { expiresIn: -10 })}` }), 'token_expired'],
      ['a bad cookie', () => ({ cookie: 'jwt=garbage' }), 'token_invalid'],
      ['a token without sub', (s) => ({ authorization: `Bearer ${s.token(undefined as unknown as string)}` }), 'token_invalid'],
      ['a token with role root', (s) => ({ authorization: `Bearer ${s.token('alice', { role: 'root' })}` }), 'token_invalid'],
    ];
    for (const [label, headers, code] of failures) {
      it(`is 401 ${code} with WWW-Authenticate: Bearer for ${label}`, async () => {
        const res = await world.api.get('/auth/test-jwt', undefined, { headers: headers(world.server) });
        expectError(res, 401, code);
        expect(res.headers.get('www-authenticate')).to.match(/^Bearer\b/);
      });
    }
  });

  describe('PUT /auth/update-jwt-secret', () => {
    it('is admin only: 401 without a token, 403 forbidden for user and service tokens; nothing rotates', async () => {
      const secret = newSecret();
      expectError(await world.api.put('/auth/update-jwt-secret', { secret }), 401, 'token_missing');
      expectError(await client(world.server.url, world.server.token('alice')).put('/auth/update-jwt-secret', { secret }), 403, 'forbidden');
      expectError(await client(world.server.url, world.server.serviceToken()).put('/auth/update-jwt-secret', { secret }), 403, 'forbidden');
      // the old secret still signs valid tokens, the new one does not
      expect((await client(world.server.url, world.server.token('alice')).get('/auth/test-jwt')).status).to.equal(200);
      expect((await client(world.server.url, world.server.token('alice', { secret })).get('/auth/test-jwt')).status).to.equal(401);
    });

    const invalid: [label: string, body: unknown, status: number, code: string, pointer?: string][] = [
      ['a 31-character secret', { secret: newSecret().slice(0, 31) }, 422, 'validation_failed', '/secret'],
      ['a missing secret', {}, 422, 'validation_failed', '/secret'],
      ['a numeric secret', { secret: 12345678901234567890123456789012345 }, 422, 'validation_failed', '/secret'],
      // too weak to be secrets (src/auth/secret-strength.ts)
      ['a secret of 32 spaces', { secret: ' '.repeat(32) }, 422, 'validation_failed', '/secret'],
      ['a secret of one character 40 times', { secret: 'a'.repeat(40) }, 422, 'validation_failed', '/secret'],
      ['a secret of four characters repeated', { secret: 'abcd'.repeat(10) }, 422, 'validation_failed', '/secret'],
      ['a secret padded with whitespace', { secret: ` ${newSecret()} ` }, 422, 'validation_failed', '/secret'],
      ['a secret of 31 characters and spaces', { secret: newSecret().slice(0, 31).split('').join(' ') }, 422, 'validation_failed', '/secret'],
      ['a negative grace', { secret: newSecret(), graceSeconds: -1 }, 422, 'validation_failed', '/graceSeconds'],
      ['a fractional grace', { secret: newSecret(), graceSeconds: 1.5 }, 422, 'validation_failed', '/graceSeconds'],
      ['a string grace', { secret: newSecret(), graceSeconds: '10' }, 422, 'validation_failed', '/graceSeconds'],
      ['a grace over 30 days', { secret: newSecret(), graceSeconds: 30 * 86400 + 1 }, 422, 'validation_failed', '/graceSeconds'],
      ['an array body', [newSecret()], 400, 'invalid_body'],
    ];
    for (const [label, body, status, code, pointer] of invalid) {
      it(`rejects ${label} with ${status} ${code} and changes nothing`, async () => {
        const admin = client(world.server.url, world.server.adminToken());
        const res = await admin.put('/auth/update-jwt-secret', body);
        expectError(res, status, code, pointer ? { pointer } : undefined);
        const secret = Array.isArray(body) ? body[0] : (body as { secret?: unknown }).secret;
        if (typeof secret === 'string' && secret.trim()) expect(JSON.stringify(res.body)).to.not.include(secret.trim());
        expect((await admin.get('/auth/test-jwt')).status).to.equal(200);
      });
    }

    it('refuses every secret the ring has ever held (422), so a retired secret never signs again', async () => {
      const first = world.server.secret;
      const admin = (secret: string) => client(world.server.url, world.server.token('operator', { role: 'admin', expiresIn: 3600, secret }));
      const oldToken = world.server.token('alice');
      const [second, third] = [newSecret(), newSecret()];
      // grace 0: each replaced key expires at once
      expect((await admin(first).put('/auth/update-jwt-secret', { secret: second, graceSeconds: 0 })).status).to.equal(200);
      expect((await admin(second).put('/auth/update-jwt-secret', { secret: third, graceSeconds: 0 })).status).to.equal(200);

      for (const secret of [first, second, third]) {
        const res = await admin(third).put('/auth/update-jwt-secret', { secret, graceSeconds: 3600 });
        expectError(res, 422, 'validation_failed', { pointer: '/secret' });
        expect(JSON.stringify(res.body)).to.not.include(secret);
      }
      // the first secret's old kid-less tokens stay dead
      expectError(await client(world.server.url, oldToken).get('/auth/test-jwt'), 401, 'token_invalid');
      expectError(await client(world.server.url, world.server.token('alice', { secret: first })).get('/auth/test-jwt'), 401, 'token_invalid');
      expect((await client(world.server.url, world.server.token('alice', { secret: third })).get('/auth/test-jwt')).status).to.equal(200);

      // the stored ring remembers after a restart
      await world.restart();
      expectError(await admin(third).put('/auth/update-jwt-secret', { secret: first }), 422, 'validation_failed', { pointer: '/secret' });
      expectError(await client(world.server.url, oldToken).get('/auth/test-jwt'), 401, 'token_invalid');
    });

    it('refuses a secret still in its grace period (422)', async () => {
      const second = newSecret();
      expect((await client(world.server.url, world.server.adminToken()).put('/auth/update-jwt-secret', { secret: second, graceSeconds: 3600 })).status).to.equal(200);
      const admin = client(world.server.url, world.server.token('operator', { role: 'admin', expiresIn: 3600, secret: second }));
      expectError(await admin.put('/auth/update-jwt-secret', { secret: world.server.secret }), 422, 'validation_failed', { pointer: '/secret' });
    });

    it('rejects the secret already in use with 422', async () => {
      const res = await client(world.server.url, world.server.adminToken()).put('/auth/update-jwt-secret', { secret: world.server.secret });
      expectError(res, 422, 'validation_failed', { pointer: '/secret' });
      expect(JSON.stringify(res.body)).to.not.include(world.server.secret);
    });

    it('with grace 0: old tokens get 401 on HTTP at once and their sockets are disconnected; new-secret tokens work', async () => {
      const oldUser = world.server.token('alice');
      const oldService = world.server.serviceToken();
      const [aliceSocket, bobSocket] = await Promise.all([connect(world.server.url, { token: oldUser }), world.open('bob')]);
      const gone = Promise.all([disconnected(aliceSocket), disconnected(bobSocket)]);

      const secret = newSecret();
      const res = await client(world.server.url, world.server.adminToken()).put('/auth/update-jwt-secret', { secret, graceSeconds: 0 });
      expect(res.status).to.equal(200);
      expect(res.body.data.type).to.equal('keys');
      expect(res.body.data.id).to.be.a('string');
      expect(JSON.stringify(res.body)).to.not.include(secret);
      expect(JSON.stringify(res.body)).to.not.include(world.server.secret);

      expectError(await client(world.server.url, oldUser).get('/auth/test-jwt'), 401, 'token_invalid');
      expectError(await client(world.server.url, oldService).get('/control/search/online'), 401, 'token_invalid');
      expectError(await client(world.server.url, world.server.adminToken()).put('/auth/update-jwt-secret', { secret: newSecret() }), 401, 'token_invalid');

      const reasons = await gone;
      expect(reasons).to.deep.equal(['io server disconnect', 'io server disconnect']);
      expect(aliceSocket.of('auth:expired')).to.have.length(1);

      // an old token can no longer open a socket; a new one can
      const refused = await connect(world.server.url, { token: oldUser }).then(
        () => undefined,
        (error: { data?: { code?: string } }) => error,
      );
      expect(refused?.data?.code).to.equal('token_invalid');
      const fresh = await connect(world.server.url, { token: world.server.token('alice', { secret }) });
      expect(fresh.ready.userId).to.equal('alice');
      const service = client(world.server.url, world.server.token('app', { role: 'service', secret }));
      expect((await service.get('/control/search/online')).status).to.equal(200);
    });

    it('with graceSeconds: 2 old tokens work until the grace ends, then get 401 and their sockets drop', async () => {
      // the grace runs on the server's clock: moved by hand, not waited for
      const clock = new ManualClock();
      await world.start({ clock });
      const oldUser = world.server.token('alice');
      const aliceSocket = await connect(world.server.url, { token: oldUser });
      const gone = disconnected(aliceSocket);
      const secret = newSecret();
      const rotatedAt = clock.now();
      const res = await client(world.server.url, world.server.adminToken()).put('/auth/update-jwt-secret', { secret, graceSeconds: 2 });
      expect(res.status).to.equal(200);
      expect(Date.parse(res.body.data.attributes.previousKeysExpireAt)).to.equal(rotatedAt + 2_000);

      // during the grace both old and new tokens work, to its last millisecond
      clock.advance(1_999);
      expect((await client(world.server.url, oldUser).get('/auth/test-jwt')).status).to.equal(200);
      expect((await client(world.server.url, world.server.token('alice', { secret })).get('/auth/test-jwt')).status).to.equal(200);
      expect(aliceSocket.socket.connected).to.equal(true);
      const during = await connect(world.server.url, { token: oldUser });
      const duringGone = disconnected(during);

      clock.advance(1);
      expect((await client(world.server.url, oldUser).get('/auth/test-jwt')).status).to.equal(401);
      await Promise.all([gone, duringGone]);
      expect((await client(world.server.url, world.server.token('alice', { secret })).get('/auth/test-jwt')).status).to.equal(200);
    });

    it('persists the new secret across a restart: new-secret tokens work, old-secret tokens fail', async () => {
      const secret = newSecret();
      expect((await client(world.server.url, world.server.adminToken()).put('/auth/update-jwt-secret', { secret })).status).to.equal(200);
      const oldSecretToken = world.server.token('alice');
      await world.restart(); // JWT_SECRET still names the old secret: it must not come back
      expect((await client(world.server.url, world.server.token('alice', { secret })).get('/auth/test-jwt')).status).to.equal(200);
      expectError(await client(world.server.url, oldSecretToken).get('/auth/test-jwt'), 401, 'token_invalid');
      expectError(await client(world.server.url, world.server.token('bob')).get('/auth/test-jwt'), 401, 'token_invalid');
      const refused = await connect(world.server.url, { token: oldSecretToken }).then(
        () => undefined,
        (error: { data?: { code?: string } }) => error,
      );
      expect(refused?.data?.code).to.equal('token_invalid');
    });

    it('persists a running grace across a restart', async () => {
      const secret = newSecret();
      expect((await client(world.server.url, world.server.adminToken()).put('/auth/update-jwt-secret', { secret, graceSeconds: 3600 })).status).to.equal(200);
      await world.restart();
      expect((await client(world.server.url, world.server.token('alice')).get('/auth/test-jwt')).status).to.equal(200);
      expect((await client(world.server.url, world.server.token('alice', { secret })).get('/auth/test-jwt')).status).to.equal(200);
    });
  });

  describe('start-up', () => {
    it('creates the bootstrap admin from ADMIN_USERNAME/ADMIN_PASSWORD, who logs in with role admin and can rotate', async () => {
      await world.start({ env: { ADMIN_USERNAME: 'root', ADMIN_PASSWORD: PASSWORD } });
      const login = await client(world.server.url).post('/auth/login', { username: 'root', password: PASSWORD });
      expect(login.status).to.equal(200);
      const admin = client(world.server.url, login.body.data.attributes.token);
      expect((await admin.get('/auth/test-jwt')).body.meta).to.include({ sub: '@root', role: 'admin' });
      expect((await admin.get('/control/search/online')).status).to.equal(200);
      expect((await admin.put('/auth/update-jwt-secret', { secret: newSecret(), graceSeconds: 60 })).status).to.equal(200);
    });

    it('updates the bootstrap admin password on the next start', async () => {
      const dbPath = tempDbPath();
      await world.start({ dbPath, env: { ADMIN_USERNAME: 'root', ADMIN_PASSWORD: PASSWORD } });
      await world.start({ dbPath, env: { JWT_SECRET: world.server.secret, ADMIN_USERNAME: 'root', ADMIN_PASSWORD: 'a brand new password' } });
      expectError(await client(world.server.url).post('/auth/login', { username: 'root', password: PASSWORD }), 401, 'invalid_credentials');
      const login = await client(world.server.url).post('/auth/login', { username: 'root', password: 'a brand new password' });
      expect(login.status).to.equal(200);
    });

    it('refuses a production start without JWT_SECRET and an empty key ring', async () => {
      const dbPath = tempDbPath();
      const config = loadConfig({ NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: `sqlite:${dbPath}` });
      let failure: unknown;
      await createChatty(config).then(
        async (chatty) => {
          await chatty.close();
        },
        (error: unknown) => {
          failure = error;
        },
      );
      expect(failure, 'createChatty must reject').to.be.instanceOf(Error);
      expect((failure as Error).message).to.include('JWT_SECRET');
    });

    it('starts in production without JWT_SECRET when the key ring already exists', async () => {
      const { databaseUrl } = world.server;
      const token = world.server.token('alice');
      await world.stop();
      const config = loadConfig({ NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: databaseUrl });
      const chatty = await createChatty(config);
      try {
        const { port } = await chatty.listen();
        const res = await request('GET', `http://127.0.0.1:${port}/auth/test-jwt`, undefined, { token });
        expect(res.status).to.equal(200);
      } finally {
        await chatty.close();
      }
    });

    it('never writes a password, secret or token to the log, even at trace level', async () => {
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      });
      const seed = newSecret();
      const config = loadConfig({
        NODE_ENV: 'test',
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${tempDbPath()}`,
        JWT_SECRET: seed,
        ADMIN_USERNAME: 'root',
        ADMIN_PASSWORD: PASSWORD,
      });
      const chatty = await createChatty(config, { logger: createLogger('trace', sink) });
      const secrets: string[] = [seed, PASSWORD];
      try {
        const { port } = await chatty.listen();
        const base = `http://127.0.0.1:${port}`;
        const login = await request('POST', `${base}/auth/login`, { username: 'root', password: PASSWORD });
        expect(login.status).to.equal(200);
        const token = login.body.data.attributes.token as string;
        secrets.push(token);
        const wrong = await request('POST', `${base}/auth/login`, { username: 'root', password: 'not the password 1' });
        expect(wrong.status).to.equal(401);
        secrets.push('not the password 1');
        const registered = await request('POST', `${base}/auth/register`, { username: 'newbie', password: 'newbie password 2' });
        expect(registered.status).to.equal(201);
        secrets.push('newbie password 2');
        const rotated = newSecret();
        secrets.push(rotated);
        expect((await request('PUT', `${base}/auth/update-jwt-secret`, { secret: rotated, graceSeconds: 60 }, { token })).status).to.equal(200);
        const short = 'short-secret-value-xyz';
        secrets.push(short);
        expect((await request('PUT', `${base}/auth/update-jwt-secret`, { secret: short }, { token })).status).to.equal(422);
        const bad = `${token}tampered`;
        expect((await request('GET', `${base}/auth/test-jwt`, undefined, { token: bad })).status).to.equal(401);
        expect((await request('GET', `${base}/auth/test-jwt`, undefined, { headers: { cookie: `jwt=${token}` } })).status).to.equal(200);
      } finally {
        await chatty.close();
      }
      const log = lines.join('');
      expect(log.length, 'something was logged').to.be.above(0);
      for (const secret of secrets) expect(log, 'a secret in the log').to.not.include(secret);
      // nor a JWT of any kind
      expect(log).to.not.match(/eyJ[\w-]+\.eyJ[\w-]+\./);
    });

    it('in development without JWT_SECRET generates a secret, persists it, and says so without printing it', async () => {
      const dbPath = tempDbPath();
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      });
      const config = loadConfig({ NODE_ENV: 'development', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: `sqlite:${dbPath}` });
      const first = await createChatty(config, { logger: createLogger('info', sink) });
      const token = first.keys.sign({ sub: 'alice' }, 600);
      const verified = first.keys.verify(token);
      if (!verified.ok) expect.fail('a token signed at start-up verifies');
      const secret = first.keys.secretOf(verified.principal.keyId)!.export().toString('utf8');
      expect(secret).to.be.a('string').with.length.of.at.least(32);
      await first.close();
      const log = lines.join('');
      expect(log).to.match(/generated/i);
      expect(log).to.not.include(secret);

      const second = await createChatty(config, { logger: createLogger('silent') });
      try {
        expect(second.keys.verify(token).ok, 'the generated secret survives a restart').to.equal(true);
      } finally {
        await second.close();
      }
      fs.rmSync(dbPath, { force: true });
    });
  });
});
