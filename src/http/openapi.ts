/**
 * The HTTP API as OpenAPI 3.1, served at `GET /openapi.json`. Every response the HTTP tests see is
 * validated against it (test/helpers/openapi.ts), so it cannot drift from what the server does.
 * Schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect); error codes come from the registry.
 */
import { ERRORS } from '../errors.js';
import { WEBHOOK_EVENT_TYPES } from '../store/store.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const string = { type: 'string' } as const;
const JSON_API = 'application/vnd.api+json';
const dateTime = { type: 'string', format: 'date-time' } as const;
const integer = { type: 'integer', minimum: 0 } as const;

/** A JSON:API resource object of `type` with these attributes (all required, nothing else). */
function resource(type: string, attributes?: Record<string, unknown>) {
  const properties: Record<string, unknown> = { type: { const: type }, id: string };
  if (attributes) properties.attributes = { type: 'object', properties: attributes, required: Object.keys(attributes), additionalProperties: false };
  return { type: 'object', properties, required: ['type', 'id', ...(attributes ? ['attributes'] : [])], additionalProperties: false };
}

/** A top-level JSON:API document holding `data`, with optional `links.next` and `meta`. */
function document(data: unknown, extra: Record<string, unknown> = {}) {
  return { type: 'object', properties: { data, ...extra }, required: ['data', ...Object.keys(extra).filter((k) => k === 'meta')], additionalProperties: false };
}
const links = { type: 'object', properties: { next: string }, additionalProperties: false };
/** A document of `meta` only, holding exactly these members. */
function metaDocument(members: Record<string, unknown>) {
  return {
    type: 'object',
    properties: { meta: { type: 'object', properties: members, required: Object.keys(members), additionalProperties: false } },
    required: ['meta'],
    additionalProperties: false,
  };
}
const list = (item: unknown) => document({ type: 'array', items: item }, { links });

/** A page of a list counted on every node: `meta.complete` is false when a node did not answer in time. */
const liveList = (item: unknown) =>
  document({ type: 'array', items: item }, { links, meta: { type: 'object', properties: { complete: { type: 'boolean' } }, required: ['complete'], additionalProperties: false } });
const nullableDateTime = { ...dateTime, type: ['string', 'null'] };
const messageAttributes = { channel: string, from: { type: ['string', 'null'] }, body: string, sentAt: dateTime, clientId: { type: ['string', 'null'] } };
/** A message; `deletedAt` (and an empty body) once moderation removed it. */
const messageResource = {
  type: 'object',
  properties: {
    type: { const: 'messages' },
    id: string,
    attributes: { type: 'object', properties: { ...messageAttributes, deletedAt: dateTime }, required: Object.keys(messageAttributes), additionalProperties: false },
  },
  required: ['type', 'id', 'attributes'],
  additionalProperties: false,
};
/** A request body holding one JSON:API resource of `type` (its `id` optional) with these attributes. */
function resourceBody(type: string, attributes: Record<string, unknown>) {
  const data = { type: 'object', properties: { type: { const: type }, id: string, attributes }, required: ['type', 'attributes'] };
  return { required: true, content: { [JSON_API]: { schema: { type: 'object', properties: { data }, required: ['data'] } } } };
}
const channelPath = { name: 'channel', in: 'path', required: true, description: 'a channel, or a private conversation dm:<a>:<b>', schema: string };
const nullableLabel = { type: ['string', 'null'], maxLength: 200 };
const profileAttributes = { name: { type: 'string', minLength: 1, maxLength: 100 }, avatar: { type: ['string', 'null'], maxLength: 2048 } };
const profileResource = resource('users', profileAttributes);
const profileBody = resourceBody('users', { type: 'object', properties: profileAttributes, additionalProperties: false, minProperties: 1 });
const idPath = { name: 'id', in: 'path', required: true, schema: string };
const accountResource = resource('accounts', { userId: string, role: { enum: ['admin', 'service', 'user'] }, disabled: { type: 'boolean' }, bootstrap: { type: 'boolean' }, createdAt: dateTime });

const webhookEvents = { type: 'array', items: { enum: [...WEBHOOK_EVENT_TYPES] }, minItems: 1 };
const webhookChannels = { type: ['array', 'null'], items: { type: 'string', maxLength: 201 }, minItems: 1, maxItems: 100 };
const webhookAttributes = {
  url: { type: 'string', format: 'uri', maxLength: 2048 },
  events: webhookEvents,
  channels: webhookChannels,
  disabled: { type: 'boolean' },
  status: { enum: ['active', 'disabled', 'failing'] },
  lastError: { type: ['string', 'null'] },
  lastErrorAt: nullableDateTime,
  failingSince: nullableDateTime,
  lag: { type: 'integer', minimum: 0 },
  createdAt: dateTime,
};
/** An endpoint; `secret` only in the answers of creation and rotation. */
const webhookResource = resource('webhooks', webhookAttributes);
const webhookWithSecret = resource('webhooks', { ...webhookAttributes, secret: { type: 'string', pattern: '^whsec_' } });
const webhookPath = { name: 'id', in: 'path', required: true, schema: string };

/** The body of a webhook call of `type` (contract §10): `{type, timestamp, data}`, nothing else. */
function webhookCall(type: string, data: Record<string, unknown>, optional: readonly string[] = []) {
  return {
    type: 'object',
    properties: {
      type: { const: type },
      timestamp: dateTime,
      data: { type: 'object', properties: data, required: Object.keys(data).filter((key) => !optional.includes(key)), additionalProperties: false },
    },
    required: ['type', 'timestamp', 'data'],
    additionalProperties: false,
  };
}
const strings = { type: 'array', items: string };
const messageId = { type: 'integer', minimum: 1 };
/** One schema per event type, named `Webhook` and the type in words (`WebhookChatMessage`). */
const WEBHOOK_CALLS = {
  'chat.message': webhookCall(
    'chat.message',
    { id: messageId, ...messageAttributes, offline: strings, offlineTruncated: { const: true } },
    ['offlineTruncated'],
  ),
  'chat.read': webhookCall('chat.read', { channel: string, userId: string, messageId, readAt: dateTime }),
  'chat.deleted': webhookCall('chat.deleted', { id: messageId, channel: string }),
  'presence.online': webhookCall('presence.online', { userId: string }),
  'presence.offline': webhookCall('presence.offline', { userId: string }),
  'subscription.changed': webhookCall('subscription.changed', { userId: string, added: strings, removed: strings }),
  'notification.accepted': webhookCall('notification.accepted', { id: string, event: string, mode: { enum: ['channels', 'channels-efficient', 'users'] }, targets: strings }),
} satisfies Record<(typeof WEBHOOK_EVENT_TYPES)[number], unknown>;
/** `chat.message` → `WebhookChatMessage`: the component schema of a webhook call's body. */
export const webhookSchemaName = (type: string) => `Webhook${type.replace(/(^|\.)(\w)/g, (_, _dot: string, letter: string) => letter.toUpperCase())}`;
const webhookHeaders = [
  { name: 'webhook-id', in: 'header', required: true, description: 'the same on every retry of one delivery: deduplicate on it', schema: string },
  { name: 'webhook-timestamp', in: 'header', required: true, description: 'the call’s time, in seconds since the epoch', schema: { type: 'string', pattern: '^[0-9]+$' } },
  { name: 'webhook-signature', in: 'header', required: true, description: '`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` keyed by the decoded secret after `whsec_`; space-separated during a rotation', schema: string },
];

const json = (schema: unknown, description: string) => ({ description, content: { [JSON_API]: { schema } } });
const errorResponse = json(ref('ErrorDocument'), 'A JSON:API error document; `errors[0].code` is from the error registry');

const methodParameter = {
  name: 'method',
  in: 'query',
  required: true,
  description: '`<mode>:<list>`, the list comma-separated or bracketed; 1–1,000 names (contract §4.1)',
  schema: { type: 'string', pattern: '^(channels|channels-efficient|users):' },
};
const pageParameters = [
  { name: 'page[size]', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
  { name: 'page[after]', in: 'query', description: 'the last id of the previous page', schema: string },
];
const bearer = [{ bearerAuth: [] }, { cookieAuth: [] }];
const control = [{ bearerAuth: [] }];

/** POST /control/subscription/{subscribe,unsubscribe}: the same request and answer. */
function subscriptionChange(what: string) {
  return {
    summary: `${what} the channels of a JSON:API document (contract §4.3)`,
    security: control,
    parameters: [methodParameter],
    requestBody: { required: true, content: { [JSON_API]: { schema: ref('JsonApiDocument') } } },
    responses: { '200': json(ref('SubscriptionChange'), 'The channels; meta counts users and changed pairs'), default: errorResponse },
  };
}

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'Chatty',
    version: '2.0.0',
    description: 'The HTTP API of Chatty: accounts and tokens (`/auth`), the app server’s control API (`/control`), and operations. Sockets are described in docs/socket-protocol.md.',
    license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
  },
  components: {
    securitySchemes: {
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'HS256, signed by the current key of the key ring; `role` service or admin for /control' },
      cookieAuth: { type: 'apiKey', in: 'cookie', name: 'jwt', description: 'the cookie set by POST /auth/login' },
      metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when it is set' },
    },
    schemas: {
      ...Object.fromEntries(Object.entries(WEBHOOK_CALLS).map(([type, schema]) => [webhookSchemaName(type), schema])),
      Error: {
        type: 'object',
        properties: {
          status: { type: 'string', pattern: '^[45][0-9][0-9]$' },
          code: { enum: Object.keys(ERRORS) },
          title: string,
          detail: string,
          source: {
            oneOf: [
              { type: 'object', properties: { parameter: string }, required: ['parameter'], additionalProperties: false },
              { type: 'object', properties: { pointer: string }, required: ['pointer'], additionalProperties: false },
            ],
          },
        },
        required: ['status', 'code', 'title'],
        additionalProperties: false,
      },
      ErrorDocument: {
        type: 'object',
        properties: { errors: { type: 'array', items: ref('Error'), minItems: 1 }, meta: { type: 'object' } },
        required: ['errors'],
        additionalProperties: false,
      },
      ChannelRef: resource('channels'),
      Notification: document(
        resource('notifications', {
          event: string,
          mode: { enum: ['channels', 'channels-efficient', 'users'] },
          targets: { type: 'array', items: string },
          createdAt: dateTime,
        }),
      ),
      SubscriptionChange: {
        type: 'object',
        properties: {
          data: { type: 'array', items: ref('ChannelRef') },
          meta: { type: 'object', properties: { users: integer, changed: integer }, required: ['users', 'changed'], additionalProperties: false },
        },
        required: ['data', 'meta'],
        additionalProperties: false,
      },
      User: document(resource('users', { username: string, role: { enum: ['admin', 'service', 'user'] }, createdAt: dateTime })),
      Token: document(resource('tokens', { token: string, expiresAt: dateTime })),
      Key: document(resource('keys', { createdAt: dateTime, previousKeysExpireAt: dateTime })),
      Credentials: {
        type: 'object',
        properties: { username: { type: 'string', pattern: '^[A-Za-z0-9_.-]{3,64}$' }, password: { type: 'string', minLength: 8 } },
        required: ['username', 'password'],
      },
      JsonApiDocument: {
        type: 'object',
        description: 'A JSON:API document: its channels are `<type>-<id>` of `data`, their relationships and `included` (contract §4.3)',
        properties: { data: { oneOf: [{ type: 'object' }, { type: 'array', items: { type: 'object' } }] }, included: { type: 'array' } },
        required: ['data'],
      },
    },
  },
  paths: {
    '/auth/register': {
      post: {
        summary: 'Create a user account (while REGISTRATION=open); its user id is @<username>',
        requestBody: { required: true, content: { [JSON_API]: { schema: ref('Credentials') }, 'application/json': { schema: ref('Credentials') } } },
        responses: { '201': json(ref('User'), 'The account'), default: errorResponse },
      },
    },
    '/auth/login': {
      post: {
        summary: 'Log in: a token, also set as the HttpOnly `jwt` cookie',
        requestBody: { required: true, content: { [JSON_API]: { schema: ref('Credentials') }, 'application/json': { schema: ref('Credentials') } } },
        responses: { '200': json(ref('Token'), 'The token; `id` is its jti'), default: errorResponse },
      },
    },
    '/auth/logout': {
      post: { summary: 'Clear the `jwt` cookie', responses: { '204': { description: 'Cleared' }, default: errorResponse } },
    },
    '/auth/test-jwt': {
      get: {
        summary: 'Check a token',
        security: bearer,
        responses: {
          '200': json(metaDocument({ sub: string, role: { enum: ['admin', 'service', 'user'] }, exp: { type: ['integer', 'null'] } }), 'The token’s subject, role and expiry'),
          default: errorResponse,
        },
      },
    },
    '/auth/update-jwt-secret': {
      put: {
        summary: 'Rotate the key ring (admin)',
        security: bearer,
        requestBody: {
          required: true,
          content: {
            [JSON_API]: {
              schema: { type: 'object', properties: { secret: { type: 'string', minLength: 32 }, graceSeconds: { type: 'integer', minimum: 0, maximum: 2592000 } }, required: ['secret'] },
            },
          },
        },
        responses: { '200': json(ref('Key'), 'The new signing key'), default: errorResponse },
      },
    },
    '/control/notify': {
      post: {
        summary: 'Notify channels or users (contract §4.2)',
        security: control,
        parameters: [
          methodParameter,
          { name: 'add', in: 'query', schema: { type: 'string', pattern: '^(origin|date-time)(,(origin|date-time))?$' } },
          { name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 255 } },
        ],
        requestBody: {
          required: true,
          content: { [JSON_API]: { schema: { type: 'object', properties: { event: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,100}$' }, attributes: { type: 'object' } }, required: ['event', 'attributes'] } } },
        },
        responses: { '202': json(ref('Notification'), 'Logged and delivered'), default: errorResponse },
      },
    },
    '/control/subscription/subscribe': { post: subscriptionChange('Subscribe users to') },
    '/control/subscription/unsubscribe': { post: subscriptionChange('Unsubscribe users from') },
    '/control/search/subscriptions': {
      get: {
        summary: 'A user’s channels, by name',
        security: control,
        parameters: [{ name: 'userId', in: 'query', required: true, schema: string }, ...pageParameters],
        responses: { '200': json(list(resource('channels', { label: nullableLabel })), 'A page of channels, each with its label (null when none)'), default: errorResponse },
      },
    },
    '/control/search/participants': {
      get: {
        summary: 'A channel’s subscribers, by id',
        security: control,
        parameters: [{ name: 'channel', in: 'query', required: true, schema: string }, { name: 'online', in: 'query', schema: { enum: ['true', 'false'] } }, ...pageParameters],
        responses: { '200': json(list(resource('users', { online: { type: 'boolean' } })), 'A page of users'), default: errorResponse },
      },
    },
    '/control/search/online': {
      get: {
        summary: 'Users online, by id',
        security: control,
        parameters: pageParameters,
        responses: { '200': json(list(resource('users', { connections: { type: 'integer', minimum: 1 } })), 'A page of users'), default: errorResponse },
      },
    },
    '/control/conversations/{channel}/messages': {
      get: {
        summary: 'A conversation’s history, any conversation (service, admin): the newest `limit` messages below `before`, oldest first',
        security: control,
        parameters: [
          channelPath,
          { name: 'before', in: 'query', schema: { type: 'integer', minimum: 1 } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 50 } },
        ],
        responses: {
          '200': json(
            document({ type: 'array', items: messageResource }, { meta: { type: 'object', properties: { channel: string, receipts: { type: 'object', additionalProperties: { type: 'integer' } } }, required: ['channel', 'receipts'], additionalProperties: false } }),
            'Messages, and each member’s read position',
          ),
          default: errorResponse,
        },
      },
      post: {
        summary: 'Post a message as a member, or as the system without `from` (service, admin): logged and delivered like chat:send',
        security: control,
        parameters: [channelPath],
        requestBody: resourceBody('messages', {
          type: 'object',
          properties: { from: { type: ['string', 'null'] }, body: { type: 'string', minLength: 1, maxLength: 4000 }, clientId: { type: ['string', 'null'], maxLength: 100 } },
          required: ['body'],
          additionalProperties: false,
        }),
        responses: { '201': json(document(messageResource), 'The message, logged and delivered'), default: errorResponse },
      },
    },
    '/control/conversations/{channel}/messages/{id}': {
      delete: {
        summary: 'Moderation: remove a message (service, admin). Members get chat:deleted; history keeps it without its body; replay no longer sends it',
        security: control,
        parameters: [channelPath, { name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }],
        responses: { '200': json(document(messageResource), 'The message as removed'), default: errorResponse },
      },
    },
    '/control/conversations/{channel}/export': {
      get: {
        summary: 'A whole conversation as one JSON:API document, oldest first (service, admin); at most the newest 100,000 messages',
        security: control,
        parameters: [channelPath],
        responses: {
          '200': json(
            document(
              { type: 'array', items: messageResource },
              {
                meta: {
                  type: 'object',
                  properties: { channel: string, exportedAt: dateTime, count: { type: 'integer', minimum: 0 }, truncated: { type: 'boolean' }, receipts: { type: 'object', additionalProperties: { type: 'integer' } } },
                  required: ['channel', 'exportedAt', 'count', 'truncated', 'receipts'],
                  additionalProperties: false,
                },
              },
            ),
            'The conversation (Content-Disposition: attachment)',
          ),
          default: errorResponse,
        },
      },
    },
    '/control/conversations/{channel}/read-positions': {
      get: {
        summary: 'Where each member has read a conversation up to (service, admin), the most advanced first',
        security: control,
        parameters: [channelPath],
        responses: { '200': json(document({ type: 'array', items: resource('read-positions', { messageId: { type: 'integer' }, readAt: dateTime }) }), 'Read positions'), default: errorResponse },
      },
    },
    '/control/users/{id}/unread': {
      get: {
        summary: 'A user’s unread counts per conversation, as chat:unread answers them (service, admin)',
        security: control,
        parameters: [{ name: 'id', in: 'path', required: true, schema: string }],
        responses: {
          '200': json(metaDocument({ userId: string, unread: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } } }), 'Unread counts'),
          default: errorResponse,
        },
      },
    },
    '/auth/me': {
      get: {
        summary: 'Who the token speaks for, with its role and profile (contract §11)',
        security: bearer,
        responses: { '200': json(document(resource('users', { role: { enum: ['admin', 'service', 'user'] }, ...profileAttributes })), 'The user'), default: errorResponse },
      },
      patch: {
        summary: 'An account changes its own profile (login tokens only; 403 for a token the app server minted)',
        security: bearer,
        requestBody: profileBody,
        responses: { '200': json(document(resource('users', { role: { enum: ['admin', 'service', 'user'] }, ...profileAttributes })), 'The user'), default: errorResponse },
      },
    },
    '/control/users/{id}': {
      get: {
        summary: 'A user’s profile (service, admin); the default one (name = id) for a user never given one',
        security: control,
        parameters: [idPath],
        responses: { '200': json(document(profileResource), 'The profile'), default: errorResponse },
      },
    },
    '/control/users/{id}/profile': {
      put: {
        summary: 'Set a user’s profile, registered or not (service, admin); only the attributes named change',
        security: control,
        parameters: [idPath],
        requestBody: profileBody,
        responses: { '200': json(document(profileResource), 'The profile'), default: errorResponse },
      },
    },
    '/control/channels/{id}': {
      put: {
        summary: 'Set a channel’s label (service, admin); subscribe documents never replace it',
        security: control,
        parameters: [idPath],
        requestBody: resourceBody('channels', { type: 'object', properties: { label: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['label'], additionalProperties: false }),
        responses: { '200': json(document(resource('channels', { label: string })), 'The channel'), default: errorResponse },
      },
    },
    '/control/keys': {
      get: {
        summary: 'The key ring (admin): the keys that verify tokens, the current one first; never their secrets',
        security: bearer,
        responses: {
          '200': json(list(resource('keys', { createdAt: dateTime, expiresAt: nullableDateTime, current: { type: 'boolean' } })), 'The key ring'),
          default: errorResponse,
        },
      },
    },
    '/control/sockets': {
      get: {
        summary: 'Connected sockets on every node (admin), by socket id',
        security: bearer,
        parameters: [{ name: 'userId', in: 'query', description: 'only this user’s sockets', schema: string }, ...pageParameters],
        responses: {
          '200': json(
            liveList(resource('sockets', { userId: string, name: string, transport: { enum: ['websocket', 'polling'] }, address: string, connectedAt: dateTime, tokenExpiresAt: nullableDateTime, node: string })),
            'A page of sockets',
          ),
          default: errorResponse,
        },
      },
    },
    '/control/sockets/{id}': {
      delete: {
        summary: 'Disconnect a socket, on whichever node holds it (admin)',
        security: bearer,
        parameters: [{ name: 'id', in: 'path', required: true, schema: string }],
        responses: { '204': { description: 'Disconnected' }, default: errorResponse },
      },
    },
    '/control/channels': {
      get: {
        summary: 'Channels with subscribers, by name, with their subscriber and online counts (admin)',
        security: bearer,
        parameters: [{ name: 'prefix', in: 'query', description: 'only channels starting with this', schema: { type: 'string', maxLength: 200 } }, ...pageParameters],
        responses: {
          '200': json(liveList(resource('channels', { label: nullableLabel, subscribers: { type: 'integer', minimum: 1 }, online: { type: 'integer', minimum: 0 } })), 'A page of channels'),
          default: errorResponse,
        },
      },
    },
    '/control/accounts': {
      get: {
        summary: 'Accounts by username (admin): user id, role, whether disabled, whether the bootstrap admin',
        security: bearer,
        parameters: pageParameters,
        responses: { '200': json(list(accountResource), 'A page of accounts'), default: errorResponse },
      },
    },
    '/control/accounts/{username}': {
      patch: {
        summary: 'Disable or enable an account, change its role or reset its password (admin); its older tokens stop working',
        security: bearer,
        parameters: [{ name: 'username', in: 'path', required: true, schema: string }],
        requestBody: resourceBody('accounts', {
          type: 'object',
          properties: { role: { enum: ['admin', 'service', 'user'] }, disabled: { type: 'boolean' }, password: { type: 'string', minLength: 8 } },
          additionalProperties: false,
          minProperties: 1,
        }),
        responses: { '200': json(document(accountResource), 'The account as changed'), default: errorResponse },
      },
    },
    '/control/webhooks': {
      get: {
        summary: 'Webhook endpoints (admin), oldest first, with their status, last error and lag; never their secrets',
        security: bearer,
        responses: { '200': json(document({ type: 'array', items: webhookResource }), 'The endpoints'), default: errorResponse },
      },
      post: {
        summary: 'Create a webhook endpoint (admin): its URL, event types and optional channel filter (contract §10)',
        security: bearer,
        requestBody: resourceBody('webhooks', {
          type: 'object',
          properties: { url: webhookAttributes.url, events: webhookEvents, channels: webhookChannels, disabled: { type: 'boolean' } },
          required: ['url', 'events'],
          additionalProperties: false,
        }),
        responses: { '201': json(document(webhookWithSecret), 'The endpoint, with its secret (shown only here and on rotation)'), default: errorResponse },
      },
    },
    '/control/webhooks/{id}': {
      get: {
        summary: 'One webhook endpoint (admin)',
        security: bearer,
        parameters: [webhookPath],
        responses: { '200': json(document(webhookResource), 'The endpoint'), default: errorResponse },
      },
      patch: {
        summary: 'Change a webhook endpoint’s url, events, channels or disabled (admin); re-enabled, it resumes at the head of the log',
        security: bearer,
        parameters: [webhookPath],
        requestBody: resourceBody('webhooks', {
          type: 'object',
          properties: { url: webhookAttributes.url, events: webhookEvents, channels: webhookChannels, disabled: { type: 'boolean' } },
          additionalProperties: false,
          minProperties: 1,
        }),
        responses: { '200': json(document(webhookResource), 'The endpoint as changed'), default: errorResponse },
      },
      delete: {
        summary: 'Delete a webhook endpoint (admin): nothing more is sent to it',
        security: bearer,
        parameters: [webhookPath],
        responses: { '204': { description: 'Deleted' }, default: errorResponse },
      },
    },
    '/control/webhooks/{id}/rotate-secret': {
      post: {
        summary: 'A new signing secret (admin); the previous one keeps signing alongside for 24 hours',
        security: bearer,
        parameters: [webhookPath],
        responses: { '200': json(document(webhookWithSecret), 'The endpoint, with its new secret'), default: errorResponse },
      },
    },
    '/control/stats': {
      get: {
        summary: 'This node’s key figures for the console’s charts (admin): totals since start, gauges now',
        security: bearer,
        responses: {
          '200': json(
            metaDocument({
              node: string,
              time: dateTime,
              ...Object.fromEntries(
                ['sockets', 'notifications', 'chatMessages', 'httpRequests', 'replayedEvents', 'logCommits', 'eventLoopLagSeconds', 'residentMemoryBytes'].map((name) => [name, { type: 'number', minimum: 0 }]),
              ),
            }),
            'Figures',
          ),
          default: errorResponse,
        },
      },
    },
    '/healthz': {
      get: {
        summary: 'The process is up',
        responses: {
          '200': json(metaDocument({ status: { const: 'ok' } }), 'Up'),
          default: errorResponse,
        },
      },
    },
    '/readyz': {
      get: {
        summary: 'The store (and on many nodes Redis) answers; 503 while shutting down',
        responses: {
          '200': json(metaDocument({ status: { const: 'ready' }, nodeId: string, checks: { type: 'object', additionalProperties: { enum: ['ok', 'unreachable'] } } }), 'Ready'),
          default: errorResponse,
        },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics',
        security: [{}, { metricsToken: [] }],
        responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: string } } }, default: errorResponse },
      },
    },
    '/openapi.json': {
      get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } }, default: errorResponse } },
    },
    '/': { get: { summary: 'The chat page', responses: { '200': { description: 'HTML', content: { 'text/html': { schema: string } } }, default: errorResponse } } },
    '/admin': { get: { summary: 'The operator page', responses: { '200': { description: 'HTML', content: { 'text/html': { schema: string } } }, default: errorResponse } } },
  },
  // contract §10: the calls Chatty makes to an endpoint's URL (OpenAPI 3.1's outgoing requests)
  webhooks: Object.fromEntries(
    WEBHOOK_EVENT_TYPES.map((type) => [
      type,
      {
        post: {
          summary: `A \`${type}\` event, to every endpoint asking for it (Standard Webhooks)`,
          parameters: webhookHeaders,
          requestBody: { required: true, content: { 'application/json': { schema: ref(webhookSchemaName(type)) } } },
          responses: { '2XX': { description: 'Delivered; anything else (or no answer within WEBHOOK_TIMEOUT) is retried' } },
        },
      },
    ]),
  ),
} as const;
