/**
 * The operator's live feed (issue 32): the namespace `/admin`, open to admin tokens only, where
 * every event this node delivers (notifications, chat messages, `subscriptions:changed`) is
 * shown as it goes out, like Pusher's debug console. A socket watches everything, or one channel
 * (or conversation), or one user (what is addressed to the user's own room, and what they send),
 * chosen at connect (`auth.watch`) or later with `feed:watch`.
 *
 * On many nodes every node delivers the whole shared log, so a console connected to any node sees
 * every node's events, once. Frames are volatile: a console that cannot keep up misses entries
 * rather than holding memory, and nothing is built while no console watches.
 */
import type { TrustFunction } from 'proxy-addr';
import { roomsOf } from '../channels/delivery-plan.js';
import { isValidName, keyRoom, userRoom, type ChannelName, type UserId } from '../channels/names.js';
import type { SigningKeys } from '../auth/signing-keys.js';
import { ChattyError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { LoggedEvent } from '../store/store.js';
import type { Clock } from '../time/clock.js';
import { authenticateHandshake, connectError, refuseForeignOrigins } from './handshake.js';
import { armExpiry } from './token-lifetime.js';
import type { ChattyIo, ChattySocket } from './types.js';

export const FEED_NAMESPACE = '/admin';

/** What a feed socket watches: everything, a channel or conversation, or a user. */
export interface FeedFilter {
  channel?: ChannelName;
  user?: UserId;
}

/** One delivered event as the feed shows it. */
export interface FeedEntry {
  id: number;
  time: string;
  kind: 'notify' | 'chat';
  /** The notification's name, or `chat:message`. */
  event: string;
  /** notify: how it was addressed. */
  mode?: string;
  targets?: readonly string[];
  attributes?: Readonly<Record<string, unknown>>;
  /** chat: the conversation, the sender and the text. */
  channel?: string;
  from?: UserId;
  body?: string;
}

/** Parses a filter: `{}`, `{channel}` or `{user}`, each a valid name. */
export function parseFilter(raw: unknown): FeedFilter {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ChattyError('invalid_body', 'watch must be an object {channel} or {user}, or {} for everything');
  const { channel, user, ...rest } = raw as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw new ChattyError('validation_failed', 'watch takes channel or user only');
  if (channel !== undefined && user !== undefined) throw new ChattyError('validation_failed', 'watch a channel or a user, not both');
  if (channel !== undefined && channel !== '' && !isValidName(channel) && !(typeof channel === 'string' && channel.length <= 420 && channel.startsWith('dm:'))) throw new ChattyError('validation_failed', 'channel must be a channel or conversation name');
  if (user !== undefined && user !== '' && !isValidName(user)) throw new ChattyError('validation_failed', 'user must be a user id');
  if (typeof channel === 'string' && channel !== '') return { channel };
  if (typeof user === 'string' && user !== '') return { user };
  return {};
}

/** Whether an event belongs in a feed watching `filter`. */
export function matches(filter: FeedFilter, event: LoggedEvent): boolean {
  if (filter.channel !== undefined) {
    return event.kind === 'chat' ? event.channel === filter.channel : roomsOf(event).includes(filter.channel);
  }
  if (filter.user !== undefined) {
    if (event.kind === 'chat' && event.from === filter.user) return true;
    return roomsOf(event).includes(userRoom(filter.user));
  }
  return true;
}

export function feedEntry(event: LoggedEvent): FeedEntry {
  const time = new Date(event.createdAt).toISOString();
  if (event.kind === 'chat') return { id: event.id, time, kind: 'chat', event: 'chat:message', channel: event.channel, from: event.from, body: event.body };
  return { id: event.id, time, kind: 'notify', event: event.event, mode: event.target.mode, targets: event.target.names, attributes: event.attributes };
}

export class LiveFeed {
  private readonly nsp;
  private readonly filters = new WeakMap<ChattySocket, FeedFilter>();

  constructor(io: ChattyIo, deps: { keys: SigningKeys; corsOrigins: readonly string[]; trust: TrustFunction; logger: Logger; clock: Clock }) {
    const nsp = io.of(FEED_NAMESPACE);
    this.nsp = nsp;
    nsp.use(refuseForeignOrigins(deps.corsOrigins, deps.trust, deps.logger));
    nsp.use(authenticateHandshake(deps.keys));
    nsp.use((socket, next) => {
      if (socket.data.principal.role !== 'admin') return next(connectError('forbidden', 'The live feed needs an admin token'));
      try {
        this.filters.set(socket, parseFilter((socket.handshake.auth as Record<string, unknown> | undefined)?.watch));
        next();
      } catch (error) {
        next(connectError((error as ChattyError).code, (error as ChattyError).message));
      }
    });
    nsp.on('connection', (socket) => {
      // the rooms that end it: its key's retirement, and an operator changing its account
      socket.join([keyRoom(socket.data.principal.keyId), userRoom(socket.data.principal.sub)]);
      armExpiry(socket, deps.clock);
      const on = socket.on.bind(socket) as (event: string, listener: (...args: unknown[]) => void) => void;
      on('feed:watch', (payload, ack) => {
        const answer = typeof ack === 'function' ? (ack as (answer: unknown) => void) : () => {};
        try {
          const filter = parseFilter(payload);
          this.filters.set(socket, filter);
          answer({ ok: true, watch: filter });
        } catch (error) {
          const { code, message } = error instanceof ChattyError ? error : new ChattyError('invalid_body');
          answer({ ok: false, error: { code, message } });
        }
      });
    });
    deps.keys.onRetire((keyId) => nsp.local.in(keyRoom(keyId)).disconnectSockets(true));
  }

  /** Shows a delivered event to the consoles watching it; free while none is connected. */
  publish(event: LoggedEvent): void {
    if (this.nsp.sockets.size === 0) return;
    // a record for webhooks only, delivered to no socket
    if (event.kind === 'notify' && event.target.names.length === 0) return;
    let entry: FeedEntry | undefined;
    for (const socket of this.nsp.sockets.values()) {
      if (!matches(this.filters.get(socket) ?? {}, event)) continue;
      entry ??= feedEntry(event);
      socket.volatile.emit('feed:event', entry);
    }
  }

  /** Disconnects these users' feed sockets on this node (their account changed). */
  disconnectUsers(userIds: readonly UserId[]): void {
    this.nsp.local.in(userIds.map(userRoom)).disconnectSockets(true);
  }

  close(): void {
    this.nsp.local.disconnectSockets(true);
  }
}
