/**
 * A cluster for tests (contract §9): `count` real nodes, each `node bin/www` in its own process on
 * its own port, sharing one fresh PostgreSQL database, one Redis and one fresh `REDIS_PREFIX`,
 * started together (so their migrations and key-ring seeding race, as a real roll-out's do).
 *
 *   const cluster = await startCluster(3);
 *   const [a, b, c] = cluster.nodes;
 *   await cluster.api(a).post('/control/subscription/subscribe?method=users:alice', doc(['posts', '1']));
 *   afterEach(() => cluster.stop());
 */
import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import { client } from './http.js';
import { createTestDatabase, viaHost, type TestDatabase } from './postgres.js';
import { signToken } from './server.js';
import { requireBuild, startServerProcess, type ServerProcess } from './server-process.js';
import { closeAllSockets } from './sockets.js';

/** The shared Redis: multi-node mode is switched on by REDIS_URL (each run has its own prefix). */
export const REDIS_URL = process.env.CHATTY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let redisReachable: Promise<string | undefined> | undefined;

/** Resolves with why Redis cannot be used, or undefined when it can. Asked once per run. */
export function redisProblem(): Promise<string | undefined> {
  return (redisReachable ??= (async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
    redis.on('error', () => {});
    try {
      await redis.connect();
      await redis.ping();
      return undefined;
    } catch (error) {
      return (error as Error).message;
    } finally {
      redis.disconnect();
    }
  })());
}

/**
 * Registers a `before` hook that skips the enclosing suite when Redis is unreachable (saying how to
 * start it), or fails it when CI=true.
 */
export function requireRedis(): void {
  before(async function () {
    const problem = await redisProblem();
    if (problem === undefined) return;
    if (process.env.CI === 'true') throw new Error(`Redis is required in CI (CI=true) but unusable at ${new URL(REDIS_URL).host}: ${problem}`);
    console.warn(`\n  Redis is not reachable at ${new URL(REDIS_URL).host} (${problem}): skipping the suites that need it. Start redis-server, or set CHATTY_TEST_REDIS_URL.\n`);
    this.skip();
  });
}

export interface TestNode extends ServerProcess {
  readonly id: string;
}

export interface TestCluster {
  readonly nodes: readonly TestNode[];
  readonly db: TestDatabase;
  readonly secret: string;
  /** A user's token, valid an hour, signed with the seeded secret. */
  token(user: string): string;
  /** The control API of `node`, as the app server (role `service`). */
  api(node: TestNode): ReturnType<typeof client>;
  /** Kills every node and drops the database. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  env?: Record<string, string>;
  /** The nodes reach PostgreSQL through this address (a test's proxy) instead of directly. */
  databaseVia?: { host: string; port: number };
}

export async function startCluster(count: number, options: ClusterOptions = {}): Promise<TestCluster> {
  const env = options.env ?? {};
  const db = await createTestDatabase();
  const secret = crypto.randomBytes(32).toString('hex');
  const prefix = `chatty-test-${crypto.randomBytes(4).toString('hex')}`;
  const nodes: TestNode[] = [];
  const stop = async () => {
    await Promise.all(
      nodes.map(async (node) => {
        if (node.running) node.proc.kill('SIGKILL');
        await node.exited;
      }),
    );
    await db.drop();
  };
  try {
    const started = await Promise.allSettled(
      Array.from({ length: count }, async (_, i) => {
        const id = `node-${String.fromCharCode(97 + i)}`;
        const databaseUrl = options.databaseVia ? viaHost(db.url, options.databaseVia.host, options.databaseVia.port) : db.url;
        const node = await startServerProcess({ DATABASE_URL: databaseUrl, REDIS_URL, REDIS_PREFIX: prefix, NODE_ID: id, JWT_SECRET: secret, ...env });
        nodes.push(Object.assign(node, { id }));
      }),
    );
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (error) {
    await stop();
    throw error;
  }
  nodes.sort((x, y) => x.id.localeCompare(y.id));
  const serviceToken = signToken(secret, 'app-server', { role: 'service', expiresIn: 3600 });
  return {
    nodes,
    db,
    secret,
    token: (user) => signToken(secret, user, { expiresIn: 3600 }),
    api: (node) => client(node.url, serviceToken),
    stop,
  };
}

/**
 * Mocha hooks for a suite on one cluster: started before its tests (after `requirePostgres`), handed
 * to `started`, stopped after them; every test's sockets are closed after it.
 */
export function useCluster(
  count: number,
  options: {
    /** Read when the cluster starts (after the suite's own `before` hooks, which may start proxies). */
    env?: Record<string, string> | (() => Record<string, string>);
    databaseVia?: () => { host: string; port: number };
    started: (cluster: TestCluster, nodes: TestNode[]) => void;
  },
): void {
  let cluster: TestCluster | undefined;
  before(async function () {
    this.timeout(60_000);
    requireBuild();
    const env = typeof options.env === 'function' ? options.env() : options.env;
    cluster = await startCluster(count, { ...(env ? { env } : {}), ...(options.databaseVia ? { databaseVia: options.databaseVia() } : {}) });
    options.started(cluster, [...cluster.nodes]);
  });
  after(async () => {
    closeAllSockets();
    await cluster?.stop();
  });
  afterEach(() => closeAllSockets());
}
