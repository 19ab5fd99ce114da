/**
 * The Socket.IO layer (contract §5): wires the handshake checks, admission (replay, rooms,
 * `ready`), token lifetime, presence, the guards every socket lives under (event rate, requests
 * in hand, sockets per user, bytes queued) and the client event handlers onto one Socket.IO server.
 */
import type http from 'node:http';
import type { Limits, TrustProxy } from '../../config.js';
import type { Clock } from '../time/clock.js';
import { Server, type ServerOptions } from 'socket.io';
import { corkWebSocketBatches } from './corked-frames.js';
import type { Deliver, EventLog } from '../event-log/event-log.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { isValidName, keyRoom, userRoom, type UserId } from '../channels/names.js';
import type { SigningKeys } from '../auth/signing-keys.js';
import type { Store } from '../store/store.js';
import { dispatcher } from './acks.js';
import { admit } from './admission.js';
import { chatHandlers } from './chat-handlers.js';
import { createDeliver } from './delivery.js';
import { ChannelSizes } from './channel-sizes.js';
import { authenticateHandshake, claimSocketSlot, compileTrust, refuseForeignOrigins } from './handshake.js';
import { LiveFeed } from './live-feed.js';
import type { Profiles } from '../profiles/profiles.js';
import type { ServerChat } from '../chat/server-chat.js';
import { LiveSockets } from './live-sockets.js';
import { Membership } from './membership.js';
import { PresencePolicy } from './presence-policy.js';
import { PresenceSessions } from './presence-sessions.js';
import { NO_TAPS, type WebhookTaps } from '../webhooks/taps.js';
import type { PresenceTracker } from './presence.js';
import { SlowConsumers } from './slow-consumers.js';
import { armExpiry, refreshHandler } from './token-lifetime.js';
import type { ExpiryReason } from './protocol.js';
import type { ChattyIo, ChattySocket } from './types.js';
import { UserSockets } from './user-sockets.js';

export interface SocketServerDeps {
  store: Store;
  eventLog: EventLog;
  keys: SigningKeys;
  presence: PresenceTracker;
  metrics: Metrics;
  logger: Logger;
  corsOrigins: readonly string[];
  /** Announce presence only in channels with at most this many subscribers. */
  presenceLimit: number;
  limits: Limits;
  trustProxy: TrustProxy;
  clock: Clock;
  /** Tests: replay page size (default: admission's REPLAY_PAGE). */
  replayPageSize?: number;
  /** Many nodes: the adapter that carries volatile broadcasts (typing, presence) to the other nodes. */
  adapter?: ServerOptions['adapter'];
  /** NODE_ID, as the operator's list of sockets names it. */
  nodeId: string;
  profiles: Profiles;
  chat: ServerChat;
  /** What the log records for webhooks (presence, read positions, offline members). */
  webhooks?: WebhookTaps;
}

export interface SocketServer {
  io: ChattyIo;
  membership: Membership;
  /** The live sockets as the operator's routes see them, on every node. */
  live: LiveSockets;
  /** Emits a committed event to its rooms: the event log's delivery function. */
  deliver: Deliver;
  /**
   * Who may see `userId`'s presence (PresencePolicy): the small channels they are in, and their
   * private partners. The `profile` event goes there.
   */
  audienceOf(userId: UserId): Promise<{ channels: string[]; users: UserId[] }>;
  /** Disconnects these users' sockets on this node (each node does its own). */
  disconnectUsers(userIds: readonly UserId[]): void;
  /** Announces `offline` for users whose last sockets were on a node that died. */
  announceOffline(users: readonly UserId[]): void;
  /** Closes every socket and stops accepting new ones. */
  close(): Promise<void>;
}

const KEY_RETIRED: ExpiryReason = 'key_retired';
const USER_ROOM_PREFIX = userRoom('');

export function createSocketServer(httpServer: http.Server, deps: SocketServerDeps): SocketServer {
  const { store, eventLog, keys, presence, metrics, logger, limits, clock } = deps;
  const trust = compileTrust(deps.trustProxy);
  const io: ChattyIo = new Server(httpServer, {
    ...(deps.adapter ? { adapter: deps.adapter } : {}),
    serveClient: true,
    maxHttpBufferSize: 64 * 1024,
    // Engine.IO answers every origin's page (reflecting it, cookies allowed) so that a refused
    // page can read why: the first middleware below refuses foreign origins before any token or
    // cookie is looked at, and a session that joined no namespace carries nothing
    cors: { origin: true, credentials: true },
  });
  corkWebSocketBatches(io);
  const live = new LiveSockets(io, { nodeId: deps.nodeId, trust, clustered: deps.adapter !== undefined });
  const feed = new LiveFeed(io, { keys, corsOrigins: deps.corsOrigins, trust, logger, clock });
  const deliverToRooms = createDeliver(io);
  const channelSizes = new ChannelSizes(store, clock);
  const membership = new Membership(io, channelSizes);
  const users = new UserSockets(limits, clock);
  const presencePolicy = new PresencePolicy({ store, presence, sizes: channelSizes, announceLimit: deps.presenceLimit, queryLimit: limits.presenceQueryLimit });
  const webhooks = deps.webhooks ?? NO_TAPS;
  const sessions = new PresenceSessions(io, presence, presencePolicy, logger, webhooks);
  const slowConsumers = new SlowConsumers(io, limits.socketBufferBytes, clock, logger);
  slowConsumers.start();

  keys.onRetire((keyId) => {
    // tell the sockets why before closing them, so a client can send its user back to log in
    // every node retires the key on its own (signing-keys.ts), so each closes its own sockets
    io.local.to(keyRoom(keyId)).emit('auth:expired', { reason: KEY_RETIRED });
    io.local.in(keyRoom(keyId)).disconnectSockets(true);
  });

  io.use(refuseForeignOrigins(deps.corsOrigins, trust, logger));
  io.use(authenticateHandshake(keys));
  io.use(claimSocketSlot(users));

  /**
   * Replays, joins, counts presence and sends `ready`; false when the socket did not make it. The
   * socket can be dropped at every await (its token expiring, its key retiring, its client
   * leaving): each step after one looks again, so that a dropped socket is never counted.
   */
  async function admitSocket(socket: ChattySocket): Promise<boolean> {
    const userId = socket.data.principal.sub;
    try {
      const admission = await admit(socket, socket.data.lastEventId, { store, eventLog, membership, clock: deps.clock, replayPerSecond: deps.limits.replayPerSecond, bufferBytes: deps.limits.socketBufferBytes, pageSize: deps.replayPageSize });
      if (!admission || !socket.connected) return false;
      // a key retired while this socket was being admitted: its retirement broadcast missed it
      if (keys.secretOf(socket.data.principal.keyId) === undefined) {
        socket.emit('auth:expired', { reason: KEY_RETIRED });
        socket.disconnect(true);
        return false;
      }
      // a token that expired while the socket was being admitted ends it here, synchronously
      armExpiry(socket, clock);
      if (!socket.connected) return false;
      if (!(await sessions.enter(socket, admission.channels))) return false;
      if (admission.replayed > 0) metrics.replayedEvents.inc(admission.replayed);
      socket.emit('ready', { userId, ...admission });
      return true;
    } catch (error) {
      logger.error({ err: error, userId }, 'socket admission failed');
      socket.disconnect(true);
      return false;
    }
  }

  // listeners shared by every socket (Socket.IO calls them with the socket as `this`): a
  // connection costs no closures of its own beyond the release of its slot (claimSocketSlot)
  const dispatch = dispatcher(
    { 'auth:refresh': refreshHandler(keys, clock), ...chatHandlers({ io, store, eventLog, metrics, clock, users, presencePolicy, profiles: deps.profiles, chat: deps.chat, webhooks }) },
    logger,
    {
      clock,
      eventsPerSecond: limits.socketEventsPerSecond,
      maxPending: limits.maxPendingRequests,
      cutIfBacklogged: (socket) => slowConsumers.check(socket),
    },
  );
  let closing = false;
  function onDisconnecting(this: ChattySocket): void {
    if (!closing) this.data.channelsAtDisconnect = [...this.rooms].filter(isValidName);
  }
  function onDisconnect(this: ChattySocket): void {
    metrics.sockets.dec();
    this.data.expiry?.cancel();
    sessions.leave(this, this.data.channelsAtDisconnect ?? [], { announce: !closing });
  }

  io.on('connection', (socket) => {
    metrics.sockets.inc();
    socket.data.admitted = admitSocket(socket);
    socket.onAny(dispatch);
    socket.on('disconnecting', onDisconnecting);
    socket.on('disconnect', onDisconnect);
  });

  return {
    io,
    membership,
    live,
    deliver(event) {
      deliverToRooms(event);
      feed.publish(event);
    },
    async audienceOf(userId) {
      const rooms = await presencePolicy.audience(userId, await store.channelsOf(userId));
      const users = rooms.filter((room) => room.startsWith(USER_ROOM_PREFIX)).map((room) => room.slice(USER_ROOM_PREFIX.length));
      return { channels: rooms.filter((room) => !room.startsWith(USER_ROOM_PREFIX)), users };
    },
    disconnectUsers(userIds) {
      if (userIds.length === 0) return;
      io.local.in(userIds.map(userRoom)).disconnectSockets(true);
      feed.disconnectUsers(userIds);
    },
    announceOffline(users) {
      for (const userId of users) {
        store
          .channelsOf(userId)
          .then((channels) => sessions.goneElsewhere(userId, channels))
          .catch((error: unknown) => logger.error({ err: error, userId }, 'presence announcement failed'));
      }
    },
    async close() {
      // everyone is leaving at once: telling each about the others would be wasted frames
      closing = true;
      slowConsumers.stop();
      // this node's sockets only: on many nodes the others keep theirs
      io.local.disconnectSockets(true);
      feed.close();
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}
