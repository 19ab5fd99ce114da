/**
 * The `method` query parameter (contract §4.1): `<mode>:<list>`, the list comma-separated
 * (`channels:a,b`) or bracketed (`channels:[a, b]`).
 */
import { ChattyError } from '../errors.js';
import { isValidName, type ChannelName, type UserId } from './names.js';

export type NotifyMode = 'channels' | 'channels-efficient' | 'users';
export type SubscriptionMode = 'channels' | 'users';

export type MethodQuery<M extends string = NotifyMode> = { mode: M; names: (ChannelName | UserId)[] };

export const MAX_METHOD_NAMES = 1000;

const invalid = (detail: string) => new ChattyError('invalid_parameter', detail, { parameter: 'method' });

/**
 * Parses a `method` value, accepting only `allowedModes`. Names are deduplicated in order of first
 * appearance. Throws `invalid_parameter` with `source.parameter = "method"`.
 *
 * @example parseMethod('channels:[posts-1, teams-3]', ['channels', 'users'])
 *   // → { mode: 'channels', names: ['posts-1', 'teams-3'] }
 */
export function parseMethod<M extends string>(raw: unknown, allowedModes: readonly M[]): MethodQuery<M> {
  if (typeof raw !== 'string' || raw === '') throw invalid('The method parameter is required, as <mode>:<list>');
  const colon = raw.indexOf(':');
  if (colon < 0) throw invalid('The method parameter must be <mode>:<list>');
  const mode = raw.slice(0, colon);
  if (!(allowedModes as readonly string[]).includes(mode)) {
    throw invalid(`Unknown mode "${mode.slice(0, 50)}"; expected one of ${allowedModes.join(', ')}`);
  }
  let list = raw.slice(colon + 1).trim();
  if (list.startsWith('[') || list.endsWith(']')) {
    if (!(list.startsWith('[') && list.endsWith(']'))) throw invalid('Unbalanced brackets in the method list');
    list = list.slice(1, -1);
  }
  const items = list.split(',').map((item) => item.trim());
  if (items.length === 1 && items[0] === '') throw invalid('The method list is empty');
  if (items.length > MAX_METHOD_NAMES) throw invalid(`The method list has more than ${MAX_METHOD_NAMES} names`);
  for (const item of items) {
    if (!isValidName(item)) throw invalid(`Invalid name "${item.slice(0, 50)}" in the method list`);
  }
  return { mode: mode as M, names: [...new Set(items)] };
}
