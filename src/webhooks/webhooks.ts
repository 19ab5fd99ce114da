/**
 * Webhook endpoints as operators manage them (contract §10): validation, the store, and the
 * dispatcher told of every change at once (other nodes hear of it through the log).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { WebhookSettings } from '../../config.js';
import { isValidName } from '../channels/names.js';
import { ChattyError } from '../errors.js';
import type { EventLog } from '../event-log/event-log.js';
import type { Clock } from '../time/clock.js';
import { WEBHOOK_EVENT_TYPES, type Store, type WebhookChange, type WebhookEndpoint, type WebhookEventType } from '../store/store.js';
import type { WebhookDispatcher, WebhookStatus } from './dispatcher.js';
import { AddressRefused, checkDestination } from './outbound.js';
import { newSecret } from './signature.js';

/** How long the secret before a rotation keeps signing alongside the new one. */
export const PREVIOUS_SECRET_MS = 24 * 60 * 60 * 1000;
export const MAX_URL_LENGTH = 2048;
export const MAX_CHANNEL_FILTERS = 100;

/** An endpoint as the routes answer it: never its secret, except right after creation or rotation. */
export interface WebhookView {
  readonly id: string;
  readonly url: string;
  readonly events: readonly WebhookEventType[];
  readonly channels: readonly string[] | null;
  readonly disabled: boolean;
  readonly status: WebhookStatus;
  readonly lastError: string | null;
  readonly lastErrorAt: string | null;
  readonly failingSince: string | null;
  /** Log entries not yet delivered or passed over. */
  readonly lag: number;
  readonly createdAt: string;
  readonly secret?: string;
}

const url = z
  .string()
  .max(MAX_URL_LENGTH, `url: at most ${MAX_URL_LENGTH} characters`)
  .refine((text) => {
    try {
      const parsed = new URL(text);
      return (parsed.protocol === 'https:' || parsed.protocol === 'http:') && parsed.username === '' && parsed.password === '';
    } catch {
      return false;
    }
  }, 'url must be an absolute http:// or https:// URL, without a user name or password');
const events = z
  .array(z.enum(WEBHOOK_EVENT_TYPES, { error: `each event must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` }))
  .min(1, 'events must name at least one event type')
  .transform((list) => [...new Set(list)]);
const channels = z
  .array(z.string().refine((pattern) => isValidName(pattern.endsWith('*') ? pattern.slice(0, -1) || 'x' : pattern), 'each channel must be a channel name, or a prefix ending with *'))
  .min(1, 'channels must name at least one channel, or be null for all')
  .max(MAX_CHANNEL_FILTERS, `channels: at most ${MAX_CHANNEL_FILTERS}`)
  .nullable();

const attributes = { url, events, channels: channels.optional(), disabled: z.boolean().optional() };
const createSchema = z.object({ data: z.object({ type: z.literal('webhooks'), attributes: z.object(attributes).strict() }).strict() }).strict();
const updateSchema = z
  .object({
    data: z
      .object({
        type: z.literal('webhooks'),
        id: z.string().optional(),
        attributes: z
          .object({ url: url.optional(), events: events.optional(), channels: channels.optional(), disabled: z.boolean().optional() })
          .strict()
          .refine((given) => Object.keys(given).length > 0, 'give url, events, channels or disabled'),
      })
      .strict(),
  })
  .strict();

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new ChattyError('validation_failed', issue.message, { pointer: `/${issue.path.join('/')}` });
}

export class Webhooks {
  constructor(
    private readonly deps: { store: Store; dispatcher: WebhookDispatcher; eventLog: EventLog; settings: WebhookSettings; clock: Clock },
  ) {}

  async list(): Promise<WebhookView[]> {
    return (await this.deps.store.listWebhooks()).map((endpoint) => this.view(endpoint));
  }

  async get(id: string): Promise<WebhookView> {
    return this.view(await this.find(id));
  }

  /** Creates an endpoint from a JSON:API document; the answer holds its secret, this once. */
  async create(body: unknown): Promise<WebhookView> {
    const { store, eventLog, settings, clock } = this.deps;
    const given = parse(createSchema, body).data.attributes;
    if (!eventLog.durable) throw new ChattyError('unavailable', 'Webhooks are delivered from the event log (EVENT_LOG=durable)');
    await this.checkUrl(given.url);
    if ((await store.listWebhooks()).length >= settings.maxEndpoints) {
      throw new ChattyError('validation_failed', `There are already ${settings.maxEndpoints} webhook endpoints (MAX_WEBHOOKS)`, { pointer: '/data' });
    }
    let endpoint = await store.createWebhook({ id: randomUUID(), url: given.url, events: given.events, channels: given.channels ?? null, secret: newSecret(), createdAt: clock.now() });
    if (given.disabled) endpoint = (await store.updateWebhook(endpoint.id, { disabled: true }))!;
    await this.deps.dispatcher.refresh().catch(() => {});
    return this.view(endpoint, true);
  }

  async update(id: string, body: unknown): Promise<WebhookView> {
    const parsed = parse(updateSchema, body).data;
    if (parsed.id !== undefined && parsed.id !== id) throw new ChattyError('validation_failed', 'data.id must be the endpoint in the URL', { pointer: '/data/id' });
    const given = parsed.attributes;
    const current = await this.find(id);
    if (given.url !== undefined) await this.checkUrl(given.url);
    // re-enabled: the events of the time it was disabled are skipped
    const change: WebhookChange = { ...given, ...(current.disabled && given.disabled === false ? { resumeAtHead: true } : {}) };
    return this.view(await this.change(id, change));
  }

  async remove(id: string): Promise<void> {
    if (!(await this.deps.store.deleteWebhook(id))) throw notFound(id);
    await this.deps.dispatcher.refresh().catch(() => {});
  }

  /** A new secret; the current one keeps signing alongside for 24 hours. */
  async rotateSecret(id: string): Promise<WebhookView> {
    await this.find(id);
    const secret = newSecret();
    return this.view(await this.change(id, { rotate: { secret, previousUntil: this.deps.clock.now() + PREVIOUS_SECRET_MS } }), true);
  }

  private async change(id: string, change: WebhookChange): Promise<WebhookEndpoint> {
    const endpoint = await this.deps.store.updateWebhook(id, change);
    if (!endpoint) throw notFound(id);
    await this.deps.dispatcher.refresh().catch(() => {});
    return endpoint;
  }

  private async find(id: string): Promise<WebhookEndpoint> {
    const endpoint = await this.deps.store.findWebhook(id);
    if (!endpoint) throw notFound(id);
    return endpoint;
  }

  private async checkUrl(text: string): Promise<void> {
    try {
      await checkDestination(new URL(text), this.deps.settings.allowPrivate);
    } catch (error) {
      if (!(error instanceof AddressRefused)) throw error;
      throw new ChattyError('validation_failed', `url: ${error.message}; set WEBHOOK_ALLOW_PRIVATE=true to allow it`, { pointer: '/data/attributes/url' });
    }
  }

  private view(endpoint: WebhookEndpoint, withSecret = false): WebhookView {
    const iso = (time: number | null) => (time === null ? null : new Date(time).toISOString());
    return {
      id: endpoint.id,
      url: endpoint.url,
      events: endpoint.events,
      channels: endpoint.channels,
      disabled: endpoint.disabled,
      status: this.deps.dispatcher.statusOf(endpoint),
      lastError: endpoint.lastError,
      lastErrorAt: iso(endpoint.lastErrorAt),
      failingSince: iso(endpoint.failingSince),
      lag: endpoint.disabled ? 0 : Math.max(0, this.deps.eventLog.deliveredThrough - endpoint.cursor),
      createdAt: new Date(endpoint.createdAt).toISOString(),
      ...(withSecret ? { secret: endpoint.secret } : {}),
    };
  }
}

const notFound = (id: string) => new ChattyError('not_found', `There is no webhook endpoint ${id.slice(0, 100)}`);
