/**
 * chat.js — the Chatty chat page (served at `/`): signing in and out, the connection, and the
 * wiring of its panels, which live beside it as modules, each readable top to bottom:
 *
 *   chatty-client.js        the one client for the socket and the API (also `chatty/browser`)
 *   chat-state.js           the page's elements and state, shared by the panels
 *   conversation-names.js   user ids, channels and `dm:` names
 *   conversation-list.js    the conversations, with presence dots and unread badges
 *   conversation.js         the open conversation: history, live messages, reading
 *   messages.js             the message list's elements
 *   composer.js             sending, typing
 *   receipts.js             "read by"
 *   presence.js             who is online, who is typing
 *   notifications.js        the app server's notifications
 *   dom.js                  element helpers shared with the operator page
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
 *     #notification-list              li.notification[data-event][data-id], newest first, with .event,
 *                                     .origin, time and .attributes (name/value lines)
 *
 * Messages are always rendered with textContent: nothing a user sends is ever parsed as HTML.
 */
import { ChattyClient, STATES, apiRequest, maybeSignedIn, forgetSignedIn } from './chatty-client.js';
import { notificationPanel } from './notifications.js';
import { ui, app, LAST_CONVERSATION_KEY, session, showError } from './chat-state.js';
import { isValidName, isOwnDm } from './conversation-names.js';
import { ensureConversation, removeConversation, onSubscriptionsChanged, renderConversationList, refreshUnread, onNewDm } from './conversation-list.js';
import { closeConversation, openConversation, loadHistory, onMessagesScroll, onMessage, scheduleMarkRead } from './conversation.js';
import { onComposerSubmit, onComposerKeydown, onComposerInput } from './composer.js';
import { markRemoved, renameSenders } from './messages.js';
import { forgetPeople, onPeopleChange, profileChanged } from './people.js';
import { displayName } from './conversation-names.js';
import { onReceipt } from './receipts.js';
import { onTyping, onPresence, queryPresence, renderPresence } from './presence.js';

const notifications = notificationPanel({ list: ui.notificationList, empty: ui.noNotifications });

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
    client.on('profile', profileChanged),
    client.on('deleted', (deleted) => {
      if (deleted && app.current?.key === deleted.channel) markRemoved(deleted.id);
    }),
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
  forgetPeople();
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

function onNotification(notification) {
  notifications.add(notification);
}

/** Names, avatars or labels arrived or changed: everything that shows them follows. */
function onPeopleChanged() {
  renderConversationList();
  if (!app.current) return;
  ui.title.textContent = displayName(app.current.conv);
  renameSenders();
  renderPresence();
}

function wire() {
  onPeopleChange(onPeopleChanged);
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
