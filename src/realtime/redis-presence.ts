/**
 * Presence across nodes (contract §9 guarantee 5): sockets counted in Redis, per node and in all,
 * so that a user with tabs on two nodes stays online until both close, and the sockets of a node
 * that died without closing them stop counting within NODE_TIMEOUT.
 *
 * Keys (under REDIS_PREFIX, in one hash slot):
 *   …:{presence}:node:<id>  hash user → sockets on that node
 *   …:{presence}:total      hash user → sockets on every node
 *   …:{presence}:online     sorted set of the users with a socket somewhere (score 0: by id)
 *   …:{presence}:alive      sorted set node → when its last heartbeat expires (Redis time, ms)
 *
 * Each change is one Lua script, so counts and the online set move together. Every node sends a
 * heartbeat and sweeps: the first sweep after a node's heartbeat expired takes its sockets off the
 * totals, atomically, and announces the users who went offline with them (no other node can sweep
 * that node again). A node that starts sweeps its own id first: a previous run under the same
 * `NODE_ID` that was killed left counts behind.
 *
 * When Redis cannot be reached, connects and disconnects are not held up: the node keeps its own
 * counts and, once Redis is back, puts them back in place of what Redis had for it. Announcements
 * made meanwhile are lost (presence events are volatile, contract §9 guarantee 8).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { UserId } from '../channels/names.js';
import type { Clock, ClockTimer } from '../time/clock.js';
import { LocalPresence, type PresenceTracker } from './presence.js';

const CONNECT = `
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local total = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if total == 1 then redis.call('ZADD', KEYS[3], 0, ARGV[1]) end
return total`;

const DISCONNECT = `
local here = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if here <= 0 then return -1 end
if here == 1 then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HINCRBY', KEYS[1], ARGV[1], -1) end
local total = redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
if total <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 0
end
return total`;

/** KEYS: alive; ARGV: node, ttl ms. */
const HEARTBEAT = `
local now = redis.call('TIME')
redis.call('ZADD', KEYS[1], tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[2]), ARGV[1])
return 1`;

/**
 * KEYS: alive, total, online; ARGV: node key prefix, then node ids to sweep whatever their
 * heartbeat (this node's own id, at start). Returns the users who went offline.
 */
const SWEEP = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local nodes = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ms)
for i = 2, #ARGV do table.insert(nodes, ARGV[i]) end
local offline = {}
for _, node in ipairs(nodes) do
  local key = ARGV[1] .. node
  local entries = redis.call('HGETALL', key)
  for i = 1, #entries, 2 do
    local user = entries[i]
    local total = redis.call('HINCRBY', KEYS[2], user, -tonumber(entries[i + 1]))
    if total <= 0 then
      redis.call('HDEL', KEYS[2], user)
      redis.call('ZREM', KEYS[3], user)
      table.insert(offline, user)
    end
  end
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], node)
end
return offline`;

/**
 * KEYS: node, total, online; ARGV: user, count, … (this node's own counts). Takes this node's
 * counts off the totals and puts its own in their place, in one step: a connect counted in between
 * two steps would be counted twice.
 */
const RESTORE = `
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  if redis.call('HINCRBY', KEYS[2], entries[i], -tonumber(entries[i + 1])) <= 0 then
    redis.call('HDEL', KEYS[2], entries[i])
    redis.call('ZREM', KEYS[3], entries[i])
  end
end
redis.call('DEL', KEYS[1])
for i = 1, #ARGV, 2 do
  local user, count = ARGV[i], tonumber(ARGV[i + 1])
  redis.call('HSET', KEYS[1], user, count)
  if redis.call('HINCRBY', KEYS[2], user, count) == count then redis.call('ZADD', KEYS[3], 0, user) end
end
return 1`;

/** How long start waits for the first connection to Redis before going on without it. */
const START_WAIT_MS = 2000;

interface PresenceCommands {
  presenceConnect(node: string, total: string, online: string, user: string): Promise<number>;
  presenceDisconnect(node: string, total: string, online: string, user: string): Promise<number>;
  presenceHeartbeat(alive: string, node: string, ttlMs: number): Promise<number>;
  presenceSweep(alive: string, total: string, online: string, nodePrefix: string, ...nodes: string[]): Promise<string[]>;
  presenceRestore(node: string, total: string, online: string, ...pairs: (string | number)[]): Promise<number>;
}

export interface RedisPresenceOptions {
  prefix: string;
  nodeId: string;
  /** How long a node's sockets keep counting after its last heartbeat (NODE_TIMEOUT). */
  nodeTimeoutMs: number;
  clock: Clock;
  logger: Logger;
  /** Users whose last socket was on a node found dead: announce them offline. */
  onOffline: (users: UserId[]) => void;
}

export class RedisPresence implements PresenceTracker {
  private readonly redis: Redis & PresenceCommands;
  private readonly keys: { node: string; nodePrefix: string; total: string; online: string; alive: string };
  /** This node's own counts: what it puts back after Redis was unreachable. */
  private readonly local = new LocalPresence();
  /** Whether Redis may be missing some of this node's counts (a call failed since the last restore). */
  private stale = false;
  private timer: ClockTimer | undefined;
  private stopped = false;

  constructor(
    redis: Redis,
    private readonly options: RedisPresenceOptions,
  ) {
    const base = `${options.prefix}:{presence}`;
    this.keys = { node: `${base}:node:${options.nodeId}`, nodePrefix: `${base}:node:`, total: `${base}:total`, online: `${base}:online`, alive: `${base}:alive` };
    redis.defineCommand('presenceConnect', { numberOfKeys: 3, lua: CONNECT });
    redis.defineCommand('presenceDisconnect', { numberOfKeys: 3, lua: DISCONNECT });
    redis.defineCommand('presenceHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT });
    redis.defineCommand('presenceSweep', { numberOfKeys: 3, lua: SWEEP });
    redis.defineCommand('presenceRestore', { numberOfKeys: 3, lua: RESTORE });
    this.redis = redis as Redis & PresenceCommands;
    // back after an outage: put this node's counts in place of what Redis holds for it
    redis.on('ready', () => {
      if (this.stale && !this.stopped) void this.restore();
    });
  }

  /** Takes over what an earlier run under this node id left, then heartbeats and sweeps. */
  async start(): Promise<void> {
    // the connection is still being made at start: give it a moment before calling Redis unreachable
    if (this.redis.status !== 'ready') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, START_WAIT_MS).unref();
        this.redis.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    // Redis down at start: the node starts anyway, and takes over its id once Redis is back
    await this.orElse(() => this.sweep(this.options.nodeId), undefined);
    await this.beat();
  }

  async connected(userId: UserId): Promise<boolean> {
    await this.local.connected(userId);
    return (await this.orElse(() => this.redis.presenceConnect(this.keys.node, this.keys.total, this.keys.online, userId), -1)) === 1;
  }

  async disconnected(userId: UserId): Promise<boolean> {
    await this.local.disconnected(userId);
    return (await this.orElse(() => this.redis.presenceDisconnect(this.keys.node, this.keys.total, this.keys.online, userId), -1)) === 0;
  }

  async connections(userId: UserId): Promise<number> {
    return Number((await this.redis.hget(this.keys.total, userId)) ?? 0);
  }

  /** From Redis; while it is unreachable, this node's own counts (a query should not wait for Redis). */
  async connectionsOf(userIds: readonly UserId[]): Promise<number[]> {
    if (userIds.length === 0) return [];
    const counts = await this.orElse(() => this.redis.hmget(this.keys.total, ...userIds), undefined);
    return counts ? counts.map((count) => Number(count ?? 0)) : this.local.connectionsOf(userIds);
  }

  async online(page: { after?: UserId; size: number }): Promise<{ userId: UserId; connections: number }[]> {
    const from = page.after === undefined ? '-' : `(${page.after}`;
    const users = await this.redis.zrangebylex(this.keys.online, from, '+', 'LIMIT', 0, page.size);
    if (users.length === 0) return [];
    const counts = await this.redis.hmget(this.keys.total, ...users);
    return users.map((userId, i) => ({ userId, connections: Number(counts[i] ?? 0) })).filter((u) => u.connections > 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    // a node that stops takes its sockets with it (they were closed without announcements)
    await this.sweep(this.options.nodeId).catch(() => {});
  }

  /**
   * Takes the sockets of the nodes whose heartbeat expired (and of `nodes`, whatever theirs) off
   * the totals, and announces the users who went offline with them.
   */
  private async sweep(...nodes: string[]): Promise<void> {
    const { alive, total, online, nodePrefix } = this.keys;
    const offline = await this.redis.presenceSweep(alive, total, online, nodePrefix, ...nodes);
    if (offline.length > 0) this.options.onOffline(offline);
  }

  /** Heartbeat, then sweep the nodes whose heartbeat expired; again a third of the timeout later. */
  private async beat(): Promise<void> {
    await this.orElse(async () => {
      await this.redis.presenceHeartbeat(this.keys.alive, this.options.nodeId, this.options.nodeTimeoutMs);
      await this.sweep();
    }, undefined);
    if (this.stopped) return;
    this.timer = this.options.clock.setTimeout(() => this.beat(), Math.max(100, Math.floor(this.options.nodeTimeoutMs / 3)));
  }

  private async restore(): Promise<void> {
    this.stale = false;
    const pairs: (string | number)[] = [];
    for (const { userId, connections } of await this.local.online({ size: Number.MAX_SAFE_INTEGER })) pairs.push(userId, connections);
    await this.orElse(async () => {
      await this.redis.presenceRestore(this.keys.node, this.keys.total, this.keys.online, ...pairs);
      await this.redis.presenceHeartbeat(this.keys.alive, this.options.nodeId, this.options.nodeTimeoutMs);
      this.options.logger.info({ users: pairs.length / 2 }, 'presence counts restored in Redis');
    }, undefined);
  }

  /** `call`'s result, or `fallback` when Redis cannot be reached (marking this node's counts as to restore). */
  private async orElse<T, F>(call: () => Promise<T>, fallback: F): Promise<T | F> {
    try {
      return await call();
    } catch (error) {
      this.unreachable(error);
      return fallback;
    }
  }

  private unreachable(error: unknown): void {
    if (!this.stale) this.options.logger.warn({ err: error }, 'Redis unreachable: presence counts kept locally until it is back');
    this.stale = true;
  }
}
