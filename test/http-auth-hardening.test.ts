/**
 * Hardening of `/auth` and its configuration: capped durations, the login and registration limits
 * (REGISTER_LIMIT, LOGIN_LIMIT, LOGIN_ADDRESS_LIMIT), TRUST_PROXY, usernames checked before any
 * limiter sees them, loose token claims, format characters in names, and a login whose token
 * cannot be made answering 500, not hanging.
 */
import crypto from 'node:crypto';
import { expect } from 'chai';
import express from 'express';
import { loadConfig, type TrustProxy } from '../config.js';
import { loginAttemptKey } from '../src/http/auth-routes.js';
import type { Store } from '../src/store/store.js';
import { CLOCK_SKEW_SECONDS, MAX_EXP_AHEAD_SECONDS } from '../src/auth/tokens.js';
import { configError } from './helpers/errors.js';
import { client, doc, expectJsonApiError as expectError, type ApiResponse } from './helpers/http.js';
import { connect } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

const PASSWORD = 'correct horse battery';

const unknownUser = () => `nobody-${crypto.randomBytes(6).toString('hex')}`;

/** `count` requests made `batch` at a time (each failed login costs a bcrypt comparison on the server). */
async function inBatches(count: number, batch: number, call: (i: number) => Promise<ApiResponse>): Promise<ApiResponse[]> {
  const responses: ApiResponse[] = [];
  for (let i = 0; i < count; i += batch) {
    responses.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, (_, j) => call(i + j)))));
  }
  return responses;
}

function expectRateLimited(res: ApiResponse): void {
  expectError(res, 429, 'rate_limited');
  expect(Number(res.headers.get('retry-after'))).to.be.greaterThan(0);
}

/** A store that records every username it is asked to find. */
function recordingLookups(looked: string[]) {
  return (store: Store): Store =>
    new Proxy(store, {
      get(target, property) {
        if (property === 'findAccount') {
          return (username: string) => {
            looked.push(username);
            return target.findAccount(username);
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
}

/** An HS256 token with exactly this header and payload, signed with `secret` (jsonwebtoken's sign refuses odd claims). */
function handmadeToken(secret: string, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${part(header)}.${part(payload)}`;
  return `${body}.${crypto.createHmac('sha256', secret).update(body).digest('base64url')}`;
}

describe('unit: loadConfig caps and TRUST_PROXY', () => {
  for (const [variable, value, cap] of [
    ['TOKEN_TTL', '99999999999999999999', '1 year'],
    ['TOKEN_TTL', '366d', '1 year'],
    ['HISTORY_TTL', '11y', '10 years'],
    ['HISTORY_TTL', '999999999999', '10 years'],
  ] as const) {
    it(`refuses ${variable}=${value} (over ${cap}) with one line naming it`, () => {
      const error = configError({ [variable]: value });
      expect(error.message).to.equal(`Invalid configuration: ${variable}: must be at most ${cap}`);
    });
  }

  it('accepts TOKEN_TTL up to a year and HISTORY_TTL up to ten', () => {
    expect(loadConfig({ TOKEN_TTL: '365d' }).tokenTtlSeconds).to.equal(365 * 86400);
    expect(loadConfig({ TOKEN_TTL: '1y' }).tokenTtlSeconds).to.equal(Math.ceil(365.25 * 86400));
    expect(loadConfig({ HISTORY_TTL: '10y' }).historyTtlMs).to.equal(3652.5 * 86400 * 1000);
  });

  it('still uses the one username and password rule for the bootstrap admin', () => {
    expect(configError({ ADMIN_USERNAME: 'ab', ADMIN_PASSWORD: PASSWORD }).message).to.match(/^Invalid configuration: ADMIN_USERNAME: must be 3–64/);
    expect(configError({ ADMIN_USERNAME: 'root', ADMIN_PASSWORD: 'é'.repeat(37) }).message).to.equal('Invalid configuration: ADMIN_PASSWORD: must be at most 72 bytes');
  });

  it('defaults TRUST_PROXY to loopback', () => {
    expect(loadConfig({}).trustProxy).to.equal('loopback');
  });

  const accepted: [text: string, value: TrustProxy][] = [
    ['false', false],
    ['0', 0],
    ['1', 1],
    ['255', 255],
    ['loopback', 'loopback'],
    ['uniquelocal', 'uniquelocal'],
    ['linklocal', 'linklocal'],
    ['10.0.0.7', '10.0.0.7'],
    ['loopback, 10.0.0.0/8 ,192.168.1.0/24', 'loopback,10.0.0.0/8,192.168.1.0/24'],
    ['fc00::/7,::1', 'fc00::/7,::1'],
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'],
  ];
  for (const [text, value] of accepted) {
    it(`reads TRUST_PROXY=${text}, a value Express compiles`, () => {
      const { trustProxy } = loadConfig({ TRUST_PROXY: text });
      expect(trustProxy).to.equal(value);
      expect(() => express().set('trust proxy', trustProxy)).to.not.throw();
    });
  }

  for (const text of ['true', 'yes', '256', '-1', '1.5', 'loopback,', 'localhost', '10.0.0.0/0', '10.0.0.0/33', '::1/129', '10.0.0.0/8/8', '10.1', '10.0.0.0/255.0.0.0']) {
    it(`refuses TRUST_PROXY=${text} with one line naming it`, () => {
      const error = configError({ TRUST_PROXY: text });
      expect(error.message).to.match(/^Invalid configuration: TRUST_PROXY: /);
      expect(error.message).to.not.include('\n');
    });
  }
});

describe('HTTP /auth hardening', () => {
  const world = useWorld({ anonymous: true });

  it('answers 500 internal_error, not a hanging request, when making the token throws after the password check', async () => {
    expect((await world.api.post('/auth/register', { username: 'alice', password: PASSWORD })).status).to.equal(201);
    world.server.chatty.keys.sign = () => {
      throw new Error('signing failed');
    };
    const res = await world.api.post('/auth/login', { username: 'alice', password: PASSWORD });
    const error = expectError(res, 500, 'internal_error');
    expect(JSON.stringify(error)).to.not.include('signing failed');
  });

  describe('limits (REGISTER_LIMIT, LOGIN_LIMIT, LOGIN_ADDRESS_LIMIT)', () => {
    it('allows by default 10 failed logins per address and username, 100 per address, 20 registrations per address and hour', () => {
      expect(loadConfig({}).limits).to.deep.include({ loginFailuresPerUser: 10, loginFailuresPerAddress: 100, registerPerHour: 20 });
    });

    it('limits failed logins per address and username at LOGIN_LIMIT, in any case of the username, then 429 even for the right password', async () => {
      await world.start({ env: { LOGIN_LIMIT: '3', ADMIN_USERNAME: 'root', ADMIN_PASSWORD: PASSWORD } });
      // ROOT and Root are root: other spellings buy no extra attempts
      for (const username of ['root', 'ROOT', 'Root']) expectError(await world.api.post('/auth/login', { username, password: 'wrong password' }), 401, 'invalid_credentials');
      expectRateLimited(await world.api.post('/auth/login', { username: 'rOOt', password: 'wrong password' }));
      expectRateLimited(await world.api.post('/auth/login', { username: 'root', password: PASSWORD }));
      // another username from the same address is not affected
      expectError(await world.api.post('/auth/login', { username: unknownUser(), password: 'wrong password' }), 401, 'invalid_credentials');
    });

    it('limits failed logins per address across usernames at LOGIN_ADDRESS_LIMIT, successes not counted, then 429 even for a right password', async () => {
      const allowed = 5;
      await world.start({ env: { LOGIN_ADDRESS_LIMIT: String(allowed) } });
      expect((await world.api.post('/auth/register', { username: 'alice', password: PASSWORD })).status).to.equal(201);
      const failures = await inBatches(allowed - 1, allowed, () => world.api.post('/auth/login', { username: unknownUser(), password: 'wrong password' }));
      for (const res of failures) expectError(res, 401, 'invalid_credentials');
      for (let i = 0; i < 3; i++) expect((await world.api.post('/auth/login', { username: 'alice', password: PASSWORD })).status).to.equal(200);
      expectError(await world.api.post('/auth/login', { username: unknownUser(), password: 'wrong password' }), 401, 'invalid_credentials');

      expectRateLimited(await world.api.post('/auth/login', { username: unknownUser(), password: 'wrong password' }));
      expectRateLimited(await world.api.post('/auth/login', { username: 'alice', password: PASSWORD }));
      // another client address (through the trusted loopback proxy) is not affected
      const other = await world.api.post('/auth/login', { username: 'alice', password: PASSWORD }, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      expect(other.status, JSON.stringify(other.body)).to.equal(200);
    });

    it('turns the login limits off with LOGIN_LIMIT=0 and LOGIN_ADDRESS_LIMIT=0', async () => {
      await world.start({ env: { LOGIN_LIMIT: '0', LOGIN_ADDRESS_LIMIT: '0', ADMIN_USERNAME: 'root', ADMIN_PASSWORD: PASSWORD } });
      // more than the default 10 per username
      const failures = await inBatches(12, 6, () => world.api.post('/auth/login', { username: 'root', password: 'wrong password' }));
      for (const res of failures) expectError(res, 401, 'invalid_credentials');
      expect((await world.api.post('/auth/login', { username: 'root', password: PASSWORD })).status).to.equal(200);
    });

    it('limits registrations per address at REGISTER_LIMIT, valid or not, then 429', async () => {
      const allowed = 10;
      await world.start({ env: { REGISTER_LIMIT: String(allowed) } });
      const attempts = await inBatches(allowed, allowed, (i) =>
        // invalid attempts count too; a few real ones show that accounts do
        world.api.post('/auth/register', { username: `user-${i}`, password: i % 5 === 0 ? PASSWORD : 'short' }),
      );
      expect(attempts.filter((res) => res.status === 201)).to.have.length(allowed / 5);
      expect(attempts.filter((res) => res.status === 422)).to.have.length(allowed - allowed / 5);

      expectRateLimited(await world.api.post('/auth/register', { username: 'one-more', password: PASSWORD }));
      // the refused request created nothing
      expectError(await world.api.post('/auth/login', { username: 'one-more', password: PASSWORD }), 401, 'invalid_credentials');
      const other = await world.api.post('/auth/register', { username: 'one-more', password: PASSWORD }, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      expect(other.status, JSON.stringify(other.body)).to.equal(201);
    });

    it('limits registrations at 20 per address by default', async () => {
      const attempts = await inBatches(21, 21, (i) => world.api.post('/auth/register', { username: `user-${i}`, password: 'short' }));
      expect(attempts.slice(0, 20).map((res) => res.status)).to.deep.equal(Array(20).fill(422));
      expectRateLimited(attempts[20]!);
    });

    it('turns the registration limit off with REGISTER_LIMIT=0', async () => {
      await world.start({ env: { REGISTER_LIMIT: '0' } });
      const attempts = await inBatches(25, 25, (i) => world.api.post('/auth/register', { username: `user-${i}`, password: 'short' }));
      for (const res of attempts) expectError(res, 422, 'validation_failed');
    });

    it('answers 403 registration_closed, not 429, when registration is closed', async () => {
      await world.start({ env: { REGISTRATION: 'closed', REGISTER_LIMIT: '2' } });
      const attempts = await inBatches(3, 3, () => world.api.post('/auth/register', { username: 'alice', password: PASSWORD }));
      for (const res of attempts) expectError(res, 403, 'registration_closed');
    });

    it('takes client addresses from X-Forwarded-For only from the proxies TRUST_PROXY names', async () => {
      const allowed = 5;
      // the test client is 127.0.0.1: not one of these proxies, so its X-Forwarded-For is ignored
      await world.start({ env: { TRUST_PROXY: '10.0.0.0/8', REGISTER_LIMIT: String(allowed) } });
      await inBatches(allowed, allowed, (i) =>
        world.api.post('/auth/register', { username: `user-${i}`, password: 'short' }, { headers: { 'x-forwarded-for': `203.0.113.${i}` } }),
      );
      expectRateLimited(await world.api.post('/auth/register', { username: 'one-more', password: PASSWORD }, { headers: { 'x-forwarded-for': '198.51.100.1' } }));

      // with a hop count of 1 the address before the proxy is the client's
      await world.start({ env: { TRUST_PROXY: '1', REGISTER_LIMIT: String(allowed) } });
      const spread = await inBatches(allowed + 1, allowed + 1, (i) =>
        world.api.post('/auth/register', { username: `user-${i}`, password: 'short' }, { headers: { 'x-forwarded-for': `203.0.113.${i}` } }),
      );
      for (const res of spread) expectError(res, 422, 'validation_failed');
    });
  });

  describe('usernames at login are checked before any limiter sees them', () => {
    it('refuses a 500 KB username like an unknown one, without a lookup, and counts it against no limit', async () => {
      const looked: string[] = [];
      await world.start({ env: { LOGIN_LIMIT: '1', LOGIN_ADDRESS_LIMIT: '1' }, wrapStore: recordingLookups(looked) });
      const huge = (fill: string) => fill.repeat(500 * 1024);
      // had a limiter seen them, the first would have used up both limits and the second been 429
      for (const username of [huge('a'), huge('a'), huge('b')]) {
        const res = await world.api.post('/auth/login', { username, password: 'wrong password' });
        expectError(res, 401, 'invalid_credentials');
        expect(JSON.stringify(res.body)).to.have.length.below(1000);
      }
      expect(looked, 'no store lookup for a username no account can have').to.deep.equal([]);

      // a well-formed unknown username is looked up, counted, and then limited
      expectError(await world.api.post('/auth/login', { username: 'nobody', password: 'wrong password' }), 401, 'invalid_credentials');
      expect(looked).to.deep.equal(['nobody']);
      expectRateLimited(await world.api.post('/auth/login', { username: 'nobody', password: 'wrong password' }));
    });

    for (const [label, username] of [
      ['65 characters', 'a'.repeat(65)],
      ['2 characters', 'ab'],
      ['a space', 'al ice'],
      ['a zero-width space', 'al\u200bice'],
      ['an empty string', ''],
    ] as const) {
      it(`answers a username of ${label} with the unknown-user 401`, async () => {
        const res = await world.api.post('/auth/login', { username, password: PASSWORD });
        const unknown = await world.api.post('/auth/login', { username: 'nobody', password: PASSWORD });
        expectError(res, 401, 'invalid_credentials');
        expect(res.body).to.deep.equal(unknown.body);
      });
    }

    it('keys the per-username limiter on the address and the lower-cased username', () => {
      expect(loginAttemptKey('127.0.0.1', 'ALICE')).to.equal(loginAttemptKey('127.0.0.1', 'alice'));
      expect(loginAttemptKey('127.0.0.1', 'alice')).to.not.equal(loginAttemptKey('127.0.0.2', 'alice'));
      expect(loginAttemptKey('127.0.0.1', 'a'.repeat(64))).to.have.length.below(100);
    });
  });

  describe('token claims (contract §3), on HTTP and on sockets', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const cases: [label: string, token: (secret: string) => string][] = [
      ['a string iat', (secret) => handmadeToken(secret, { alg: 'HS256', typ: 'JWT' }, { sub: 'alice', iat: 'yesterday' })],
      ['an iat in the future', (secret) => handmadeToken(secret, { alg: 'HS256', typ: 'JWT' }, { sub: 'alice', iat: now() + CLOCK_SKEW_SECONDS + 600 })],
      ['a crit header', (secret) => handmadeToken(secret, { alg: 'HS256', typ: 'JWT', crit: ['exp'] }, { sub: 'alice', exp: now() + 600 })],
      ['an exp of 1e300', (secret) => handmadeToken(secret, { alg: 'HS256', typ: 'JWT' }, { sub: 'alice', exp: 1e300 })],
      ['an exp beyond ten years', (secret) => handmadeToken(secret, { alg: 'HS256', typ: 'JWT' }, { sub: 'alice', exp: now() + MAX_EXP_AHEAD_SECONDS + 3600 })],
      ['an nbf in the future', (secret) => handmadeToken(secret, { alg: 'HS256', typ: 'JWT' }, { sub: 'alice', nbf: now() + CLOCK_SKEW_SECONDS + 600 })],
      ['a string nbf', (secret) => handmadeToken(secret, { alg: 'HS256', typ: 'JWT' }, { sub: 'alice', nbf: 'now' })],
      ['a sub with a zero-width space', (secret) => handmadeToken(secret, { alg: 'HS256', typ: 'JWT' }, { sub: 'ad\u200bmin', role: 'admin' })],
      ['a sub with a bidi override', (secret) => handmadeToken(secret, { alg: 'HS256', typ: 'JWT' }, { sub: 'alice\u202e', role: 'service' })],
    ];
    for (const [label, token] of cases) {
      it(`refuses ${label}: 401 token_invalid on HTTP, connect_error token_invalid on a socket`, async () => {
        const jwt = token(world.server.secret);
        const res = await client(world.server.url, jwt).get('/auth/test-jwt');
        expectError(res, 401, 'token_invalid');
        expect(res.headers.get('www-authenticate')).to.match(/^Bearer\b/);
        const refused = await connect(world.server.url, { token: jwt }).then(
          () => undefined,
          (error: { data?: { code?: string } }) => error,
        );
        expect(refused?.data?.code).to.equal('token_invalid');
      });
    }

    it('accepts an iat and nbf slightly ahead of the clock, and a ten-year exp', async () => {
      const jwt = handmadeToken(world.server.secret, { alg: 'HS256', typ: 'JWT' }, { sub: 'alice', iat: now() + 30, nbf: now() + 30, exp: now() + 3650 * 86400 });
      const res = await client(world.server.url, jwt).get('/auth/test-jwt');
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const socket = await connect(world.server.url, { token: jwt });
      expect(socket.ready.userId).to.equal('alice');
    });
  });

  describe('format characters (Unicode Cf) in names (contract §1)', () => {
    it('refuses posts\u200b-1 in a method query: 400 invalid_parameter', async () => {
      const api = client(world.server.url, world.server.serviceToken());
      for (const method of ['channels:posts\u200b-1', 'users:ad\u200bmin', 'channels:[a,\u202eb]', 'users:bo\ufeffb']) {
        const query = encodeURIComponent(method);
        expectError(await api.post(`/control/notify?method=${query}`, { event: 'ping', attributes: {} }), 400, 'invalid_parameter', { parameter: 'method' });
        expectError(await api.post(`/control/subscription/subscribe?method=${query}`, doc(['posts', '1'])), 400, 'invalid_parameter', { parameter: 'method' });
      }
    });

    it('refuses a channel with a format character derived from a subscribe document: 422', async () => {
      const api = client(world.server.url, world.server.serviceToken());
      for (const [type, id] of [['posts', '1\u200b'], ['posts\u200b', '1'], ['posts', '\u2066x'], ['posts', 'so\u00adft']]) {
        const res = await api.post('/control/subscription/subscribe?method=users:alice', doc([type!, id!]));
        expectError(res, 422, 'validation_failed');
      }
      expect((await api.get('/control/search/subscriptions?userId=alice')).body.data).to.deep.equal([]);
    });

    it('refuses a user id with a format character in a query parameter: 400 invalid_parameter', async () => {
      const api = client(world.server.url, world.server.serviceToken());
      expectError(await api.get(`/control/search/subscriptions?userId=${encodeURIComponent('ad\u200bmin')}`), 400, 'invalid_parameter', { parameter: 'userId' });
    });

    it('refuses format characters in socket payloads', async () => {
      const socket = await connect(world.server.url, { token: world.server.token('alice') });
      const toUser = await socket.call('chat:send', { to: 'b\u200bob', body: 'hi' });
      expect(toUser.ok).to.equal(false);
      expect(toUser.error.code).to.equal('validation_failed');
      const inChannel = await socket.call('chat:send', { channel: 'posts\u200b-1', body: 'hi' });
      expect(inChannel.ok).to.equal(false);
      expect(inChannel.error.code).to.equal('validation_failed');
    });
  });
});
