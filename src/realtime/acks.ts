/**
 * The one way client events are handled. A table of handlers is built once per server, and one
 * shared listener (`socket.onAny`) serves every socket: it applies the per-socket guards, waits for
 * the socket's admission, runs the handler, and answers the ack with `{ok:true, ...result}` or
 * `{ok:false, error}`. A handler can throw anything; the client always gets an answer and the
 * server stays up.
 *
 * The guards, in order: every event counts against the socket's event rate (SOCKET_EVENT_RATE,
 * bursts of twice that), and at most MAX_PENDING_REQUESTS events may be in hand at once; beyond
 * either the ack is `rate_limited` at once (an event without an ack is dropped). Before an answer
 * goes out, a socket with more than SOCKET_BUFFER_LIMIT queued is cut instead: answers are the
 * client's own way to make the server write, and a client that does not read must not pile them up.
 */
import type { Clock } from '../time/clock.js';
import { ChattyError, toAckError } from '../errors.js';
import type { Logger } from '../logger.js';
import { TokenBucket } from './token-bucket.js';
import type { ClientEvent, ClientRequests } from './protocol.js';
import type { ChattySocket } from './types.js';

type Ack = (response: Record<string, unknown>) => void;
/** Answers one client event: the payload arrives unchecked; the result is the ack's answer (contract §5). */
export type Handler<E extends ClientEvent = ClientEvent> = (socket: ChattySocket, payload: unknown) => Promise<ClientRequests[E]['answer']>;
/** A handler for every client event of the protocol: one missing does not compile. */
export type HandlerTable = { readonly [E in ClientEvent]: Handler<E> };

export interface DispatchGuards {
  clock: Clock;
  /** Client events per socket per second, bursts of twice that (0: unlimited). */
  eventsPerSecond: number;
  /** Events a socket may have in hand (handled, not yet answered) at once. */
  maxPending: number;
  /** Called before each answer: true when the socket was cut instead (its queue is over the limit). */
  cutIfBacklogged(socket: ChattySocket): boolean;
}

/** The listener to pass to `socket.onAny`; Socket.IO calls it with the socket as `this`. */
export function dispatcher(handlers: HandlerTable, logger: Logger, guards: DispatchGuards) {
  const { clock, eventsPerSecond, maxPending } = guards;

  /** Throws `rate_limited` when the socket is over its event rate or has too much in hand. */
  function admitEvent(socket: ChattySocket): void {
    if (eventsPerSecond > 0) {
      (socket.data.events ??= new TokenBucket(eventsPerSecond, eventsPerSecond * 2, clock)).take('Slow down: too many events from this connection');
    }
    if ((socket.data.pending ?? 0) >= maxPending) {
      throw new ChattyError('rate_limited', `Too many unanswered requests on this connection (at most ${maxPending})`);
    }
  }

  function answer(socket: ChattySocket, ack: Ack | undefined, response: Record<string, unknown>): void {
    if (ack && !guards.cutIfBacklogged(socket)) ack(response);
  }

  return async function dispatch(this: ChattySocket, event: string, ...args: unknown[]): Promise<void> {
    const ack = typeof args.at(-1) === 'function' ? (args.pop() as Ack) : undefined;
    let counted = false;
    try {
      admitEvent(this);
      this.data.pending = (this.data.pending ?? 0) + 1;
      counted = true;
      // own properties only: an event named `constructor` or `__proto__` is no handler
      const handler: Handler | undefined = Object.hasOwn(handlers, event) ? (handlers[event as ClientEvent] as Handler) : undefined;
      if (!handler) {
        if (ack) throw new ChattyError('not_found', `Unknown event "${String(event).slice(0, 50)}"`);
        return;
      }
      // a socket that left while being admitted (or since) has nobody to answer
      if (!(await this.data.admitted) || !this.connected) return;
      const result = await handler(this, args[0]);
      answer(this, ack, { ok: true, ...result });
    } catch (error) {
      if (!(error instanceof ChattyError)) logger.error({ err: error, event }, 'socket handler failed');
      answer(this, ack, toAckError(error));
    } finally {
      if (counted) this.data.pending!--;
    }
  };
}
