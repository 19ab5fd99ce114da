/**
 * `/control/conversations/*` and `/control/users/:id/unread` (issue 33): chat for app servers and
 * operators, role `service` or `admin`. Routes translate; ServerChat decides.
 */
import { Router, type Request } from 'express';
import { MAX_HISTORY_LIMIT, DEFAULT_HISTORY_LIMIT } from '../chat/chat-payloads.js';
import { conversationOf, parsePostedMessage, type ServerChat } from '../chat/server-chat.js';
import type { ChatMessagePayload } from '../channels/delivery-plan.js';
import { ChattyError } from '../errors.js';
import { nameParameter, queryParameter, send, serialize } from './jsonapi.js';

/** An optional positive integer query parameter, at most `max`. */
function integerParameter(req: Request, name: string, max: number): number | undefined {
  const raw = queryParameter(req, name);
  if (raw === undefined) return undefined;
  if (!/^\d{1,16}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw new ChattyError('invalid_parameter', `${name} must be an integer from 1 to ${max}`, { parameter: name });
  return Number(raw);
}

/** The most messages one export holds (the newest); `meta.truncated` says when older ones were left out. */
export const EXPORT_LIMIT = 100_000;

export const messageResource = (message: ChatMessagePayload) => ({ ...message, id: String(message.id) });

export function conversationRoutes({ chat }: { chat: ServerChat }): Router {
  const router = Router();

  router.get('/conversations/:channel/messages', async (req, res) => {
    const channel = conversationOf(String(req.params.channel));
    const before = integerParameter(req, 'before', Number.MAX_SAFE_INTEGER);
    const limit = integerParameter(req, 'limit', MAX_HISTORY_LIMIT) ?? DEFAULT_HISTORY_LIMIT;
    const { messages, receipts } = await chat.history(channel, before, limit);
    send(res, 200, serialize.messages(messages.map(messageResource), { meta: { channel, receipts } }));
  });

  router.post('/conversations/:channel/messages', async (req, res) => {
    const channel = conversationOf(String(req.params.channel));
    const message = await chat.post(channel, parsePostedMessage(req.body));
    send(res, 201, serialize.messages(messageResource(message)));
  });

  router.delete('/conversations/:channel/messages/:id', async (req, res) => {
    const channel = conversationOf(String(req.params.channel));
    const id = String(req.params.id);
    if (!/^\d{1,16}$/.test(id) || !Number.isSafeInteger(Number(id))) throw new ChattyError('not_found', `There is no message ${id.slice(0, 20)} in "${channel}"`);
    const message = await chat.delete(channel, Number(id));
    send(res, 200, serialize.messages(messageResource(message)));
  });

  router.get('/conversations/:channel/export', async (req, res) => {
    const channel = conversationOf(String(req.params.channel));
    const [{ messages, truncated }, receipts] = await Promise.all([chat.export(channel, EXPORT_LIMIT), chat.receipts(channel)]);
    res.setHeader('Content-Disposition', `attachment; filename="${channel.replace(/[^A-Za-z0-9_.-]/g, '_')}.json"`);
    send(res, 200, serialize.messages(messages.map(messageResource), { meta: { channel, exportedAt: new Date().toISOString(), count: messages.length, truncated, receipts } }));
  });

  router.get('/conversations/:channel/read-positions', async (req, res) => {
    const channel = conversationOf(String(req.params.channel));
    const positions = await chat.readPositions(channel);
    send(res, 200, serialize.readPositions(positions.map((p) => ({ id: p.userId, messageId: p.messageId, readAt: new Date(p.readAt).toISOString() }))));
  });

  router.get('/users/:id/unread', async (req, res) => {
    const userId = nameParameter(req, 'user id');
    send(res, 200, { meta: { userId, unread: await chat.unread(userId) } });
  });

  return router;
}
