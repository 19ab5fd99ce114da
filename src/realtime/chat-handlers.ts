/**
 * The chat events (contract §5), as a table shared by every socket. Handlers validate, check
 * membership against the durable subscriptions, and go through the event log for messages. Flood
 * control of `chat:send` and `chat:typing` is per user, across all of their sockets on this node
 * (see {@link UserSockets}); who may see whose presence is {@link PresencePolicy}'s rule.
 */
import type { WebhookTaps } from '../webhooks/taps.js';
import { chatMessagePayload, chatRooms } from '../channels/delivery-plan.js';
import { ChattyError } from '../errors.js';
import type { EventLog } from '../event-log/event-log.js';
import { DEFAULT_HISTORY_LIMIT, parsePayload } from '../chat/chat-payloads.js';
import type { Clock } from '../time/clock.js';
import { dmChannel, dmParticipants, isCanonicalDm, userRoom, type ConversationName, type UserId } from '../channels/names.js';
import type { NewChatMessage, Store } from '../store/store.js';
import type { Metrics } from '../metrics.js';
import type { PresencePolicy } from './presence-policy.js';
import type { ChattyIo, ChattySocket } from './types.js';
import type { UserSockets } from './user-sockets.js';
import type { HandlerTable } from './acks.js';
import type { Profiles } from '../profiles/profiles.js';
import type { ServerChat } from '../chat/server-chat.js';

export interface ChatDeps {
  io: ChattyIo;
  store: Store;
  eventLog: EventLog;
  metrics: Metrics;
  clock: Clock;
  users: UserSockets;
  presencePolicy: PresencePolicy;
  profiles: Profiles;
  /** History and unread counts, the same as the control API's. */
  chat: ServerChat;
  webhooks: WebhookTaps;
}

export function chatHandlers(deps: ChatDeps): Omit<HandlerTable, 'auth:refresh'> {
  const { io, store, eventLog, metrics, clock, users, presencePolicy, profiles, chat, webhooks } = deps;
  const me = (socket: ChattySocket): UserId => socket.data.principal.sub;

  /** The conversation a payload addresses, after checking the user may use it. */
  async function conversation(socket: ChattySocket, address: { channel?: string | undefined; to?: string | undefined }): Promise<ConversationName> {
    const userId = me(socket);
    if (address.to !== undefined) {
      if (address.to === userId) throw new ChattyError('validation_failed', 'to: a private conversation needs another user');
      return dmChannel(userId, address.to);
    }
    const name = address.channel!;
    const pair = dmParticipants(name);
    if (pair && !isCanonicalDm(name)) {
      throw new ChattyError('validation_failed', 'channel: a private conversation is dm:<a>:<b> with two different valid user ids, sorted');
    }
    if (pair ? !pair.includes(userId) : !(await store.isSubscribed(userId, name))) {
      throw new ChattyError('not_member', `You are not a member of "${name}"`);
    }
    return name;
  }

  return {
    'chat:send': async (socket, payload) => {
      const p = parsePayload('send', payload);
      if (!eventLog.durable) throw new ChattyError('unavailable', 'Chat needs the event log (EVENT_LOG=durable)');
      users.take(me(socket), 'send');
      // one socket's messages go into the log in the order sent: with an asynchronous store
      // (PostgreSQL) the membership check of a later message can finish first. Each send waits
      // for the previous one to be queued in the log (the queue's order is the ids' order), not
      // for its commit.
      const previous = socket.data.sending;
      let queued!: () => void;
      const turn = new Promise<void>((resolve) => (queued = resolve));
      socket.data.sending = turn;
      let appended: Promise<NewChatMessage & { id: number }>;
      try {
        await previous;
        const channel = await conversation(socket, p);
        const offline = await webhooks.offlineMembers(channel);
        appended = eventLog.append({ kind: 'chat', channel, from: me(socket), body: p.body, clientId: p.clientId ?? null, createdAt: clock.now(), ...offline });
      } finally {
        queued();
        if (socket.data.sending === turn) socket.data.sending = undefined;
      }
      const message = await appended;
      metrics.chatMessages.inc();
      return { message: chatMessagePayload(message) };
    },
    'chat:read': async (socket, payload) => {
      const p = parsePayload('read', payload);
      const channel = await conversation(socket, p);
      const message = await store.findMessage(p.messageId);
      if (!message || message.channel !== channel) throw new ChattyError('not_found', `There is no message ${p.messageId} in this conversation`);
      const readAt = clock.now();
      const userId = me(socket);
      const advanced = await store.advanceReadPosition({ userId, channel, messageId: p.messageId, readAt });
      if (advanced) {
        await webhooks.read(channel, userId, p.messageId, readAt);
        io.to(chatRooms({ channel })).emit('chat:receipt', { channel, userId, messageId: p.messageId, readAt: new Date(readAt).toISOString() });
      }
      return { advanced };
    },
    'chat:history': async (socket, payload) => {
      const p = parsePayload('history', payload);
      const channel = await conversation(socket, p);
      return { channel, ...(await chat.history(channel, p.before, p.limit ?? DEFAULT_HISTORY_LIMIT)) };
    },
    'chat:unread': async (socket, payload) => {
      parsePayload('unread', payload);
      return { unread: await chat.unread(me(socket)) };
    },
    'chat:typing': async (socket, payload) => {
      const p = parsePayload('typing', payload);
      users.take(me(socket), 'typing');
      const channel = await conversation(socket, p);
      io.to(chatRooms({ channel })).except(userRoom(me(socket))).volatile.emit('chat:typing', { channel, userId: me(socket) });
      return {};
    },
    'profiles:get': async (_socket, payload) => {
      const { ids } = parsePayload('profiles', payload);
      return { profiles: await profiles.many([...new Set(ids)]) };
    },
    'labels:get': async (socket, payload) => {
      const { ids } = parsePayload('labels', payload);
      // the user's own channels only: a label says what a channel is about
      const mine = new Set(await store.channelsOf(me(socket)));
      return { labels: await profiles.labels([...new Set(ids)].filter((id) => mine.has(id))) };
    },
    'presence:query': async (socket, payload) => {
      const p = parsePayload('presence', payload);
      const channel = await conversation(socket, p);
      const online = await presencePolicy.online(me(socket), channel);
      return { channel, online };
    },
  };
}
