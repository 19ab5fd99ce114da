/**
 * Hardening of `/auth` and its configuration: capped durations, per-address rate limits on login
 * and registration, TRUST_PROXY, and a login whose token cannot be made answering 500, not hanging.
 */
import crypto from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express from 'express';
import { loadConfig, type TrustProxy } from '../config.js';
import { Accounts } from '../src/accounts.js';
import { AUTH_LIMITS, authRoutes, REGISTER_ATTEMPTS_ALLOWED, type AuthLimits } from '../src/http/auth-routes.js';
import { createPassport } from '../src/http/authentication.js';
import { jsonBodies } from '../src/http/body-parsing.js';
import { errorHandler, notFound } from '../src/http/error-handler.js';
import { client, expectJsonApiError as expectError, type ApiResponse } from './helpers/http.js';
import type { TestServer } from './helpers/server.js';
import { useWorld, type Api } from './helpers/world.js';
import { configError } from './helpers/errors.js';

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

/**
 * `/auth` of `server` (its store, keys and configuration) with other rate limits, on a port of its
 * own: the real limits take a hundred bcrypt comparisons (seconds) to reach.
 */
async function authWithLimits(server: TestServer, limits: Partial<AuthLimits>): Promise<{ api: Api; close: () => Promise<void> }> {
  const { config, store, keys, logger } = server.chatty;
  const accounts = new Accounts(store);
  const app = express();
  app.set('trust proxy', config.trustProxy);
  app.use(jsonBodies(config.maxRequestBytes));
  app.use('/auth', authRoutes({ config, accounts, keys, auth: createPassport(keys, accounts), logger, limits }));
  app.use(notFound);
  app.use(errorHandler(logger));
  const httpServer = app.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  const { port } = httpServer.address() as AddressInfo;
  return {
    api: client(`http://127.0.0.1:${port}`),
    close: () => new Promise<void>((resolve) => httpServer.close(() => resolve())),
  };
}

function expectRateLimited(res: ApiResponse): void {
  expectError(res, 429, 'rate_limited');
  expect(Number(res.headers.get('retry-after'))).to.be.greaterThan(0);
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

  it('allows by default 10 failed logins per address and username, 100 per address, 20 registrations per address', () => {
    expect(AUTH_LIMITS).to.deep.equal({ loginFailures: 10, loginIpFailures: 100, registerAttempts: 20 });
  });

  it('limits failed logins per address across usernames, successes not counted, then 429 even for a right password', async () => {
    const allowed = 5;
    const auth = await authWithLimits(world.server, { loginIpFailures: allowed });
    try {
      expect((await auth.api.post('/auth/register', { username: 'alice', password: PASSWORD })).status).to.equal(201);
      const failures = await inBatches(allowed - 1, allowed, () => auth.api.post('/auth/login', { username: unknownUser(), password: 'wrong password' }));
      for (const res of failures) expectError(res, 401, 'invalid_credentials');
      for (let i = 0; i < 3; i++) expect((await auth.api.post('/auth/login', { username: 'alice', password: PASSWORD })).status).to.equal(200);
      expectError(await auth.api.post('/auth/login', { username: unknownUser(), password: 'wrong password' }), 401, 'invalid_credentials');

      expectRateLimited(await auth.api.post('/auth/login', { username: unknownUser(), password: 'wrong password' }));
      expectRateLimited(await auth.api.post('/auth/login', { username: 'alice', password: PASSWORD }));
      // another client address (through the trusted loopback proxy) is not affected
      const other = await auth.api.post('/auth/login', { username: 'alice', password: PASSWORD }, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      expect(other.status, JSON.stringify(other.body)).to.equal(200);
    } finally {
      await auth.close();
    }
  });

  it(`limits registrations per address: ${REGISTER_ATTEMPTS_ALLOWED} attempts, valid or not, then 429`, async () => {
    const attempts = await inBatches(REGISTER_ATTEMPTS_ALLOWED, REGISTER_ATTEMPTS_ALLOWED, (i) =>
      // invalid attempts count too; a few real ones show that accounts do
      world.api.post('/auth/register', { username: `user-${i}`, password: i % 5 === 0 ? PASSWORD : 'short' }),
    );
    expect(attempts.filter((res) => res.status === 201)).to.have.length(REGISTER_ATTEMPTS_ALLOWED / 5);
    expect(attempts.filter((res) => res.status === 422)).to.have.length(REGISTER_ATTEMPTS_ALLOWED - REGISTER_ATTEMPTS_ALLOWED / 5);

    expectRateLimited(await world.api.post('/auth/register', { username: 'one-more', password: PASSWORD }));
    // the refused request created nothing
    expectError(await world.api.post('/auth/login', { username: 'one-more', password: PASSWORD }), 401, 'invalid_credentials');
    const other = await world.api.post('/auth/register', { username: 'one-more', password: PASSWORD }, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(other.status, JSON.stringify(other.body)).to.equal(201);
  });

  it('answers 403 registration_closed, not 429, when registration is closed', async () => {
    await world.start({ env: { REGISTRATION: 'closed' } });
    const attempts = await inBatches(REGISTER_ATTEMPTS_ALLOWED + 1, REGISTER_ATTEMPTS_ALLOWED + 1, () => world.api.post('/auth/register', { username: 'alice', password: PASSWORD }));
    for (const res of attempts) expectError(res, 403, 'registration_closed');
  });

  it('takes client addresses from X-Forwarded-For only from the proxies TRUST_PROXY names', async () => {
    // the test client is 127.0.0.1: not one of these proxies, so its X-Forwarded-For is ignored
    await world.start({ env: { TRUST_PROXY: '10.0.0.0/8' } });
    await inBatches(REGISTER_ATTEMPTS_ALLOWED, REGISTER_ATTEMPTS_ALLOWED, (i) =>
      world.api.post('/auth/register', { username: `user-${i}`, password: 'short' }, { headers: { 'x-forwarded-for': `203.0.113.${i}` } }),
    );
    expectRateLimited(await world.api.post('/auth/register', { username: 'one-more', password: PASSWORD }, { headers: { 'x-forwarded-for': '198.51.100.1' } }));

    // with a hop count of 1 the address before the proxy is the client's
    await world.start({ env: { TRUST_PROXY: '1' } });
    const spread = await inBatches(REGISTER_ATTEMPTS_ALLOWED + 1, REGISTER_ATTEMPTS_ALLOWED + 1, (i) =>
      world.api.post('/auth/register', { username: `user-${i}`, password: 'short' }, { headers: { 'x-forwarded-for': `203.0.113.${i}` } }),
    );
    for (const res of spread) expectError(res, 422, 'validation_failed');
  });
});
