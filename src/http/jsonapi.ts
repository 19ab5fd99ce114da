/**
 * JSON:API documents (contract §2) through jsonapi-serializer, and the paging of the query routes.
 */
import type { Request, Response } from 'express';
import JsonApiSerializer from 'jsonapi-serializer';
import { ChattyError } from '../errors.js';
import { isValidName } from '../channels/names.js';

const { Serializer } = JsonApiSerializer;

export const JSON_API = 'application/vnd.api+json';

/** One serializer per resource type, made once; top-level `meta` and `links` are added per document. */
function serializer(type: string, attributes: string[]) {
  const instance = new Serializer(type, { attributes, keyForAttribute: 'camelCase', pluralizeType: false });
  return (data: unknown, options: { meta?: Record<string, unknown>; links?: Record<string, string> } = {}): Record<string, unknown> => {
    const document = instance.serialize(data) as Record<string, unknown>;
    if (options.links && Object.keys(options.links).length > 0) document.links = options.links;
    if (options.meta) document.meta = options.meta;
    return document;
  };
}

export const serialize = {
  channels: serializer('channels', []),
  participants: serializer('users', ['online']),
  online: serializer('users', ['connections']),
  users: serializer('users', ['username', 'role', 'createdAt']),
  notifications: serializer('notifications', ['event', 'mode', 'targets', 'createdAt']),
  tokens: serializer('tokens', ['token', 'expiresAt']),
  keys: serializer('keys', ['createdAt', 'previousKeysExpireAt']),
  keyRing: serializer('keys', ['createdAt', 'expiresAt', 'current']),
  sockets: serializer('sockets', ['userId', 'name', 'transport', 'address', 'connectedAt', 'tokenExpiresAt', 'node']),
  channelCounts: serializer('channels', ['label', 'subscribers', 'online']),
  profiles: serializer('users', ['role', 'name', 'avatar']),
  labelledChannels: serializer('channels', ['label']),
  messages: serializer('messages', ['channel', 'from', 'body', 'sentAt', 'clientId', 'deletedAt']),
  readPositions: serializer('read-positions', ['messageId', 'readAt']),
  accounts: serializer('accounts', ['userId', 'role', 'disabled', 'bootstrap', 'createdAt']),
  webhooks: serializer('webhooks', ['url', 'events', 'channels', 'disabled', 'status', 'lastError', 'lastErrorAt', 'failingSince', 'lag', 'createdAt', 'secret']),
};

/** Writes a JSON:API document directly: Express's res.send adds nothing an API response needs. */
export function send(res: Response, status: number, document: unknown): void {
  const body = JSON.stringify(document);
  res.statusCode = status;
  res.setHeader('Content-Type', `${JSON_API}; charset=utf-8`);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export interface Page {
  size: number;
  after: string | undefined;
}

/**
 * A query parameter's value, or undefined when absent. Given more than once (`?method=a&method=b`)
 * it is a `400` that says so: which one was meant is anyone's guess.
 */
export function queryParameter(req: Request, name: string): string | undefined {
  const value = (req.query as Record<string, unknown>)[name];
  if (Array.isArray(value)) throw new ChattyError('invalid_parameter', `${name} is given ${value.length} times; give it once`, { parameter: name });
  return value as string | undefined;
}

/** The `:id` of a route's path, which must be a valid name (contract §1): a user id or a channel. */
export function nameParameter(req: Request, what: string): string {
  const id = String(req.params.id);
  if (!isValidName(id)) throw new ChattyError('invalid_parameter', `The ${what} in the URL is not valid`, { parameter: 'id' });
  return id;
}

/** Reads `page[size]` and `page[after]`. */
export function parsePage(req: Request): Page {
  const rawSize = queryParameter(req, 'page[size]');
  let size = DEFAULT_PAGE_SIZE;
  if (rawSize !== undefined) {
    if (typeof rawSize !== 'string' || !/^\d{1,4}$/.test(rawSize) || Number(rawSize) < 1 || Number(rawSize) > MAX_PAGE_SIZE) {
      throw new ChattyError('invalid_parameter', `page[size] must be an integer from 1 to ${MAX_PAGE_SIZE}`, { parameter: 'page[size]' });
    }
    size = Number(rawSize);
  }
  const after = queryParameter(req, 'page[after]');
  if (after !== undefined && !isValidName(after)) {
    throw new ChattyError('invalid_parameter', 'page[after] must be the last id of the previous page', { parameter: 'page[after]' });
  }
  return { size, after: after as string | undefined };
}

/**
 * Cuts a list fetched with one extra item into a page and its `links.next`, present while more
 * remain.
 */
export function pageOf<T>(req: Request, items: T[], page: Page, idOf: (item: T) => string): { items: T[]; links: { next?: string } } {
  if (items.length <= page.size) return { items, links: {} };
  const kept = items.slice(0, page.size);
  return { items: kept, links: { next: nextLink(req, idOf(kept.at(-1)!), page.size) } };
}

/** This request's URL with `page[after]` and `page[size]` set for the next page. */
export function nextLink(req: Request, after: string, size: number): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(req.query)) {
    if (name !== 'page[after]' && typeof value === 'string') params.set(name, value);
  }
  params.set('page[after]', after);
  params.set('page[size]', String(size));
  return `${req.baseUrl}${req.path}?${params.toString()}`;
}
