/**
 * Sockets that stop reading. Socket.IO queues whatever is emitted to a socket until the network
 * takes it, without limit: a client that stops reading (while still answering pings) and keeps
 * asking for history would hold the server's memory hostage. Every socket's queue is bounded by
 * SOCKET_BUFFER_LIMIT: a sweep looks at all sockets about once a second, and the ack path looks
 * before each answer; a socket over the limit is cut at once, its queue discarded.
 */
import type { Clock, ClockTimer } from '../time/clock.js';
import type { Logger } from '../logger.js';
import { queuedBytes } from './outbound-buffer.js';
import type { ChattyIo, ChattySocket, DropReason } from './types.js';

/** How often every socket's queue is looked at. */
export const SWEEP_INTERVAL_MS = 1000;

interface EngineConnection {
  close(discard?: boolean): void;
  transport?: { socket?: { terminate?: () => void } };
}

export class SlowConsumers {
  private timer: ClockTimer | undefined;

  constructor(
    private readonly io: ChattyIo,
    private readonly limitBytes: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Told of each socket cut (for metrics). */
    private readonly onDrop: (socket: ChattySocket, bytes: number) => void = () => {},
  ) {}

  /** Cuts `socket` if it has more than the limit queued; true when it did (or the socket is gone). */
  check(socket: ChattySocket): boolean {
    if (!socket.connected) return true;
    const bytes = queuedBytes(socket);
    if (bytes <= this.limitBytes) return false;
    this.drop(socket, bytes, 'slow_consumer');
    return true;
  }

  /** Starts the periodic sweep (on the clock; it never keeps the process alive). */
  start(): void {
    const sweep = () => {
      // a Map iteration and two property reads per socket: nothing to do costs next to nothing
      for (const socket of this.io.sockets.sockets.values()) this.check(socket);
      this.timer = this.clock.setTimeout(sweep, SWEEP_INTERVAL_MS);
    };
    this.timer ??= this.clock.setTimeout(sweep, SWEEP_INTERVAL_MS);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /**
   * Ends the connection without waiting for its queue to drain (it never would): Engine.IO drops
   * what it holds, and the WebSocket is destroyed rather than closed, which would wait for the
   * peer to read a close frame queued behind everything else.
   */
  private drop(socket: ChattySocket, bytes: number, reason: DropReason): void {
    this.logger.warn({ userId: socket.data.principal?.sub, socketId: socket.id, bytes, limit: this.limitBytes, reason }, 'socket disconnected: it does not read what it is sent');
    this.onDrop(socket, bytes);
    const conn = socket.conn as unknown as EngineConnection;
    const ws = conn.transport?.socket;
    conn.close(true);
    ws?.terminate?.();
  }
}
