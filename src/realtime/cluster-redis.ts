/**
 * Redis on many nodes (contract §9): only what is volatile or needs the other nodes' live state
 * goes through it. Events never do (they go through the shared log, event-log/log-tail.ts), so
 * with Redis down notifications, subscriptions and chat still reach every node.
 *
 * Three connections: one for presence counts (redis-presence.ts), which fails fast while Redis is
 * unreachable so that no connect waits for it, and the publishing and subscribing pair of
 * Socket.IO's Redis adapter, which carries typing, receipts and presence announcements to the
 * other nodes. ioredis reconnects each by itself.
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import type { ClientRateLimitInfo, Options as RateLimitOptions, Store as RateLimitStore } from 'express-rate-limit';
import type { ServerOptions } from 'socket.io';
import type { Logger } from '../logger.js';

export interface ClusterRedis {
  /** Presence counts: commands fail at once while Redis is unreachable. */
  readonly commands: Redis;
  /** Socket.IO's adapter, every key and channel under REDIS_PREFIX. */
  readonly adapter: ServerOptions['adapter'];
  /** Resolves when Redis answers; rejects at once while it is unreachable. */
  ping(): Promise<void>;
  /** A rate limit counted in Redis for the whole cluster, under REDIS_PREFIX. */
  limitStore(name: string): RateLimitStore;
  close(): Promise<void>;
}

export function connectClusterRedis(url: string, prefix: string, logger: Logger): ClusterRedis {
  const commands = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false });
  // the adapter's own broadcasts wait for a reconnect instead of failing (they are few: typing, receipts, presence)
  const pub = new Redis(url, { maxRetriesPerRequest: null });
  const sub = pub.duplicate();
  let down = false;
  for (const [name, client] of [['commands', commands], ['pub', pub], ['sub', sub]] as const) {
    // without a listener an unreachable Redis would crash the process
    client.on('error', (error: Error) => {
      if (!down) logger.warn({ err: error, connection: name }, 'Redis unreachable; reconnecting');
      down = true;
    });
    client.on('ready', () => {
      if (down) logger.info({ connection: name }, 'Redis reachable again');
      down = false;
    });
  }
  return {
    commands,
    adapter: createAdapter(pub, sub, { key: `${prefix}:socket.io` }),
    ping: async () => {
      await commands.ping();
    },
    limitStore: (name) =>
      new ClusterLimitStore({
        prefix: `${prefix}:limit:${name}:`,
        sendCommand: (command: string, ...args: string[]) => commands.call(command, ...args) as Promise<RedisReply>,
      }),
    async close() {
      await Promise.all([commands, pub, sub].map((client) => client.quit().catch(() => client.disconnect())));
    },
  };
}

/**
 * rate-limit-redis loads its Lua script once, when the limiter starts; if Redis is unreachable then,
 * the failed load would stand for good and the limit would never count again. This store starts
 * anyway and loads the script again on the next request after a failure.
 */
class ClusterLimitStore extends RedisStore {
  override async init(options: RateLimitOptions): Promise<void> {
    await super.init(options).catch(() => {});
  }

  override async increment(key: string): Promise<ClientRateLimitInfo> {
    this.incrementScriptSha = this.incrementScriptSha.catch(() => this.loadIncrementScript());
    return super.increment(key);
  }
}
