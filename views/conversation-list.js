/**
 * conversation-list.js — the list of conversations: the user's channels (from `ready`, kept current
 * by `subscriptions:changed`) and private conversations, each with its presence dot and unread
 * badge, and the form that starts a private conversation.
 */
import { el } from './dom.js';
import { ui, app, showError } from './chat-state.js';
import { isValidName, dmKey, peerOf, displayName } from './conversation-names.js';
import { closeConversation, openConversation } from './conversation.js';

export function ensureConversation(key) {
  let conv = app.conversations.get(key);
  if (conv) return conv;
  if (key.startsWith('dm:')) {
    const peer = peerOf(key);
    if (!peer) return null;
    conv = { key, kind: 'dm', peer, unread: 0 };
  } else {
    conv = { key, kind: 'channel', unread: 0 };
  }
  app.conversations.set(key, conv);
  renderConversationList();
  return conv;
}

export function removeConversation(key) {
  app.conversations.delete(key);
  app.conversationItems.get(key)?.remove();
  app.conversationItems.delete(key);
  if (app.current?.key === key) closeConversation();
}

/** The app server subscribed or unsubscribed this user: the list follows without a reload. */
export function onSubscriptionsChanged({ added, removed }) {
  for (const channel of removed) {
    if (app.conversations.get(channel)?.kind === 'channel') removeConversation(channel);
  }
  for (const channel of added.filter(isValidName)) ensureConversation(channel);
  if (added.length > 0) refreshUnread();
  renderConversationList();
}

function sortedConversations() {
  return [...app.conversations.values()].sort((a, b) => {
    if (a.kind !== b.kind) return a.kind === 'channel' ? -1 : 1;
    const na = a.kind === 'dm' ? a.peer : a.key;
    const nb = b.kind === 'dm' ? b.peer : b.key;
    return na.localeCompare(nb);
  });
}

export function renderConversationList() {
  const ordered = sortedConversations();
  let needsReorder = false;
  for (const conv of ordered) {
    let li = app.conversationItems.get(conv.key);
    if (!li) {
      li = buildConversationItem(conv);
      app.conversationItems.set(conv.key, li);
      needsReorder = true;
    }
    updateConversationItem(li, conv);
  }
  if (needsReorder) {
    const focused = document.activeElement?.closest?.('[data-conversation]')?.dataset.conversation;
    ui.conversationList.replaceChildren(...ordered.map((c) => app.conversationItems.get(c.key)));
    if (focused) ui.conversationList.querySelector(`[data-conversation="${CSS.escape(focused)}"]`)?.focus();
  }
  ui.noConversations.hidden = app.conversations.size > 0;
  const total = ordered.reduce((sum, c) => sum + (c.unread || 0), 0);
  document.title = total > 0 ? `(${total}) Chatty` : 'Chatty';
}

function buildConversationItem(conv) {
  const li = el('li', 'conversation-item');
  const button = el('button', 'conversation');
  button.type = 'button';
  button.dataset.conversation = conv.key;
  button.dataset.kind = conv.kind;
  const dot = el('span', 'conv-dot');
  dot.setAttribute('aria-hidden', 'true');
  const name = el('span', 'conv-name', displayName(conv));
  button.append(dot, name);
  button.addEventListener('click', () => openConversation(conv.key, { focus: true }));
  li.append(button);
  return li;
}

function updateConversationItem(li, conv) {
  const button = li.firstElementChild;
  const isOpen = app.current?.key === conv.key;
  if (isOpen) button.setAttribute('aria-current', 'true');
  else button.removeAttribute('aria-current');

  const name = button.querySelector('.conv-name');
  if (name.textContent !== displayName(conv)) name.textContent = displayName(conv);
  const dot = button.querySelector('.conv-dot');
  if (conv.kind === 'dm') {
    const status = app.presence.get(conv.peer) ?? 'offline';
    dot.className = `conv-dot ${status}`;
  } else {
    dot.className = 'conv-dot channel';
  }

  let badge = button.querySelector('.badge');
  const count = isOpen ? 0 : conv.unread || 0;
  if (count > 0) {
    if (!badge) {
      badge = el('span', 'badge');
      button.append(badge);
    }
    badge.textContent = count > 99 ? '99+' : String(count);
    badge.dataset.count = String(count);
    badge.setAttribute('aria-label', `${count} unread`);
    button.setAttribute('aria-label', `${displayName(conv)}, ${count} unread`);
  } else {
    badge?.remove();
    button.removeAttribute('aria-label');
  }
}

export function refreshUnread() {
  clearTimeout(app.unreadRefresh);
  app.unreadRefresh = setTimeout(async () => {
    const client = app.client;
    if (!client) return;
    const ack = await client.unread();
    if (client !== app.client || !ack.ok || !ack.unread || typeof ack.unread !== 'object') return;
    for (const conv of app.conversations.values()) conv.unread = 0;
    for (const [key, count] of Object.entries(ack.unread)) {
      if (!isValidName(key) && !key.startsWith('dm:')) continue;
      const conv = ensureConversation(key);
      if (conv) conv.unread = Number(count) || 0;
    }
    if (app.current) app.current.conv.unread = 0;
    renderConversationList();
  }, 50);
}

export function onNewDm(event) {
  event.preventDefault();
  const peer = ui.newDm.value.trim();
  if (!isValidName(peer)) {
    showError(ui.chatError, 'Enter a valid user id (no spaces, commas, colons or brackets).');
    ui.newDm.focus();
    return;
  }
  if (!app.me) return;
  const conv = ensureConversation(dmKey(app.me, peer));
  ui.newDm.value = '';
  showError(ui.chatError, '');
  if (conv) openConversation(conv.key, { focus: true });
}
