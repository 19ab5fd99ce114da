/**
 * chat.js — the Chatty chat page (served at `/`). Its parts live beside it as modules:
 * chatty-client.js (the socket and the API), dom.js (element helpers), notifications.js (the
 * notifications panel).
 *
 * Test hooks (stable ids / attributes, used by the end-to-end tests):
 *
 *   Sign-in
 *     #auth-view                      section with the form (hidden while signed in)
 *     #login-form                     the form; #username, #password inputs
 *     #login-btn                      submit: POST /auth/login
 *     #register-btn                   POST /auth/register, then /auth/login
 *     #auth-error                     role=alert; the API's error detail/title on failure
 *   Header
 *     #conn-state                     text and data-state: connecting | connected | reconnecting |
 *                                     disconnected | auth-failed
 *     #me-name                        the signed-in user id
 *     #logout-btn                     POST /auth/logout
 *   Conversations
 *     #chat-view                      everything below (hidden while signed out)
 *     #new-dm-form, #new-dm           type a user id + Enter to open a private conversation
 *     #conversation-list              list; each item is a button
 *                                     [data-conversation="<channel>" | "dm:<a>:<b>"],
 *                                     aria-current="true" when open; .badge = unread count
 *                                     (only present when > 0)
 *   Open conversation
 *     #conversation-title             name of the open conversation
 *     #presence-list                  members: [data-presence-user="<id>"] with class online|offline
 *     #chat-error                     role=alert; errors of chat actions
 *     #load-older                     button: load older messages (also on scroll to top)
 *     #messages                       the scrolling list; each message is
 *                                     li.message[data-id][data-from] with .from, .time, .body,
 *                                     .receipts ("read by X, Y"); own messages also have .mine;
 *                                     unsent ones are li.message.pending[data-client-id]
 *                                     (.failed + .retry button when sending failed)
 *     #typing                         "X is typing…"
 *     #composer-form, #composer       textarea (Enter sends, Shift+Enter = new line), #send-btn
 *   Notifications (events sent with POST /control/notify)
 *     #notification-list              li.notification[data-event] with .event and .payload
 *
 * Messages are always rendered with textContent: nothing a user sends is ever parsed as HTML.
 */
import { ChattyClient, STATES, compareIds, apiRequest, maybeSignedIn, forgetSignedIn } from './chatty-client.js';
import { el, formatTime } from './dom.js';
import { notificationPanel } from './notifications.js';

const PAGE_SIZE = 50;
const MAX_BODY = 4000;
const TYPING_THROTTLE_MS = 2000;
const TYPING_CLEAR_MS = 3000;
const LAST_CONVERSATION_KEY = 'chatty:lastConversation';

const $ = (selector) => document.querySelector(selector);

const ui = {
  connState: $('#conn-state'),
  whoami: $('#whoami'),
  meName: $('#me-name'),
  logoutBtn: $('#logout-btn'),
  loading: $('#loading'),
  authView: $('#auth-view'),
  loginForm: $('#login-form'),
  username: $('#username'),
  password: $('#password'),
  loginBtn: $('#login-btn'),
  registerBtn: $('#register-btn'),
  authError: $('#auth-error'),
  authInfo: $('#auth-info'),
  chatView: $('#chat-view'),
  newDmForm: $('#new-dm-form'),
  newDm: $('#new-dm'),
  conversationList: $('#conversation-list'),
  noConversations: $('#no-conversations'),
  conversation: $('#conversation'),
  title: $('#conversation-title'),
  presenceList: $('#presence-list'),
  chatError: $('#chat-error'),
  loadOlder: $('#load-older'),
  historyStatus: $('#history-status'),
  messages: $('#messages'),
  typing: $('#typing'),
  composerForm: $('#composer-form'),
  composer: $('#composer'),
  sendBtn: $('#send-btn'),
  notificationList: $('#notification-list'),
  noNotifications: $('#no-notifications'),
  announcer: $('#announcer'),
};

const notifications = notificationPanel({ list: ui.notificationList, empty: ui.noNotifications });

/** Page state. */
const app = {
  me: null,
  client: null,
  unsubscribe: [],
  readyCount: 0,
  /** key → {key, kind: 'channel'|'dm', peer?, unread} */
  conversations: new Map(),
  /** key → list item element */
  conversationItems: new Map(),
  /** the open conversation, see openConversation() */
  current: null,
  /** userId → 'online' | 'offline' */
  presence: new Map(),
  lastTypingSent: 0,
  presenceRequery: null,
  unreadRefresh: null,
};

// ---------------------------------------------------------------------------------------------
// Small helpers

function session() {
  try { return window.sessionStorage; } catch { return null; }
}

function newClientId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return 'c-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Same rules as CONTRACT §1 for user ids and channels. */
function isValidName(name) {
  return typeof name === 'string' && name.length >= 1 && name.length <= 200 &&
    !/[\s\u0000-\u001f\u007f,:[\]]/.test(name);
}

function dmKey(a, b) {
  return 'dm:' + [a, b].sort().join(':');
}

/** Whether `key` is the canonical name of a private conversation of the signed-in user. */
function isOwnDm(key) {
  const parts = key.split(':');
  if (parts.length !== 3 || parts[0] !== 'dm') return false;
  const [, a, b] = parts;
  return (a === app.me || b === app.me) && a !== b && isValidName(a) && isValidName(b) && dmKey(a, b) === key;
}

function peerOf(key) {
  const parts = key.split(':'); // dm:<a>:<b>; ids never contain ':'
  if (parts.length !== 3) return null;
  const [, a, b] = parts;
  return a === app.me ? b : a;
}

/** The address of a conversation for the socket API: {channel} or {to}. */
function addressOf(conv) {
  return conv.kind === 'dm' ? { to: conv.peer } : { channel: conv.key };
}

/**
 * A private conversation shows the peer's user id as it is: accounts' ids start with `@`, so
 * `@alice` (who registered) and `alice` (the app server's user) never look alike.
 */
function displayName(conv) {
  return conv.kind === 'dm' ? conv.peer : `#${conv.key}`;
}

function announce(text) {
  ui.announcer.textContent = '';
  // A fresh text node after a tick makes screen readers announce repeated texts too.
  setTimeout(() => { ui.announcer.textContent = text; }, 30);
}

function showError(target, message, source = '') {
  target.textContent = message || '';
  target.hidden = !message;
  target.dataset.source = message ? source : '';
}

// ---------------------------------------------------------------------------------------------
// Views: signed out / signed in

function showLoading() {
  ui.loading.hidden = false;
  ui.authView.hidden = true;
  ui.chatView.hidden = true;
}

function showLogin(info = '') {
  ui.loading.hidden = true;
  ui.chatView.hidden = true;
  ui.authView.hidden = false;
  ui.whoami.hidden = true;
  ui.logoutBtn.hidden = true;
  showError(ui.authInfo, info);
  ui.username.focus();
}

function showChat() {
  ui.loading.hidden = true;
  ui.authView.hidden = true;
  ui.chatView.hidden = false;
  ui.whoami.hidden = false;
  ui.logoutBtn.hidden = false;
  ui.meName.textContent = app.me ?? '';
}

function setConnState(state) {
  ui.connState.textContent = state;
  ui.connState.dataset.state = state;
  document.body.dataset.connState = state;
}

// ---------------------------------------------------------------------------------------------
// Sign in / register / sign out

async function whoAmI() {
  // signed out for sure: no request, so no 401 in the console
  if (!maybeSignedIn()) return null;
  const res = await apiRequest('GET', '/auth/test-jwt');
  if (res.ok && res.json?.meta?.sub) return res.json.meta;
  if (res.status === 401) forgetSignedIn();
  return res.status === 0 ? { unreachable: true } : null;
}

async function onAuthSubmit(event) {
  event.preventDefault();
  const register = event.submitter === ui.registerBtn;
  const credentials = { username: ui.username.value.trim(), password: ui.password.value };
  showError(ui.authError, '');
  showError(ui.authInfo, '');
  ui.loginBtn.disabled = true;
  ui.registerBtn.disabled = true;
  try {
    if (register) {
      const reg = await apiRequest('POST', '/auth/register', { body: credentials, contentType: 'application/json' });
      if (!reg.ok) {
        showError(ui.authError, reg.error);
        return;
      }
    }
    const login = await apiRequest('POST', '/auth/login', { body: credentials, contentType: 'application/json' });
    if (!login.ok) {
      showError(ui.authError, login.error);
      return;
    }
    ui.password.value = '';
    const who = await whoAmI();
    // an account's user id is its username in the accounts' namespace (@name)
    startChat(who?.sub ?? '@' + credentials.username, { fresh: true });
  } finally {
    ui.loginBtn.disabled = false;
    ui.registerBtn.disabled = false;
  }
}

async function onLogout() {
  ui.logoutBtn.disabled = true;
  try {
    await apiRequest('POST', '/auth/logout');
  } finally {
    ui.logoutBtn.disabled = false;
  }
  app.client?.resetLastEventId();
  stopChat();
  session()?.removeItem(LAST_CONVERSATION_KEY);
  showLogin('You are signed out.');
}

// ---------------------------------------------------------------------------------------------
// Connection

function startChat(userId, { fresh = false } = {}) {
  stopChat();
  app.me = userId;
  if (fresh) session()?.removeItem(LAST_CONVERSATION_KEY);
  showChat();
  let client;
  try {
    client = new ChattyClient({ storageKey: `chatty:lastEventId:${userId}` });
  } catch (err) {
    showError(ui.chatError, err.message);
    return;
  }
  app.client = client;
  app.unsubscribe = [
    client.on('state', onState),
    client.on('ready', onReady),
    client.on('message', onMessage),
    client.on('receipt', onReceipt),
    client.on('typing', onTyping),
    client.on('presence', onPresence),
    client.on('subscriptions', onSubscriptionsChanged),
    client.on('notification', onNotification),
  ];
  client.connect();
}

function stopChat() {
  for (const off of app.unsubscribe) off();
  app.unsubscribe = [];
  app.client?.close();
  app.client = null;
  app.readyCount = 0;
  app.conversations.clear();
  app.conversationItems.clear();
  app.presence.clear();
  ui.conversationList.replaceChildren();
  notifications.clear();
  closeConversation();
  renderConversationList();
  setConnState(STATES.DISCONNECTED);
}

function onState(state) {
  setConnState(state);
  if (state === STATES.AUTH_FAILED) {
    stopChat();
    setConnState(STATES.AUTH_FAILED);
    forgetSignedIn();
    showLogin('Your session has ended. Please sign in again.');
  }
}

function onReady(ready) {
  app.readyCount += 1;
  if (ready.userId) {
    app.me = ready.userId;
    ui.meName.textContent = app.me;
  }
  const channels = Array.isArray(ready.channels) ? ready.channels.filter(isValidName) : [];
  // Group conversations follow the user's subscriptions; private ones stay.
  for (const [key, conv] of app.conversations) {
    if (conv.kind === 'channel' && !channels.includes(key)) removeConversation(key);
  }
  for (const channel of channels) ensureConversation(channel);
  refreshUnread();

  if (app.current) {
    // Reconnected: events missed meanwhile were replayed; fill any remaining gap too.
    loadHistory({ mode: 'refresh' });
    queryPresence();
  } else if (app.readyCount === 1) {
    // after a reload, the conversation that was open: a private one is listed only once it is known
    const last = session()?.getItem(LAST_CONVERSATION_KEY);
    if (last && !app.conversations.has(last) && isOwnDm(last)) ensureConversation(last);
    if (last && app.conversations.has(last)) openConversation(last, { focus: false });
  }
  renderConversationList();
}

/** The app server subscribed or unsubscribed this user: the list follows without a reload. */
function onSubscriptionsChanged({ added, removed }) {
  for (const channel of removed) {
    if (app.conversations.get(channel)?.kind === 'channel') removeConversation(channel);
  }
  for (const channel of added.filter(isValidName)) ensureConversation(channel);
  if (added.length > 0) refreshUnread();
  renderConversationList();
}

// ---------------------------------------------------------------------------------------------
// Conversation list

function ensureConversation(key) {
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

function removeConversation(key) {
  app.conversations.delete(key);
  app.conversationItems.get(key)?.remove();
  app.conversationItems.delete(key);
  if (app.current?.key === key) closeConversation();
}

function sortedConversations() {
  return [...app.conversations.values()].sort((a, b) => {
    if (a.kind !== b.kind) return a.kind === 'channel' ? -1 : 1;
    const na = a.kind === 'dm' ? a.peer : a.key;
    const nb = b.kind === 'dm' ? b.peer : b.key;
    return na.localeCompare(nb);
  });
}

function renderConversationList() {
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

function refreshUnread() {
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

function onNewDm(event) {
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

// ---------------------------------------------------------------------------------------------
// The open conversation

let openSeq = 0;

function closeConversation() {
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

function openConversation(key, { focus = false } = {}) {
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
async function loadHistory({ mode }) {
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

function isNearBottom() {
  const list = ui.messages;
  return list.scrollHeight - list.scrollTop - list.clientHeight < 60;
}

function scrollToBottom() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function onMessagesScroll() {
  const cur = app.current;
  if (!cur) return;
  if (ui.messages.scrollTop < 80 && cur.hasMore && !cur.loading) loadHistory({ mode: 'older' });
  scheduleMarkRead();
}

// ---- message rendering ----

function buildMessage(msg, { pending = false } = {}) {
  const li = el('li', 'message');
  if (pending) {
    li.classList.add('pending');
    li.dataset.clientId = msg.clientId;
  } else {
    li.dataset.id = String(msg.id);
  }
  li.dataset.from = msg.from ?? '';
  if (msg.from === app.me) li.classList.add('mine');

  const meta = el('p', 'meta');
  const from = el('span', 'from', msg.from ?? '');
  const time = el('time', 'time', pending ? 'sending…' : formatTime(msg.sentAt));
  if (msg.sentAt) {
    time.dateTime = msg.sentAt;
    time.title = new Date(msg.sentAt).toLocaleString();
  }
  meta.append(from, ' ', time);

  const body = el('p', 'body', msg.body ?? '');
  const receipts = el('p', 'receipts');
  li.append(meta, body, receipts);
  return li;
}

function confirmedElements() {
  return ui.messages.querySelectorAll('.message[data-id]');
}

/** Inserts a confirmed message in id order; returns true if it was new. */
function insertMessage(msg) {
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

// ---- live events ----

function onMessage(msg) {
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
      if (msg.from !== app.me) announce(`${msg.from}: ${msg.body}`);
      scheduleMarkRead();
    }
  } else if (msg.from !== app.me) {
    conv.unread = (conv.unread || 0) + 1;
    renderConversationList();
    announce(`New message from ${msg.from} in ${displayName(conv)}`);
  }
}

function onReceipt(receipt) {
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

function applyReceipt(userId, messageId) {
  const cur = app.current;
  if (!cur || typeof userId !== 'string' || messageId === undefined || messageId === null) return;
  const known = cur.receipts.get(userId);
  if (known === undefined || compareIds(messageId, known) > 0) cur.receipts.set(userId, messageId);
}

/** "read by X" on the newest loaded message each other member has read up to. */
function renderReceipts() {
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

function onTyping(typing) {
  const cur = app.current;
  if (!cur || !typing || typing.channel !== cur.key || !typing.userId || typing.userId === app.me) return;
  clearTimeout(cur.typing.get(typing.userId));
  cur.typing.set(typing.userId, setTimeout(() => clearTyping(typing.userId), TYPING_CLEAR_MS));
  if (!cur.members.has(typing.userId)) {
    cur.members.add(typing.userId);
    renderPresence();
  }
  renderTyping();
}

function clearTyping(userId) {
  const cur = app.current;
  if (!cur || !cur.typing.has(userId)) return;
  clearTimeout(cur.typing.get(userId));
  cur.typing.delete(userId);
  renderTyping();
}

function clearTypingIndicators() {
  const cur = app.current;
  if (cur) for (const timer of cur.typing.values()) clearTimeout(timer);
  ui.typing.textContent = '';
}

function renderTyping() {
  const users = app.current ? [...app.current.typing.keys()].sort() : [];
  let text = '';
  if (users.length === 1) text = `${users[0]} is typing…`;
  else if (users.length > 1) {
    text = `${users.slice(0, -1).join(', ')} and ${users[users.length - 1]} are typing…`;
  }
  ui.typing.textContent = text;
}

function onPresence(presence) {
  if (!presence || typeof presence.userId !== 'string') return;
  const status = presence.status === 'online' ? 'online' : 'offline';
  app.presence.set(presence.userId, status);
  const cur = app.current;
  if (cur && presence.userId !== app.me) {
    if (cur.members.has(presence.userId)) renderPresence();
    else if (status === 'online' && cur.conv.kind === 'channel') {
      // Maybe a member of this channel we have not seen yet: ask the server.
      clearTimeout(app.presenceRequery);
      app.presenceRequery = setTimeout(queryPresence, 300);
    }
  }
  renderConversationList();
}

async function queryPresence() {
  const cur = app.current;
  const client = app.client;
  if (!cur || !client) return;
  const ack = await client.presenceQuery({ channel: cur.key });
  if (app.current !== cur || !ack.ok || !Array.isArray(ack.online)) {
    if (app.current === cur) renderPresence();
    return;
  }
  const online = new Set(ack.online);
  for (const userId of online) {
    app.presence.set(userId, 'online');
    if (userId !== app.me) cur.members.add(userId);
  }
  for (const userId of cur.members) if (!online.has(userId)) app.presence.set(userId, 'offline');
  renderPresence();
  renderConversationList();
}

function renderPresence() {
  const cur = app.current;
  if (!cur) {
    ui.presenceList.replaceChildren();
    return;
  }
  const items = [...cur.members].filter((u) => u !== app.me).sort().map((userId) => {
    const status = app.presence.get(userId) ?? 'offline';
    const li = el('li', `presence ${status}`);
    li.dataset.presenceUser = userId;
    li.title = `${userId} is ${status}`;
    const dot = el('span', 'dot');
    dot.setAttribute('aria-hidden', 'true');
    li.append(dot, el('span', 'name', userId), el('span', 'sr-only', ` (${status})`));
    return li;
  });
  ui.presenceList.replaceChildren(...items);
}

// ---- reading ----

let markReadTimer = null;

function scheduleMarkRead() {
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

// ---- sending ----

async function sendMessage(body, clientId, pendingEl) {
  const cur = app.current;
  const client = app.client;
  if (!cur || !client) return;
  pendingEl.classList.remove('failed');
  pendingEl.querySelector('.time').textContent = 'sending…';
  pendingEl.querySelector('.retry')?.remove();
  const ack = await client.send({ ...addressOf(cur.conv), body, clientId });
  if (app.current !== cur) return;
  if (ack.ok && ack.message) {
    const stick = isNearBottom();
    insertMessage(ack.message);
    if (cur.pending.has(clientId)) {
      // The server answered without our clientId: drop the placeholder.
      cur.pending.get(clientId).remove();
      cur.pending.delete(clientId);
    }
    renderReceipts();
    if (stick) scrollToBottom();
    scheduleMarkRead();
    return;
  }
  if (ack.ok) {
    // Accepted; the chat:message event will replace the placeholder.
    return;
  }
  if (!cur.pending.has(clientId)) return; // confirmed meanwhile through chat:message
  pendingEl.classList.add('failed');
  const reason = ack.error?.message ?? 'Not sent.';
  pendingEl.querySelector('.time').textContent = `not sent: ${reason}`;
  const retry = el('button', 'retry', 'Retry');
  retry.type = 'button';
  retry.addEventListener('click', () => sendMessage(body, clientId, pendingEl));
  pendingEl.querySelector('.meta').append(' ', retry);
  showError(ui.chatError, `Message not sent: ${reason}`);
}

function onComposerSubmit(event) {
  event.preventDefault();
  const cur = app.current;
  if (!cur) return;
  const body = ui.composer.value;
  if (body.trim() === '') return;
  if ([...body].length > MAX_BODY) {
    showError(ui.chatError, `Messages are limited to ${MAX_BODY} characters.`);
    return;
  }
  showError(ui.chatError, '');
  const clientId = newClientId();
  const pendingEl = buildMessage({ clientId, from: app.me, body }, { pending: true });
  cur.pending.set(clientId, pendingEl);
  ui.messages.append(pendingEl);
  ui.historyStatus.textContent = '';
  scrollToBottom();
  ui.composer.value = '';
  app.lastTypingSent = 0;
  sendMessage(body, clientId, pendingEl);
}

function onComposerKeydown(event) {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.composerForm.requestSubmit();
  }
}

function onComposerInput() {
  const cur = app.current;
  if (!cur || !app.client?.connected || ui.composer.value.trim() === '') return;
  const now = Date.now();
  if (now - app.lastTypingSent < TYPING_THROTTLE_MS) return;
  app.lastTypingSent = now;
  app.client.typing(addressOf(cur.conv));
}

// ---- notifications ----

function onNotification(notification) {
  notifications.add(notification);
}

// ---------------------------------------------------------------------------------------------
// Wiring

function wire() {
  ui.loginForm.addEventListener('submit', onAuthSubmit);
  ui.logoutBtn.addEventListener('click', onLogout);
  ui.newDmForm.addEventListener('submit', onNewDm);
  ui.composerForm.addEventListener('submit', onComposerSubmit);
  ui.composer.addEventListener('keydown', onComposerKeydown);
  ui.composer.addEventListener('input', onComposerInput);
  ui.messages.addEventListener('scroll', onMessagesScroll, { passive: true });
  ui.loadOlder.addEventListener('click', () => loadHistory({ mode: 'older' }));
  document.addEventListener('visibilitychange', scheduleMarkRead);
  window.addEventListener('focus', scheduleMarkRead);
  window.addEventListener('resize', scheduleMarkRead);
}

async function boot() {
  wire();
  setConnState(STATES.DISCONNECTED);
  closeConversation();
  showLoading();
  const who = await whoAmI();
  if (who?.sub) startChat(who.sub);
  else showLogin(who?.unreachable ? 'Cannot reach the server.' : '');
}

boot();
