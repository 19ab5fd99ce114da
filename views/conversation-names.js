/**
 * conversation-names.js — names on the chat page: valid user ids and channels (contract §1),
 * private conversations' `dm:<a>:<b>` names, and how a conversation is addressed and shown.
 */
import { app } from './chat-state.js';
import { labelOf, nameOf } from './people.js';

/** Same rules as CONTRACT §1 for user ids and channels. */
export function isValidName(name) {
  return typeof name === 'string' && name.length >= 1 && name.length <= 200 &&
    !/[\s\u0000-\u001f\u007f,:[\]]/.test(name);
}

export function dmKey(a, b) {
  return 'dm:' + [a, b].sort().join(':');
}

/** Whether `key` is the canonical name of a private conversation of the signed-in user. */
export function isOwnDm(key) {
  const parts = key.split(':');
  if (parts.length !== 3 || parts[0] !== 'dm') return false;
  const [, a, b] = parts;
  return (a === app.me || b === app.me) && a !== b && isValidName(a) && isValidName(b) && dmKey(a, b) === key;
}

export function peerOf(key) {
  const parts = key.split(':'); // dm:<a>:<b>; ids never contain ':'
  if (parts.length !== 3) return null;
  const [, a, b] = parts;
  return a === app.me ? b : a;
}

/** The address of a conversation for the socket API: {channel} or {to}. */
export function addressOf(conv) {
  return conv.kind === 'dm' ? { to: conv.peer } : { channel: conv.key };
}

/**
 * How a conversation is named: a channel by its label (else `#name`), a private one by the peer's
 * profile name (else their id, as it is: accounts' ids start with `@`, so `@alice` and the app
 * server's `alice` never look alike).
 */
export function displayName(conv) {
  return conv.kind === 'dm' ? nameOf(conv.peer) : labelOf(conv.key) ?? `#${conv.key}`;
}
