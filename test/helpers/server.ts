/**
 * A real Chatty server for a test: port 0, its own SQLite file in a temporary folder, silent logs.
 * `restart()` starts a new server on the same database, as a process restart would.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { loadConfig } from '../../config.js';
import type { Clock } from '../../src/time/clock.js';
import type { Logger } from '../../src/logger.js';
import { createChatty, type ChattyServer } from '../../src/server.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import { defaultTestStore, serverDatabase, type TestStoreKind } from './server-store.js';

export interface TestServerOptions {
  /** Extra environment, as the variables of the contract's §8. */
  env?: Record<string, string>;
  /** Reuse a database file (default: a new temporary one). */
  dbPath?: string;
  /**
   * The store (default: `sqlite`, or `postgres` when CHATTY_TEST_STORE=postgres). On PostgreSQL,
   * each `dbPath` names a fresh database of its own (see server-store.ts).
   */
  store?: TestStoreKind;
  /** Wraps the store the server opens (to slow it down or pause it at chosen moments). */
  wrapStore?: (store: Store) => Store;
  /** A clock the test moves by hand. */
  clock?: Clock;
  /** Events per replay page. */
  replayPageSize?: number;
  /** The server's logger (default: one at TEST_LOG_LEVEL, silent unless set). */
  logger?: Logger;
}

export interface TokenOptions {
  role?: 'admin' | 'service' | 'user' | string;
  /** Seconds from now; negative for an already expired token. */
  expiresIn?: number;
  secret?: string;
  kid?: string;
  claims?: Record<string, unknown>;
}

export interface TestServer {
  chatty: ChattyServer;
  url: string;
  port: number;
  dbPath: string;
  /** The DATABASE_URL it runs on (SQLite's `dbPath`, or its PostgreSQL database). */
  databaseUrl: string;
  secret: string;
  /** A token signed with the server's JWT_SECRET (no kid: every valid key is tried). */
  token(sub: string, options?: TokenOptions): string;
  serviceToken(): string;
  adminToken(): string;
  /** Closes this server and starts another on the same database and environment. */
  restart(): Promise<TestServer>;
  close(): Promise<void>;
}

/** Every temporary database of this test run lives under one folder, removed when the run ends. */
let runRoot: string | undefined;

export function tempDbPath(): string {
  if (!runRoot) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'chatty-test-'));
    process.once('exit', () => fs.rmSync(root, { recursive: true, force: true }));
    runRoot = root;
  }
  const dir = fs.mkdtempSync(path.join(runRoot, 'db-'));
  return path.join(dir, 'chatty.db');
}

export function signToken(secret: string, sub: string | undefined, options: TokenOptions = {}): string {
  const payload: Record<string, unknown> = { ...(sub !== undefined ? { sub } : {}), ...(options.role ? { role: options.role } : {}), ...options.claims };
  const signOptions: jwt.SignOptions = { algorithm: 'HS256' };
  if (options.expiresIn !== undefined) payload.exp = Math.floor(Date.now() / 1000) + options.expiresIn;
  if (options.kid) signOptions.keyid = options.kid;
  return jwt.sign(payload, options.secret ?? secret, signOptions);
}

/** A JWT with `alg: none` and no signature, as an attacker would forge it. */
export function unsignedToken(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dbPath = options.dbPath ?? tempDbPath();
  const secret = options.env?.JWT_SECRET ?? crypto.randomBytes(32).toString('hex');
  const database = await serverDatabase(options.store ?? defaultTestStore, dbPath);
  const env = {
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: database.url,
    JWT_SECRET: secret,
    ...options.env,
  };
  let chatty: ChattyServer;
  let port: number;
  try {
    const config = loadConfig(env);
    chatty = await createChatty(config, {
      ...(options.wrapStore ? { store: options.wrapStore(openStore(config.databaseUrl, { shared: config.redisUrl !== undefined })) } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.replayPageSize !== undefined ? { replayPageSize: options.replayPageSize } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    ({ port } = await chatty.listen());
  } catch (error) {
    database.release();
    throw error;
  }
  const stop = () => chatty.close().finally(() => database.release());
  const server: TestServer = {
    chatty,
    url: `http://127.0.0.1:${port}`,
    port,
    dbPath,
    databaseUrl: database.url,
    secret,
    token: (sub, tokenOptions = {}) => signToken(tokenOptions.secret ?? secret, sub, tokenOptions),
    serviceToken: () => server.token('app-server', { role: 'service', expiresIn: 3600 }),
    adminToken: () => server.token('operator', { role: 'admin', expiresIn: 3600 }),
    restart: async () => {
      await stop();
      return startServer({ ...options, dbPath, env: { ...options.env, JWT_SECRET: secret } });
    },
    close: stop,
  };
  return server;
}
