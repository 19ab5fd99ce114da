/**
 * admin.js — the Chatty operator console (served at `/admin`, admin role only).
 *
 * It uses the same `jwt` cookie as the chat page: every request is a same-origin fetch with
 * credentials and JSON:API headers. A 401/403 shows the sign-in form.
 *
 * Test hooks:
 *   #admin-error                  role=alert: the API's error detail (or title) of the last failure
 *   #admin-login, #admin-login-form (#admin-username, #admin-password, #admin-login-btn)
 *   #admin-console                the operator sections (hidden until an admin is signed in)
 *   #admin-me, #admin-logout-btn
 *   #online-list                  li[data-user-id] with .user-id, .connections and a
 *                                 "Subscriptions" button; #online-refresh, #online-more, #online-count
 *   #subs-form (#subs-user), #subs-result, #subs-more
 *   #participants-form (#participants-channel, #participants-online), #participants-result,
 *                                 #participants-more
 *   #notify-form (#notify-mode, #notify-list, #notify-event, #notify-attributes,
 *                 #notify-add-origin, #notify-add-datetime, #notify-idempotency), #notify-result
 *   #subscribe-form (#subscribe-mode, #subscribe-list, #subscribe-document,
 *                    #subscribe-btn, #unsubscribe-btn), #subscribe-result
 *   #sockets-form (#sockets-user, #sockets-refresh), #sockets-status, #sockets-more,
 *   #sockets-list                 li.socket[data-socket-id][data-user-id] with .user-id, .since,
 *                                 .socket-id, .socket-meta and a .disconnect button
 *   #charts-node, #charts-status[data-samples], #chart-sockets, #chart-traffic, #chart-lag
 *                                 (uPlot charts of GET /control/stats, sampled every 5 s)
 *   #feed-form (#feed-kind: all | channel | user, #feed-name, #feed-apply, #feed-pause,
 *                 #feed-clear), #feed-status[data-state], #feed-list: li.feed-entry[data-id]
 *                 [data-event] with .event, .target, time, .feed-id, .feed-payload; newest first
 *   #channels-form (#channels-prefix, #channels-search), #channels-status, #channels-more,
 *   #channels-list                li.channel[data-channel] with .channel-name, .subscribers,
 *                                 .online and a "Participants" button
 *   #moderation-form (#moderation-channel, #moderation-load), #moderation-status,
 *                                 #moderation-export (a link to the export), #moderation-older,
 *   #moderation-list              li.message[data-id] (.deleted once removed) with .from, .time,
 *                                 .body and a .delete button
 *   #accounts-list                li.account[data-username][data-role][data-disabled] with .user-id,
 *                                 .account-badges, select.account-role, .account-toggle
 *                                 (Disable/Enable), form.account-reset; #accounts-refresh,
 *                                 #accounts-status, #accounts-more
 *   #webhooks-list                li.webhook[data-id][data-status] with .webhook-url, .webhook-status,
 *                                 .webhook-events, .webhook-error, .webhook-toggle, .webhook-rotate,
 *                                 .webhook-delete (both ask a second click); #webhook-form
 *                                 (#webhook-url, #webhook-events checkboxes, #webhook-channels),
 *                                 #webhook-secret (the secret, shown once), #webhooks-status
 *   #keys-list                    li.key[data-key-id][data-current] with .key-id, .key-state,
 *                                 .key-created; #keys-refresh
 *   #rotate-form (#rotate-secret, #rotate-grace, #rotate-generate, #rotate-show, #rotate-btn),
 *                                 #rotate-confirm (#rotate-consequence, #rotate-confirm-btn,
 *                                 #rotate-cancel-btn), #rotate-result
 *
 * Every result element (<pre class="result">) gets data-status="ok" with the response JSON, or
 * data-status="error" with the error detail; failures are also shown in #admin-error.
 */
import { apiRequest, maybeSignedIn, forgetSignedIn } from './chatty-client.js';
import { el } from './dom.js';
import { api, busy, nextLink, onSignedOut, setError, showFailure, showResult } from './admin-api.js';
import { keysPanel } from './admin-keys.js';
import { channelsPanel, socketsPanel } from './admin-live.js';
import { feedPanel } from './admin-feed.js';
import { chartsPanel } from './admin-charts.js';
import { accountsPanel } from './admin-accounts.js';
import { webhooksPanel } from './admin-webhooks.js';
import { moderationPanel } from './admin-moderation.js';

const $ = (selector) => document.querySelector(selector);

const ui = {
  loading: $('#admin-loading'),
  login: $('#admin-login'),
  loginForm: $('#admin-login-form'),
  username: $('#admin-username'),
  password: $('#admin-password'),
  loginBtn: $('#admin-login-btn'),
  console: $('#admin-console'),
  whoami: $('#admin-whoami'),
  me: $('#admin-me'),
  logoutBtn: $('#admin-logout-btn'),
  onlineList: $('#online-list'),
  onlineRefresh: $('#online-refresh'),
  onlineMore: $('#online-more'),
  onlineCount: $('#online-count'),
  subsForm: $('#subs-form'),
  subsUser: $('#subs-user'),
  subsResult: $('#subs-result'),
  subsMore: $('#subs-more'),
  participantsForm: $('#participants-form'),
  participantsChannel: $('#participants-channel'),
  participantsOnline: $('#participants-online'),
  participantsResult: $('#participants-result'),
  participantsMore: $('#participants-more'),
  notifyForm: $('#notify-form'),
  notifyMode: $('#notify-mode'),
  notifyList: $('#notify-list'),
  notifyEvent: $('#notify-event'),
  notifyAttributes: $('#notify-attributes'),
  notifyAddOrigin: $('#notify-add-origin'),
  notifyAddDatetime: $('#notify-add-datetime'),
  notifyIdempotency: $('#notify-idempotency'),
  notifyResult: $('#notify-result'),
  subscribeForm: $('#subscribe-form'),
  subscribeMode: $('#subscribe-mode'),
  subscribeList: $('#subscribe-list'),
  subscribeDocument: $('#subscribe-document'),
  subscribeResult: $('#subscribe-result'),
};

const state = { onlineNext: null, subsNext: null, participantsNext: null };

// ---------------------------------------------------------------------------------------------
// Views

function showLogin(message = '') {
  ui.loading.hidden = true;
  ui.console.hidden = true;
  ui.whoami.hidden = true;
  ui.logoutBtn.hidden = true;
  ui.login.hidden = false;
  if (message) setError(message);
  ui.username.focus();
}

function showConsole(meta) {
  ui.loading.hidden = true;
  ui.login.hidden = true;
  ui.console.hidden = false;
  ui.whoami.hidden = false;
  ui.logoutBtn.hidden = false;
  ui.me.textContent = meta.sub ?? '';
}

function splitList(value) {
  return value.trim();
}

// ---------------------------------------------------------------------------------------------
// Sign in / out

async function onLogin(event) {
  event.preventDefault();
  await busy(ui.loginBtn, async () => {
    const res = await apiRequest('POST', '/auth/login', {
      body: { username: ui.username.value.trim(), password: ui.password.value },
    });
    if (!res.ok) {
      setError(res.error);
      return;
    }
    ui.password.value = '';
    await boot();
  });
}

async function onLogout() {
  await busy(ui.logoutBtn, async () => {
    await apiRequest('POST', '/auth/logout');
  });
  feed.stop();
  charts.stop();
  showLogin('You are signed out.');
}

// ---------------------------------------------------------------------------------------------
// Queries

async function loadOnline({ append = false } = {}) {
  const url = append && state.onlineNext ? state.onlineNext : '/control/search/online';
  await busy(append ? ui.onlineMore : ui.onlineRefresh, async () => {
    const res = await api('GET', url);
    if (!res.ok) {
      if (ui.login.hidden) setError(`Online users: ${res.error}`);
      return;
    }
    const users = Array.isArray(res.json?.data) ? res.json.data : [];
    if (!append) ui.onlineList.replaceChildren();
    for (const user of users) ui.onlineList.append(buildOnlineItem(user));
    state.onlineNext = nextLink(res.json);
    ui.onlineMore.hidden = !state.onlineNext;
    const shown = ui.onlineList.children.length;
    ui.onlineCount.textContent = shown === 0
      ? 'Nobody is online.'
      : `${shown} user${shown === 1 ? '' : 's'} online${state.onlineNext ? ' (more available)' : ''}`;
  });
}

function buildOnlineItem(user) {
  const li = el('li');
  li.dataset.userId = String(user.id);
  const n = Number(user.attributes?.connections ?? 0);
  const subs = el('button', 'btn btn-small', 'Subscriptions');
  subs.type = 'button';
  subs.setAttribute('aria-label', `Subscriptions of ${user.id}`);
  subs.addEventListener('click', () => {
    ui.subsUser.value = String(user.id);
    ui.subsForm.requestSubmit();
  });
  li.append(el('span', 'user-id', user.id), el('span', 'connections', `${n} connection${n === 1 ? '' : 's'}`), subs);
  return li;
}

/** Loads one page of a paged list into its result box, remembering links.next for "More". */
async function queryList(list, url, button) {
  await busy(button, async () => {
    const res = await api('GET', url);
    showResult(list.result, res, list.label);
    state[list.next] = res.ok ? nextLink(res.json) : null;
    list.more.hidden = !state[list.next];
  });
}

const lists = {
  subscriptions: () => ({ result: ui.subsResult, label: 'Subscriptions', next: 'subsNext', more: ui.subsMore }),
  participants: () => ({ result: ui.participantsResult, label: 'Participants', next: 'participantsNext', more: ui.participantsMore }),
};

function onSubsSubmit(event) {
  event.preventDefault();
  const userId = ui.subsUser.value.trim();
  const params = new URLSearchParams({ userId });
  queryList(lists.subscriptions(), `/control/search/subscriptions?${params}`, event.submitter);
}

function onParticipantsSubmit(event) {
  event.preventDefault();
  const params = new URLSearchParams({ channel: ui.participantsChannel.value.trim() });
  if (ui.participantsOnline.checked) params.set('online', 'true');
  queryList(lists.participants(), `/control/search/participants?${params}`, event.submitter);
}

// ---------------------------------------------------------------------------------------------
// Actions

async function onNotifySubmit(event) {
  event.preventDefault();
  const button = event.submitter;
  let attributes;
  try {
    const text = ui.notifyAttributes.value.trim();
    attributes = text === '' ? {} : JSON.parse(text);
  } catch (err) {
    setError('');
    showFailure(ui.notifyResult, 'Notify', `Attributes are not valid JSON: ${err.message}`);
    ui.notifyAttributes.focus();
    return;
  }
  const params = new URLSearchParams({ method: `${ui.notifyMode.value}:${splitList(ui.notifyList.value)}` });
  const add = [];
  if (ui.notifyAddOrigin.checked) add.push('origin');
  if (ui.notifyAddDatetime.checked) add.push('date-time');
  if (add.length) params.set('add', add.join(','));
  const headers = {};
  const key = ui.notifyIdempotency.value.trim();
  if (key) headers['Idempotency-Key'] = key;

  await busy(button, async () => {
    const res = await api('POST', `/control/notify?${params}`, {
      body: { event: ui.notifyEvent.value.trim(), attributes },
      headers,
    });
    showResult(ui.notifyResult, res, 'Notify');
  });
}

async function onSubscribeSubmit(event) {
  event.preventDefault();
  const button = event.submitter;
  const action = button?.value === 'unsubscribe' ? 'unsubscribe' : 'subscribe';
  const params = new URLSearchParams({
    method: `${ui.subscribeMode.value}:${splitList(ui.subscribeList.value)}`,
  });
  await busy(button, async () => {
    // The document is sent as typed: the server validates it and its errors are shown.
    const res = await api('POST', `/control/subscription/${action}?${params}`, {
      rawBody: ui.subscribeDocument.value,
    });
    showResult(ui.subscribeResult, res, action === 'subscribe' ? 'Subscribe' : 'Unsubscribe');
  });
}

// ---------------------------------------------------------------------------------------------
// Start

async function boot() {
  // signed out for sure: no request, so no 401 in the console
  if (!maybeSignedIn()) {
    showLogin();
    return;
  }
  const who = await apiRequest('GET', '/auth/test-jwt');
  if (who.status === 0) {
    showLogin('Cannot reach the server.');
    return;
  }
  if (!who.ok) {
    if (who.status === 401) forgetSignedIn();
    showLogin();
    return;
  }
  const meta = who.json?.meta ?? {};
  if (meta.role !== 'admin') {
    showLogin(`Signed in as ${meta.sub ?? 'unknown'} (role ${meta.role ?? 'user'}): this console needs an admin account.`);
    return;
  }
  setError('');
  showConsole(meta);
  feed.start();
  charts.start();
  await Promise.all([loadOnline(), keys.load(), sockets.load(), channels.load(), accounts.load(meta.sub), webhooks.load()]);
}

function wire() {
  ui.loginForm.addEventListener('submit', onLogin);
  ui.logoutBtn.addEventListener('click', onLogout);
  ui.onlineRefresh.addEventListener('click', () => loadOnline());
  ui.onlineMore.addEventListener('click', () => loadOnline({ append: true }));
  ui.subsForm.addEventListener('submit', onSubsSubmit);
  ui.subsMore.addEventListener('click', () => state.subsNext && queryList(lists.subscriptions(), state.subsNext, ui.subsMore));
  ui.participantsForm.addEventListener('submit', onParticipantsSubmit);
  ui.participantsMore.addEventListener('click', () => state.participantsNext && queryList(lists.participants(), state.participantsNext, ui.participantsMore));
  ui.notifyForm.addEventListener('submit', onNotifySubmit);
  ui.subscribeForm.addEventListener('submit', onSubscribeSubmit);
}

const keys = keysPanel();
const feed = feedPanel();
const charts = chartsPanel();
const accounts = accountsPanel();
const webhooks = webhooksPanel();
moderationPanel();
const sockets = socketsPanel();
const channels = channelsPanel({
  onParticipants(channel) {
    ui.participantsChannel.value = channel;
    ui.participantsForm.requestSubmit();
  },
});
onSignedOut((message) => {
  feed.stop();
  charts.stop();
  showLogin(message);
});
wire();
boot();
