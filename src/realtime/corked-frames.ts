/**
 * One system call for a batch of frames. Engine.IO's WebSocket transport sends the packets it has
 * queued one `ws.send` at a time, and `ws` corks and uncorks the TCP socket around each frame: a
 * batch of 500 replayed events became 500 `writev` calls (about 4.6 µs of the 19 µs the server
 * spent per replayed event). Corking the socket around the whole batch makes it one.
 *
 * Engine.IO has no option for this, so the transport's `send` is wrapped, once per process, on its
 * prototype, found from the first WebSocket connection. The wrapper only adds cork/uncork around
 * the original (which writes synchronously for text frames); it changes no frame and no order.
 */
import type { ChattyIo } from './types.js';

interface WebSocketTransport {
  name: string;
  socket?: { _socket?: { cork(): void; uncork(): void } };
  send(packets: unknown[]): void;
}

const CORKED = Symbol('chatty.corkedSend');

function corkSend(transport: WebSocketTransport): void {
  const proto = Object.getPrototypeOf(transport) as WebSocketTransport & { [CORKED]?: true };
  if (proto[CORKED] || typeof proto.send !== 'function') return;
  const send = proto.send;
  proto.send = function (this: WebSocketTransport, packets: unknown[]) {
    const tcp = this.socket?._socket;
    if (!tcp || packets.length < 2) return send.call(this, packets);
    tcp.cork();
    try {
      return send.call(this, packets);
    } finally {
      tcp.uncork();
    }
  };
  proto[CORKED] = true;
}

/** Makes the WebSocket transport of `io`'s Engine.IO write each batch of frames at once. */
export function corkWebSocketBatches(io: ChattyIo): void {
  const engine = io.engine as unknown as { on(event: 'connection', listener: (conn: { transport: WebSocketTransport; on(event: 'upgrade', listener: (transport: WebSocketTransport) => void): void }) => void): void };
  engine.on('connection', (conn) => {
    if (conn.transport.name === 'websocket') corkSend(conn.transport);
    else conn.on('upgrade', (transport) => transport.name === 'websocket' && corkSend(transport));
  });
}
