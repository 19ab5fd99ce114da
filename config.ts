/**
 * Chatty's configuration: read once from the environment (and `.env`), validated, frozen, and
 * passed to whatever needs it. Nothing else in the code base reads `process.env`.
 *
 * @example
 *   const config = loadConfig();             // process.env + ./.env
 *   const config = loadConfig({ PORT: '0' }); // tests: an explicit environment, no .env
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import bytes from 'bytes';
import dotenv from 'dotenv';
import ms from 'ms';
import { z } from 'zod';
import { passwordSchema, usernameSchema } from './src/credentials.js';

export type NodeEnv = 'development' | 'test' | 'production';
export type Registration = 'open' | 'closed';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type EventLogMode = 'durable' | 'off';
/**
 * Express's `trust proxy` setting: `false` (trust no proxy), a hop count, or a comma-separated
 * list of addresses, CIDR ranges and the names `loopback`, `linklocal`, `uniquelocal`.
 */
export type TrustProxy = false | number | string;

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Seeds an empty key ring; never used once the ring has a key. */
  readonly jwtSecret: string | undefined;
  readonly databaseUrl: string;
  readonly redisUrl: string | undefined;
  /** Request body limit in bytes. */
  readonly maxRequestBytes: number;
  readonly corsOrigins: readonly string[];
  /** Lifetime of login tokens, in seconds. */
  readonly tokenTtlSeconds: number;
  readonly registration: Registration;
  readonly admin: { readonly username: string; readonly password: string } | undefined;
  /** Event log retention, in milliseconds. */
  readonly historyTtlMs: number;
  readonly logLevel: LogLevel;
  readonly nodeEnv: NodeEnv;
  /** `off` keeps no event log (no replay, no crash safety): a benchmark baseline, never for production. */
  readonly eventLog: EventLogMode;
  /** Send the login cookie with `Secure`. */
  readonly secureCookies: boolean;
  /**
   * `presence` events are announced only in channels with at most this many subscribers:
   * beyond that every connect would cost a frame per member (quadratic), as Pusher's 100-member
   * presence channels avoid. `presence:query` answers for any channel.
   */
  readonly presenceLimit: number;
  /** Which proxies' `X-Forwarded-For` to believe, so rate limits see client addresses. */
  readonly trustProxy: TrustProxy;
}

/** Thrown for an invalid environment; its message is the one line start-up prints. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Each variable and the legacy names it may also be given as, first match wins. */
const ALIASES = {
  PORT: ['PORT', 'APP_PORT', 'DEV_APP_PORT'],
  HOST: ['HOST'],
  JWT_SECRET: ['JWT_SECRET', 'DEV_JWT_SECRET'],
  DATABASE_URL: ['DATABASE_URL'],
  REDIS_URL: ['REDIS_URL'],
  MAX_REQ_SIZE: ['MAX_REQ_SIZE', 'DEV_MAX_REQ_SIZE'],
  CORS_ORIGINS: ['CORS_ORIGINS'],
  TOKEN_TTL: ['TOKEN_TTL'],
  REGISTRATION: ['REGISTRATION'],
  ADMIN_USERNAME: ['ADMIN_USERNAME'],
  ADMIN_PASSWORD: ['ADMIN_PASSWORD'],
  HISTORY_TTL: ['HISTORY_TTL'],
  LOG_LEVEL: ['LOG_LEVEL'],
  NODE_ENV: ['NODE_ENV'],
  EVENT_LOG: ['EVENT_LOG'],
  SECURE_COOKIES: ['SECURE_COOKIES'],
  PRESENCE_LIMIT: ['PRESENCE_LIMIT'],
  TRUST_PROXY: ['TRUST_PROXY'],
} as const;
type VariableName = keyof typeof ALIASES;

/**
 * A duration up to `max` (written as `maxText`), in milliseconds. The cap keeps absurd values
 * from reaching the code that computes dates from them: a token lifetime of 10^20 seconds passes
 * as a finite number but makes an invalid cookie date, and the login that tries it fails.
 */
const duration = (max: number, maxText: string) =>
  z.string().transform((text, ctx) => {
    const value = /^\d+$/.test(text) ? Number(text) * 1000 : ms(text as ms.StringValue);
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration such as 30s, 15m, 1h or 7d' });
      return z.NEVER;
    }
    if (value > max) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${maxText}` });
      return z.NEVER;
    }
    return value;
  });

/** The longest accepted `TOKEN_TTL` and `HISTORY_TTL`. */
export const MAX_TOKEN_TTL_MS = ms('1y');
export const MAX_HISTORY_TTL_MS = ms('10y');

const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
// beyond an IP packet's maximum TTL a hop count means nothing
const MAX_PROXY_HOPS = 255;

/** A named range, an IP address, or one with a `/prefix` length: a subset of what Express's proxy-addr compiles. */
function isProxyRange(item: string): boolean {
  if (PROXY_RANGE_NAMES.has(item)) return true;
  const [address = '', prefix, ...rest] = item.split('/');
  const family = net.isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  // a /0 range would trust every address, and proxy-addr refuses it
  return /^\d{1,3}$/.test(prefix) && Number(prefix) >= 1 && Number(prefix) <= (family === 4 ? 32 : 128);
}

const trustProxy = () =>
  z.string().transform((text, ctx): TrustProxy => {
    if (text === 'false') return false;
    // Express would take it, but then every client picks its own address and escapes the rate limits
    if (text === 'true') {
      ctx.addIssue({ code: 'custom', message: 'true would let any client choose its address; give a hop count or the proxies\' addresses instead' });
      return z.NEVER;
    }
    if (/^\d+$/.test(text)) {
      if (Number(text) <= MAX_PROXY_HOPS) return Number(text);
    } else {
      const items = text.split(',').map((item) => item.trim());
      if (items.every(isProxyRange)) return items.join(',');
    }
    ctx.addIssue({ code: 'custom', message: `must be false, a hop count from 0 to ${MAX_PROXY_HOPS}, or a comma-separated list of loopback, linklocal, uniquelocal, addresses and CIDR ranges` });
    return z.NEVER;
  });

const schema = z.object({
  PORT: z.coerce.number({ error: 'must be a port number from 0 to 65535' }).int('must be a port number from 0 to 65535').min(0, 'must be a port number from 0 to 65535').max(65535, 'must be a port number from 0 to 65535').default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  DATABASE_URL: z
    .string()
    .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'must be sqlite:<path>, sqlite::memory: or postgres://…')
    .default('sqlite:./data/chatty.db'),
  REDIS_URL: z.string().regex(/^rediss?:\/\/.+/, 'must be a redis:// URL').optional(),
  MAX_REQ_SIZE: z
    .string()
    .default('1mb')
    .transform((text, ctx) => {
      const value = bytes.parse(text);
      if (value === null || !Number.isFinite(value) || value <= 0) {
        ctx.addIssue({ code: 'custom', message: 'must be a size such as 100kb or 1mb' });
        return z.NEVER;
      }
      return value;
    }),
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((text) => text.split(',').map((origin) => origin.trim()).filter(Boolean)),
  TOKEN_TTL: duration(MAX_TOKEN_TTL_MS, '1 year').default(ms('1h')),
  REGISTRATION: z.enum(['open', 'closed']).default('open'),
  ADMIN_USERNAME: usernameSchema.optional(),
  ADMIN_PASSWORD: passwordSchema.optional(),
  HISTORY_TTL: duration(MAX_HISTORY_TTL_MS, '10 years').default(ms('7d')),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  EVENT_LOG: z.enum(['durable', 'off']).default('durable'),
  SECURE_COOKIES: z.enum(['true', 'false']).optional(),
  PRESENCE_LIMIT: z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(0, 'must be 0 or more').max(1_000_000, 'must be at most 1000000').default(100),
  // loopback: a proxy on the same host, and nothing a remote client can forge
  TRUST_PROXY: trustProxy().default('loopback'),
});

/** Picks each variable from its first set alias; empty strings count as unset. */
function collect(env: Record<string, string | undefined>): Partial<Record<VariableName, string>> {
  const picked: Partial<Record<VariableName, string>> = {};
  for (const [name, aliases] of Object.entries(ALIASES) as [VariableName, readonly string[]][]) {
    for (const alias of aliases) {
      const value = env[alias];
      if (value !== undefined && value !== '') {
        picked[name] = value;
        break;
      }
    }
  }
  return picked;
}

/**
 * Builds the configuration from an environment. Without an argument it reads `process.env` over
 * `./.env` (real environment variables win). Throws {@link ConfigError} naming the variable.
 */
export function loadConfig(env?: Record<string, string | undefined>): Config {
  const source = env ?? { ...readDotenv(), ...process.env };
  const parsed = schema.safeParse(collect(source));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`Invalid configuration: ${variable}: ${issue.message}`);
  }
  const v = parsed.data;
  if ((v.ADMIN_USERNAME === undefined) !== (v.ADMIN_PASSWORD === undefined)) {
    throw new ConfigError('Invalid configuration: ADMIN_USERNAME and ADMIN_PASSWORD must be set together');
  }
  return Object.freeze({
    port: v.PORT,
    host: v.HOST,
    jwtSecret: v.JWT_SECRET,
    databaseUrl: v.DATABASE_URL,
    redisUrl: v.REDIS_URL,
    maxRequestBytes: v.MAX_REQ_SIZE,
    corsOrigins: Object.freeze(v.CORS_ORIGINS),
    tokenTtlSeconds: Math.ceil(v.TOKEN_TTL / 1000),
    registration: v.REGISTRATION,
    admin: v.ADMIN_USERNAME && v.ADMIN_PASSWORD ? Object.freeze({ username: v.ADMIN_USERNAME, password: v.ADMIN_PASSWORD }) : undefined,
    historyTtlMs: v.HISTORY_TTL,
    logLevel: v.LOG_LEVEL,
    nodeEnv: v.NODE_ENV,
    eventLog: v.EVENT_LOG,
    secureCookies: v.SECURE_COOKIES ? v.SECURE_COOKIES === 'true' : v.NODE_ENV === 'production',
    presenceLimit: v.PRESENCE_LIMIT,
    trustProxy: v.TRUST_PROXY,
  });
}

function readDotenv(): Record<string, string> {
  const file = path.resolve('.env');
  if (!fs.existsSync(file)) return {};
  return dotenv.parse(fs.readFileSync(file));
}
