/**
 * What a profile and a label may hold (contract §11), and the labels a subscribe document gives.
 * Pure: parsers return the change, or throw `validation_failed` with a pointer.
 */
import { ChattyError } from '../errors.js';
import type { ProfileChange } from '../store/store.js';

export const MAX_NAME_CHARACTERS = 100;
export const MAX_LABEL_CHARACTERS = 200;
export const MAX_AVATAR_CHARACTERS = 2048;

/** Control (Cc) and format (Cf) characters: invisible, or able to reorder the text around them. */
const HIDDEN = /[\p{Cc}\p{Cf}]/u;

const invalid = (detail: string, pointer: string) => new ChattyError('validation_failed', detail, { pointer });

/** A display text of 1–`max` characters (code points) with no control or format character. */
function displayText(value: unknown, max: number, what: string, pointer: string): string {
  if (typeof value !== 'string') throw invalid(`${what} must be a string`, pointer);
  const length = [...value].length;
  if (length < 1 || length > max) throw invalid(`${what} must be 1–${max} characters`, pointer);
  if (HIDDEN.test(value)) throw invalid(`${what} must not hold control or format characters`, pointer);
  return value;
}

/** An avatar: an https:// URL of at most 2,048 characters, or null. */
function avatarOf(value: unknown, pointer: string): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' || value.length > MAX_AVATAR_CHARACTERS) throw invalid(`avatar must be an https:// URL of at most ${MAX_AVATAR_CHARACTERS} characters, or null`, pointer);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('avatar must be an https:// URL', pointer);
  }
  if (url.protocol !== 'https:' || HIDDEN.test(value) || /\s/.test(value)) throw invalid('avatar must be an https:// URL', pointer);
  return value;
}

/** The `data` of `{data:{type, id?, attributes}}`, checked: its type, and its id when given. */
function resourceOf(body: unknown, type: string, id: string): Record<string, unknown> {
  const data = typeof body === 'object' && body !== null ? (body as { data?: unknown }).data : undefined;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ChattyError('invalid_body', `The body must be {data:{type:"${type}", id, attributes}}`, { pointer: '/data' });
  const resource = data as { type?: unknown; id?: unknown; attributes?: unknown };
  if (resource.type !== type) throw invalid(`data.type must be "${type}"`, '/data/type');
  if (resource.id !== undefined && resource.id !== id) throw invalid('data.id must be the id in the URL', '/data/id');
  const attributes = resource.attributes;
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) throw invalid('data.attributes must be an object', '/data/attributes');
  return attributes as Record<string, unknown>;
}

/** `{data:{type:"users", id, attributes:{name?, avatar?}}}` → the change it names. */
export function parseProfileBody(body: unknown, userId: string): ProfileChange {
  const attributes = resourceOf(body, 'users', userId);
  const change: { name?: string; avatar?: string | null } = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'name') change.name = displayText(value, MAX_NAME_CHARACTERS, 'name', '/data/attributes/name');
    else if (key === 'avatar') change.avatar = avatarOf(value, '/data/attributes/avatar');
    else throw invalid(`Unknown attribute "${key.slice(0, 50)}": a profile has name and avatar`, '/data/attributes');
  }
  if (Object.keys(change).length === 0) throw invalid('Give name, avatar or both', '/data/attributes');
  return change;
}

/** `{data:{type:"channels", id, attributes:{label}}}` → the label. */
export function parseLabelBody(body: unknown, channel: string): string {
  const attributes = resourceOf(body, 'channels', channel);
  for (const key of Object.keys(attributes)) if (key !== 'label') throw invalid(`Unknown attribute "${key.slice(0, 50)}": a channel has a label`, '/data/attributes');
  return displayText(attributes.label, MAX_LABEL_CHARACTERS, 'label', '/data/attributes/label');
}

/**
 * The labels a subscribe document gives (contract §11): for each resource of `data` and
 * `included`, its `attributes.title` or else `attributes.name`, when a string, cut to 200
 * characters, control and format characters dropped; the later resource wins for one channel.
 * The document has been validated by channelsOfDocument.
 */
export function labelsOfDocument(document: unknown): Map<string, string> {
  const labels = new Map<string, string>();
  const { data, included } = document as { data?: unknown; included?: unknown };
  const resources = [...(Array.isArray(data) ? data : data ? [data] : []), ...(Array.isArray(included) ? included : [])];
  for (const resource of resources as { type: string; id: string; attributes?: Record<string, unknown> }[]) {
    const attributes = resource.attributes;
    if (typeof attributes !== 'object' || attributes === null) continue;
    const raw = typeof attributes.title === 'string' ? attributes.title : typeof attributes.name === 'string' ? attributes.name : undefined;
    const label = raw === undefined ? '' : [...raw.replace(/[\p{Cc}\p{Cf}]/gu, '')].slice(0, MAX_LABEL_CHARACTERS).join('').trim();
    if (label !== '') labels.set(`${resource.type}-${resource.id}`, label);
  }
  return labels;
}
