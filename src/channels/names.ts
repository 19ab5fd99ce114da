/**
 * Names of users and channels (contract §1) and the internal rooms built from them. Internal room
 * names contain `:`, which a user id or channel can never contain, so the two never collide.
 */

/** A user id: a JWT `sub`, or an id given by the app server. */
export type UserId = string;
/** A user-visible room name such as `posts-12`. */
export type ChannelName = string;
/** A group channel or the `dm:<a>:<b>` channel of a private conversation. */
export type ConversationName = string;
/** A Socket.IO room. */
export type RoomName = string;

// 1–200 characters; no whitespace, no control characters, none of , : [ ]. Nor format
// characters (Cf: zero-width space, bidi overrides and isolates, BOM, soft hyphen…), which are
// invisible or reorder text, so `ad\u200bmin` would pass for `admin` on a page; nor lone
// surrogates (Cs), which UTF-8 cannot encode and which would reach clients as U+FFFD.
const NAME = /^[^\s\p{Cc}\p{Cf}\p{Cs}\p{Z},:[\]]{1,200}$/u;

/** Whether `value` is a valid user id or channel name. */
export function isValidName(value: unknown): boolean {
  return typeof value === 'string' && NAME.test(value);
}

export const userRoom = (userId: UserId): RoomName => `user:${userId}`;
export const keyRoom = (keyId: string): RoomName => `key:${keyId}`;

/** The conversation name of the private conversation between two users. */
export function dmChannel(a: UserId, b: UserId): ConversationName {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

/** The two users of a `dm:` conversation, or undefined for a group channel. */
export function dmParticipants(conversation: ConversationName): [UserId, UserId] | undefined {
  if (!conversation.startsWith('dm:')) return undefined;
  const [, a, b] = conversation.split(':');
  return a !== undefined && b !== undefined ? [a, b] : undefined;
}

/**
 * Whether `conversation` is the one name of a private conversation: two valid, different user ids,
 * sorted. `dm:bob:alice` is not (it would be a second conversation beside `dm:alice:bob`).
 */
export function isCanonicalDm(conversation: ConversationName): boolean {
  const pair = dmParticipants(conversation);
  if (!pair || conversation.split(':').length !== 3) return false;
  const [a, b] = pair;
  return isValidName(a) && isValidName(b) && a !== b && dmChannel(a, b) === conversation;
}
