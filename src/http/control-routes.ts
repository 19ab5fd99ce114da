/** `/control/*` (contract §4): the app server's API. Routes translate; the services decide. */
import { Router, type Request } from 'express';
import { ChattyError } from '../errors.js';
import { isValidName, type UserId } from '../names.js';
import type { Notifications } from '../notifications.js';
import type { PresenceTracker } from '../realtime/presence.js';
import type { Store } from '../store/store.js';
import type { SubscriptionAction, Subscriptions } from '../subscriptions.js';
import { pageOf, parsePage, send, serialize } from './jsonapi.js';

interface ControlRouteDeps {
  store: Store;
  notifications: Notifications;
  subscriptions: Subscriptions;
  presence: PresenceTracker;
}

/** A query parameter given once, or undefined. */
function single(req: Request, name: string): unknown {
  return (req.query as Record<string, unknown>)[name];
}

function requiredName(req: Request, name: string): string {
  const value = single(req, name);
  if (!isValidName(value)) throw new ChattyError('invalid_parameter', `${name} is required and must be a valid id`, { parameter: name });
  return value as string;
}

export function controlRoutes({ store, notifications, subscriptions, presence }: ControlRouteDeps): Router {
  const router = Router();

  router.post('/notify', async (req, res) => {
    const idempotencyKey = req.get('Idempotency-Key');
    const { notification, repeated } = await notifications.notify({
      caller: req.principal!.sub,
      method: single(req, 'method'),
      add: single(req, 'add'),
      body: req.body,
      idempotencyKey,
    });
    if (repeated) res.set('Idempotent-Replayed', 'true');
    send(
      res,
      202,
      serialize.notifications({
        id: String(notification.id),
        event: notification.event,
        mode: notification.target.mode,
        targets: notification.target.names,
        createdAt: new Date(notification.createdAt).toISOString(),
      }),
    );
  });

  const change = (action: SubscriptionAction) => async (req: Request, res: import('express').Response) => {
    const result = await subscriptions.change(action, single(req, 'method'), req.body);
    send(res, 200, serialize.channels(result.channels.map((id) => ({ id })), { meta: { users: result.users, changed: result.changed } }));
  };
  router.post('/subscription/subscribe', change('subscribe'));
  router.post('/subscription/unsubscribe', change('unsubscribe'));

  router.get('/search/subscriptions', async (req, res) => {
    const userId = requiredName(req, 'userId');
    const page = parsePage(req);
    const channels = await store.channelsOf(userId, { after: page.after, size: page.size + 1 });
    const { items, links } = pageOf(req, channels, page, (id) => id);
    send(res, 200, serialize.channels(items.map((id) => ({ id })), { links }));
  });

  router.get('/search/participants', async (req, res) => {
    const channel = requiredName(req, 'channel');
    const online = single(req, 'online');
    if (online !== undefined && online !== 'true' && online !== 'false') {
      throw new ChattyError('invalid_parameter', 'online must be true or false', { parameter: 'online' });
    }
    const page = parsePage(req);
    const found: { id: UserId; online: boolean }[] = [];
    let after = page.after;
    // with online=true, read on until the page is full or the channel is exhausted
    for (;;) {
      const batch = await store.subscribersOf(channel, { after, size: page.size + 1 });
      for (const id of batch) {
        const isOnline = (await presence.connections(id)) > 0;
        if (online !== 'true' || isOnline) found.push({ id, online: isOnline });
      }
      if (batch.length < page.size + 1 || found.length > page.size) break;
      after = batch.at(-1);
    }
    const { items, links } = pageOf(req, found.slice(0, page.size + 1), page, (user) => user.id);
    send(res, 200, serialize.participants(items, { links }));
  });

  router.get('/search/online', async (req, res) => {
    const page = parsePage(req);
    const users = await presence.online({ after: page.after, size: page.size + 1 });
    const { items, links } = pageOf(req, users.map((u) => ({ id: u.userId, connections: u.connections })), page, (u) => u.id);
    send(res, 200, serialize.online(items, { links }));
  });

  return router;
}
