/**
 * Assembles one Chatty server from a configuration: store, key ring, event log, Socket.IO and the
 * Express app on one HTTP server. Nothing here is global, so tests run several side by side.
 *
 * @example
 *   const chatty = await createChatty(loadConfig());
 *   const { port } = await chatty.listen();
 *   process.on('SIGTERM', () => chatty.close().then(() => process.exit(0)));
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config.js';
import { Accounts } from './accounts.js';
import { EventLog } from './event-log.js';
import { createApp } from './http/app.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { Notifications } from './notifications.js';
import { LocalPresence } from './realtime/presence.js';
import { createSocketServer } from './realtime/socket-server.js';
import type { ChattyIo } from './realtime/types.js';
import { SigningKeys, StartupError } from './signing-keys.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { Store } from './store/store.js';
import { Subscriptions } from './subscriptions.js';

export interface ChattyServer {
  readonly config: Config;
  readonly logger: Logger;
  readonly httpServer: http.Server;
  readonly io: ChattyIo;
  readonly store: Store;
  readonly keys: SigningKeys;
  readonly eventLog: EventLog;
  /** Starts listening on the configured host and port (0 picks a free port). */
  listen(): Promise<AddressInfo>;
  /** Stops accepting, finishes in-flight requests, closes sockets, flushes the store. */
  close(): Promise<void>;
}

/** How long close() lets in-flight requests finish before cutting connections. */
const DRAIN_TIMEOUT_MS = 10_000;

/** Opens the store a `DATABASE_URL` names. */
export function openStore(databaseUrl: string): Store {
  if (databaseUrl.startsWith('sqlite:')) {
    const location = databaseUrl.slice('sqlite:'.length);
    return new SqliteStore(location === ':memory:' ? ':memory:' : location);
  }
  throw new StartupError('Invalid configuration: DATABASE_URL: PostgreSQL is not supported by this version yet; use sqlite:<path>');
}

export async function createChatty(config: Config, options: { logger?: Logger } = {}): Promise<ChattyServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  if (config.redisUrl) throw new StartupError('Invalid configuration: REDIS_URL: multi-node mode is not supported by this version yet; unset it');
  const store = openStore(config.databaseUrl);
  let keys: SigningKeys;
  const accounts = new Accounts(store);
  try {
    await store.migrate();
    keys = await SigningKeys.load(store, { jwtSecret: config.jwtSecret, nodeEnv: config.nodeEnv, logger });
    if (config.admin) {
      await accounts.ensureAdmin(config.admin.username, config.admin.password);
      logger.info({ username: config.admin.username }, 'bootstrap admin ready');
    }
  } catch (error) {
    await store.close();
    throw error;
  }
  const metrics = new Metrics();
  const eventLog = new EventLog(store, { mode: config.eventLog, historyTtlMs: config.historyTtlMs, logger, metrics });
  const presence = new LocalPresence();
  let draining = false;

  // the app is built after Socket.IO, which must attach first to own /socket.io/ requests
  let app: http.RequestListener = (_req, res) => res.writeHead(503).end();
  const httpServer = http.createServer((req, res) => app(req, res));
  const sockets = createSocketServer(httpServer, { store, eventLog, keys, presence, metrics, logger, corsOrigins: config.corsOrigins, presenceLimit: config.presenceLimit });
  await eventLog.start(sockets.deliver);
  app = createApp({
    config,
    logger,
    metrics,
    store,
    accounts,
    keys,
    presence,
    notifications: new Notifications(store, eventLog, metrics),
    subscriptions: new Subscriptions(store, sockets.membership),
    readiness: [{ name: 'store', check: () => store.ping() }],
    isDraining: () => draining,
  });

  let closing: Promise<void> | undefined;
  return {
    config,
    logger,
    httpServer,
    io: sockets.io,
    store,
    keys,
    eventLog,
    listen: () =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.port, config.host, () => {
          httpServer.off('error', reject);
          const address = httpServer.address() as AddressInfo;
          logger.info({ host: address.address, port: address.port, store: config.databaseUrl.split(':')[0] }, 'chatty listening');
          resolve(address);
        });
      }),
    close: () =>
      (closing ??= (async () => {
        draining = true;
        keys.stop();
        const force = setTimeout(() => httpServer.closeAllConnections(), DRAIN_TIMEOUT_MS).unref();
        await sockets.close();
        clearTimeout(force);
        await eventLog.stop();
        await store.close();
        logger.info('chatty stopped');
      })()),
  };
}
