/**
 * The storage seam. Everything durable goes through this interface: SQLite is the embedded
 * default, and a PostgreSQL implementation plugs in without touching callers. Every
 * implementation passes the same contract suite (test/store-contract.ts).
 */
import type { SigningKey } from '../auth/key-ring.js';
import type { NotifyMode } from '../channels/method-query.js';
import type { ChannelName, ConversationName, RoomName, UserId } from '../channels/names.js';
import type { Role } from '../auth/tokens.js';

export type EventId = number;

/** How long an Idempotency-Key is honoured (contract §4.2), even past the log's retention. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface Account {
  readonly username: string;
  readonly passwordHash: string;
  readonly role: Role;
  readonly createdAt: number;
  /** Disabled by an operator: no login, and its tokens refused (default false). */
  readonly disabled?: boolean;
  /** Moved on when an operator disables it or changes its role or password (default 0). */
  readonly tokenVersion?: number;
}

/** An operator's change to an account; the token version always moves on with it. */
export interface AccountChange {
  readonly role?: Role;
  readonly disabled?: boolean;
  readonly passwordHash?: string;
}

/** An account whose older tokens are refused: disabled, or changed since they were signed. */
export interface AccountState {
  readonly username: string;
  readonly disabled: boolean;
  readonly tokenVersion: number;
}

/** A page of an id-ordered list: items after `after`, at most `size`. */
export interface PageRequest {
  readonly after?: string;
  readonly size: number;
}

/** What a notification was addressed to, as logged. */
export interface NotifyTarget {
  readonly mode: NotifyMode;
  readonly names: readonly string[];
}

export type AddFlag = 'origin' | 'date-time';

export interface NewNotification {
  readonly kind: 'notify';
  readonly event: string;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly target: NotifyTarget;
  readonly add: readonly AddFlag[];
  readonly createdAt: number;
  /** Scoped by the caller; a repeat within 24 h is answered from the log. */
  readonly idempotencyKey?: string;
}

export interface NewChatMessage {
  readonly kind: 'chat';
  /** A group channel or a `dm:<a>:<b>` conversation. */
  readonly channel: ConversationName;
  readonly from: UserId;
  readonly body: string;
  readonly clientId: string | null;
  readonly createdAt: number;
  /** The members with no socket online when it was accepted; recorded only while a webhook asks (contract §10). */
  readonly offline?: readonly UserId[];
  /** More members were offline than WEBHOOK_OFFLINE_LIMIT: `offline` lists the first of them by id. */
  readonly offlineTruncated?: boolean;
}

export type NewEvent = NewNotification | NewChatMessage;
export type LoggedEvent = LoggedNotification | ChatMessage;
export type LoggedNotification = NewNotification & { readonly id: EventId };
export type ChatMessage = NewChatMessage & {
  readonly id: EventId;
  /** When moderation removed it (its body is then empty); absent while it stands. */
  readonly deletedAt?: number;
};

/**
 * A change every node of a cluster applies to its own sockets when its tail of the log reaches it
 * (contract §9): logged with the commit that made it, so that it takes its place among the events.
 */
export type ClusterChange =
  | { readonly type: 'subscriptions'; readonly changes: readonly SubscriptionChange[] }
  /** The key ring changed: read it again. */
  | { readonly type: 'keys' }
  /** An operator changed an account: read the account states again. */
  | { readonly type: 'accounts' }
  /** An operator changed a webhook endpoint: read them again. */
  | { readonly type: 'webhooks' };
export interface LoggedChange {
  readonly kind: 'change';
  readonly id: EventId;
  readonly change: ClusterChange;
  readonly createdAt: number;
}
/** What a node tailing the shared log reads: events and changes, in id order. */
export type LogEntry = LoggedEvent | LoggedChange;

/**
 * The log as several nodes share it (the PostgreSQL store in cluster mode): subscription changes
 * and key-ring writes are logged too, and every commit to the log wakes every node's tail.
 */
export interface SharedLog {
  /** Entries with `afterId < id`, in id order, at most `limit`. */
  entriesAfter(afterId: EventId, limit: number): Promise<LogEntry[]>;
  /**
   * Calls `onCommit` whenever any node commits to the log, and once after each reconnect of the
   * listening connection (a commit meanwhile went unheard). Resolves once listening; the function
   * it resolves with stops listening.
   */
  listen(onCommit: () => void): Promise<() => Promise<void>>;
}

/** An idempotency key another request (on another node) took first: answer as a repeat. */
export class IdempotencyKeyTaken extends Error {
  constructor(readonly key: string) {
    super('idempotency key already taken');
  }
}

/**
 * A log entry as replay reads it: a notification keeps its attributes as the JSON text they were
 * stored as, so that replay sends them on without parsing and encoding them again.
 */
export type StoredEvent = StoredNotification | ChatMessage;
export type StoredNotification = Omit<LoggedNotification, 'attributes'> & { readonly attributesJson: string };

export interface SubscriptionChange {
  readonly action: 'subscribe' | 'unsubscribe';
  readonly users: readonly UserId[];
  readonly channels: readonly ChannelName[];
}

/**
 * What one change actually did: for each user it added (removed) at least one channel for, those
 * channels, in the order of the change's `channels`. A repeat is an empty map.
 */
export type ChangedPairs = ReadonlyMap<UserId, readonly ChannelName[]>;

/** The number of (user, channel) pairs in `changed`. */
export function pairCount(changed: ChangedPairs): number {
  let count = 0;
  for (const channels of changed.values()) count += channels.length;
  return count;
}

export interface ChannelQuery {
  readonly prefix?: string;
  readonly after?: string;
  readonly size: number;
}

export interface ChannelCount {
  readonly channel: ChannelName;
  readonly subscribers: number;
}

/** The greatest character: every name starting with a prefix sorts below prefix + this. */
export const LAST_CHARACTER = '\u{10FFFF}';

/** A user's profile as stored (contract §11); `name` null means the default, the user id. */
export interface Profile {
  readonly name: string | null;
  readonly avatar: string | null;
}

/** The attributes a profile change names; the others stay. */
export interface ProfileChange {
  readonly name?: string;
  readonly avatar?: string | null;
}

/** Where a channel's label came from: a subscribe document's title or name, or a PUT, which documents never replace. */
export type LabelSource = 'document' | 'put';

export interface ChannelLabel {
  readonly channel: ChannelName;
  readonly label: string;
}

/** Where replay has read a room up to. */
export interface RoomCursor {
  readonly room: RoomName;
  readonly afterId: EventId;
}

export interface ReadPosition {
  readonly userId: UserId;
  readonly channel: ConversationName;
  readonly messageId: EventId;
  readonly readAt: number;
}

/** The event types a webhook endpoint may ask for (contract §10). */
export const WEBHOOK_EVENT_TYPES = [
  'chat.message',
  'chat.read',
  'chat.deleted',
  'presence.online',
  'presence.offline',
  'subscription.changed',
  'notification.accepted',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A webhook endpoint as an operator creates it. */
export interface NewWebhook {
  readonly id: string;
  readonly url: string;
  readonly events: readonly WebhookEventType[];
  /** Channel names and `prefix*` patterns; null: every channel. */
  readonly channels: readonly string[] | null;
  /** `whsec_` and the base64 of the key. */
  readonly secret: string;
  readonly createdAt: number;
}

/** Where delivery to an endpoint stands. */
export interface WebhookProgress {
  /** Every log entry up to this id has been delivered to the endpoint, or did not concern it. */
  readonly cursor: EventId;
  /** When the delivery now being retried first failed; null while deliveries succeed. */
  readonly failingSince: number | null;
  readonly lastError: string | null;
  readonly lastErrorAt: number | null;
}

export interface WebhookEndpoint extends NewWebhook, WebhookProgress {
  readonly disabled: boolean;
  /** The secret before the last rotation, which keeps signing alongside until `previousSecretUntil`. */
  readonly previousSecret: string | null;
  readonly previousSecretUntil: number | null;
}

/** An operator's change to an endpoint; what it does not name stays. */
export interface WebhookChange {
  readonly url?: string;
  readonly events?: readonly WebhookEventType[];
  readonly channels?: readonly string[] | null;
  readonly disabled?: boolean;
  /** A rotation: the new secret, and until when the current one keeps signing. */
  readonly rotate?: { readonly secret: string; readonly previousUntil: number };
  /** Move the cursor to the head of the log, forgetting a failing delivery (re-enabled). */
  readonly resumeAtHead?: boolean;
}

export interface Store {
  /** Creates or upgrades the schema. */
  migrate(): Promise<void>;
  /** Throws when the database cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // accounts
  /** Returns false when the username is taken, in any case (`ADMIN` is taken by `admin`). */
  createAccount(account: Account): Promise<boolean>;
  /** The account whose username equals `username` ignoring ASCII case; it keeps its own spelling. */
  findAccount(username: string): Promise<Account | undefined>;
  /** Creates the account or resets the password and role of the one with that name in any case. */
  upsertAccount(account: Account): Promise<void>;
  /** Accounts by username, after `page.after`, at most `page.size`. */
  listAccounts(page: PageRequest): Promise<Account[]>;
  /**
   * Applies an operator's change to the account named `username` (in any case) and moves its token
   * version on, atomically; on many nodes the change is logged, so every node reloads the states.
   * Undefined when there is no such account.
   */
  changeAccount(username: string, change: AccountChange): Promise<Account | undefined>;
  /** Every account that is disabled or whose token version has moved on. */
  accountStates(): Promise<AccountState[]>;

  // key ring
  listKeys(): Promise<SigningKey[]>;
  /** Writes keys as given (insert or update by id), atomically. */
  saveKeys(keys: readonly SigningKey[]): Promise<void>;
  /**
   * Saves `key` only if the ring holds no key at all, atomically against every node doing the
   * same at once; returns the ring as stored afterwards (another node's key if it seeded first).
   */
  seedKeyRing(key: SigningKey): Promise<SigningKey[]>;

  // subscriptions
  /**
   * Applies several subscription changes in one durable transaction, in order; returns for each
   * the (user, channel) pairs it actually added or removed.
   */
  changeSubscriptions(changes: readonly SubscriptionChange[]): Promise<ChangedPairs[]>;
  /** Distinct users subscribed to any of `channels`. */
  subscribersOfAny(channels: readonly ChannelName[]): Promise<UserId[]>;
  /** A user's channels, ordered by name; all of them without `page`. */
  channelsOf(userId: UserId, page?: PageRequest): Promise<ChannelName[]>;
  /** A channel's subscribers, ordered by id. */
  subscribersOf(channel: ChannelName, page: PageRequest): Promise<UserId[]>;
  isSubscribed(userId: UserId, channel: ChannelName): Promise<boolean>;
  /** The number of subscribers of each channel (0 for a channel nobody is in). */
  countSubscribers(channels: readonly ChannelName[]): Promise<Map<ChannelName, number>>;
  /**
   * Channels with at least one subscriber, by name, after `after`, starting with `prefix` when
   * given, at most `size`, each with its number of subscribers (a range of the channel index).
   */
  listChannels(query: ChannelQuery): Promise<ChannelCount[]>;

  // profiles and labels (contract §11)
  /** The stored profiles of these users (users never given one are absent). */
  profilesOf(userIds: readonly UserId[]): Promise<Map<UserId, Profile>>;
  /** Sets the attributes `change` names, creating the profile if needed; returns it as stored. */
  setProfile(userId: UserId, change: ProfileChange): Promise<Profile>;
  /** The labels of these channels (channels without one are absent). */
  labelsOf(channels: readonly ChannelName[]): Promise<Map<ChannelName, string>>;
  /** Sets labels; from a document, never over one set with PUT. */
  setLabels(labels: readonly ChannelLabel[], source: LabelSource): Promise<void>;

  // event log
  /** Appends events in one durable transaction; ids increase in the order given. */
  appendEvents(events: readonly NewEvent[]): Promise<LoggedEvent[]>;
  /**
   * Replay's index read: for each cursor, the ids of events addressed to its room with
   * `cursor.afterId < id <= untilId`, ascending, at most `limit` per room. Each room's read is a
   * range of the (room, event id) index, so a page costs its own size whatever the backlog.
   */
  eventIdsFor(cursors: readonly RoomCursor[], untilId: EventId, limit: number): Promise<Map<RoomName, EventId[]>>;
  /** The events with these ids that are still in the log, in id order, as stored. */
  eventsByIds(ids: readonly EventId[]): Promise<StoredEvent[]>;
  /** Events with `afterId < id <= untilId`, in id order, at most `limit`. */
  eventsBetween(afterId: EventId, untilId: EventId, limit: number): Promise<LoggedEvent[]>;
  lastEventId(): Promise<EventId>;
  findByIdempotencyKey(key: string, since: number): Promise<LoggedNotification | undefined>;
  /**
   * Deletes at most `limit` log entries created before `before`, except those holding an
   * idempotency key created at or after `keyedBefore` (keys are honoured for 24 h whatever the
   * retention). Chat history is kept.
   */
  pruneEvents(before: number, keyedBefore: number, limit: number): Promise<number>;

  // chat
  /** The newest `limit` messages of a conversation with id below `before`, oldest first. */
  history(channel: ConversationName, before: EventId | undefined, limit: number): Promise<ChatMessage[]>;
  findMessage(id: EventId): Promise<ChatMessage | undefined>;
  /**
   * Moderation: empties the message's body, marks it deleted at `at` and takes it out of the replay
   * index, atomically. Returns the message as deleted (`deletedAt` of the first deletion), or
   * undefined when there is no such message.
   */
  deleteMessage(id: EventId, at: number): Promise<ChatMessage | undefined>;
  /** The `dm:` conversations `userId` has at least one message in, by name, at most `limit`. */
  privateConversationsOf(userId: UserId, limit: number): Promise<ConversationName[]>;
  /** Moves a read position forward; returns false when it already was at or past `messageId`. */
  advanceReadPosition(position: ReadPosition): Promise<boolean>;
  /** A conversation's read positions, the most advanced first (ties: user ids descending), at most `limit`. */
  readPositions(channel: ConversationName, limit: number): Promise<ReadPosition[]>;
  /**
   * Unread counts (messages from others after the read position) for the given group channels and
   * every private conversation the user has a message in, each counted up to `cap` (an index range
   * that stops there) and reported as `cap` beyond it.
   */
  unreadCounts(userId: UserId, channels: readonly ChannelName[], cap: number): Promise<Record<ConversationName, number>>;

  // webhooks (contract §10)
  /** Stores a new endpoint with its cursor at the head of the log: it hears nothing from before. */
  createWebhook(webhook: NewWebhook): Promise<WebhookEndpoint>;
  /** Every endpoint, oldest first. */
  listWebhooks(): Promise<WebhookEndpoint[]>;
  findWebhook(id: string): Promise<WebhookEndpoint | undefined>;
  /** Applies an operator's change; undefined when there is no such endpoint. */
  updateWebhook(id: string, change: WebhookChange): Promise<WebhookEndpoint | undefined>;
  deleteWebhook(id: string): Promise<boolean>;
  /**
   * Leases to `owner` until `until` every enabled endpoint whose lease is free, expired at `now`,
   * already its own, or (`takeover`: the only node) anyone's; returns the endpoints it now holds.
   */
  claimWebhooks(owner: string, now: number, until: number, takeover: boolean): Promise<WebhookEndpoint[]>;
  /** Gives up `owner`'s leases (a node shutting down hands over at once). */
  releaseWebhooks(owner: string): Promise<void>;
  /**
   * Records an endpoint's progress if `owner` still holds its lease and it is enabled; false when
   * not (another node took it over, or an operator disabled or deleted it): stop delivering.
   */
  saveWebhookProgress(id: string, owner: string, progress: WebhookProgress): Promise<boolean>;
}
