/**
 * The audit log (issue 9): failed logins, rate-limit refusals and key rotations each leave one
 * structured line with a stable `audit` field, and never a password, secret or token.
 */
import crypto from 'node:crypto';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { loadConfig } from '../config.js';
import { createChatty, type ChattyServer } from '../src/server.js';
import { client, expectJsonApiError as expectError } from './helpers/http.js';
import { captureLog, type LogLine } from './helpers/log.js';
import { tempDbPath } from './helpers/server.js';

const PASSWORD = 'correct horse battery';
const LOCALHOST = ['127.0.0.1', '::ffff:127.0.0.1'];

interface LoggedServer {
  chatty: ChattyServer;
  url: string;
  secret: string;
  /** Every line logged so far, parsed. */
  lines: LogLine[];
  /** Everything logged so far, as written. */
  text(): string;
  /** The audit lines so far. */
  audits(): LogLine[];
}

/** A server whose log, at `level`, the test reads. */
async function startLogged(env: Record<string, string> = {}, level: 'info' | 'warn' = 'info'): Promise<LoggedServer> {
  const { logger, lines, text } = captureLog(level);
  const secret = crypto.randomBytes(32).toString('hex');
  const config = loadConfig({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: `sqlite:${tempDbPath()}`, JWT_SECRET: secret, ...env });
  const chatty = await createChatty(config, { logger });
  const { port } = await chatty.listen();
  return { chatty, url: `http://127.0.0.1:${port}`, secret, lines, text, audits: () => lines.filter((line) => 'audit' in line) };
}

describe('audit log (issue 9)', () => {
  let server: LoggedServer | undefined;
  const start = async (env?: Record<string, string>, level?: 'info' | 'warn') => (server = await startLogged(env, level));
  afterEach(async () => {
    await server?.chatty.close();
    server = undefined;
  });

  it('logs one login_failed line for a wrong password and one for an unknown user, with the username and address, at warn', async () => {
    const { url, audits, text } = await start({ ADMIN_USERNAME: 'root', ADMIN_PASSWORD: PASSWORD }, 'warn');
    expectError(await client(url).post('/auth/login', { username: 'root', password: 'not the password 1' }), 401, 'invalid_credentials');
    expectError(await client(url).post('/auth/login', { username: 'Nobody', password: 'not the password 2' }), 401, 'invalid_credentials');
    expect((await client(url).post('/auth/login', { username: 'root', password: PASSWORD })).status).to.equal(200);

    const lines = audits();
    expect(lines.map((line) => [line.audit, line.username, line.reason])).to.deep.equal([
      ['login_failed', 'root', 'invalid_credentials'],
      ['login_failed', 'Nobody', 'invalid_credentials'],
    ]);
    for (const line of lines) {
      expect(line.level, 'written at warn, so LOG_LEVEL=warn keeps it').to.equal(40);
      expect(line.address).to.be.oneOf(LOCALHOST);
    }
    for (const secret of ['not the password 1', 'not the password 2', PASSWORD]) expect(text()).to.not.include(secret);
  });

  it('logs a login with a 500 KB username as login_failed without the username: the line stays small', async () => {
    const { url, audits, text } = await start();
    const username = `${'u'.repeat(500 * 1024)}`;
    expectError(await client(url).post('/auth/login', { username, password: 'not the password' }), 401, 'invalid_credentials');
    const [line, ...more] = audits();
    expect(more).to.deep.equal([]);
    expect(line).to.include({ audit: 'login_failed', reason: 'malformed_username', usernameLength: username.length });
    expect(line).to.not.have.property('username');
    expect(text()).to.not.include('u'.repeat(100));
    expect(JSON.stringify(line)).to.have.length.below(500);
  });

  it('logs a rate_limited line naming the limit and the address for each refusal', async () => {
    const { url, audits } = await start({ LOGIN_LIMIT: '1', LOGIN_ADDRESS_LIMIT: '0', REGISTER_LIMIT: '1', ADMIN_USERNAME: 'root', ADMIN_PASSWORD: PASSWORD });
    expectError(await client(url).post('/auth/login', { username: 'root', password: 'not the password' }), 401, 'invalid_credentials');
    expectError(await client(url).post('/auth/login', { username: 'ROOT', password: 'not the password' }), 429, 'rate_limited');
    expect((await client(url).post('/auth/register', { username: 'alice', password: PASSWORD })).status).to.equal(201);
    expectError(await client(url).post('/auth/register', { username: 'bob', password: PASSWORD }), 429, 'rate_limited');

    const lines = audits();
    expect(lines.map((line) => [line.audit, line.limit ?? null])).to.deep.equal([
      ['login_failed', null],
      ['rate_limited', 'login_per_user'],
      ['rate_limited', 'register_per_address'],
    ]);
    expect(lines[1]).to.include({ username: 'ROOT' });
    expect(lines[2]).to.not.have.property('username');
    for (const line of lines) expect(line.address).to.be.oneOf(LOCALHOST);
  });

  it('logs the per-address login limit as login_per_address', async () => {
    const { url, audits } = await start({ LOGIN_ADDRESS_LIMIT: '1' });
    expectError(await client(url).post('/auth/login', { username: 'nobody', password: 'not the password' }), 401, 'invalid_credentials');
    expectError(await client(url).post('/auth/login', { username: 'somebody', password: 'not the password' }), 429, 'rate_limited');
    expect(audits().map((line) => [line.audit, line.limit ?? null])).to.deep.equal([
      ['login_failed', null],
      ['rate_limited', 'login_per_address'],
    ]);
  });

  it('logs one key_rotated line with who rotated (sub, role, key), the new key, the grace and the retired keys; never the secrets', async () => {
    const { chatty, url, secret, audits, text } = await start();
    const token = jwt.sign({ sub: 'operator', role: 'admin' }, secret, { algorithm: 'HS256', expiresIn: 600 });
    const verified = chatty.keys.verify(token);
    if (!verified.ok) expect.fail('the admin token verifies');
    const oldKeyId = verified.principal.keyId;
    const next = crypto.randomBytes(32).toString('hex');
    const res = await client(url, token).put('/auth/update-jwt-secret', { secret: next, graceSeconds: 60 });
    expect(res.status).to.equal(200);
    // a refused rotation is not a rotation
    expect((await client(url, token).put('/auth/update-jwt-secret', { secret: next })).status).to.equal(422);

    const lines = audits();
    expect(lines).to.have.length(1);
    expect(lines[0]).to.deep.include({
      audit: 'key_rotated',
      by: { sub: 'operator', role: 'admin', keyId: oldKeyId },
      keyId: res.body.data.id,
      graceSeconds: 60,
      retired: [oldKeyId],
      level: 40,
    });
    expect(lines[0]!.address).to.be.oneOf(LOCALHOST);
    for (const value of [secret, next, token]) expect(text()).to.not.include(value);
  });
});
