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
import type { Express } from 'express';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config.js';
import { Accounts } from './auth/accounts.js';
import { AccountStates } from './auth/account-states.js';
import { ServerChat } from './chat/server-chat.js';
import { Profiles } from './profiles/profiles.js';
import { systemClock, type Clock } from './time/clock.js';
import { EventLog } from './event-log/event-log.js';
import { createApp } from './http/app.js';
import { checkConfigRules } from './auth/config-rules.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { Notifications } from './channels/notifications.js';
import { LocalPresence } from './realtime/presence.js';
import { connectClusterRedis } from './realtime/cluster-redis.js';
import { RedisPresence } from './realtime/redis-presence.js';
import { createSocketServer } from './realtime/socket-server.js';
import type { ChattyIo } from './realtime/types.js';
import { SigningKeys, StartupError } from './auth/signing-keys.js';
import { openStore } from './store/open-store.js';
import type { LoggedEvent, SharedLog, Store } from './store/store.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import { webhookTaps } from './webhooks/taps.js';
import { Webhooks } from './webhooks/webhooks.js';
import { applyChange, Subscriptions } from './channels/subscriptions.js';

export interface ChattyServer {
  readonly config: Config;
  readonly logger: Logger;
  readonly httpServer: http.Server;
  /** The Express application serving the HTTP API and the pages (its routes are in /openapi.json). */
  readonly app: Express;
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

export interface ChattyOptions {
  logger?: Logger;
  /** Tests: a store wrapped to be slow or failing at chosen moments (default: the one DATABASE_URL names). */
  store?: Store;
  /** Tests: a clock they move by hand (default: the system clock). */
  clock?: Clock;
  /** Tests: events per replay page, to cover paging with few events. */
  replayPageSize?: number;
}

export async function createChatty(config: Config, options: ChattyOptions = {}): Promise<ChattyServer> {
  // a configuration made in code (not by loadServerConfig) meets the same rules
  checkConfigRules(config);
  // many nodes (contract §9): they share the PostgreSQL log, and each tails it (event-log/log-tail.ts)
  const clustered = config.redisUrl !== undefined;
  const baseLogger = options.logger ?? createLogger(config.logLevel);
  // many nodes: every line says which node wrote it
  const logger = clustered ? baseLogger.child({ nodeId: config.nodeId }) : baseLogger;
  const clock = options.clock ?? systemClock;
  const store = options.store ?? openStore(config.databaseUrl, { shared: clustered });
  const sharedLog = clustered ? asSharedLog(store) : undefined;
  // what start-up has made so far, undone in reverse if a later step throws
  const undo: (() => Promise<void> | void)[] = [() => store.close()];
  try {
    return await assemble();
  } catch (error) {
    for (const step of undo.reverse()) await step();
    throw error;
  }

  async function assemble(): Promise<ChattyServer> {
    await store.migrate();
    const keys = await SigningKeys.load(store, { jwtSecret: config.jwtSecret, nodeEnv: config.nodeEnv, logger, clock });
    undo.push(() => keys.stop());
    const accounts = new Accounts(store, config.admin?.username);
    // tokens of accounts an operator disabled or changed are refused from the start
    const accountStates = new AccountStates(store);
    await accountStates.reload();
    keys.revokeWith(accountStates.isRevoked);
    if (config.admin) {
      await accounts.ensureAdmin(config.admin.username, config.admin.password);
      logger.info({ username: config.admin.username }, 'bootstrap admin ready');
    }
    const metrics = new Metrics(config.nodeId);
    const eventLog = new EventLog(store, {
      mode: config.eventLog,
      historyTtlMs: config.historyTtlMs,
      recentBytes: config.limits.recentEventsBytes,
      logger,
      metrics,
      clock,
      ...(sharedLog ? { shared: sharedLog } : {}),
    });
    // contract §10: each endpoint served from the log by the node holding its lease
    const dispatcher = new WebhookDispatcher({ store, eventLog, settings: config.webhooks, owner: config.nodeId, takeover: !clustered, logger, metrics, clock });
    // many nodes: presence counted in Redis, volatile broadcasts through Socket.IO's Redis adapter
    const redis = clustered ? connectClusterRedis(config.redisUrl!, config.redisPrefix, logger) : undefined;
    if (redis) undo.push(() => redis.close());
    let announceOffline: (users: string[]) => void = () => {};
    const presence = redis
      ? new RedisPresence(redis.commands, {
          prefix: config.redisPrefix,
          nodeId: config.nodeId,
          nodeTimeoutMs: config.nodeTimeoutMs,
          clock,
          logger,
          onOffline: (users) => announceOffline(users),
        })
      : new LocalPresence();
    let draining = false;

    // the app is built after Socket.IO, which must attach first to own /socket.io/ requests
    let handle: http.RequestListener = (_req, res) => res.writeHead(503).end();
    const httpServer = http.createServer(
      {
        // slow or idle clients must not hold connections (and file descriptors) for ever
        headersTimeout: config.limits.headersTimeoutMs,
        requestTimeout: config.limits.requestTimeoutMs,
        keepAliveTimeout: config.limits.keepAliveTimeoutMs,
        // how often the timeouts above are checked: a tenth of the shortest, within 100 ms–1 s
        connectionsCheckingInterval: Math.min(Math.max(Math.min(config.limits.headersTimeoutMs, config.limits.requestTimeoutMs) / 10, 100), 1000),
      },
      (req, res) => handle(req, res),
    );
    if (config.limits.maxConnections > 0) httpServer.maxConnections = config.limits.maxConnections;
    const profiles = new Profiles(store);
    const taps = webhookTaps({ wants: (type) => dispatcher.wants(type), store, eventLog, presence, clock, offlineLimit: config.webhooks.offlineLimit });
    const chat = new ServerChat({ store, eventLog, metrics, limits: config.limits, clock, webhooks: taps });
    const sockets = createSocketServer(httpServer, {
      profiles,
      chat,
      webhooks: taps,
      nodeId: config.nodeId,
      store,
      eventLog,
      keys,
      presence,
      metrics,
      logger,
      corsOrigins: config.corsOrigins,
      presenceLimit: config.presenceLimit,
      limits: config.limits,
      trustProxy: config.trustProxy,
      clock,
      ...(options.replayPageSize !== undefined ? { replayPageSize: options.replayPageSize } : {}),
      ...(redis ? { adapter: redis.adapter } : {}),
    });
    undo.push(() => sockets.close());
    announceOffline = (users) => sockets.announceOffline(users);
    if (presence instanceof RedisPresence) {
      await presence.start();
      undo.push(() => presence.stop());
    }
    // the sockets of an account an operator changed go: their tokens may no longer be valid, and
    // a page that reconnects with a token still valid comes back at once
    accountStates.onChange((userIds) => sockets.disconnectUsers(userIds));
    const deliver = (event: LoggedEvent) => {
      sockets.deliver(event);
      dispatcher.wake();
    };
    await eventLog.start(deliver, async (entry) => {
      if (entry.change.type === 'keys') return keys.reload();
      if (entry.change.type === 'accounts') return accountStates.reload();
      if (entry.change.type === 'webhooks') return dispatcher.refresh().catch(() => {});
      for (const change of entry.change.changes) applyChange(sockets.membership, change);
    });
    if (sharedLog) {
      keys.syncWith(() => eventLog.catchUp());
      metrics.measureTailLag(async () => Math.max(0, (await store.lastEventId()) - eventLog.deliveredThrough));
    }
    undo.push(() => eventLog.stop());
    await dispatcher.start();
    undo.push(() => dispatcher.stop());
    if (config.historyTtlMs < config.webhooks.retryForMs && dispatcher.hasEndpoints) {
      logger.warn({ historyTtlMs: config.historyTtlMs, retryForMs: config.webhooks.retryForMs }, 'HISTORY_TTL is shorter than WEBHOOK_RETRY_FOR: a failing webhook endpoint may find its oldest events pruned');
    }
    // contract §11: a profile change goes, logged, to whoever may see the user's presence and to
    // the user: one copy per socket in their small channels, and to them and their partners
    profiles.onChange(async (userId, profile) => {
      const { channels, users } = await sockets.audienceOf(userId);
      const attributes = { userId, ...profile };
      const createdAt = clock.now();
      const events: Promise<unknown>[] = [eventLog.append({ kind: 'notify', event: 'profile', attributes, target: { mode: 'users', names: [userId, ...users] }, add: [], createdAt })];
      if (channels.length > 0) events.push(eventLog.append({ kind: 'notify', event: 'profile', attributes, target: { mode: 'channels-efficient', names: channels }, add: [], createdAt }));
      await Promise.all(events);
    });
    const subscriptions = new Subscriptions({
      store,
      membership: sockets.membership,
      eventLog,
      clock,
      maxPairs: config.limits.maxSubscriptionPairs,
      ...(sharedLog ? { throughLog: () => eventLog.catchUp() } : {}),
    });
    const app = createApp({
      config,
      logger,
      metrics,
      store,
      accounts,
      keys,
      presence,
      notifications: new Notifications(store, eventLog, metrics, clock),
      subscriptions,
      live: sockets.live,
      accountStates,
      chat,
      profiles,
      webhooks: new Webhooks({ store, dispatcher, eventLog, settings: config.webhooks, clock }),
      readiness: [
        { name: 'store', check: () => store.ping() },
        ...(redis ? [{ name: 'redis', check: () => redis.ping(), required: false }] : []),
      ],
      isDraining: () => draining,
      ...(redis ? { limitStore: (name: string) => redis.limitStore(name) } : {}),
    });
    handle = app;

    let closing: Promise<void> | undefined;
    return {
      config,
      logger,
      httpServer,
      app,
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
            logger.info({ host: address.address, port: address.port, store: config.databaseUrl.split(':')[0], nodeId: config.nodeId, clustered }, 'chatty listening');
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
          // subscription changes already accepted are committed before the store closes
          await subscriptions.drain();
          // the calls in flight are cut: their events go out again from the stored cursors
          await dispatcher.stop();
          await eventLog.stop();
          if (presence instanceof RedisPresence) await presence.stop();
          await redis?.close();
          await store.close();
          logger.info('chatty stopped');
        })()),
    };
  }
}

/** The store as the log several nodes share; only the PostgreSQL store is one. */
function asSharedLog(store: Store): SharedLog {
  const log = store as Partial<SharedLog>;
  if (typeof log.entriesAfter !== 'function' || typeof log.listen !== 'function') {
    throw new StartupError('Invalid configuration: REDIS_URL: many nodes need the PostgreSQL store, which they share');
  }
  return log as SharedLog;
}
