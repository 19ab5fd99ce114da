/**
 * The Socket.IO layer (contract §5): authenticates handshakes, admits sockets (replay, rooms,
 * `ready`), keeps each socket's token lifetime, counts presence, and wires the chat handlers.
 */
import type http from 'node:http';
import { parse as parseCookie } from 'cookie';
import { Server } from 'socket.io';
import { ChattyError, ERRORS } from '../errors.js';
import type { Deliver, EventLog } from '../event-log.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { isValidName, keyRoom, userRoom, type ChannelName, type UserId } from '../names.js';
import type { SigningKeys } from '../signing-keys.js';
import type { Store } from '../store/store.js';
import { parsePayload } from '../chat-payloads.js';
import { dispatcher, type Handler } from './acks.js';
import { admit } from './admission.js';
import { chatHandlers } from './chat-handlers.js';
import { createDeliver } from './delivery.js';
import { ChannelSizes } from './channel-sizes.js';
import { Membership } from './membership.js';
import type { PresenceTracker } from './presence.js';
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

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Finds the handshake's token: `auth.token`, then `Authorization: Bearer`, then the `jwt` cookie. */
export function handshakeToken(handshake: { auth: Record<string, unknown>; headers: http.IncomingHttpHeaders }): string | undefined {
  if (typeof handshake.auth?.token === 'string' && handshake.auth.token !== '') return handshake.auth.token;
  const bearer = /^bearer\s+(\S+)\s*$/i.exec(handshake.headers.authorization ?? '');
  if (bearer) return bearer[1];
  const cookie = handshake.headers.cookie;
  return cookie ? parseCookie(cookie).jwt || undefined : undefined;
}

function connectError(code: keyof typeof ERRORS, message: string = ERRORS[code].title): Error {
  return Object.assign(new Error(message), { data: { code } });
}

/** Parses `handshake.auth.lastEventId`: absent, or a non-negative integer (number or digits). */
function parseLastEventId(value: unknown): number | undefined | null {
  if (value === undefined || value === null || value === '') return undefined;
  const id = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : null;
}

export function createSocketServer(httpServer: http.Server, deps: SocketServerDeps): SocketServer {
  const { store, eventLog, keys, presence, metrics, logger } = deps;
  const io: ChattyIo = new Server(httpServer, {
    serveClient: true,
    maxHttpBufferSize: 64 * 1024,
    cors: deps.corsOrigins.length > 0 ? { origin: [...deps.corsOrigins], credentials: true } : undefined,
  });
  const channelSizes = new ChannelSizes(store);
  const membership = new Membership(io, channelSizes);

  keys.onRetire((keyId) => {
    // tell the sockets why before closing them, so a client can send its user back to log in
    io.to(keyRoom(keyId)).emit('auth:expired', { reason: 'key_retired' });
    io.in(keyRoom(keyId)).disconnectSockets(true);
  });

  io.use((socket, next) => {
    const result = keys.verify(handshakeToken(socket.handshake));
    if (!result.ok) return next(connectError(result.code));
    if (parseLastEventId(socket.handshake.auth?.lastEventId) === null) {
      return next(connectError('invalid_parameter', 'lastEventId must be a non-negative integer'));
    }
    socket.data.principal = result.principal;
    socket.data.present = false;
    next();
  });

  /** Replays, joins, counts presence and sends `ready`; false when the socket did not make it. */
  async function admitSocket(socket: ChattySocket): Promise<boolean> {
    const userId = socket.data.principal.sub;
    const lastEventId = parseLastEventId(socket.handshake.auth?.lastEventId) ?? undefined;
    try {
      const admission = await admit(socket, lastEventId, { store, eventLog, membership });
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
    new Map<string, Handler>([['auth:refresh', refresh], ...chatHandlers({ io, store, eventLog, presence, metrics })]),
    logger,
  );
  function onDisconnecting(this: ChattySocket): void {
    this.data.channelsAtDisconnect = [...this.rooms].filter(isValidName);
  }
  function onDisconnect(this: ChattySocket): void {
    metrics.sockets.dec();
    clearTimeout(this.data.expiryTimer);
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

  /** Disconnects the socket when its token expires, after an `auth:expired`. */
  function armExpiry(socket: ChattySocket): void {
    clearTimeout(socket.data.expiryTimer);
    const exp = socket.data.principal.exp;
    if (exp === undefined) return;
    const delay = exp * 1000 - Date.now();
    const fire = () => {
      if (exp * 1000 > Date.now()) return armExpiry(socket);
      socket.emit('auth:expired', { reason: 'token_expired' });
      socket.disconnect(true);
    };
    socket.data.expiryTimer = setTimeout(fire, Math.max(0, Math.min(delay, MAX_TIMER_MS)));
  }

  /** `auth:refresh {token}`: a newer valid token for the same user extends the socket's life. */
  async function refresh(socket: ChattySocket, payload: unknown): Promise<Record<string, unknown>> {
    const { token } = parsePayload('refresh', payload);
    const result = keys.verify(token);
    if (!result.ok) throw new ChattyError(result.code);
    const current = socket.data.principal;
    if (result.principal.sub !== current.sub) throw new ChattyError('token_invalid', 'The new token is for another user');
    if (current.exp !== undefined && result.principal.exp !== undefined && result.principal.exp < current.exp) {
      throw new ChattyError('token_invalid', 'The new token expires before the current one');
    }
    if (result.principal.keyId !== current.keyId) {
      socket.leave(keyRoom(current.keyId));
      socket.join(keyRoom(result.principal.keyId));
    }
    socket.data.principal = result.principal;
    armExpiry(socket);
    return { exp: result.principal.exp ?? null };
  }

  return {
    io,
    membership,
    deliver: createDeliver(io),
    async close() {
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}
