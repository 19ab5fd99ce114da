import type { Server, Socket } from 'socket.io';
import type { Principal } from '../tokens.js';
import type { ScheduledRun } from '../timers.js';
import type { TokenBucket } from './token-bucket.js';

/** What Chatty keeps on each socket. */
export interface SocketData {
  principal: Principal;
  /** What the handshake asked to replay after, if anything. */
  lastEventId: number | undefined;
  /** Settles once the socket has joined its rooms and received `ready`. */
  admitted: Promise<boolean>;
  /** Whether it counted towards presence (so its disconnect must be counted too). */
  present: boolean;
  /** Ends the socket when its token expires. */
  expiry?: ScheduledRun;
  /** Flood control, made on the first chat event. */
  buckets?: { send?: TokenBucket; typing?: TokenBucket };
  /** The user's channels as the socket leaves, for the offline announcement. */
  channelsAtDisconnect?: string[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyEvents = Record<string, (...args: any[]) => void>;
export type ChattyIo = Server<AnyEvents, AnyEvents, AnyEvents, SocketData>;
export type ChattySocket = Socket<AnyEvents, AnyEvents, AnyEvents, SocketData>;
