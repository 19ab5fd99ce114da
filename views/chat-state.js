/**
 * chat-state.js — what the chat page's modules share: its elements (`ui`), its state (`app`: the
 * signed-in user, the one ChattyClient for the socket and the API, the conversations, the open
 * one), and the small helpers every panel uses.
 */
const $ = (selector) => document.querySelector(selector);

export const ui = {
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

/** Page state. */
export const app = {
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

export const LAST_CONVERSATION_KEY = 'chatty:lastConversation';

export function session() {
  try { return window.sessionStorage; } catch { return null; }
}

export function announce(text) {
  ui.announcer.textContent = '';
  // A fresh text node after a tick makes screen readers announce repeated texts too.
  setTimeout(() => { ui.announcer.textContent = text; }, 30);
}

export function showError(target, message, source = '') {
  target.textContent = message || '';
  target.hidden = !message;
  target.dataset.source = message ? source : '';
}
