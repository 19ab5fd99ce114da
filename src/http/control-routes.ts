/** `/control/*` (contract §4): the app server's API. Routes translate; the services decide. */
import { Router, type Request } from 'express';
import { ChattyError } from '../errors.js';
import { isValidName, type UserId } from '../channels/names.js';
import type { Notifications } from '../channels/notifications.js';
import type { PresenceTracker } from '../realtime/presence.js';
import type { Store } from '../store/store.js';
import type { SubscriptionAction, Subscriptions } from '../channels/subscriptions.js';
import { MAX_PAGE_SIZE, nextLink, pageOf, parsePage, queryParameter, send, serialize } from './jsonapi.js';

/** How many subscribers one `online=true` request may look at before answering with `links.next`. */
export const MAX_PARTICIPANTS_SCANNED = 10_000;

interface ControlRouteDeps {
  store: Store;
  notifications: Notifications;
  subscriptions: Subscriptions;
  presence: PresenceTracker;
}

function requiredName(req: Request, name: string): string {
  const value = queryParameter(req, name);
  if (!isValidName(value)) throw new ChattyError('invalid_parameter', `${name} is required and must be a valid id`, { parameter: name });
  return value as string;
}

export function controlRoutes({ store, notifications, subscriptions, presence }: ControlRouteDeps): Router {
  const router = Router();

  router.post('/notify', async (req, res) => {
    const idempotencyKey = req.get('Idempotency-Key');
    const { notification, repeated } = await notifications.notify({
      caller: req.principal!.sub,
      method: queryParameter(req, 'method'),
      add: queryParameter(req, 'add'),
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
    const result = await subscriptions.change(action, queryParameter(req, 'method'), req.body);
    send(res, 200, serialize.channels(result.channels.map((id) => ({ id })), { meta: { users: result.users, changed: result.changed } }));
  };
  router.post('/subscription/subscribe', change('subscribe'));
  router.post('/subscription/unsubscribe', change('unsubscribe'));

  router.get('/search/subscriptions', async (req, res) => {
    const userId = requiredName(req, 'userId');
    const page = parsePage(req);
    const channels = await store.channelsOf(userId, { after: page.after, size: page.size + 1 });
    const { items, links } = pageOf(req, channels, page, (id) => id);
    const labels = await store.labelsOf(items);
    send(res, 200, serialize.labelledChannels(items.map((id) => ({ id, label: labels.get(id) ?? null })), { links }));
  });

  router.get('/search/participants', async (req, res) => {
    const channel = requiredName(req, 'channel');
    const online = queryParameter(req, 'online');
    if (online !== undefined && online !== 'true' && online !== 'false') {
      throw new ChattyError('invalid_parameter', 'online must be true or false', { parameter: 'online' });
    }
    const page = parsePage(req);
    if (online !== 'true') {
      const ids = await store.subscribersOf(channel, { after: page.after, size: page.size + 1 });
      const users = await Promise.all(ids.map(async (id) => ({ id, online: (await presence.connections(id)) > 0 })));
      const { items, links } = pageOf(req, users, page, (user) => user.id);
      return send(res, 200, serialize.participants(items, { links }));
    }
    // online only: read on until the page is full, the channel is exhausted, or a bounded number of
    // subscribers was scanned; links.next then resumes from where the scan stopped
    const found: { id: UserId; online: boolean }[] = [];
    let after = page.after;
    let scanned = 0;
    let exhausted = false;
    for (;;) {
      const batch = await store.subscribersOf(channel, { after, size: MAX_PAGE_SIZE });
      let read = 0;
      for (; read < batch.length && found.length < page.size; read++) {
        after = batch[read]!;
        if ((await presence.connections(after)) > 0) found.push({ id: after, online: true });
      }
      scanned += read;
      if (read === batch.length && batch.length < MAX_PAGE_SIZE) {
        exhausted = true;
        break;
      }
      if (found.length >= page.size || scanned >= MAX_PARTICIPANTS_SCANNED) break;
    }
    const links: Record<string, string> = exhausted || after === undefined ? {} : { next: nextLink(req, after, page.size) };
    send(res, 200, serialize.participants(found, { links }));
  });

  router.get('/search/online', async (req, res) => {
    const page = parsePage(req);
    const users = await presence.online({ after: page.after, size: page.size + 1 });
    const { items, links } = pageOf(req, users.map((u) => ({ id: u.userId, connections: u.connections })), page, (u) => u.id);
    send(res, 200, serialize.online(items, { links }));
  });

  return router;
}
