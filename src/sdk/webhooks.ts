/**
 * Webhooks for app servers on Node (contract §10): the calls' types, and their verification as
 * Standard Webhooks defines it, so that a receiver needs nothing beyond this package.
 *
 * @example
 *   import { verifyWebhook } from 'chatty/client';
 *   app.post('/chatty-hooks', express.text({ type: 'application/json' }), (req, res) => {
 *     const event = verifyWebhook(endpointSecret, req.body, req.headers); // throws if forged or stale
 *     if (event.type === 'chat.message') for (const userId of event.data.offline) push(userId, event.data.body);
 *     res.sendStatus(204);
 *   });
 */
import crypto from 'node:crypto';
import { signatureOf } from '../webhooks/signature.js';
import type { WebhookEventType } from '../store/store.js';

export type { WebhookEventType };

/** The body of a call, by type (the schemas `Webhook…` of /openapi.json). */
export type WebhookEvent = {
  /** The `webhook-id`: the same on every retry of one delivery (deduplicate on it). */
  id: string;
  /** When it happened (ISO 8601). */
  timestamp: string;
} & (
  | {
      type: 'chat.message';
      data: { id: number; channel: string; from: string | null; body: string; sentAt: string; clientId: string | null; offline: string[]; offlineTruncated?: true };
    }
  | { type: 'chat.read'; data: { channel: string; userId: string; messageId: number; readAt: string } }
  | { type: 'chat.deleted'; data: { id: number; channel: string } }
  | { type: 'presence.online' | 'presence.offline'; data: { userId: string } }
  | { type: 'subscription.changed'; data: { userId: string; added: string[]; removed: string[] } }
  | { type: 'notification.accepted'; data: { id: string; event: string; mode: 'channels' | 'channels-efficient' | 'users'; targets: string[] } }
);

/** A call that is not Chatty's: no or bad headers, a stale timestamp, or no signature that matches. */
export class ChattyWebhookError extends Error {
  override readonly name = 'ChattyWebhookError';
}

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  const value = bag[name] ?? Object.entries(bag).find(([key]) => key.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Verifies a call with the endpoint's secret (`whsec_…`) and returns its event: the signature
 * over `<webhook-id>.<webhook-timestamp>.<body>` must match one of `webhook-signature`'s (two
 * during a rotation), and the timestamp be within `toleranceSeconds` (default 300) of now, so that
 * a recorded call cannot be replayed later. `body` is the raw body, exactly as received.
 */
export function verifyWebhook(secret: string, body: string | Buffer, headers: HeaderBag, options: { toleranceSeconds?: number; now?: number } = {}): WebhookEvent {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new ChattyWebhookError('missing webhook-id, webhook-timestamp or webhook-signature');
  if (!/^\d+$/.test(timestamp)) throw new ChattyWebhookError('webhook-timestamp is not a number of seconds');
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(now - Number(timestamp)) > (options.toleranceSeconds ?? 300)) throw new ChattyWebhookError('webhook-timestamp is too far from now');
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const expected = signatureOf(secret, id, timestamp, text);
  const matches = signatures.split(' ').some((signature) => {
    const [version, value] = signature.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
  if (!matches) throw new ChattyWebhookError('no signature matches');
  let parsed: { type: string; timestamp: string; data: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new ChattyWebhookError('the body is not JSON');
  }
  return { id, ...parsed } as WebhookEvent;
}

/** An endpoint as the admin routes answer it; `secret` only on creation and rotation. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  events: WebhookEventType[];
  channels: string[] | null;
  disabled: boolean;
  status: 'active' | 'disabled' | 'failing';
  lastError: string | null;
  lastErrorAt: string | null;
  failingSince: string | null;
  /** Log entries not yet delivered or passed over. */
  lag: number;
  createdAt: string;
  secret?: string;
}

/** What creating or changing an endpoint names. */
export interface WebhookSettings {
  url?: string;
  events?: readonly WebhookEventType[];
  /** Channel names and `prefix*` patterns; null for every channel. */
  channels?: readonly string[] | null;
  disabled?: boolean;
}

/** The endpoint of a JSON:API document `{data: {id, attributes}}`. */
export function endpointOf(body: unknown): WebhookEndpoint {
  const { id, attributes } = (body as { data: { id: string; attributes: Omit<WebhookEndpoint, 'id'> } }).data;
  return { id, ...attributes };
}
