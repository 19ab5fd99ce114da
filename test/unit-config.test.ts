import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { createChatty } from '../src/server.js';
import { configError } from './helpers/errors.js';

// JWT_SECRET must look random (src/auth/secret-strength.ts): 'x'.repeat(32) is refused
const SECRET = crypto.randomBytes(16).toString('hex');
const OTHER_SECRET = crypto.randomBytes(16).toString('hex');


describe('unit: loadConfig (contract §8)', () => {
  it('has the contract defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).to.deep.include({
      port: 3000,
      host: '0.0.0.0',
      jwtSecret: undefined,
      databaseUrl: 'sqlite:./data/chatty.db',
      redisUrl: undefined,
      maxRequestBytes: 1024 * 1024,
      tokenTtlSeconds: 3600,
      registration: 'open',
      admin: undefined,
      historyTtlMs: 7 * 24 * 3600 * 1000,
      logLevel: 'info',
      nodeEnv: 'development',
      secureCookies: false,
    });
    expect(config.corsOrigins).to.deep.equal([]);
  });

  it('reads only the environment it is given, not process.env', () => {
    const saved = process.env.PORT;
    process.env.PORT = '4321';
    try {
      expect(loadConfig({}).port).to.equal(3000);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });

  const mapped: [label: string, env: Record<string, string>, expected: Partial<Config>][] = [
    ['PORT', { PORT: '8080' }, { port: 8080 }],
    ['PORT 0 (any free port)', { PORT: '0' }, { port: 0 }],
    ['HOST', { HOST: '127.0.0.1' }, { host: '127.0.0.1' }],
    ['JWT_SECRET', { JWT_SECRET: SECRET }, { jwtSecret: SECRET }],
    ['DATABASE_URL sqlite file', { DATABASE_URL: 'sqlite:/tmp/x.db' }, { databaseUrl: 'sqlite:/tmp/x.db' }],
    ['DATABASE_URL sqlite memory', { DATABASE_URL: 'sqlite::memory:' }, { databaseUrl: 'sqlite::memory:' }],
    ['DATABASE_URL postgres', { DATABASE_URL: 'postgres://u:p@db/chatty' }, { databaseUrl: 'postgres://u:p@db/chatty' }],
    ['REDIS_URL', { REDIS_URL: 'redis://localhost:6379' }, { redisUrl: 'redis://localhost:6379' }],
    ['REDIS_PREFIX default', {}, { redisPrefix: 'chatty' }],
    ['REDIS_PREFIX', { REDIS_PREFIX: 'staging:chatty-2' }, { redisPrefix: 'staging:chatty-2' }],
    ['NODE_ID', { NODE_ID: 'node-a.eu-1' }, { nodeId: 'node-a.eu-1' }],
    ['METRICS_TOKEN', { METRICS_TOKEN: 'm'.repeat(10) + 'etrics-token-of-32-chars' }, { metricsToken: 'mmmmmmmmmmetrics-token-of-32-chars' }],
    ['METRICS_TOKEN default: unset (public)', {}, { metricsToken: undefined }],
    ['NODE_TIMEOUT default', {}, { nodeTimeoutMs: 15_000 }],
    ['NODE_TIMEOUT', { NODE_TIMEOUT: '2s' }, { nodeTimeoutMs: 2_000 }],
    ['NODE_ID default: host name and pid', {}, { nodeId: `${os.hostname()}-${process.pid}` }],
    ['MAX_REQ_SIZE 100kb', { MAX_REQ_SIZE: '100kb' }, { maxRequestBytes: 100 * 1024 }],
    ['MAX_REQ_SIZE 2mb', { MAX_REQ_SIZE: '2mb' }, { maxRequestBytes: 2 * 1024 * 1024 }],
    ['TOKEN_TTL 15m', { TOKEN_TTL: '15m' }, { tokenTtlSeconds: 900 }],
    ['TOKEN_TTL in plain seconds', { TOKEN_TTL: '90' }, { tokenTtlSeconds: 90 }],
    ['TOKEN_TTL 2d', { TOKEN_TTL: '2d' }, { tokenTtlSeconds: 2 * 86400 }],
    ['REGISTRATION closed', { REGISTRATION: 'closed' }, { registration: 'closed' }],
    ['HISTORY_TTL 1h', { HISTORY_TTL: '1h' }, { historyTtlMs: 3600 * 1000 }],
    ['LOG_LEVEL', { LOG_LEVEL: 'silent' }, { logLevel: 'silent' }],
    ['NODE_ENV test', { NODE_ENV: 'test' }, { nodeEnv: 'test' }],
    ['NODE_ENV production makes cookies Secure', { NODE_ENV: 'production' }, { nodeEnv: 'production', secureCookies: true }],
    ['SECURE_COOKIES=false overrides production', { NODE_ENV: 'production', SECURE_COOKIES: 'false' }, { secureCookies: false }],
    ['SECURE_COOKIES=true in development', { SECURE_COOKIES: 'true' }, { secureCookies: true }],
    ['ADMIN_USERNAME + ADMIN_PASSWORD', { ADMIN_USERNAME: 'root_1', ADMIN_PASSWORD: 'hunter2hunter2' }, { admin: { username: 'root_1', password: 'hunter2hunter2' } }],
    // legacy names
    ['APP_PORT (legacy)', { APP_PORT: '4000' }, { port: 4000 }],
    ['DEV_APP_PORT (legacy)', { DEV_APP_PORT: '4001' }, { port: 4001 }],
    ['DEV_JWT_SECRET (legacy)', { DEV_JWT_SECRET: SECRET }, { jwtSecret: SECRET }],
    ['DEV_MAX_REQ_SIZE (legacy)', { DEV_MAX_REQ_SIZE: '10kb' }, { maxRequestBytes: 10 * 1024 }],
    // the canonical name wins over its aliases
    ['PORT over APP_PORT and DEV_APP_PORT', { DEV_APP_PORT: '1', APP_PORT: '2', PORT: '3' }, { port: 3 }],
    ['APP_PORT over DEV_APP_PORT', { DEV_APP_PORT: '1', APP_PORT: '2' }, { port: 2 }],
    ['JWT_SECRET over DEV_JWT_SECRET', { DEV_JWT_SECRET: OTHER_SECRET, JWT_SECRET: SECRET }, { jwtSecret: SECRET }],
    ['MAX_REQ_SIZE over DEV_MAX_REQ_SIZE', { DEV_MAX_REQ_SIZE: '10kb', MAX_REQ_SIZE: '20kb' }, { maxRequestBytes: 20 * 1024 }],
    // empty strings count as unset
    ['an empty PORT falls back to the alias', { PORT: '', APP_PORT: '5000' }, { port: 5000 }],
    ['an empty JWT_SECRET is unset', { JWT_SECRET: '' }, { jwtSecret: undefined }],
    ['an empty REDIS_URL is unset', { REDIS_URL: '' }, { redisUrl: undefined }],
  ];
  for (const [label, env, expected] of mapped) {
    it(`reads ${label}`, () => {
      expect(loadConfig(env)).to.deep.include(expected);
    });
  }

  it('splits and trims CORS_ORIGINS, dropping blanks', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example, https://b.example ,,' }).corsOrigins).to.deep.equal(['https://a.example', 'https://b.example']);
  });

  const invalid: [variable: string, env: Record<string, string>][] = [
    ['PORT', { PORT: 'eighty' }],
    ['PORT', { PORT: '70000' }],
    ['PORT', { PORT: '-1' }],
    ['PORT', { PORT: '80.5' }],
    ['PORT', { APP_PORT: 'nope' }],
    ['PORT', { DEV_APP_PORT: '99999' }],
    ['JWT_SECRET', { JWT_SECRET: 'too-short' }],
    ['JWT_SECRET', { DEV_JWT_SECRET: 'x'.repeat(31) }],
    ['JWT_SECRET', { JWT_SECRET: ' '.repeat(32) }],
    ['JWT_SECRET', { JWT_SECRET: 'x'.repeat(40) }],
    ['JWT_SECRET', { JWT_SECRET: 'abcd'.repeat(10) }],
    ['JWT_SECRET', { JWT_SECRET: ` ${SECRET} ` }],
    ['JWT_SECRET', { JWT_SECRET: SECRET.slice(0, 31) }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['DATABASE_URL', { DATABASE_URL: './data/chatty.db' }],
    ['REDIS_URL', { REDIS_URL: 'localhost:6379' }],
    ['REDIS_URL', { REDIS_URL: 'redis://localhost:6379' }],
    ['REDIS_URL', { REDIS_URL: 'redis://localhost:6379', DATABASE_URL: 'sqlite::memory:' }],
    ['REDIS_URL', { REDIS_URL: 'redis://localhost:6379', DATABASE_URL: 'postgres://db/chatty', EVENT_LOG: 'off' }],
    ['REDIS_PREFIX', { REDIS_PREFIX: 'has space' }],
    ['REDIS_PREFIX', { REDIS_PREFIX: 'x'.repeat(65) }],
    ['NODE_ID', { NODE_ID: 'a/b' }],
    ['METRICS_TOKEN', { METRICS_TOKEN: 'short' }],
    ['NODE_TIMEOUT', { NODE_TIMEOUT: '21s' }],
    ['NODE_TIMEOUT', { NODE_TIMEOUT: 'soon' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: '*' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'null' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'https://a.example,*' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'https://a.example/app' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'ftp://a.example' }],
    ['MAX_REQ_SIZE', { MAX_REQ_SIZE: 'huge' }],
    ['MAX_REQ_SIZE', { MAX_REQ_SIZE: '0' }],
    ['MAX_REQ_SIZE', { DEV_MAX_REQ_SIZE: 'lots' }],
    ['TOKEN_TTL', { TOKEN_TTL: 'forever' }],
    ['TOKEN_TTL', { TOKEN_TTL: '0' }],
    ['TOKEN_TTL', { TOKEN_TTL: '-5m' }],
    ['REGISTRATION', { REGISTRATION: 'maybe' }],
    ['HISTORY_TTL', { HISTORY_TTL: 'a week' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'verbose' }],
    ['NODE_ENV', { NODE_ENV: 'staging' }],
    ['ADMIN_USERNAME', { ADMIN_USERNAME: 'a b', ADMIN_PASSWORD: 'hunter2hunter2' }],
    ['ADMIN_PASSWORD', { ADMIN_USERNAME: 'root', ADMIN_PASSWORD: 'short' }],
    ['ADMIN_PASSWORD', { ADMIN_USERNAME: 'root' }],
    ['ADMIN_USERNAME', { ADMIN_PASSWORD: 'hunter2hunter2' }],
  ];
  for (const [variable, env] of invalid) {
    it(`throws a one-line ConfigError naming ${variable} for ${JSON.stringify(env)}`, () => {
      const error = configError(env);
      expect(error.name).to.equal('ConfigError');
      expect(error.message).to.include(variable);
      expect(error.message).to.not.include('\n');
    });
  }

  it('never echoes a rejected secret', () => {
    const error = configError({ JWT_SECRET: 'my-short-secret-value' });
    expect(error.message).to.not.include('my-short-secret-value');
  });

  it('returns a frozen object', () => {
    const config = loadConfig({ CORS_ORIGINS: 'https://a.example', ADMIN_USERNAME: 'root', ADMIN_PASSWORD: 'hunter2hunter2' });
    expect(Object.isFrozen(config)).to.equal(true);
    expect(Object.isFrozen(config.corsOrigins)).to.equal(true);
    expect(Object.isFrozen(config.admin)).to.equal(true);
    // whether the assignment throws depends on strict mode; either way it must not take
    try {
      (config as { port: number }).port = 1;
    } catch {
      // strict mode
    }
    expect(() => (config.corsOrigins as string[]).push('https://evil.example')).to.throw(TypeError);
    expect(config.port).to.equal(3000);
  });
});

describe('unit: loadConfig limits (README "Limits")', () => {
  type Field = keyof Config['limits'];
  const KB = 1024;
  const MB = 1024 * KB;
  // variable, field, default, [a value, what it reads as], values refused
  const limits: [variable: string, field: Field, defaultValue: number, set: [string, number], refused: string[]][] = [
    ['REGISTER_LIMIT', 'registerPerHour', 20, ['0', 0], ['-1', 'many', '1.5', '1000001']],
    ['LOGIN_LIMIT', 'loginFailuresPerUser', 10, ['3', 3], ['-1', 'ten', '1000001']],
    ['LOGIN_ADDRESS_LIMIT', 'loginFailuresPerAddress', 100, ['0', 0], ['x', '1e3', '1000001']],
    ['CHAT_SEND_RATE', 'chatSendPerSecond', 10, ['0', 0], ['fast', '-2', '100001']],
    ['TYPING_RATE', 'typingPerSecond', 3, ['7', 7], ['0.5', '100001']],
    ['SOCKET_EVENT_RATE', 'socketEventsPerSecond', 50, ['0', 0], ['lots', '100001']],
    ['MAX_PENDING_REQUESTS', 'maxPendingRequests', 32, ['1', 1], ['0', '10001', 'all']],
    ['MAX_SOCKETS_PER_USER', 'maxSocketsPerUser', 50, ['0', 0], ['-1', '100001']],
    ['SOCKET_BUFFER_LIMIT', 'socketBufferBytes', 4 * MB, ['256kb', 256 * KB], ['63kb', '0', 'big', '-1mb']],
    ['REPLAY_RATE', 'replayPerSecond', 20_000, ['100', 100], ['99', '0', '10000001']],
    ['MAX_SUBSCRIPTION_PAIRS', 'maxSubscriptionPairs', 10_000, ['50', 50], ['0', '10000001']],
    ['PRESENCE_QUERY_LIMIT', 'presenceQueryLimit', 1_000, ['5', 5], ['0', '1000001']],
    ['UNREAD_COUNT_LIMIT', 'unreadCountLimit', 1_000, ['3', 3], ['0', 'none']],
    ['READ_POSITIONS_LIMIT', 'readPositionsLimit', 100, ['2', 2], ['0', '100001']],
    ['RECENT_EVENTS_SIZE', 'recentEventsBytes', 32 * MB, ['64kb', 64 * KB], ['1kb', 'lots']],
    ['MAX_CONNECTIONS', 'maxConnections', 10_000, ['0', 0], ['-5', '10000001']],
    ['REQUEST_TIMEOUT', 'requestTimeoutMs', 30_000, ['2m', 120_000], ['0', 'never', '2h']],
    ['KEEP_ALIVE_TIMEOUT', 'keepAliveTimeoutMs', 5_000, ['1', 1_000], ['0', 'idle', '11m']],
    ['HEADERS_TIMEOUT', 'headersTimeoutMs', 10_000, ['3s', 3_000], ['0', 'soon', '11m']],
  ];

  for (const [variable, field, defaultValue, [value, read], refused] of limits) {
    describe(variable, () => {
      it(`defaults to ${defaultValue}`, () => {
        expect(loadConfig({}).limits[field]).to.equal(defaultValue);
      });
      it(`reads ${JSON.stringify(value)} as ${read}`, () => {
        expect(loadConfig({ [variable]: value }).limits[field]).to.equal(read);
      });
      for (const bad of refused) {
        it(`refuses ${JSON.stringify(bad)} with one line naming it`, () => {
          const error = configError({ [variable]: bad });
          expect(error.message).to.include(variable);
          expect(error.message).to.not.include('\n');
        });
      }
    });
  }

  it('covers every limit the configuration has', () => {
    expect(limits.map(([, field]) => field).sort()).to.deep.equal(Object.keys(loadConfig({}).limits).sort());
  });

  it('lets HEADERS_TIMEOUT follow a shorter REQUEST_TIMEOUT, and refuses it longer than REQUEST_TIMEOUT', () => {
    expect(loadConfig({ REQUEST_TIMEOUT: '4s' }).limits.headersTimeoutMs).to.equal(4_000);
    expect(configError({ REQUEST_TIMEOUT: '4s', HEADERS_TIMEOUT: '5s' }).message).to.include('HEADERS_TIMEOUT');
  });
});

describe('unit: loadConfig webhooks (README "Webhooks")', () => {
  // variable, field, default, [a value, what it reads as], values refused
  const settings: [variable: string, field: keyof Config['webhooks'], defaultValue: unknown, set: [string, unknown], refused: string[]][] = [
    ['WEBHOOK_ALLOW_PRIVATE', 'allowPrivate', false, ['true', true], ['yes', '1']],
    ['WEBHOOK_RETRY_FOR', 'retryForMs', 86_400_000, ['2h', 7_200_000], ['0', 'forever', '31d']],
    ['WEBHOOK_TIMEOUT', 'timeoutMs', 10_000, ['500ms', 500], ['0', 'soon', '61s']],
    ['MAX_WEBHOOKS', 'maxEndpoints', 100, ['3', 3], ['0', '1001', 'many']],
    ['WEBHOOK_OFFLINE_LIMIT', 'offlineLimit', 1_000, ['5', 5], ['0', '100001', 'all']],
  ];
  for (const [variable, field, defaultValue, [value, read], refused] of settings) {
    it(`${variable}: defaults to ${String(defaultValue)}, reads ${JSON.stringify(value)}, refuses ${refused.join(', ')} with one line naming it`, () => {
      expect(loadConfig({}).webhooks[field]).to.equal(defaultValue);
      expect(loadConfig({ [variable]: value }).webhooks[field]).to.equal(read);
      for (const bad of refused) {
        const error = configError({ [variable]: bad });
        expect(error.message).to.include(variable);
        expect(error.message).to.not.include('\n');
      }
    });
  }

  it('covers every webhook setting', () => {
    expect(settings.map(([, field]) => field).sort()).to.deep.equal(Object.keys(loadConfig({}).webhooks).sort());
  });
});

describe('unit: the account and key rules of the configuration (src/auth/config-rules.ts)', () => {
  it('are applied by createChatty too, to a configuration made in code', async () => {
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: 'sqlite::memory:', JWT_SECRET: 'x'.repeat(40) });
    let refused: unknown;
    try {
      const chatty = await createChatty(config);
      await chatty.close();
    } catch (error) {
      refused = error;
    }
    expect(refused).to.be.instanceOf(ConfigError);
    expect((refused as Error).message).to.match(/^Invalid configuration: JWT_SECRET: /);
  });

  it('keep config.ts a leaf: it imports nothing from src/', () => {
    const source = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'config.ts'), 'utf8');
    const imports = [...source.matchAll(/^import[^;]*from\s+'([^']+)'/gm)].map((m) => m[1]!);
    expect(imports.length).to.be.greaterThan(0);
    expect(imports.filter((specifier) => specifier.startsWith('.'))).to.deep.equal([]);
  });
});
