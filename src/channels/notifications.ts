/**
 * Notifications (contract §4.2): validated, made idempotent, committed to the event log and
 * delivered by it. The HTTP route only translates.
 */
import type { Clock } from '../time/clock.js';
import { ChattyError } from '../errors.js';
import { IDEMPOTENCY_WINDOW_MS, type EventLog } from '../event-log/event-log.js';
import { parseMethod, type MethodQuery, type NotifyMode } from './method-query.js';
import type { Metrics } from '../metrics.js';
import { IdempotencyKeyTaken, type AddFlag, type LoggedNotification, type Store } from '../store/store.js';

const NOTIFY_MODES: readonly NotifyMode[] = ['channels', 'channels-efficient', 'users'];
const EVENT_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
/** Names Socket.IO gives a meaning of its own. */
const SOCKET_IO_EVENTS = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newlistener', 'removelistener']);
/**
 * What Chatty itself emits (contract §5): a notification by these names would be taken by clients
 * for the real thing (a forged `chat:message`, an `auth:expired` that logs them out).
 */
// every name Chatty emits or answers (contract §5), §11's profiles and labels included
const CHATTY_EVENTS = new Set(['ready', 'presence', 'profile']);
const CHATTY_PREFIXES = ['auth:', 'chat:', 'subscriptions:', 'profiles:', 'labels:'];
const NOTIFY_MEMBERS = new Set(['event', 'attributes']);
const ADD_FLAGS: readonly AddFlag[] = ['origin', 'date-time'];
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export interface NotifyRequest {
  /** The caller's user id: idempotency keys are scoped by it. */
  caller: string;
  method: unknown;
  add: unknown;
  body: unknown;
  idempotencyKey: string | undefined;
}

export interface NotifyResult {
  notification: LoggedNotification;
  /** True when an earlier request with the same idempotency key was answered instead. */
  repeated: boolean;
}

/** Parses `add=origin,date-time`. */
export function parseAdd(raw: unknown): AddFlag[] {
  if (raw === undefined || raw === '') return [];
  if (typeof raw !== 'string') throw new ChattyError('invalid_parameter', 'add must be given once', { parameter: 'add' });
  const flags = [...new Set(raw.split(',').map((flag) => flag.trim()))];
  for (const flag of flags) {
    if (!(ADD_FLAGS as readonly string[]).includes(flag)) {
      throw new ChattyError('invalid_parameter', `Unknown add flag "${flag.slice(0, 30)}"; expected origin or date-time`, { parameter: 'add' });
    }
  }
  return flags as AddFlag[];
}

/** Validates `{event, attributes}`. */
export function parseNotifyBody(body: unknown): { event: string; attributes: Record<string, unknown> } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ChattyError('invalid_body', 'The body must be an object {event, attributes}', { pointer: '' });
  }
  const { event, attributes } = body as Record<string, unknown>;
  // a typo such as "attribute" must not become a silently empty payload
  for (const member of Object.keys(body)) {
    if (!NOTIFY_MEMBERS.has(member)) {
      throw new ChattyError('validation_failed', `Unknown member "${member.slice(0, 50)}": the body is exactly {event, attributes}`, { pointer: `/${escapePointer(member.slice(0, 100))}` });
    }
  }
  if (typeof event !== 'string' || !EVENT_NAME.test(event)) {
    throw new ChattyError('validation_failed', 'event must be 1–100 of A-Z a-z 0-9 _ . : -', { pointer: '/event' });
  }
  const folded = event.toLowerCase();
  if (SOCKET_IO_EVENTS.has(folded)) throw new ChattyError('validation_failed', `"${event}" is reserved by Socket.IO`, { pointer: '/event' });
  if (CHATTY_EVENTS.has(folded) || CHATTY_PREFIXES.some((prefix) => folded.startsWith(prefix))) {
    throw new ChattyError('validation_failed', `"${event}" is reserved: Chatty emits ready, presence, profile, auth:*, chat:*, subscriptions:*, profiles:* and labels:* itself`, { pointer: '/event' });
  }
  if (attributes === undefined) throw new ChattyError('validation_failed', 'attributes is required: a JSON object, {} for none', { pointer: '/attributes' });
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
    throw new ChattyError('validation_failed', 'attributes must be a JSON object', { pointer: '/attributes' });
  }
  return { event, attributes: attributes as Record<string, unknown> };
}

export class Notifications {
  /** Requests still being committed, by scoped idempotency key: a concurrent repeat waits for them. */
  private readonly inFlight = new Map<string, Promise<NotifyResult>>();

  constructor(
    private readonly store: Store,
    private readonly eventLog: EventLog,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
  ) {}

  async notify(request: NotifyRequest): Promise<NotifyResult> {
    const target: MethodQuery<NotifyMode> = parseMethod(request.method, NOTIFY_MODES);
    const add = parseAdd(request.add);
    const { event, attributes } = parseNotifyBody(request.body);
    const append = (idempotencyKey?: string) =>
      this.eventLog.append({ kind: 'notify', event, attributes, target, add, createdAt: this.clock.now(), ...(idempotencyKey !== undefined ? { idempotencyKey } : {}) });
    if (request.idempotencyKey === undefined) return this.accepted(await append());

    if (!IDEMPOTENCY_KEY.test(request.idempotencyKey)) {
      throw new ChattyError('invalid_parameter', 'Idempotency-Key must be 1–255 printable ASCII characters', { parameter: 'Idempotency-Key' });
    }
    const key = `${request.caller}\u0000${request.idempotencyKey}`;
    const pending = this.inFlight.get(key);
    if (pending) return { notification: (await pending).notification, repeated: true };
    // registered before the first await, so a concurrent repeat always finds it
    const attempt = (async (): Promise<NotifyResult> => {
      const since = this.clock.now() - IDEMPOTENCY_WINDOW_MS;
      const earlier = await this.store.findByIdempotencyKey(key, since);
      if (earlier) return { notification: earlier, repeated: true };
      try {
        return this.accepted(await append(key));
      } catch (error) {
        // another node committed the same key since the look-up: that one is the answer
        const taken = error instanceof IdempotencyKeyTaken ? await this.store.findByIdempotencyKey(key, since) : undefined;
        if (taken) return { notification: taken, repeated: true };
        throw error;
      }
    })();
    this.inFlight.set(key, attempt);
    try {
      return await attempt;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private accepted(notification: LoggedNotification): NotifyResult {
    this.metrics.notificationsByMode[notification.target.mode].inc();
    return { notification, repeated: false };
  }
}

/** A JSON pointer token (RFC 6901): `~` and `/` escaped. */
function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}
