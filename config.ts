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
import os from 'node:os';
import path from 'node:path';
import bytes from 'bytes';
import dotenv from 'dotenv';
import ms from 'ms';
import { z } from 'zod';

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
  /** With a PostgreSQL database: many nodes (contract §9). */
  readonly redisUrl: string | undefined;
  /** Every Redis key and channel starts with it, so several clusters share one Redis. */
  readonly redisPrefix: string;
  /** This node's name in logs, metrics and `/readyz`. */
  readonly nodeId: string;
  /** Many nodes: how long a node's sockets keep counting as online after its last heartbeat. */
  readonly nodeTimeoutMs: number;
  /** Request body limit in bytes. */
  readonly maxRequestBytes: number;
  readonly corsOrigins: readonly string[];
  /** When set, `GET /metrics` answers only `Authorization: Bearer <it>`. */
  readonly metricsToken: string | undefined;
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
  /** Every rate limit and cap; `0` turns off the ones documented as such. */
  readonly limits: Limits;
  readonly webhooks: WebhookSettings;
}

/** Outbound calls to the app server (contract §10). */
export interface WebhookSettings {
  /** Allow endpoints on loopback, link-local and private addresses (a receiver on the same host or network). */
  readonly allowPrivate: boolean;
  /** How long one delivery is retried before its endpoint reads `failing`. */
  readonly retryForMs: number;
  /** How long one call may take, connection included. */
  readonly timeoutMs: number;
  /** How many endpoints may exist. */
  readonly maxEndpoints: number;
  /** How many offline members a `chat.message` lists at most (a big channel's list is cut, and says so). */
  readonly offlineLimit: number;
}

/**
 * Rate limits and caps, each a setting with a safe default (README: "Limits"). A rate of `0`
 * turns that limit off; caps that protect the server's memory cannot be turned off.
 */
export interface Limits {
  /** Registrations per client address per hour (0: unlimited). */
  readonly registerPerHour: number;
  /** Failed logins per address and username per 15 minutes (0: unlimited). */
  readonly loginFailuresPerUser: number;
  /** Failed logins per address per 15 minutes, whatever the username (0: unlimited). */
  readonly loginFailuresPerAddress: number;
  /** `chat:send` per user per second, across all their sockets; bursts of twice that (0: unlimited). */
  readonly chatSendPerSecond: number;
  /** `chat:typing` per user per second, across all their sockets; bursts of twice that (0: unlimited). */
  readonly typingPerSecond: number;
  /** Any client event per socket per second; bursts of twice that (0: unlimited). */
  readonly socketEventsPerSecond: number;
  /** Requests a socket may have unanswered at once. */
  readonly maxPendingRequests: number;
  /** Open sockets per user; the one over it is refused (0: unlimited). */
  readonly maxSocketsPerUser: number;
  /** Bytes queued for a socket that does not read before it is disconnected. */
  readonly socketBufferBytes: number;
  /** Events one reconnect replays per second. */
  readonly replayPerSecond: number;
  /** Users × channels in one subscribe or unsubscribe request. */
  readonly maxSubscriptionPairs: number;
  /** `presence:query` answers for channels with at most this many subscribers. */
  readonly presenceQueryLimit: number;
  /** `chat:unread` counts up to this many per conversation and reports the cap beyond it. */
  readonly unreadCountLimit: number;
  /** Read positions `chat:history` returns, the most advanced first. */
  readonly readPositionsLimit: number;
  /** Bytes of recent events kept in memory for reconnects. */
  readonly recentEventsBytes: number;
  /** Open HTTP and socket connections to this process (0: unlimited). */
  readonly maxConnections: number;
  /** Time to receive a request's headers, in milliseconds. */
  readonly headersTimeoutMs: number;
  /** Time to receive a whole request, in milliseconds. */
  readonly requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open, in milliseconds. */
  readonly keepAliveTimeoutMs: number;
}

/** Thrown for an invalid environment; its message is the one line start-up prints. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Each variable and the legacy names it may also be given as, first match wins. */
export const ALIASES = {
  PORT: ['PORT', 'APP_PORT', 'DEV_APP_PORT'],
  HOST: ['HOST'],
  JWT_SECRET: ['JWT_SECRET', 'DEV_JWT_SECRET'],
  DATABASE_URL: ['DATABASE_URL'],
  REDIS_URL: ['REDIS_URL'],
  REDIS_PREFIX: ['REDIS_PREFIX'],
  NODE_ID: ['NODE_ID'],
  NODE_TIMEOUT: ['NODE_TIMEOUT'],
  MAX_REQ_SIZE: ['MAX_REQ_SIZE', 'DEV_MAX_REQ_SIZE'],
  CORS_ORIGINS: ['CORS_ORIGINS'],
  METRICS_TOKEN: ['METRICS_TOKEN'],
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
  REGISTER_LIMIT: ['REGISTER_LIMIT'],
  LOGIN_LIMIT: ['LOGIN_LIMIT'],
  LOGIN_ADDRESS_LIMIT: ['LOGIN_ADDRESS_LIMIT'],
  CHAT_SEND_RATE: ['CHAT_SEND_RATE'],
  TYPING_RATE: ['TYPING_RATE'],
  SOCKET_EVENT_RATE: ['SOCKET_EVENT_RATE'],
  MAX_PENDING_REQUESTS: ['MAX_PENDING_REQUESTS'],
  MAX_SOCKETS_PER_USER: ['MAX_SOCKETS_PER_USER'],
  SOCKET_BUFFER_LIMIT: ['SOCKET_BUFFER_LIMIT'],
  REPLAY_RATE: ['REPLAY_RATE'],
  MAX_SUBSCRIPTION_PAIRS: ['MAX_SUBSCRIPTION_PAIRS'],
  PRESENCE_QUERY_LIMIT: ['PRESENCE_QUERY_LIMIT'],
  UNREAD_COUNT_LIMIT: ['UNREAD_COUNT_LIMIT'],
  READ_POSITIONS_LIMIT: ['READ_POSITIONS_LIMIT'],
  RECENT_EVENTS_SIZE: ['RECENT_EVENTS_SIZE'],
  MAX_CONNECTIONS: ['MAX_CONNECTIONS'],
  HEADERS_TIMEOUT: ['HEADERS_TIMEOUT'],
  REQUEST_TIMEOUT: ['REQUEST_TIMEOUT'],
  KEEP_ALIVE_TIMEOUT: ['KEEP_ALIVE_TIMEOUT'],
  WEBHOOK_ALLOW_PRIVATE: ['WEBHOOK_ALLOW_PRIVATE'],
  WEBHOOK_RETRY_FOR: ['WEBHOOK_RETRY_FOR'],
  WEBHOOK_TIMEOUT: ['WEBHOOK_TIMEOUT'],
  MAX_WEBHOOKS: ['MAX_WEBHOOKS'],
  WEBHOOK_OFFLINE_LIMIT: ['WEBHOOK_OFFLINE_LIMIT'],
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

/** `HEADERS_TIMEOUT` when unset, or `REQUEST_TIMEOUT` if that is shorter. */
const DEFAULT_HEADERS_TIMEOUT_MS = ms('10s');

/** The longest accepted `TOKEN_TTL` and `HISTORY_TTL`. */
export const MAX_TOKEN_TTL_MS = ms('1y');
export const MAX_HISTORY_TTL_MS = ms('10y');

/** A whole number from `min` to `max`. */
const count = (min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.string().regex(/^\d+$/, message).transform(Number).pipe(z.number().int(message).min(min, message).max(max, message));
};

/** A size such as 64kb or 4mb, from `min` bytes. */
const size = (min: number, minText: string) =>
  z.string().transform((text, ctx) => {
    const value = bytes.parse(text);
    if (value === null || !Number.isFinite(value) || value < min) {
      ctx.addIssue({ code: 'custom', message: `must be a size such as 64kb or 4mb, at least ${minText}` });
      return z.NEVER;
    }
    return value;
  });

/**
 * A list of exact origins (`https://app.example.com`, `http://localhost:5173`). `*` and `null`
 * are refused: `*` would let any page use a logged-in browser's cookie, and `null` is the origin
 * of sandboxed frames and local files, which any attacker can produce.
 */
const origins = () =>
  z.string().transform((text, ctx) => {
    const items = text.split(',').map((origin) => origin.trim()).filter(Boolean);
    for (const item of items) {
      let origin: string | undefined;
      try {
        const url = new URL(item);
        if (url.protocol === 'http:' || url.protocol === 'https:') origin = url.origin;
      } catch {
        origin = undefined;
      }
      if (origin !== item) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(item)} is not an origin: give scheme://host[:port] with no path, such as https://app.example.com` });
        return z.NEVER;
      }
    }
    return items;
  });

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
  // its strength, and the admin's username and password rules, are checked by
  // src/auth/config-rules.ts: this file imports nothing from src/
  JWT_SECRET: z.string().optional(),
  DATABASE_URL: z
    .string()
    .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'must be sqlite:<path>, sqlite::memory: or postgres://…')
    .default('sqlite:./data/chatty.db'),
  REDIS_URL: z.string().regex(/^rediss?:\/\/.+/, 'must be a redis:// URL').optional(),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1–64 letters, digits or _ . : -')
    .default('chatty'),
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1–128 letters, digits or _ . : -')
    .optional(),
  // at most 20 s: with a sweep every third of it, a dead node's users are offline within 30 s (§9)
  NODE_TIMEOUT: duration(ms('20s'), '20s').default(ms('15s')),
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
  CORS_ORIGINS: origins().default([]),
  METRICS_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  TOKEN_TTL: duration(MAX_TOKEN_TTL_MS, '1 year').default(ms('1h')),
  REGISTRATION: z.enum(['open', 'closed']).default('open'),
  ADMIN_USERNAME: z.string().optional(),
  ADMIN_PASSWORD: z.string().optional(),
  HISTORY_TTL: duration(MAX_HISTORY_TTL_MS, '10 years').default(ms('7d')),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  EVENT_LOG: z.enum(['durable', 'off']).default('durable'),
  SECURE_COOKIES: z.enum(['true', 'false']).optional(),
  PRESENCE_LIMIT: z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(0, 'must be 0 or more').max(1_000_000, 'must be at most 1000000').default(100),
  // loopback: a proxy on the same host, and nothing a remote client can forge
  TRUST_PROXY: trustProxy().default('loopback'),
  REGISTER_LIMIT: count(0, 1_000_000).default(20),
  LOGIN_LIMIT: count(0, 1_000_000).default(10),
  LOGIN_ADDRESS_LIMIT: count(0, 1_000_000).default(100),
  CHAT_SEND_RATE: count(0, 100_000).default(10),
  TYPING_RATE: count(0, 100_000).default(3),
  SOCKET_EVENT_RATE: count(0, 100_000).default(50),
  MAX_PENDING_REQUESTS: count(1, 10_000).default(32),
  MAX_SOCKETS_PER_USER: count(0, 100_000).default(50),
  SOCKET_BUFFER_LIMIT: size(64 * 1024, '64kb').default(4 * 1024 * 1024),
  REPLAY_RATE: count(100, 10_000_000).default(20_000),
  MAX_SUBSCRIPTION_PAIRS: count(1, 10_000_000).default(10_000),
  PRESENCE_QUERY_LIMIT: count(1, 1_000_000).default(1_000),
  UNREAD_COUNT_LIMIT: count(1, 1_000_000).default(1_000),
  READ_POSITIONS_LIMIT: count(1, 100_000).default(100),
  RECENT_EVENTS_SIZE: size(64 * 1024, '64kb').default(32 * 1024 * 1024),
  MAX_CONNECTIONS: count(0, 10_000_000).default(10_000),
  // no default here: it follows REQUEST_TIMEOUT down when only that one is set (see loadConfig)
  HEADERS_TIMEOUT: duration(ms('10m'), '10 minutes').optional(),
  REQUEST_TIMEOUT: duration(ms('1h'), '1 hour').default(ms('30s')),
  KEEP_ALIVE_TIMEOUT: duration(ms('10m'), '10 minutes').default(ms('5s')),
  WEBHOOK_ALLOW_PRIVATE: z.enum(['true', 'false']).default('false'),
  WEBHOOK_RETRY_FOR: duration(ms('30d'), '30 days').default(ms('24h')),
  WEBHOOK_TIMEOUT: duration(ms('60s'), '60 seconds').default(ms('10s')),
  MAX_WEBHOOKS: count(1, 1_000).default(100),
  WEBHOOK_OFFLINE_LIMIT: count(1, 100_000).default(1_000),
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
  // Node refuses a headers timeout longer than the request timeout (the headers are part of the request)
  if (v.HEADERS_TIMEOUT !== undefined && v.HEADERS_TIMEOUT > v.REQUEST_TIMEOUT) {
    throw new ConfigError('Invalid configuration: HEADERS_TIMEOUT must not be longer than REQUEST_TIMEOUT');
  }
  const headersTimeoutMs = v.HEADERS_TIMEOUT ?? Math.min(DEFAULT_HEADERS_TIMEOUT_MS, v.REQUEST_TIMEOUT);
  return Object.freeze({
    port: v.PORT,
    host: v.HOST,
    jwtSecret: v.JWT_SECRET,
    databaseUrl: v.DATABASE_URL,
    redisUrl: v.REDIS_URL,
    redisPrefix: v.REDIS_PREFIX,
    nodeId: v.NODE_ID ?? `${os.hostname()}-${process.pid}`,
    nodeTimeoutMs: v.NODE_TIMEOUT,
    maxRequestBytes: v.MAX_REQ_SIZE,
    corsOrigins: Object.freeze(v.CORS_ORIGINS),
    metricsToken: v.METRICS_TOKEN,
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
    limits: Object.freeze({
      registerPerHour: v.REGISTER_LIMIT,
      loginFailuresPerUser: v.LOGIN_LIMIT,
      loginFailuresPerAddress: v.LOGIN_ADDRESS_LIMIT,
      chatSendPerSecond: v.CHAT_SEND_RATE,
      typingPerSecond: v.TYPING_RATE,
      socketEventsPerSecond: v.SOCKET_EVENT_RATE,
      maxPendingRequests: v.MAX_PENDING_REQUESTS,
      maxSocketsPerUser: v.MAX_SOCKETS_PER_USER,
      socketBufferBytes: v.SOCKET_BUFFER_LIMIT,
      replayPerSecond: v.REPLAY_RATE,
      maxSubscriptionPairs: v.MAX_SUBSCRIPTION_PAIRS,
      presenceQueryLimit: v.PRESENCE_QUERY_LIMIT,
      unreadCountLimit: v.UNREAD_COUNT_LIMIT,
      readPositionsLimit: v.READ_POSITIONS_LIMIT,
      recentEventsBytes: v.RECENT_EVENTS_SIZE,
      maxConnections: v.MAX_CONNECTIONS,
      headersTimeoutMs,
      requestTimeoutMs: v.REQUEST_TIMEOUT,
      keepAliveTimeoutMs: v.KEEP_ALIVE_TIMEOUT,
    }),
    webhooks: Object.freeze({
      allowPrivate: v.WEBHOOK_ALLOW_PRIVATE === 'true',
      retryForMs: v.WEBHOOK_RETRY_FOR,
      timeoutMs: v.WEBHOOK_TIMEOUT,
      maxEndpoints: v.MAX_WEBHOOKS,
      offlineLimit: v.WEBHOOK_OFFLINE_LIMIT,
    }),
  });
}

function readDotenv(): Record<string, string> {
  const file = path.resolve('.env');
  if (!fs.existsSync(file)) return {};
  return dotenv.parse(fs.readFileSync(file));
}
