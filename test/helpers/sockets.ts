/** Real socket.io-client connections with the waiting helpers tests need instead of sleeps. */
import { io, type Socket } from 'socket.io-client';

export interface Ready {
  userId: string;
  channels: string[];
  replayed: number;
  lastEventId: number;
}

export interface Received {
  event: string;
  args: unknown[];
}

export interface TestSocket {
  socket: Socket;
  ready: Ready;
  /** Every event received since connect (before and after ready), in order. */
  received: Received[];
  /** Events received of one name: their arguments. */
  of(event: string): unknown[][];
  /** Resolves when `count` events named `event` have arrived in all (default 1). */
  waitFor(event: string, count?: number, timeoutMs?: number): Promise<unknown[][]>;
  /** Emits with an ack and resolves with the ack's argument. */
  call<T = any>(event: string, payload?: unknown, timeoutMs?: number): Promise<T>;
  close(): void;
}

const sockets = new Set<Socket>();

/** Connects and waits for `ready`. Rejects with the connect_error (its `data.code`) on failure. */
export function connect(
  url: string,
  auth: Record<string, unknown>,
  options: { extraHeaders?: Record<string, string>; timeoutMs?: number; transports?: ('websocket' | 'polling')[] } = {},
): Promise<TestSocket> {
  const socket = io(url, { auth, transports: options.transports ?? ['websocket'], reconnection: false, forceNew: true, extraHeaders: options.extraHeaders });
  sockets.add(socket);
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  socket.onAny((event: string, ...args: unknown[]) => {
    received.push({ event, args });
    for (const wake of [...waiters]) wake();
  });
  const of = (event: string) => received.filter((r) => r.event === event).map((r) => r.args);
  const waitFor = (event: string, count = 1, timeoutMs = 5000) =>
    new Promise<unknown[][]>((resolve, reject) => {
      const check = () => {
        const found = of(event);
        if (found.length >= count) {
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(check), 1);
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(check), 1);
        reject(new Error(`timed out waiting for ${count} × ${event}; got ${of(event).length}`));
      }, timeoutMs);
      waiters.push(check);
      check();
    });
  const fail = (error: Error) => {
    socket.close();
    sockets.delete(socket);
    return error;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(fail(new Error('timed out waiting for ready'))), options.timeoutMs ?? 5000);
    socket.once('connect_error', (error) => {
      clearTimeout(timer);
      reject(fail(error));
    });
    socket.once('ready', (ready: unknown) => {
      clearTimeout(timer);
      resolve({
        socket,
        ready: ready as Ready,
        received,
        of,
        waitFor,
        call: (event, payload, timeoutMs = 5000) => socket.timeout(timeoutMs).emitWithAck(event, payload),
        close: () => {
          socket.close();
          sockets.delete(socket);
        },
      });
    });
  });
}

/** Closes every socket a test opened and did not close. */
export function closeAllSockets(): void {
  for (const socket of sockets) socket.close();
  sockets.clear();
}
