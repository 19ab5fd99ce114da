/**
 * The Socket.IO layer (contract §5): wires the handshake check, admission (replay, rooms,
 * `ready`), token lifetime, presence and the client event handlers onto one Socket.IO server.
 */
import type http from 'node:http';
import { Server } from 'socket.io';
import type { Deliver, EventLog } from '../event-log.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { isValidName, keyRoom, userRoom, type ChannelName, type UserId } from '../names.js';
import type { SigningKeys } from '../signing-keys.js';
import type { Store } from '../store/store.js';
import { dispatcher, type Handler } from './acks.js';
import { admit } from './admission.js';
import { chatHandlers } from './chat-handlers.js';
import { createDeliver } from './delivery.js';
import { ChannelSizes } from './channel-sizes.js';
import { authenticateHandshake, originAllowed } from './handshake.js';
import { Membership } from './membership.js';
import type { PresenceTracker } from './presence.js';
import { armExpiry, refreshHandler } from './token-lifetime.js';
import type { ChattyIo, ChattySocket } from './types.js';

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
}

export interface SocketServer {
  io: ChattyIo;
  membership: Membership;
  /** Emits a committed event to its rooms: the event log's delivery function. */
  deliver: Deliver;
  /** Closes every socket and stops accepting new ones. */
  close(): Promise<void>;
}

export function createSocketServer(httpServer: http.Server, deps: SocketServerDeps): SocketServer {
  const { store, eventLog, keys, presence, metrics, logger } = deps;
  const io: ChattyIo = new Server(httpServer, {
    serveClient: true,
    maxHttpBufferSize: 64 * 1024,
    cors: deps.corsOrigins.length > 0 ? { origin: [...deps.corsOrigins], credentials: true } : undefined,
    allowRequest: (request, callback) => {
      if (originAllowed(request, deps.corsOrigins)) callback(null, true);
      else callback('origin not allowed', false);
    },
  });
  const channelSizes = new ChannelSizes(store);
  const membership = new Membership(io, channelSizes);

  keys.onRetire((keyId) => {
    // tell the sockets why before closing them, so a client can send its user back to log in
    io.to(keyRoom(keyId)).emit('auth:expired', { reason: 'key_retired' });
    io.in(keyRoom(keyId)).disconnectSockets(true);
  });

  io.use(authenticateHandshake(keys));

  /** Replays, joins, counts presence and sends `ready`; false when the socket did not make it. */
  async function admitSocket(socket: ChattySocket): Promise<boolean> {
    const userId = socket.data.principal.sub;
    try {
      const admission = await admit(socket, socket.data.lastEventId, { store, eventLog, membership });
      if (!admission) return false;
      // a key retired while this socket was being admitted: its retirement broadcast missed it
      if (keys.secretOf(socket.data.principal.keyId) === undefined) {
        socket.emit('auth:expired', { reason: 'key_retired' });
        socket.disconnect(true);
        return false;
      }
      armExpiry(socket);
      socket.data.present = true;
      if (await presence.connected(userId)) await announce(userId, admission.channels, 'online');
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
  // connection costs no closures of its own
  const dispatch = dispatcher(
    new Map<string, Handler>([['auth:refresh', refreshHandler(keys)], ...chatHandlers({ io, store, eventLog, presence, metrics })]),
    logger,
  );
  let closing = false;
  function onDisconnecting(this: ChattySocket): void {
    if (!closing) this.data.channelsAtDisconnect = [...this.rooms].filter(isValidName);
  }
  function onDisconnect(this: ChattySocket): void {
    metrics.sockets.dec();
    this.data.expiry?.cancel();
    if (!this.data.present) return;
    this.data.present = false;
    const userId = this.data.principal.sub;
    const channels = this.data.channelsAtDisconnect ?? [];
    presence
      .disconnected(userId)
      .then((last) => (last ? announce(userId, channels, 'offline') : undefined))
      .catch((error: unknown) => logger.error({ err: error, userId }, 'presence update failed'));
  }

  io.on('connection', (socket) => {
    metrics.sockets.inc();
    socket.data.admitted = admitSocket(socket);
    socket.onAny(dispatch);
    socket.on('disconnecting', onDisconnecting);
    socket.on('disconnect', onDisconnect);
  });

  /** Tells the sockets sharing a channel with `userId` that it came online or went offline. */
  async function announce(userId: UserId, channels: readonly ChannelName[], status: 'online' | 'offline'): Promise<void> {
    if (channels.length === 0 || deps.presenceLimit === 0) return;
    const small = await channelSizes.atMost(channels, deps.presenceLimit);
    // an empty room list would mean "everyone": never broadcast without channels
    if (small.length === 0) return;
    io.to(small).except(userRoom(userId)).emit('presence', { userId, status });
  }

  return {
    io,
    membership,
    deliver: createDeliver(io),
    async close() {
      // everyone is leaving at once: telling each about the others would be wasted frames
      closing = true;
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}
