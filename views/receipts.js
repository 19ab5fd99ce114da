/**
 * receipts.js — "read by X" under the newest message each other member has read (never under the
 * reader's own messages).
 */
import { compareIds } from './chatty-client.js';
import { app } from './chat-state.js';
import { refreshUnread } from './conversation-list.js';
import { confirmedElements } from './messages.js';
import { renderPresence } from './presence.js';

export function onReceipt(receipt) {
  if (!receipt || typeof receipt !== 'object') return;
  const cur = app.current;
  if (cur && cur.key === receipt.channel) {
    applyReceipt(receipt.userId, receipt.messageId);
    if (receipt.userId && receipt.userId !== app.me) cur.members.add(receipt.userId);
    renderReceipts();
    renderPresence();
  } else if (receipt.userId === app.me) {
    // Read on another tab or device.
    refreshUnread();
  }
}

export function applyReceipt(userId, messageId) {
  const cur = app.current;
  if (!cur || typeof userId !== 'string' || messageId === undefined || messageId === null) return;
  const known = cur.receipts.get(userId);
  if (known === undefined || compareIds(messageId, known) > 0) cur.receipts.set(userId, messageId);
}

/** "read by X" on the newest loaded message each other member has read up to. */
export function renderReceipts() {
  const cur = app.current;
  if (!cur) return;
  const elements = [...confirmedElements()];
  const byMessage = new Map();
  for (const [userId, messageId] of cur.receipts) {
    if (userId === app.me) continue;
    // Binary search: the last element with id <= messageId.
    let lo = 0;
    let hi = elements.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (compareIds(elements[mid].dataset.id, messageId) <= 0) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    // a reader's own messages carry no "read by" of theirs: go back to the newest one from someone else
    while (found >= 0 && elements[found].dataset.from === userId) found -= 1;
    if (found < 0) continue;
    const target = elements[found];
    if (!byMessage.has(target)) byMessage.set(target, []);
    byMessage.get(target).push(userId);
  }
  for (const node of elements) {
    const users = byMessage.get(node);
    const receipts = node.querySelector('.receipts');
    const text = users ? `read by ${users.sort().join(', ')}` : '';
    if (receipts.textContent !== text) receipts.textContent = text;
  }
}
