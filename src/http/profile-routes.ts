/**
 * `/control/users/:id`, `/control/users/:id/profile` and `/control/channels/:id` (contract §11):
 * the app server says who its users are and what its channels are called. Role `service` or
 * `admin`.
 */
import { Router } from 'express';
import { parseLabelBody, parseProfileBody } from '../profiles/profile-rules.js';
import type { Profiles, PublicProfile } from '../profiles/profiles.js';
import { nameParameter, send, serialize } from './jsonapi.js';

/** A users resource with a profile (and, for /auth/me, a role). */
export const profileDocument = (id: string, profile: PublicProfile, role?: string) => serialize.profiles({ id, ...(role !== undefined ? { role } : {}), ...profile });

export function profileRoutes({ profiles }: { profiles: Profiles }): Router {
  const router = Router();

  router.get('/users/:id', async (req, res) => {
    const userId = nameParameter(req, 'user id');
    send(res, 200, profileDocument(userId, await profiles.get(userId)));
  });

  router.put('/users/:id/profile', async (req, res) => {
    const userId = nameParameter(req, 'user id');
    send(res, 200, profileDocument(userId, await profiles.set(userId, parseProfileBody(req.body, userId))));
  });

  router.put('/channels/:id', async (req, res) => {
    const channel = nameParameter(req, 'channel');
    const label = parseLabelBody(req.body, channel);
    await profiles.setLabels([{ channel, label }], 'put');
    send(res, 200, serialize.labelledChannels({ id: channel, label }));
  });

  return router;
}
