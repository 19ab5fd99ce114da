/**
 * chatty-client.js — a small browser client for the Chatty socket API (docs/socket-protocol.md),
 * served by Chatty at /chatty-client.js.
 *
 *   <script defer src="/socket.io/socket.io.min.js"></script>
 *   <script type="module">
 *     import { ChattyClient } from '/chatty-client.js';
 *     const client = new ChattyClient();
 *     client.on('state', (state) => console.log(state));
 *     client.on('message', (msg) => console.log(msg.from, msg.body));
 *     client.connect();
 *     const ack = await client.send({ channel: 'general', body: 'hi' });
 *   </script>
 *
 * Authentication: the browser carries the HttpOnly `jwt` cookie set by POST /auth/login, which the
 * server reads from the handshake, so the client never sees the token. (Outside a browser, pass
 * `token` and it is sent as `handshake.auth.token`.)
 *
 * Replay: the client remembers the newest event id it has seen (`meta.id` of notifications, `id` of
 * chat messages, `ready.lastEventId`) in sessionStorage and sends it as
 * `handshake.auth.lastEventId` on every (re)connect, so the server replays what was missed.
 *
 * States: connecting → connected (after `ready`) → reconnecting → connected …;
 * `disconnected` after close(); `auth-failed` when the token is missing, invalid or expired
 * (the page should send the user back to the login form).
 *
 * Events (client.on(type, fn), returns an unsubscribe function):
 *   state(state, info)   info: {reason?, code?}
 *   ready(payload)       {userId, channels, replayed, lastEventId}
 *   message(msg)         chat:message {id, channel, from, body, sentAt, clientId}
 *   receipt(r)           chat:receipt {channel, userId, messageId, readAt}
 *   typing(t)            chat:typing  {channel, userId}
 *   presence(p)          presence     {userId, status}
 *   deleted(d)           chat:deleted {id, channel}: moderation removed that message
 *   profile(p)           profile {userId, name, avatar}: a user changed profile
 *   subscriptions(s)     subscriptions:changed {added, removed, channels}: channels after the change
 *   notification(n)      any other server event: {event, payload, meta}
 *
 * Requests resolve (never reject) to the ack: {ok:true, ...} or {ok:false, error:{code, message}}.
 * Local failures use the codes `not_connected`, `timeout` and `bad_ack`.
 */

export const STATES = Object.freeze({
  CONNECTING: 'connecting',
  CONNECTED: 'connected',
  RECONNECTING: 'reconnecting',
  DISCONNECTED: 'disconnected',
  AUTH_FAILED: 'auth-failed',
});

const AUTH_ERROR_CODES = new Set(['token_missing', 'token_invalid', 'token_expired']);

/** Server events with their own callbacks; every other event is a notification. */
const KNOWN_EVENTS = new Set([
  'ready', 'chat:message', 'chat:receipt', 'chat:typing', 'presence', 'auth:expired', 'subscriptions:changed', 'chat:deleted', 'profile',
]);

const LISTENER_TYPES = new Set([
  'state', 'ready', 'message', 'receipt', 'typing', 'presence', 'subscriptions', 'deleted', 'profile', 'notification',
]);

/**
 * Orders event / message ids. Ids come from one increasing sequence and may arrive as numbers or
 * as digit strings (possibly beyond 2^53), so digit strings are compared by length then text.
 */
export function compareIds(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  const sa = String(a);
  const sb = String(b);
  if (/^\d+$/.test(sa) && /^\d+$/.test(sb)) {
    const na = sa.replace(/^0+(?=\d)/, '');
    const nb = sb.replace(/^0+(?=\d)/, '');
    if (na.length !== nb.length) return na.length < nb.length ? -1 : 1;
    return na < nb ? -1 : na > nb ? 1 : 0;
  }
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function isId(value) {
  return (typeof value === 'number' && Number.isFinite(value)) ||
    (typeof value === 'string' && value.length > 0);
}

function defaultStorage() {
  try {
    const s = globalThis.sessionStorage;
    const probe = '__chatty_probe__';
    s.setItem(probe, '1');
    s.removeItem(probe);
    return s;
  } catch {
    return null; // storage disabled (privacy mode, sandboxed frame…): keep the id in memory only
  }
}

/** Picks the conversation address: exactly what the caller gave of `channel` / `to`. */
function addressOf(target = {}) {
  const out = {};
  if (target.channel !== undefined) out.channel = target.channel;
  if (target.to !== undefined) out.to = target.to;
  return out;
}

export class ChattyClient {
  #io;
  #url;
  #token;
  #storage;
  #storageKey;
  #ackTimeout;
  #socketOptions;
  #socket = null;
  #state = STATES.DISCONNECTED;
  #listeners = new Map();
  #lastEventId = null;
  #userId = null;
  #channels = [];
  #everReady = false;
  #closed = true;
  #retryTimer = null;
  #retryAttempts = 0;

  /**
   * @param {object} [options]
   * @param {string} [options.url]            server URL; default: the page's origin
   * @param {Function} [options.io]           the Socket.IO `io` function; default: globalThis.io
   * @param {Storage|null} [options.storage]  where lastEventId is kept; default: sessionStorage
   * @param {string} [options.storageKey]     key for lastEventId (e.g. per user)
   * @param {number} [options.ackTimeout]     ms to wait for an ack (default 10000)
   * @param {string} [options.token]          explicit JWT (non-browser use); browsers use the cookie
   * @param {object} [options.socketOptions]  extra options for io()
   */
  constructor(options = {}) {
    this.#io = options.io ?? globalThis.io;
    if (typeof this.#io !== 'function') {
      throw new Error('Socket.IO client not loaded: include /socket.io/socket.io.min.js first');
    }
    this.#url = options.url;
    this.#token = options.token;
    this.#storage = options.storage === undefined ? defaultStorage() : options.storage;
    this.#storageKey = options.storageKey ?? 'chatty:lastEventId';
    this.#ackTimeout = options.ackTimeout ?? 10_000;
    this.#socketOptions = options.socketOptions ?? {};
    this.#lastEventId = this.#loadLastEventId();
  }

  /** One of STATES. */
  get state() { return this.#state; }
  /** The user id from the latest `ready`, or null. */
  get userId() { return this.#userId; }
  /** The user's channels: from the latest `ready`, kept current by `subscriptions:changed`. */
  get channels() { return [...this.#channels]; }
  /** The newest event id seen (sent as handshake.auth.lastEventId). */
  get lastEventId() { return this.#lastEventId; }
  /** True while the socket is connected and `ready` was received. */
  get connected() { return this.#state === STATES.CONNECTED; }
  /** The underlying Socket.IO socket (for debugging / advanced use). */
  get socket() { return this.#socket; }

  on(type, fn) {
    if (!LISTENER_TYPES.has(type)) throw new Error(`Unknown event type: ${type}`);
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type).add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    this.#listeners.get(type)?.delete(fn);
  }

  /** Opens the connection (or re-opens it after close() / auth failure). */
  connect() {
    this.#closed = false;
    this.#clearRetry();
    if (!this.#socket) {
      this.#socket = this.#createSocket();
    }
    if (!this.#socket.connected) {
      this.#setState(this.#everReady ? STATES.RECONNECTING : STATES.CONNECTING);
      this.#socket.connect();
    }
    return this;
  }

  /** Closes the connection for good (until connect() is called again). */
  close() {
    this.#closed = true;
    this.#clearRetry();
    this.#socket?.disconnect();
    this.#setState(STATES.DISCONNECTED, { reason: 'closed' });
  }

  /** Forgets the stored lastEventId (e.g. on logout). */
  resetLastEventId() {
    this.#lastEventId = null;
    try { this.#storage?.removeItem(this.#storageKey); } catch { /* ignore */ }
  }

  // ---- acked requests (CONTRACT §5) ----

  /** chat:send {channel|to, body, clientId?} → {ok, message} */
  send({ body, clientId, ...target } = {}) {
    const payload = { ...addressOf(target), body };
    if (clientId !== undefined) payload.clientId = clientId;
    return this.#request('chat:send', payload);
  }

  /** chat:read {channel|to, messageId} → {ok} */
  read({ messageId, ...target } = {}) {
    return this.#request('chat:read', { ...addressOf(target), messageId });
  }

  /** chat:history {channel|to, before?, limit?} → {ok, messages, receipts} */
  history({ before, limit, ...target } = {}) {
    const payload = addressOf(target);
    if (before !== undefined && before !== null) payload.before = before;
    if (limit !== undefined && limit !== null) payload.limit = limit;
    return this.#request('chat:history', payload);
  }

  /** chat:unread {} → {ok, unread: {channel: count}} */
  unread() {
    return this.#request('chat:unread', {});
  }

  /** chat:typing {channel|to} → {ok} */
  typing(target = {}) {
    return this.#request('chat:typing', addressOf(target));
  }

  /** presence:query {channel} → {ok, online: [userId]} */
  presenceQuery({ channel } = {}) {
    return this.#request('presence:query', { channel });
  }

  /** profiles:get {ids} → {ok, profiles: {id: {name, avatar}}} (at most 100 ids). */
  profiles(ids) {
    return this.#request('profiles:get', { ids });
  }

  /** labels:get {ids} → {ok, labels: {channel: label | null}} for the user's own channels. */
  labels(ids) {
    return this.#request('labels:get', { ids });
  }

  /** auth:refresh {token} → {ok} (for clients that hold their token). */
  refreshToken(token) {
    if (token) this.#token = token;
    return this.#request('auth:refresh', { token });
  }

  // ---- internals ----

  #createSocket() {
    const options = {
      ...this.#socketOptions,
      autoConnect: false,
      withCredentials: true,
      // The callback form is evaluated on every (re)connect, so it sends the newest id.
      auth: (cb) => {
        const auth = {};
        if (this.#lastEventId !== null) auth.lastEventId = this.#lastEventId;
        if (this.#token) auth.token = this.#token;
        cb(auth);
      },
    };
    const socket = this.#url === undefined ? this.#io(options) : this.#io(this.#url, options);

    socket.on('connect', () => {
      this.#clearRetry();
      // Stay in connecting / reconnecting until `ready` (replay comes first).
    });

    socket.on('connect_error', (err) => {
      const code = err?.data?.code ?? (AUTH_ERROR_CODES.has(err?.message) ? err.message : undefined);
      if (AUTH_ERROR_CODES.has(code)) {
        this.#authFailed(code, err?.data?.message ?? err?.message);
        return;
      }
      if (this.#closed) return;
      this.#setState(this.#everReady ? STATES.RECONNECTING : STATES.CONNECTING, {
        reason: err?.message, code,
      });
      // A refusal by a server middleware (other than auth) is not retried by Socket.IO itself.
      if (!socket.active) this.#scheduleRetry();
    });

    socket.on('disconnect', (reason) => {
      if (this.#closed || this.#state === STATES.AUTH_FAILED) return;
      if (reason === 'io client disconnect') {
        this.#setState(STATES.DISCONNECTED, { reason });
        return;
      }
      this.#setState(STATES.RECONNECTING, { reason });
      // The server dropped us on purpose (restart, shutdown, key rotation): Socket.IO does not
      // reconnect by itself in that case. If the token is no longer valid, the reconnect ends in
      // connect_error token_* → auth-failed.
      if (reason === 'io server disconnect') this.#scheduleRetry();
    });

    socket.io.on('reconnect_attempt', () => {
      if (!this.#closed && this.#state !== STATES.AUTH_FAILED) {
        this.#setState(this.#everReady ? STATES.RECONNECTING : STATES.CONNECTING);
      }
    });
    socket.io.on('reconnect_failed', () => {
      if (!this.#closed && this.#state !== STATES.AUTH_FAILED) {
        this.#setState(STATES.DISCONNECTED, { reason: 'reconnect_failed' });
      }
    });

    // Every server event: track ids, and surface the ones without a dedicated callback.
    socket.onAny((event, payload, meta) => {
      if (event === 'chat:message') {
        if (payload && isId(payload.id)) this.#seen(payload.id);
        return;
      }
      const logged = meta && typeof meta === 'object' && isId(meta.id);
      if (KNOWN_EVENTS.has(event) && logged) this.#seen(meta.id);
      if (KNOWN_EVENTS.has(event)) return;
      if (logged) this.#seen(meta.id);
      this.#emit('notification', { event, payload, meta });
    });

    socket.on('ready', (ready = {}) => {
      if (isId(ready.lastEventId)) this.#seen(ready.lastEventId);
      this.#userId = ready.userId ?? this.#userId;
      this.#channels = Array.isArray(ready.channels) ? [...ready.channels] : [];
      this.#everReady = true;
      this.#retryAttempts = 0;
      this.#setState(STATES.CONNECTED);
      this.#emit('ready', ready);
    });

    socket.on('chat:message', (msg) => this.#emit('message', msg));
    socket.on('chat:receipt', (receipt) => this.#emit('receipt', receipt));
    socket.on('chat:typing', (typing) => this.#emit('typing', typing));
    socket.on('presence', (presence) => this.#emit('presence', presence));
    socket.on('chat:deleted', (deleted) => this.#emit('deleted', deleted));
    socket.on('profile', (profile) => this.#emit('profile', profile));
    socket.on('subscriptions:changed', (change = {}) => {
      const added = Array.isArray(change.added) ? change.added.filter((c) => typeof c === 'string') : [];
      const removed = new Set(Array.isArray(change.removed) ? change.removed : []);
      const channels = new Set(this.#channels.filter((c) => !removed.has(c)));
      for (const channel of added) channels.add(channel);
      this.#channels = [...channels].sort();
      this.#emit('subscriptions', { added, removed: [...removed], channels: [...this.#channels] });
    });
    socket.on('auth:expired', (info) => {
      this.#authFailed('token_expired', info?.message ?? 'Session expired');
    });

    return socket;
  }

  #authFailed(code, message) {
    this.#clearRetry();
    this.#setState(STATES.AUTH_FAILED, { code, reason: message });
    // Stop Socket.IO from reconnecting with a token that will not work.
    this.#socket?.disconnect();
  }

  #scheduleRetry() {
    if (this.#retryTimer || this.#closed) return;
    const base = Math.min(30_000, 1000 * 2 ** Math.min(this.#retryAttempts, 5));
    const delay = Math.round(base * (0.5 + Math.random() * 0.5));
    this.#retryAttempts += 1;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      const socket = this.#socket;
      if (!this.#closed && this.#state !== STATES.AUTH_FAILED && socket && !socket.connected) {
        socket.connect();
      }
    }, delay);
  }

  #clearRetry() {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  #request(event, payload) {
    return new Promise((resolve) => {
      const socket = this.#socket;
      if (!socket || !socket.connected) {
        resolve({ ok: false, error: { code: 'not_connected', message: 'Not connected to the server' } });
        return;
      }
      socket.timeout(this.#ackTimeout).emit(event, payload, (err, ack) => {
        if (err) {
          resolve({ ok: false, error: { code: 'timeout', message: `No answer to ${event} in time` } });
        } else if (ack && typeof ack === 'object') {
          resolve(ack);
        } else {
          resolve({ ok: false, error: { code: 'bad_ack', message: `Malformed answer to ${event}` } });
        }
      });
    });
  }

  #seen(id) {
    if (this.#lastEventId !== null && compareIds(id, this.#lastEventId) <= 0) return;
    this.#lastEventId = id;
    try { this.#storage?.setItem(this.#storageKey, JSON.stringify(id)); } catch { /* ignore */ }
  }

  #loadLastEventId() {
    try {
      const raw = this.#storage?.getItem(this.#storageKey);
      if (raw === null || raw === undefined) return null;
      const value = JSON.parse(raw);
      return isId(value) ? value : null;
    } catch {
      return null;
    }
  }

  #setState(state, info = {}) {
    if (state === this.#state) return;
    this.#state = state;
    this.#emit('state', state, info);
  }

  #emit(type, ...args) {
    const set = this.#listeners.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        console.error(`chatty-client: ${type} listener failed`, err);
      }
    }
  }
}

// ---- HTTP helper shared by the pages ----

const SIGNED_IN_COOKIE = 'chatty_signed_in';

/**
 * Whether this browser may hold a login cookie: login sets a readable `chatty_signed_in` cookie
 * beside the HttpOnly `jwt` one, so a signed-out page need not ask (a `401` the console would show
 * as an error).
 */
export function maybeSignedIn() {
  return document.cookie.split(';').some((part) => part.trim() === `${SIGNED_IN_COOKIE}=1`);
}

/** Forgets that hint, when the server said the login cookie no longer works. */
export function forgetSignedIn() {
  document.cookie = `${SIGNED_IN_COOKIE}=; Max-Age=0; path=/; SameSite=Lax`;
}

/** The human message of a JSON:API error document: detail, else title, else the status. */
export function apiErrorMessage(json, status) {
  const first = Array.isArray(json?.errors) ? json.errors[0] : null;
  if (first?.detail) return String(first.detail);
  if (first?.title) return String(first.title);
  if (status === 0) return 'Cannot reach the server.';
  return `Request failed (HTTP ${status})`;
}

/**
 * fetch() with the session cookie and JSON:API headers.
 * @returns {Promise<{ok:boolean, status:number, json:any, error:string|null}>}
 */
export async function apiRequest(method, url, { body, rawBody, headers = {}, contentType } = {}) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/vnd.api+json, application/json', ...headers },
  };
  if (rawBody !== undefined || body !== undefined) {
    init.headers['Content-Type'] = contentType ?? 'application/vnd.api+json';
    init.body = rawBody !== undefined ? rawBody : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch {
    return { ok: false, status: 0, json: null, error: apiErrorMessage(null, 0) };
  }
  let json = null;
  const text = await res.text().catch(() => '');
  if (text) {
    try { json = JSON.parse(text); } catch { json = null; }
  }
  return { ok: res.ok, status: res.status, json, error: res.ok ? null : apiErrorMessage(json, res.status) };
}
