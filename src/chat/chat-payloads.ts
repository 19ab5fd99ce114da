/**
 * Validation of the client → server chat events (contract §5). Pure: each parser returns the
 * payload typed, or throws `validation_failed` with a message naming the field.
 */
import { z } from 'zod';
import { ChattyError } from '../errors.js';
import { isValidName } from '../channels/names.js';

export const MAX_BODY_CHARACTERS = 4000;
export const MAX_HISTORY_LIMIT = 100;
export const DEFAULT_HISTORY_LIMIT = 50;
/** The most ids one `profiles:get` or `labels:get` may ask for (contract §11). */
export const MAX_IDS = 100;

const name = z.string().refine(isValidName, 'must be 1–200 characters without whitespace or , : [ ]');
// a group channel, or a private conversation's own `dm:<a>:<b>` name as chat:message reports it
const conversationName = z.string().refine((value) => isValidName(value) || /^dm:[^:]+:[^:]+$/.test(value), 'is not a conversation name');
const eventId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** `{channel}` or `{to}`, exactly one of them. */
const addressed = z
  .object({ channel: conversationName.optional(), to: name.optional() })
  .refine((value) => (value.channel === undefined) !== (value.to === undefined), 'give exactly one of channel and to');

const schemas = {
  send: z.intersection(
    addressed,
    z.object({
      body: z.string().min(1, 'body must not be empty').max(MAX_BODY_CHARACTERS, `body must be at most ${MAX_BODY_CHARACTERS} characters`),
      clientId: z.string().max(100).nullish(),
    }),
  ),
  read: z.intersection(addressed, z.object({ messageId: eventId })),
  history: z.intersection(
    addressed,
    z.object({ before: eventId.optional(), limit: z.number().int().min(1).max(MAX_HISTORY_LIMIT).optional() }),
  ),
  typing: addressed,
  presence: addressed,
  unread: z.object({}).optional(),
  refresh: z.object({ token: z.string().min(1).max(8192) }),
  // contract §11: at most 100 ids a request
  profiles: z.object({ ids: z.array(name).min(1, 'ids must name at least one user').max(MAX_IDS, `ids: at most ${MAX_IDS}`) }).strict(),
  labels: z.object({ ids: z.array(name).min(1, 'ids must name at least one channel').max(MAX_IDS, `ids: at most ${MAX_IDS}`) }).strict(),
};

export type ChatPayloads = { [K in keyof typeof schemas]: z.infer<(typeof schemas)[K]> };

/** Parses the payload of a client event, or throws a `validation_failed` ChattyError. */
export function parsePayload<K extends keyof typeof schemas>(kind: K, payload: unknown): ChatPayloads[K] {
  const result = schemas[kind].safeParse(payload);
  if (result.success) return result.data as ChatPayloads[K];
  const issue = result.error.issues[0]!;
  const field = issue.path.join('.');
  throw new ChattyError('validation_failed', field ? `${field}: ${issue.message}` : issue.message);
}
