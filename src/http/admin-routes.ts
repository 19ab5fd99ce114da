/**
 * Admin-only routes under `/control` for the operator console (and any script an operator
 * writes): what the console shows comes from here, never from anything the console alone can do.
 * Mounted after the app server's routes; each route asks for the `admin` role itself, so a
 * `service` token gets `403` here and an unknown path stays a `404`.
 */
import { Router, type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import { accountUserId, type AccountUpdate, type Accounts } from '../auth/accounts.js';
import type { AccountStates } from '../auth/account-states.js';
import { passwordSchema } from '../auth/credentials.js';
import { ROLES, type Role } from '../auth/tokens.js';
import { audit, type Logger } from '../logger.js';
import type { SigningKeys } from '../auth/signing-keys.js';
import { isValidName } from '../channels/names.js';
import { ChattyError } from '../errors.js';
import type { LiveSockets } from '../realtime/live-sockets.js';
import type { Metrics } from '../metrics.js';
import type { Profiles } from '../profiles/profiles.js';
import type { Account, Store } from '../store/store.js';
import { pageOf, parsePage, queryParameter, send, serialize } from './jsonapi.js';

const accountUpdateSchema = z
  .object({
    data: z
      .object({
        type: z.literal('accounts'),
        id: z.string().optional(),
        attributes: z
          .object({ role: z.enum(ROLES as [Role, ...Role[]]).optional(), disabled: z.boolean().optional(), password: passwordSchema.optional() })
          .strict()
          .refine((attributes) => Object.keys(attributes).length > 0, 'give role, disabled or password'),
      })
      .strict(),
  })
  .strict();

/** `{data:{type:"accounts", id?, attributes:{role?, disabled?, password?}}}`, with pointers to what is wrong. */
export function parseAccountUpdate(body: unknown, username: string): AccountUpdate {
  const parsed = accountUpdateSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ChattyError('validation_failed', issue.message, { pointer: `/${issue.path.join('/')}` });
  }
  const { id, attributes } = parsed.data.data;
  if (id !== undefined && id.toLowerCase() !== username.toLowerCase()) throw new ChattyError('validation_failed', 'data.id must be the account in the URL', { pointer: '/data/id' });
  return attributes;
}

interface AdminRouteDeps {
  keys: SigningKeys;
  profiles: Profiles;
  accounts: Accounts;
  accountStates: AccountStates;
  metrics: Metrics;
  /** NODE_ID: the node whose figures /stats gives. */
  nodeId: string;
  store: Store;
  live: LiveSockets;
  logger: Logger;
  /** The `admin` role check of the app's authentication. */
  requireAdmin: RequestHandler;
}

const iso = (time: number | null) => (time === null ? null : new Date(time).toISOString());

/** An optional query parameter that must be a valid name (contract §1) when given. */
function optionalName(req: Request, name: string): string | undefined {
  const value = queryParameter(req, name);
  if (value === undefined || value === '') return undefined;
  if (!isValidName(value)) throw new ChattyError('invalid_parameter', `${name} must be a valid id`, { parameter: name });
  return value;
}

export function adminRoutes({ keys, profiles, accounts, accountStates, metrics, nodeId, store, live, logger, requireAdmin }: AdminRouteDeps): Router {
  const router = Router();

  router.get('/keys', requireAdmin, (_req, res) => {
    const ring = keys.describe().map((key) => ({ id: key.id, createdAt: iso(key.createdAt), expiresAt: iso(key.expiresAt), current: key.current }));
    send(res, 200, serialize.keyRing(ring));
  });

  router.get('/sockets', requireAdmin, async (req, res) => {
    const userId = optionalName(req, 'userId');
    const page = parsePage(req);
    const { sockets, complete } = await live.sockets({ ...(userId !== undefined ? { userId } : {}), ...(page.after !== undefined ? { after: page.after } : {}), limit: page.size + 1 });
    const { items, links } = pageOf(req, sockets, page, (socket) => socket.id);
    // contract §11: people by name, here too
    const names = await profiles.many([...new Set(items.map((socket) => socket.userId))]);
    const data = items.map((socket) => ({ ...socket, name: names[socket.userId]!.name, connectedAt: iso(socket.connectedAt), tokenExpiresAt: iso(socket.tokenExpiresAt) }));
    send(res, 200, serialize.sockets(data, { links, meta: { complete } }));
  });

  router.delete('/sockets/:id', requireAdmin, async (req, res) => {
    const { found, complete } = await live.disconnect(String(req.params.id));
    if (found) audit(logger, 'socket_disconnected', { by: req.principal!.sub, socketId: String(req.params.id) }, 'socket disconnected by an operator');
    if (!found) {
      throw new ChattyError('not_found', complete ? 'No socket with this id is connected' : 'No node that answered has a socket with this id (some nodes did not answer)');
    }
    res.status(204).end();
  });

  router.get('/channels', requireAdmin, async (req, res) => {
    const prefix = queryParameter(req, 'prefix') ?? '';
    if (prefix.length > 200 || /[\s\u0000-\u001f\u007f,:[\]]/u.test(prefix)) {
      throw new ChattyError('invalid_parameter', 'prefix must be the start of a channel name', { parameter: 'prefix' });
    }
    const page = parsePage(req);
    const counts = await store.listChannels({ prefix, ...(page.after !== undefined ? { after: page.after } : {}), size: page.size + 1 });
    const { items, links } = pageOf(req, counts, page, (count) => count.channel);
    const [{ online, complete }, labels] = await Promise.all([live.onlineIn(items.map((count) => count.channel)), store.labelsOf(items.map((count) => count.channel))]);
    const data = items.map(({ channel, subscribers }) => ({ id: channel, label: labels.get(channel) ?? null, subscribers, online: online.get(channel) ?? 0 }));
    send(res, 200, serialize.channelCounts(data, { links, meta: { complete } }));
  });

  const accountResource = (account: Account) => ({
    id: account.username,
    userId: accountUserId(account.username),
    role: account.role,
    disabled: account.disabled ?? false,
    bootstrap: accounts.isBootstrapAdmin(account.username),
    createdAt: iso(account.createdAt),
  });

  router.get('/accounts', requireAdmin, async (req, res) => {
    const page = parsePage(req);
    const found = await store.listAccounts({ ...(page.after !== undefined ? { after: page.after } : {}), size: page.size + 1 });
    const { items, links } = pageOf(req, found, page, (account) => account.username);
    send(res, 200, serialize.accounts(items.map(accountResource), { links }));
  });

  router.patch('/accounts/:username', requireAdmin, async (req, res) => {
    const username = String(req.params.username);
    const update = parseAccountUpdate(req.body, username);
    const changed = await accounts.update(username, update, req.principal!.sub);
    // this node refuses the account's older tokens and drops its sockets now; on many nodes the
    // others do when the change reaches their tail of the log
    await accountStates.reload();
    audit(
      logger,
      'account_changed',
      { by: req.principal!.sub, username: changed.username, ...(update.role !== undefined ? { role: update.role } : {}), ...(update.disabled !== undefined ? { disabled: update.disabled } : {}), ...(update.password !== undefined ? { password: true } : {}) },
      'account changed by an operator',
    );
    send(res, 200, serialize.accounts(accountResource(changed)));
  });

  router.get('/stats', requireAdmin, async (_req, res) => {
    send(res, 200, { meta: { node: nodeId, time: new Date().toISOString(), ...(await metrics.snapshot()) } });
  });

  return router;
}
