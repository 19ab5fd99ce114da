/**
 * How much a socket has queued and not yet handed to the network: the packets Engine.IO holds
 * while its transport is busy, plus what the WebSocket holds in user space. A client that stops
 * reading (while still answering pings) makes both grow without end, so Chatty measures them to
 * disconnect such sockets and to pace replay (contract §6) to what the client takes.
 *
 * Engine.IO exposes neither figure as API; both are read from the documented shape of its socket
 * (`writeBuffer`) and of the `ws` WebSocket (`bufferedAmount`) its transport wraps.
 */
import type { ChattySocket } from './types.js';

interface EnginePacket {
  data?: unknown;
}
interface EngineConnection {
  readyState?: string;
  writeBuffer?: EnginePacket[];
  transport?: { socket?: { bufferedAmount?: unknown } };
  once(event: 'drain' | 'close', listener: () => void): void;
  off(event: 'drain' | 'close', listener: () => void): void;
}

function sizeOf(data: unknown): number {
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

/**
 * Bytes queued for `socket`: an estimate (string lengths, not UTF-8 bytes), cheap when nothing
 * waits. A closed connection has nothing left to send (what it held is being let go).
 */
export function queuedBytes(socket: ChattySocket): number {
  const conn = socket.conn as unknown as EngineConnection;
  if (conn.readyState === 'closed') return 0;
  let total = 0;
  for (const packet of conn.writeBuffer ?? []) total += sizeOf(packet.data);
  const buffered = conn.transport?.socket?.bufferedAmount;
  if (typeof buffered === 'number') total += buffered;
  return total;
}

/** How often a waiting writer looks again: `drain` is not emitted for the WebSocket's own buffer. */
const RECHECK_MS = 20;

/**
 * Resolves once `socket` has fewer than `below` bytes queued, or when it disconnects (then with
 * false). Used to pace bulk writes such as replay instead of queuing everything at once.
 */
export async function waitForRoom(socket: ChattySocket, below: number): Promise<boolean> {
  while (socket.connected && queuedBytes(socket) >= below) {
    const conn = socket.conn as unknown as EngineConnection;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        conn.off('drain', done);
        conn.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, RECHECK_MS);
      conn.once('drain', done);
      conn.once('close', done);
    });
  }
  return socket.connected;
}
