/**
 * Chat for app servers and operators (issue 33): the control API posts into any conversation as
 * one of its members or as the system, reads its history, read positions and a user's unread
 * counts. Messages go through the same event log, validation and delivery as `chat:send`, so
 * members receive them live and on replay exactly like a message sent on a socket.
 */
import type { WebhookTaps } from '../webhooks/taps.js';
import type { Limits } from '../../config.js';
import { chatMessagePayload, type ChatMessagePayload } from '../channels/delivery-plan.js';
import { dmParticipants, isCanonicalDm, isValidName, type ConversationName, type UserId } from '../channels/names.js';
import { ChattyError } from '../errors.js';
import type { EventLog } from '../event-log/event-log.js';
import type { Metrics } from '../metrics.js';
import type { ReadPosition, Store } from '../store/store.js';
import type { Clock } from '../time/clock.js';
import { MAX_BODY_CHARACTERS } from './chat-payloads.js';

/** The event members' sockets get when moderation removes a message (contract §5). */
export const CHAT_DELETED = 'chat:deleted';
/** Messages read per page by an export. */
const EXPORT_PAGE = 1000;

/** The sender of a system message as stored: never a valid user id. Members see `from: null`. */
export const SYSTEM_SENDER = '';

/** A conversation named in a path: a group channel, or a private conversation's canonical `dm:<a>:<b>`. */
export function conversationOf(raw: string): ConversationName {
  if (isValidName(raw) || isCanonicalDm(raw)) return raw;
  throw new ChattyError('invalid_parameter', 'channel must be a channel name or a private conversation dm:<a>:<b> (two different user ids, sorted)', { parameter: 'channel' });
}

export interface PostedMessage {
  /** A member, or undefined for the system. */
  from: UserId | undefined;
  body: string;
  clientId: string | null;
}

export class ServerChat {
  constructor(private readonly deps: { store: Store; eventLog: EventLog; metrics: Metrics; limits: Limits; clock: Clock; webhooks?: WebhookTaps }) {}

  /** Posts a message as a member (who must be one) or as the system. */
  async post(channel: ConversationName, message: PostedMessage): Promise<ChatMessagePayload> {
    const { store, eventLog, metrics, clock } = this.deps;
    if (!eventLog.durable) throw new ChattyError('unavailable', 'Chat needs the event log (EVENT_LOG=durable)');
    if (message.from !== undefined && !(await this.isMember(message.from, channel))) {
      throw new ChattyError('not_member', `${message.from.slice(0, 200)} is not a member of "${channel}"`);
    }
    const offline = await this.deps.webhooks?.offlineMembers(channel);
    const logged = await eventLog.append({ kind: 'chat', channel, from: message.from ?? SYSTEM_SENDER, body: message.body, clientId: message.clientId, createdAt: clock.now(), ...offline });
    metrics.chatMessages.inc();
    return chatMessagePayload(logged);
  }

  /** The newest `limit` messages below `before`, oldest first, with the read positions. */
  async history(channel: ConversationName, before: number | undefined, limit: number): Promise<{ messages: ChatMessagePayload[]; receipts: Record<UserId, number> }> {
    const [messages, receipts] = await Promise.all([this.deps.store.history(channel, before, limit), this.receipts(channel)]);
    return { messages: messages.map(chatMessagePayload), receipts };
  }

  /** Each member's read position in `channel`, as `{userId: messageId}`. */
  async receipts(channel: ConversationName): Promise<Record<UserId, number>> {
    // no prototype: "__proto__" is a valid user id
    const receipts: Record<UserId, number> = Object.create(null);
    for (const position of await this.readPositions(channel)) receipts[position.userId] = position.messageId;
    return receipts;
  }

  /**
   * Moderation: removes a message of `channel`. It keeps its place in the history without its
   * body; members' sockets get `chat:deleted` {id, channel}, logged so that a socket away gets it
   * on replay, and replay no longer sends the message itself. Deleting it again changes nothing
   * and announces nothing.
   */
  async delete(channel: ConversationName, id: number): Promise<ChatMessagePayload> {
    const { store, eventLog, clock } = this.deps;
    const found = await store.findMessage(id);
    if (!found || found.channel !== channel) throw new ChattyError('not_found', `There is no message ${id} in "${channel}"`);
    if (found.deletedAt !== undefined) return chatMessagePayload(found);
    const deleted = (await store.deleteMessage(id, clock.now()))!;
    eventLog.markDeleted(id, deleted.deletedAt!);
    const pair = dmParticipants(channel);
    await eventLog.append({
      kind: 'notify',
      event: CHAT_DELETED,
      attributes: { id, channel },
      target: pair ? { mode: 'users', names: [...new Set(pair)] } : { mode: 'channels', names: [channel] },
      add: [],
      createdAt: clock.now(),
    });
    return chatMessagePayload(deleted);
  }

  /**
   * A whole conversation, oldest first, read newest page first: at most `limit` messages (the
   * newest), and whether older ones were left out.
   */
  async export(channel: ConversationName, limit: number): Promise<{ messages: ChatMessagePayload[]; truncated: boolean }> {
    const { store } = this.deps;
    const pages: ChatMessagePayload[][] = [];
    let count = 0;
    let before: number | undefined;
    for (;;) {
      const size = Math.min(EXPORT_PAGE, limit - count);
      if (size === 0) return { messages: pages.flat(), truncated: (await store.history(channel, before, 1)).length > 0 };
      const page = await store.history(channel, before, size);
      pages.unshift(page.map(chatMessagePayload));
      count += page.length;
      if (page.length < size) return { messages: pages.flat(), truncated: false };
      before = page[0]!.id;
    }
  }

  readPositions(channel: ConversationName): Promise<ReadPosition[]> {
    return this.deps.store.readPositions(channel, this.deps.limits.readPositionsLimit);
  }

  /** A user's unread counts, as `chat:unread` answers them. */
  async unread(userId: UserId): Promise<Record<ConversationName, number>> {
    const { store, limits } = this.deps;
    return store.unreadCounts(userId, await store.channelsOf(userId), limits.unreadCountLimit);
  }

  private async isMember(userId: UserId, channel: ConversationName): Promise<boolean> {
    const pair = dmParticipants(channel);
    return pair ? pair.includes(userId) : this.deps.store.isSubscribed(userId, channel);
  }
}

/** The body of a posted message: `{data:{type:"messages", attributes:{from?, body, clientId?}}}`. */
export function parsePostedMessage(body: unknown): PostedMessage {
  const data = (body as { data?: unknown } | null)?.data as { type?: unknown; attributes?: unknown } | undefined;
  if (typeof body !== 'object' || body === null || typeof data !== 'object' || data === null) throw new ChattyError('invalid_body', 'The body must be {data:{type:"messages", attributes:{from?, body, clientId?}}}', { pointer: '/data' });
  if (data.type !== 'messages') throw new ChattyError('validation_failed', 'data.type must be "messages"', { pointer: '/data/type' });
  const attributes = data.attributes as Record<string, unknown> | undefined;
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) throw new ChattyError('validation_failed', 'data.attributes must be an object', { pointer: '/data/attributes' });
  for (const key of Object.keys(attributes)) {
    if (!['from', 'body', 'clientId'].includes(key)) throw new ChattyError('validation_failed', `Unknown attribute "${key.slice(0, 50)}": give from, body and clientId`, { pointer: '/data/attributes' });
  }
  const { from, body: text, clientId } = attributes;
  if (from !== undefined && from !== null && !isValidName(from)) throw new ChattyError('validation_failed', 'from must be a user id, or absent for a system message', { pointer: '/data/attributes/from' });
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_BODY_CHARACTERS) {
    throw new ChattyError('validation_failed', `body must be text of 1–${MAX_BODY_CHARACTERS} characters`, { pointer: '/data/attributes/body' });
  }
  if (clientId !== undefined && clientId !== null && (typeof clientId !== 'string' || clientId.length > 100)) {
    throw new ChattyError('validation_failed', 'clientId must be a string of at most 100 characters', { pointer: '/data/attributes/clientId' });
  }
  return { from: (from ?? undefined) as UserId | undefined, body: text, clientId: (clientId as string | null | undefined) ?? null };
}
