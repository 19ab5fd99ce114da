/**
 * The chat events of one socket (contract §5). Handlers validate, check membership against the
 * durable subscriptions, and go through the event log for messages; they keep no state of their
 * own beyond the socket's flood-control buckets.
 */
import { chatMessagePayload, chatRooms } from '../delivery-plan.js';
import { ChattyError } from '../errors.js';
import type { EventLog } from '../event-log.js';
import { parsePayload } from '../chat-payloads.js';
import { dmChannel, dmParticipants, isCanonicalDm, userRoom, type ConversationName, type UserId } from '../names.js';
import type { Store } from '../store/store.js';
import type { Metrics } from '../metrics.js';
import type { PresenceTracker } from './presence.js';
import { TokenBucket } from './token-bucket.js';
import type { ChattyIo, ChattySocket } from './types.js';
import { ackedHandlers } from './acks.js';
import type { Logger } from '../logger.js';

export interface ChatDeps {
  io: ChattyIo;
  store: Store;
  eventLog: EventLog;
  presence: PresenceTracker;
  metrics: Metrics;
  logger: Logger;
}

/** Flood control per socket: sustained rate per second and burst. */
export const SEND_RATE = { perSecond: 10, burst: 20 };
export const TYPING_RATE = { perSecond: 3, burst: 6 };

export function registerChatHandlers(socket: ChattySocket, deps: ChatDeps): void {
  const { io, store, eventLog, presence, metrics } = deps;
  const handle = ackedHandlers(socket, deps.logger);
  const sendBucket = new TokenBucket(SEND_RATE.perSecond, SEND_RATE.burst);
  const typingBucket = new TokenBucket(TYPING_RATE.perSecond, TYPING_RATE.burst);
  const me = (): UserId => socket.data.principal.sub;

  /** The conversation a payload addresses, after checking the user may use it. */
  async function conversation(address: { channel?: string | undefined; to?: string | undefined }): Promise<ConversationName> {
    if (address.to !== undefined) {
      if (address.to === me()) throw new ChattyError('validation_failed', 'to: a private conversation needs another user');
      return dmChannel(me(), address.to);
    }
    const name = address.channel!;
    const pair = dmParticipants(name);
    if (pair && !isCanonicalDm(name)) {
      throw new ChattyError('validation_failed', 'channel: a private conversation is dm:<a>:<b> with two different valid user ids, sorted');
    }
    if (pair ? !pair.includes(me()) : !(await store.isSubscribed(me(), name))) {
      throw new ChattyError('not_member', `You are not a member of "${name}"`);
    }
    return name;
  }

  handle('chat:send', async (payload) => {
    const p = parsePayload('send', payload);
    sendBucket.take();
    const channel = await conversation(p);
    const message = await eventLog.append({ kind: 'chat', channel, from: me(), body: p.body, clientId: p.clientId ?? null, createdAt: Date.now() });
    metrics.chatMessages.inc();
    return { message: chatMessagePayload(message) };
  });

  handle('chat:read', async (payload) => {
    const p = parsePayload('read', payload);
    const channel = await conversation(p);
    const message = await store.findMessage(p.messageId);
    if (!message || message.channel !== channel) throw new ChattyError('not_found', `There is no message ${p.messageId} in this conversation`);
    const readAt = Date.now();
    const advanced = await store.advanceReadPosition({ userId: me(), channel, messageId: p.messageId, readAt });
    if (advanced) {
      io.to(chatRooms({ channel })).emit('chat:receipt', { channel, userId: me(), messageId: p.messageId, readAt: new Date(readAt).toISOString() });
    }
    return { advanced };
  });

  handle('chat:history', async (payload) => {
    const p = parsePayload('history', payload);
    const channel = await conversation(p);
    const [messages, positions] = await Promise.all([store.history(channel, p.before, p.limit ?? 50), store.readPositions(channel)]);
    const receipts: Record<UserId, number> = {};
    for (const position of positions) receipts[position.userId] = position.messageId;
    return { channel, messages: messages.map(chatMessagePayload), receipts };
  });

  handle('chat:unread', async (payload) => {
    parsePayload('unread', payload);
    const channels = await store.channelsOf(me());
    return { unread: await store.unreadCounts(me(), channels) };
  });

  handle('chat:typing', async (payload) => {
    const p = parsePayload('typing', payload);
    typingBucket.take();
    const channel = await conversation(p);
    io.to(chatRooms({ channel })).except(userRoom(me())).volatile.emit('chat:typing', { channel, userId: me() });
    return {};
  });

  handle('presence:query', async (payload) => {
    const p = parsePayload('presence', payload);
    const channel = await conversation(p);
    const pair = dmParticipants(channel);
    let online: UserId[];
    if (pair) {
      const counts = await Promise.all(pair.map((user) => presence.connections(user)));
      online = pair.filter((_, i) => counts[i]! > 0);
    } else {
      const sockets = await io.in(channel).fetchSockets();
      online = [...new Set(sockets.map((s) => s.data.principal.sub))];
    }
    return { channel, online: online.sort() };
  });
}
