/**
 * The Node SDK for app servers (`chatty/client`): Chatty's control API as typed calls, on Node's
 * own `fetch`, with no dependency beyond the package's.
 *
 * Every call that is safe to repeat is retried, a bounded number of times with exponential
 * backoff and full jitter, after a network error, a timeout or a `503`: queries, subscribe and
 * unsubscribe (a repeat changes nothing more), and notify, which carries one Idempotency-Key over
 * all its attempts, so that a retry whose first attempt did reach the server notifies once
 * (contract §4.2). A key rotation is never retried: whether the first attempt rotated is unknown.
 * Refusals are {@link ChattyApiError}s carrying the JSON:API error; a server that never answered
 * is a {@link ChattyNetworkError}.
 *
 * @example
 *   import { Chatty } from 'chatty/client';
 *   const chatty = new Chatty({ url: 'http://localhost:3000', secret: sharedSecret });
 *   await chatty.subscribe({ users: ['alice', 'bob'] }, { data: { type: 'posts', id: '12' } });
 *   await chatty.notify({ channels: ['posts-12'] }, 'post:updated', { title: 'New title' }, { add: ['origin'] });
 *   for await (const channel of chatty.subscriptionsOf('alice')) console.log(channel);
 *   const browserToken = chatty.mintUserToken('alice', { ttlSeconds: 3600 });
 */
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { ErrorCode } from '../errors.js';
import type { NotifyMode } from '../channels/method-query.js';

import { endpointOf, type WebhookEndpoint, type WebhookEventType, type WebhookSettings } from './webhooks.js';

export type { ErrorCode, NotifyMode };
export { ChattyWebhookError, verifyWebhook, type WebhookEndpoint, type WebhookEvent, type WebhookEventType, type WebhookSettings } from './webhooks.js';

/** Who a notify or a subscription change addresses (contract §4.1): one mode and its names. */
export type Target = { channels: readonly string[] } | { channelsEfficient: readonly string[] } | { users: readonly string[] };

export type AddFlag = 'origin' | 'date-time';
export type Role = 'admin' | 'service' | 'user';

/** A JSON:API document: its channels are `<type>-<id>` of `data`, their relationships and `included`. */
export interface JsonApiDocument {
  data: JsonApiResource | JsonApiResource[];
  included?: JsonApiResource[];
  [member: string]: unknown;
}
export interface JsonApiResource {
  type: string;
  id: string;
  relationships?: Record<string, { data: { type: string; id: string } | { type: string; id: string }[] | null }>;
  [member: string]: unknown;
}

export interface Notification {
  id: string;
  event: string;
  mode: NotifyMode;
  targets: string[];
  createdAt: string;
  /** The server answered a repeat of this Idempotency-Key from its log (nothing was sent again). */
  repeated: boolean;
}

export interface SubscriptionChange {
  channels: string[];
  /** Users affected. */
  users: number;
  /** (user, channel) pairs actually added or removed. */
  changed: number;
}

export interface ChattyOptions {
  /** The server, e.g. `http://localhost:3000`. */
  url: string;
  /** A `service` (or `admin`) token for the control API. Either this or `secret`. */
  token?: string;
  /**
   * The shared secret (a key of Chatty's key ring): the SDK mints its own service token with it,
   * and `mintUserToken` can sign browser tokens.
   */
  secret?: string;
  /** The `sub` of the service token minted from `secret` (default `app-server`). */
  subject?: string;
  /** Per attempt, ms (default 10,000). */
  timeoutMs?: number;
  /** Attempts after the first, for calls safe to repeat (default 3). */
  retries?: number;
  /** The first retry's delay ceiling, ms, doubling each time up to 5 s (default 100). */
  backoffMs?: number;
}

/** A refusal from the server, with its JSON:API error (contract §2). */
export class ChattyApiError extends Error {
  override readonly name = 'ChattyApiError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode | string,
    readonly title: string,
    readonly detail: string | undefined,
    readonly source: { parameter?: string; pointer?: string } | undefined,
  ) {
    super(`${status} ${code}: ${detail ?? title}`);
  }
  /** The query parameter at fault, if the error names one. */
  get parameter(): string | undefined {
    return this.source?.parameter;
  }
  /** The JSON pointer into the body at fault, if the error names one. */
  get pointer(): string | undefined {
    return this.source?.pointer;
  }
}

/** No answer from the server: every attempt failed on the network or timed out. */
export class ChattyNetworkError extends Error {
  override readonly name = 'ChattyNetworkError';
  constructor(
    message: string,
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

const JSON_API = 'application/vnd.api+json';
const MAX_BACKOFF_MS = 5_000;
/** A minted service token lives this long and is renewed a minute before it expires. */
const SERVICE_TOKEN_SECONDS = 3600;

interface Sent {
  status: number;
  headers: Headers;
  body: unknown;
}

export class Chatty {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private minted: { token: string; renewAt: number } | undefined;

  constructor(private readonly options: ChattyOptions) {
    if (!options.token && !options.secret) throw new TypeError('Chatty: give a token or a secret');
    this.base = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retries = options.retries ?? 3;
    this.backoffMs = options.backoffMs ?? 100;
  }

  /** Notifies channels or users of `event` (contract §4.2); retried safely with one Idempotency-Key. */
  async notify(
    target: Target,
    event: string,
    attributes: Record<string, unknown> = {},
    options: { add?: readonly AddFlag[]; idempotencyKey?: string } = {},
  ): Promise<Notification> {
    const query = new URLSearchParams({ method: methodOf(target) });
    if (options.add?.length) query.set('add', options.add.join(','));
    const key = options.idempotencyKey ?? crypto.randomUUID();
    const sent = await this.send('POST', `/control/notify?${query}`, { event, attributes }, { retry: true, headers: { 'Idempotency-Key': key } });
    const data = (sent.body as { data: { id: string; attributes: Omit<Notification, 'id' | 'repeated'> } }).data;
    return { id: data.id, ...data.attributes, repeated: sent.headers.get('idempotent-replayed') === 'true' };
  }

  /** Subscribes the target's users to the document's channels (contract §4.3). */
  subscribe(target: Exclude<Target, { channelsEfficient: readonly string[] }>, document: JsonApiDocument): Promise<SubscriptionChange> {
    return this.change('subscribe', target, document);
  }

  /** Unsubscribes the target's users from the document's channels (contract §4.3). */
  unsubscribe(target: Exclude<Target, { channelsEfficient: readonly string[] }>, document: JsonApiDocument): Promise<SubscriptionChange> {
    return this.change('unsubscribe', target, document);
  }

  /** A user's channels, by name, fetched a page at a time as the loop goes on. */
  subscriptionsOf(userId: string, options: { pageSize?: number } = {}): AsyncIterable<string> {
    return this.pages('/control/search/subscriptions', { userId }, options.pageSize, (item) => item.id);
  }

  /** A channel's subscribers (only those online, with `online: true`), by id. */
  participants(channel: string, options: { online?: boolean; pageSize?: number } = {}): AsyncIterable<{ id: string; online: boolean }> {
    const query: Record<string, string> = { channel };
    if (options.online !== undefined) query.online = String(options.online);
    return this.pages('/control/search/participants', query, options.pageSize, (item) => ({ id: item.id, online: item.attributes!.online as boolean }));
  }

  /** The users online, by id, with how many sockets each has. */
  online(options: { pageSize?: number } = {}): AsyncIterable<{ id: string; connections: number }> {
    return this.pages('/control/search/online', {}, options.pageSize, (item) => ({ id: item.id, connections: item.attributes!.connections as number }));
  }

  /** Signs a token for a browser of `userId` with the shared secret (HS256, contract §3). */
  mintUserToken(userId: string, options: { ttlSeconds?: number; role?: Role } = {}): string {
    if (!this.options.secret) throw new TypeError('Chatty: mintUserToken needs the shared secret (options.secret)');
    return jwt.sign({ sub: userId, role: options.role ?? 'user' }, this.options.secret, { algorithm: 'HS256', expiresIn: options.ttlSeconds ?? 3600 });
  }

  /**
   * Rotates Chatty's key ring to `secret` (an admin token is needed); the replaced keys stay valid
   * for `graceSeconds`. Not retried. Afterwards this client keeps using the token it had.
   */
  async rotateSecret(secret: string, options: { graceSeconds?: number } = {}): Promise<{ keyId: string; createdAt: string; previousKeysExpireAt: string }> {
    const body: Record<string, unknown> = { secret };
    if (options.graceSeconds !== undefined) body.graceSeconds = options.graceSeconds;
    const sent = await this.send('PUT', '/auth/update-jwt-secret', body, { retry: false });
    const data = (sent.body as { data: { id: string; attributes: { createdAt: string; previousKeysExpireAt: string } } }).data;
    return { keyId: data.id, ...data.attributes };
  }

  // webhooks (contract §10): admin routes, so these need an admin token (options.token)

  /** Creates a webhook endpoint; the answer holds its signing secret, shown only this once. Not retried. */
  async createWebhook(settings: WebhookSettings & { url: string; events: readonly WebhookEventType[] }): Promise<WebhookEndpoint & { secret: string }> {
    const sent = await this.send('POST', '/control/webhooks', { data: { type: 'webhooks', attributes: settings } }, { retry: false });
    return endpointOf(sent.body) as WebhookEndpoint & { secret: string };
  }

  /** Every endpoint, oldest first, with its status, last error and lag (never a secret). */
  async webhooks(): Promise<WebhookEndpoint[]> {
    const sent = await this.send('GET', '/control/webhooks', undefined, { retry: true });
    return (sent.body as { data: unknown[] }).data.map((resource) => endpointOf({ data: resource }));
  }

  /** Changes an endpoint's url, events, channels or disabled (re-enabled, it resumes at the head of the log). */
  async updateWebhook(id: string, settings: WebhookSettings): Promise<WebhookEndpoint> {
    const sent = await this.send('PATCH', `/control/webhooks/${encodeURIComponent(id)}`, { data: { type: 'webhooks', attributes: settings } }, { retry: true });
    return endpointOf(sent.body);
  }

  /** Deletes an endpoint: nothing more is sent to it. Not retried (a repeat would be a 404). */
  async deleteWebhook(id: string): Promise<void> {
    await this.send('DELETE', `/control/webhooks/${encodeURIComponent(id)}`, undefined, { retry: false });
  }

  /** A new signing secret; the previous one keeps signing alongside for 24 hours. Not retried. */
  async rotateWebhookSecret(id: string): Promise<WebhookEndpoint & { secret: string }> {
    const sent = await this.send('POST', `/control/webhooks/${encodeURIComponent(id)}/rotate-secret`, undefined, { retry: false });
    return endpointOf(sent.body) as WebhookEndpoint & { secret: string };
  }

  private async change(action: 'subscribe' | 'unsubscribe', target: Target, document: JsonApiDocument): Promise<SubscriptionChange> {
    const query = new URLSearchParams({ method: methodOf(target) });
    const sent = await this.send('POST', `/control/subscription/${action}?${query}`, document, { retry: true });
    const { data, meta } = sent.body as { data: { id: string }[]; meta: { users: number; changed: number } };
    return { channels: data.map((channel) => channel.id), users: meta.users, changed: meta.changed };
  }

  /** An id-ordered list, a page at a time through `links.next`. */
  private async *pages<T>(
    path: string,
    query: Record<string, string>,
    pageSize: number | undefined,
    item: (resource: { id: string; attributes?: Record<string, unknown> }) => T,
  ): AsyncGenerator<T> {
    const params = new URLSearchParams(query);
    if (pageSize !== undefined) params.set('page[size]', String(pageSize));
    let next: string | undefined = `${path}?${params}`;
    while (next !== undefined) {
      const sent = await this.send('GET', next, undefined, { retry: true });
      const page = sent.body as { data: { id: string; attributes?: Record<string, unknown> }[]; links?: { next?: string } };
      for (const resource of page.data) yield item(resource);
      next = page.links?.next;
    }
  }

  private token(): string {
    if (this.options.token) return this.options.token;
    const now = Date.now();
    if (!this.minted || now >= this.minted.renewAt) {
      const token = jwt.sign({ sub: this.options.subject ?? 'app-server', role: 'service' }, this.options.secret!, { algorithm: 'HS256', expiresIn: SERVICE_TOKEN_SECONDS });
      this.minted = { token, renewAt: now + (SERVICE_TOKEN_SECONDS - 60) * 1000 };
    }
    return this.minted.token;
  }

  /** One request, attempted up to `retries + 1` times when `retry` allows. */
  private async send(method: string, path: string, body: unknown, options: { retry: boolean; headers?: Record<string, string> }): Promise<Sent> {
    const attempts = options.retry ? this.retries + 1 : 1;
    let failure: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await sleep(Math.random() * Math.min(MAX_BACKOFF_MS, this.backoffMs * 2 ** (attempt - 2)));
      let response: Response;
      try {
        response = await fetch(`${this.base}${path}`, {
          method,
          headers: { accept: JSON_API, authorization: `Bearer ${this.token()}`, ...(body === undefined ? {} : { 'content-type': JSON_API }), ...options.headers },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        failure = error;
        continue;
      }
      const text = await response.text().catch((error: unknown) => {
        failure = error;
        return undefined;
      });
      if (text === undefined) continue;
      const parsed: unknown = text === '' ? undefined : safeJson(text);
      if (response.ok) return { status: response.status, headers: response.headers, body: parsed };
      const error = apiError(response.status, parsed);
      if (response.status === 503 && attempt < attempts) {
        failure = error;
        continue;
      }
      throw error;
    }
    if (failure instanceof ChattyApiError) throw failure;
    throw new ChattyNetworkError(`${method} ${path}: no answer after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${String((failure as Error)?.message ?? failure)}`, attempts, { cause: failure });
  }
}

/** The `method` query of a target: `channels:a,b`, `channels-efficient:a,b` or `users:a,b`. */
function methodOf(target: Target): string {
  if ('channels' in target) return `channels:${target.channels.join(',')}`;
  if ('channelsEfficient' in target) return `channels-efficient:${target.channelsEfficient.join(',')}`;
  return `users:${target.users.join(',')}`;
}

function apiError(status: number, body: unknown): ChattyApiError {
  const first = (body as { errors?: { code?: string; title?: string; detail?: string; source?: { parameter?: string; pointer?: string } }[] } | undefined)?.errors?.[0];
  return new ChattyApiError(status, first?.code ?? `http_${status}`, first?.title ?? `HTTP ${status}`, first?.detail, first?.source);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
