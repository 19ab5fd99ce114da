/**
 * conversation.js — the open conversation: opening and closing it, its history (paged upward on
 * scroll, merged again after a reconnect), live messages, and read positions sent as the user
 * scrolls.
 */
import { compareIds } from './chatty-client.js';
import { ui, app, LAST_CONVERSATION_KEY, session, announce, showError } from './chat-state.js';
import { addressOf, displayName } from './conversation-names.js';
import { ensureConversation, renderConversationList } from './conversation-list.js';
import { confirmedElements, insertMessage, senderOf } from './messages.js';
import { applyReceipt, renderReceipts } from './receipts.js';
import { clearTyping, clearTypingIndicators, queryPresence, renderPresence } from './presence.js';

const PAGE_SIZE = 50;

let openSeq = 0;

export function closeConversation() {
  clearTypingIndicators();
  app.current = null;
  ui.messages.replaceChildren();
  ui.presenceList.replaceChildren();
  ui.title.textContent = 'Select a conversation';
  ui.loadOlder.hidden = true;
  ui.historyStatus.textContent = '';
  ui.composer.disabled = true;
  ui.sendBtn.disabled = true;
  ui.conversation.dataset.conversation = '';
  showError(ui.chatError, '');
}

export function openConversation(key, { focus = false } = {}) {
  const conv = app.conversations.get(key);
  if (!conv) return;
  if (app.current?.key === key) {
    if (focus) ui.composer.focus();
    return;
  }
  closeConversation();
  app.current = {
    key,
    conv,
    seq: ++openSeq,
    /** id → message */
    messages: new Map(),
    /** clientId → pending element */
    pending: new Map(),
    oldestId: null,
    hasMore: true,
    loading: false,
    /** userId → newest messageId read */
    receipts: new Map(),
    lastReadSent: null,
    members: new Set(conv.kind === 'dm' ? [conv.peer] : []),
    typing: new Map(),
  };
  conv.unread = 0;
  session()?.setItem(LAST_CONVERSATION_KEY, key);
  ui.title.textContent = displayName(conv);
  ui.conversation.dataset.conversation = key;
  ui.composer.disabled = false;
  ui.sendBtn.disabled = false;
  renderConversationList();
  renderPresence();
  loadHistory({ mode: 'initial' });
  queryPresence();
  if (focus) ui.composer.focus();
}

/**
 * Loads messages through chat:history.
 *  mode 'initial': the newest page, then scroll to the bottom
 *  mode 'older':   the page before the oldest loaded message (infinite scroll upward)
 *  mode 'refresh': the newest page again, merged (after a reconnect)
 */
export async function loadHistory({ mode }) {
  const cur = app.current;
  const client = app.client;
  if (!cur || !client || cur.loading) return;
  if (mode === 'older' && (!cur.hasMore || cur.oldestId === null)) return;

  cur.loading = true;
  ui.loadOlder.hidden = true;
  ui.historyStatus.textContent = mode === 'older' ? 'Loading older messages…' : 'Loading…';
  const request = { ...addressOf(cur.conv), limit: PAGE_SIZE };
  if (mode === 'older') request.before = cur.oldestId;
  const ack = await client.history(request);
  if (app.current !== cur) return;
  cur.loading = false;
  ui.historyStatus.textContent = '';

  if (!ack.ok) {
    showError(ui.chatError, `Could not load messages: ${ack.error?.message ?? 'unknown error'}`, 'history');
    ui.loadOlder.hidden = !cur.hasMore || cur.oldestId === null;
    return;
  }
  if (ui.chatError.dataset.source === 'history') showError(ui.chatError, '');
  const list = ui.messages;
  const messages = Array.isArray(ack.messages) ? ack.messages : [];
  const wasAtBottom = isNearBottom();
  const prevHeight = list.scrollHeight;
  const prevTop = list.scrollTop;

  if (mode !== 'refresh') cur.hasMore = messages.length >= PAGE_SIZE;
  else if (cur.oldestId === null) cur.hasMore = messages.length >= PAGE_SIZE;
  for (const msg of messages) insertMessage(msg);
  if (ack.receipts && typeof ack.receipts === 'object') {
    for (const [userId, messageId] of Object.entries(ack.receipts)) applyReceipt(userId, messageId);
  }
  renderReceipts();
  renderPresence();

  if (mode === 'initial' || (mode === 'refresh' && wasAtBottom)) {
    scrollToBottom();
  } else if (mode === 'older') {
    list.scrollTop = list.scrollHeight - prevHeight + prevTop;
  }
  ui.loadOlder.hidden = !cur.hasMore;
  if (!cur.hasMore && cur.messages.size > 0) ui.historyStatus.textContent = 'Beginning of the conversation';
  if (cur.messages.size === 0) ui.historyStatus.textContent = 'No messages yet. Say hello!';

  scheduleMarkRead();
  // Keep loading until the list can scroll, so "scroll to top" can load more.
  if (cur.hasMore && list.scrollHeight <= list.clientHeight + 4 && mode !== 'refresh') {
    loadHistory({ mode: 'older' });
  }
}

export function isNearBottom() {
  const list = ui.messages;
  return list.scrollHeight - list.scrollTop - list.clientHeight < 60;
}

export function scrollToBottom() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

export function onMessagesScroll() {
  const cur = app.current;
  if (!cur) return;
  if (ui.messages.scrollTop < 80 && cur.hasMore && !cur.loading) loadHistory({ mode: 'older' });
  scheduleMarkRead();
}

export function onMessage(msg) {
  if (!msg || typeof msg !== 'object' || typeof msg.channel !== 'string') return;
  const conv = ensureConversation(msg.channel);
  if (!conv) return;
  const cur = app.current;
  if (cur && cur.key === msg.channel) {
    const stick = isNearBottom() || msg.from === app.me;
    if (insertMessage(msg)) {
      clearTyping(msg.from);
      renderReceipts();
      renderPresence();
      ui.historyStatus.textContent = '';
      if (stick) scrollToBottom();
      if (msg.from !== app.me) announce(`${senderOf(msg)}: ${msg.body}`);
      scheduleMarkRead();
    }
  } else if (msg.from !== app.me) {
    conv.unread = (conv.unread || 0) + 1;
    renderConversationList();
    announce(`New message from ${senderOf(msg)} in ${displayName(conv)}`);
  }
}

let markReadTimer = null;

export function scheduleMarkRead() {
  clearTimeout(markReadTimer);
  markReadTimer = setTimeout(markRead, 150);
}

function newestVisibleMessage() {
  const box = ui.messages.getBoundingClientRect();
  if (box.height === 0) return null;
  const elements = confirmedElements();
  for (let i = elements.length - 1; i >= 0; i -= 1) {
    const r = elements[i].getBoundingClientRect();
    if (r.top < box.bottom && r.bottom > box.top) return elements[i];
    if (r.bottom <= box.top) break; // everything older is above the viewport
  }
  return null;
}

async function markRead() {
  const cur = app.current;
  const client = app.client;
  if (!cur || !client?.connected || document.visibilityState !== 'visible') return;
  const node = newestVisibleMessage();
  if (!node) return;
  const message = cur.messages.get(node.dataset.id);
  const messageId = message ? message.id : node.dataset.id;
  if (cur.lastReadSent !== null && compareIds(messageId, cur.lastReadSent) <= 0) return;
  cur.lastReadSent = messageId;
  const ack = await client.read({ ...addressOf(cur.conv), messageId });
  if (!ack.ok && app.current === cur && cur.lastReadSent === messageId) cur.lastReadSent = null;
}
