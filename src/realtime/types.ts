import type { Server, Socket } from 'socket.io';
import type { Principal } from '../auth/tokens.js';
import type { ScheduledRun } from '../time/timers.js';
import type { ClientToServerEvents, ExpiryReason, ServerToClientEvents } from './protocol.js';
import type { TokenBucket } from './token-bucket.js';
import type { LiveSocketEvents } from './live-sockets.js';

/** Why Chatty itself ends a socket (logged, and sent as `auth:expired.reason` for the token ones). */
export type DropReason = ExpiryReason | 'slow_consumer';

/** What Chatty keeps on each socket. */
export interface SocketData {
  principal: Principal;
  /** What the handshake asked to replay after, if anything. */
  lastEventId: number | undefined;
  /** Settles once the socket has joined its rooms and received `ready`. */
  admitted: Promise<boolean>;
  /** Whether it counted towards presence (so its disconnect must be counted too). */
  present: boolean;
  /** Whether it holds one of its user's socket slots on this node (released exactly once). */
  slotted?: boolean;
  /** Ends the socket when its token expires. */
  expiry?: ScheduledRun;
  /** Flood control of every client event, made on the socket's first event. */
  events?: TokenBucket;
  /** Client events being handled and not answered yet. */
  pending?: number;
  /** Settles once the socket's last `chat:send` is queued in the log: the next one waits for it. */
  sending?: Promise<void>;
  /** The user's channels as the socket leaves, for the offline announcement. */
  channelsAtDisconnect?: string[];
}

/**
 * Nodes talk through the shared log and the adapter's broadcasts; server-side events carry only
 * the operator's questions about live sockets (live-sockets.ts).
 */
type InterServerEvents = LiveSocketEvents;
export type ChattyIo = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type ChattySocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
