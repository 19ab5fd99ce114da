/**
 * Channels of a JSON:API document (contract §4.3): `<type>-<id>` of every resource in `data`, of
 * every identifier in those resources' relationships, and of every resource in `included`.
 */
import { ChattyError } from '../errors.js';
import { isValidName, type ChannelName } from './names.js';

type Json = unknown;

const isObject = (value: Json): value is Record<string, Json> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const invalid = (detail: string, pointer: string) => new ChattyError('validation_failed', detail, { pointer });

/**
 * Derives the channels named by a JSON:API document, deduplicated, in order of first appearance.
 * Throws `validation_failed` with `source.pointer` at the first bad resource, or when the document
 * yields no channel.
 *
 * @example channelsOfDocument({ data: { type: 'posts', id: '12',
 *   relationships: { author: { data: { type: 'users', id: '3' } } } } })
 *   // → ['posts-12', 'users-3']
 */
export function channelsOfDocument(document: Json): ChannelName[] {
  if (!isObject(document)) throw invalid('The body must be a JSON:API document (an object)', '');
  const channels = new Set<ChannelName>();
  const add = (resource: Json, pointer: string) => channels.add(channelOf(resource, pointer));

  const { data, included } = document;
  const primary: [Json, string][] =
    data === undefined || data === null ? [] : Array.isArray(data) ? data.map((r, i) => [r, `/data/${i}`]) : [[data, '/data']];
  for (const [resource, pointer] of primary) {
    add(resource, pointer);
    const relationships = (resource as Record<string, Json>).relationships;
    if (relationships === undefined) continue;
    if (!isObject(relationships)) throw invalid('relationships must be an object', `${pointer}/relationships`);
    for (const [name, relationship] of Object.entries(relationships)) {
      const at = `${pointer}/relationships/${escapePointer(name)}`;
      if (!isObject(relationship)) throw invalid('A relationship must be an object', at);
      const linkage = relationship.data;
      if (linkage === undefined || linkage === null) continue;
      if (Array.isArray(linkage)) linkage.forEach((identifier, i) => add(identifier, `${at}/data/${i}`));
      else add(linkage, `${at}/data`);
    }
  }
  if (included !== undefined) {
    if (!Array.isArray(included)) throw invalid('included must be an array', '/included');
    included.forEach((resource, i) => add(resource, `/included/${i}`));
  }
  if (channels.size === 0) throw invalid('The document names no resource, so no channel', '/data');
  return [...channels];
}

function channelOf(resource: Json, pointer: string): ChannelName {
  if (!isObject(resource)) throw invalid('A resource must be an object with string type and id', pointer);
  if (typeof resource.type !== 'string' || resource.type === '') throw invalid('type must be a non-empty string', `${pointer}/type`);
  if (typeof resource.id !== 'string' || resource.id === '') throw invalid('id must be a non-empty string', `${pointer}/id`);
  const channel = `${resource.type}-${resource.id}`;
  if (!isValidName(channel)) throw invalid(`"${channel.slice(0, 60)}" is not a valid channel name`, pointer);
  return channel;
}

const escapePointer = (token: string) => token.replace(/~/g, '~0').replace(/\//g, '~1');
