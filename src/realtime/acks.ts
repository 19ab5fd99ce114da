/**
 * The one way a client event is handled: wait for the socket's admission, run the handler, and
 * answer the ack with `{ok:true, ...result}` or `{ok:false, error}`. A handler can throw anything;
 * the client always gets an answer and the server stays up.
 */
import { ChattyError, toAckError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ChattySocket } from './types.js';

type Ack = (response: Record<string, unknown>) => void;
export type Handler = (payload: unknown) => Promise<Record<string, unknown>>;

/** Returns `on(event, handler)` for one socket. */
export function ackedHandlers(socket: ChattySocket, logger: Logger): (event: string, handler: Handler) => void {
  return (event, handler) => {
    socket.on(event, async (...args: unknown[]) => {
      const ack = typeof args.at(-1) === 'function' ? (args.pop() as Ack) : undefined;
      try {
        if (!(await socket.data.admitted)) return;
        const result = await handler(args[0]);
        ack?.({ ok: true, ...result });
      } catch (error) {
        if (!(error instanceof ChattyError)) logger.error({ err: error, event }, 'socket handler failed');
        ack?.(toAckError(error));
      }
    });
  };
}
