/**
 * Types of chatty-client.js, the browser helper Chatty serves at /chatty-client.js and the package
 * exports as `chatty/browser`. Payloads and acks are the socket protocol's (docs/socket-protocol.md).
 */
import type { Address, AckError, ChatMessagePayload, ClientRequests, NotificationMeta, ReadyPayload, ReceiptPayload, SubscriptionsChangedPayload } from '../dist/src/index.js';

export declare const STATES: Readonly<{
  CONNECTING: 'connecting';
  CONNECTED: 'connected';
  RECONNECTING: 'reconnecting';
  DISCONNECTED: 'disconnected';
  AUTH_FAILED: 'auth-failed';
}>;
export type ClientState = (typeof STATES)[keyof typeof STATES];

/** An event id: a number, or digits beyond 2^53 as a string. */
export type EventIdLike = number | string;

export interface ChattyClientOptions {
  /** Server URL; default: the page's origin. */
  url?: string;
  /** Socket.IO's `io` function; default: `globalThis.io` (from /socket.io/socket.io.min.js). */
  io?: (...args: any[]) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Where lastEventId is kept; default: sessionStorage; null keeps it in memory only. */
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null;
  /** The key lastEventId is stored under (e.g. per user); default `chatty:lastEventId`. */
  storageKey?: string;
  /** How long to wait for an ack, ms; default 10,000. */
  ackTimeout?: number;
  /** A token, outside browsers (browsers send the login cookie). */
  token?: string;
  /** More options for io(). */
  socketOptions?: Record<string, unknown>;
}

/** What a request resolves to: the server's ack, or a local failure. It never rejects. */
export type Answer<T> = ({ ok: true } & T) | AckError | { ok: false; error: { code: 'not_connected' | 'timeout' | 'bad_ack'; message: string } };

export interface ClientEvents {
  state: (state: ClientState, info: { reason?: string; code?: string }) => void;
  ready: (ready: ReadyPayload) => void;
  message: (message: ChatMessagePayload) => void;
  receipt: (receipt: ReceiptPayload) => void;
  typing: (typing: { channel: string; userId: string }) => void;
  presence: (presence: { userId: string; status: 'online' | 'offline' }) => void;
  /** A user changed profile (contract §11). */
  profile: (profile: { userId: string; name: string; avatar: string | null }) => void;
  /** Moderation removed a message. */
  deleted: (deleted: { id: number; channel: string }) => void;
  /** The app server changed the user's channels; `channels` is the list after the change. */
  subscriptions: (change: SubscriptionsChangedPayload & { channels: string[] }) => void;
  notification: (notification: { event: string; payload: Record<string, unknown>; meta: NotificationMeta }) => void;
}

export declare class ChattyClient {
  constructor(options?: ChattyClientOptions);
  readonly state: ClientState;
  readonly userId: string | null;
  /** The user's channels: from the latest `ready`, kept current by `subscriptions:changed`. */
  readonly channels: string[];
  readonly lastEventId: EventIdLike | null;
  readonly connected: boolean;
  /** The underlying Socket.IO socket, once connect() made it. */
  readonly socket: unknown;
  /** Listens; returns the function that stops listening. */
  on<K extends keyof ClientEvents>(type: K, listener: ClientEvents[K]): () => void;
  off<K extends keyof ClientEvents>(type: K, listener: ClientEvents[K]): void;
  connect(): this;
  close(): void;
  resetLastEventId(): void;
  send(request: Address & { body: string; clientId?: string | null }): Promise<Answer<ClientRequests['chat:send']['answer']>>;
  read(request: Address & { messageId: number }): Promise<Answer<ClientRequests['chat:read']['answer']>>;
  history(request: Address & { before?: number | null; limit?: number | null }): Promise<Answer<ClientRequests['chat:history']['answer']>>;
  unread(): Promise<Answer<ClientRequests['chat:unread']['answer']>>;
  typing(request: Address): Promise<Answer<ClientRequests['chat:typing']['answer']>>;
  presenceQuery(request: { channel: string }): Promise<Answer<ClientRequests['presence:query']['answer']>>;
  refreshToken(token: string): Promise<Answer<ClientRequests['auth:refresh']['answer']>>;
  profiles(ids: string[]): Promise<Answer<ClientRequests['profiles:get']['answer']>>;
  labels(ids: string[]): Promise<Answer<ClientRequests['labels:get']['answer']>>;
}

/** Orders two event or message ids (numbers, or digit strings beyond 2^53). */
export declare function compareIds(a: EventIdLike, b: EventIdLike): number;

/** Whether this browser may hold a login cookie (the readable `chatty_signed_in` hint login sets). */
export declare function maybeSignedIn(): boolean;
/** Forgets that hint, when the server said the login cookie no longer works. */
export declare function forgetSignedIn(): void;

/** The human message of a JSON:API error document. */
export declare function apiErrorMessage(json: unknown, status: number): string;

/** fetch() with the session cookie and JSON:API headers; never rejects. */
export declare function apiRequest(
  method: string,
  url: string,
  options?: { body?: unknown; rawBody?: string; headers?: Record<string, string>; contentType?: string },
): Promise<{ ok: boolean; status: number; json: any; error: string | null }>; // eslint-disable-line @typescript-eslint/no-explicit-any
