/**
 * messages.js — the message list of the open conversation: one element per message, built with
 * textContent only, kept in id order with unsent messages after the confirmed ones.
 */
import { compareIds } from './chatty-client.js';
import { el, formatTime } from './dom.js';
import { nameOf, personParts } from './people.js';
import { ui, app } from './chat-state.js';

export function buildMessage(msg, { pending = false } = {}) {
  const li = el('li', 'message');
  if (pending) {
    li.classList.add('pending');
    li.dataset.clientId = msg.clientId;
  } else {
    li.dataset.id = String(msg.id);
  }
  li.dataset.from = msg.from ?? '';
  if (msg.from === app.me) li.classList.add('mine');
  if (msg.from === null) li.classList.add('system');

  const meta = el('p', 'meta');
  const from = el('span', 'from', senderOf(msg));
  if (msg.from) from.title = msg.from;
  const time = el('time', 'time', pending ? 'sending…' : formatTime(msg.sentAt));
  if (msg.sentAt) {
    time.dateTime = msg.sentAt;
    time.title = new Date(msg.sentAt).toLocaleString();
  }
  const avatar = msg.from ? personParts(msg.from).find((part) => part.tagName === 'IMG') : undefined;
  if (avatar) meta.append(avatar);
  meta.append(from, ' ', time);

  const body = el('p', 'body', msg.deletedAt ? REMOVED : msg.body ?? '');
  if (msg.deletedAt) li.classList.add('deleted');
  const receipts = el('p', 'receipts');
  li.append(meta, body, receipts);
  return li;
}

export function confirmedElements() {
  return ui.messages.querySelectorAll('.message[data-id]');
}

/** Inserts a confirmed message in id order; returns true if it was new. */
export function insertMessage(msg) {
  const cur = app.current;
  if (!cur || msg === null || typeof msg !== 'object' || msg.id === undefined || msg.id === null) return false;
  const id = String(msg.id);
  if (cur.messages.has(id)) return false;
  cur.messages.set(id, msg);
  if (msg.from && msg.from !== app.me) cur.members.add(msg.from);

  const pendingEl = msg.clientId ? cur.pending.get(msg.clientId) : null;
  if (pendingEl) {
    cur.pending.delete(msg.clientId);
    pendingEl.remove();
  }
  const node = buildMessage(msg);
  // Confirmed messages are kept in id order, before any message still being sent.
  const confirmed = [...confirmedElements()];
  const last = confirmed[confirmed.length - 1];
  let before;
  if (!last || compareIds(msg.id, last.dataset.id) > 0) {
    before = ui.messages.querySelector('.message.pending');
  } else {
    before = confirmed.find((other) => compareIds(other.dataset.id, msg.id) > 0) ?? null;
  }
  ui.messages.insertBefore(node, before);
  if (cur.oldestId === null || compareIds(msg.id, cur.oldestId) < 0) cur.oldestId = msg.id;
  return true;
}

/** Who sent a message, as the page shows it: a system message (from the app server) has no sender. */
export function senderOf(msg) {
  return msg.from === null ? 'system' : msg.from ? nameOf(msg.from) : '';
}

/** Names and avatars changed: the senders shown follow. */
export function renameSenders() {
  for (const node of ui.messages.querySelectorAll('li.message[data-from]')) {
    const id = node.dataset.from;
    if (!id) continue;
    const from = node.querySelector('.from');
    from.textContent = nameOf(id);
    node.querySelector('.meta img.avatar')?.remove();
    const avatar = personParts(id).find((part) => part.tagName === 'IMG');
    if (avatar) from.before(avatar);
  }
}

const REMOVED = 'This message was removed.';

/** Moderation removed a message: it keeps its place, without its text. */
export function markRemoved(id) {
  const node = document.querySelector(`#messages li.message[data-id="${CSS.escape(String(id))}"]`);
  if (!node) return;
  node.classList.add('deleted');
  node.querySelector('.body').textContent = REMOVED;
}
