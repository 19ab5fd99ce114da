/**
 * The one way client events are handled. A table of handlers is built once per server, and one
 * shared listener (`socket.onAny`) serves every socket: it waits for the socket's admission, runs
 * the handler, and answers the ack with `{ok:true, ...result}` or `{ok:false, error}`. A handler
 * can throw anything; the client always gets an answer and the server stays up.
 */
import { ChattyError, toAckError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ChattySocket } from './types.js';

type Ack = (response: Record<string, unknown>) => void;
export type Handler = (socket: ChattySocket, payload: unknown) => Promise<Record<string, unknown>>;
export type HandlerTable = ReadonlyMap<string, Handler>;

/** The listener to pass to `socket.onAny`; Socket.IO calls it with the socket as `this`. */
export function dispatcher(handlers: HandlerTable, logger: Logger) {
  return async function dispatch(this: ChattySocket, event: string, ...args: unknown[]): Promise<void> {
    const ack = typeof args.at(-1) === 'function' ? (args.pop() as Ack) : undefined;
    try {
      const handler = handlers.get(event);
      if (!handler) {
        if (ack) throw new ChattyError('not_found', `Unknown event "${String(event).slice(0, 50)}"`);
        return;
      }
      if (!(await this.data.admitted)) return;
      const result = await handler(this, args[0]);
      ack?.({ ok: true, ...result });
    } catch (error) {
      if (!(error instanceof ChattyError)) logger.error({ err: error, event }, 'socket handler failed');
      ack?.(toAckError(error));
    }
  };
}
