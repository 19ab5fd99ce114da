/**
 * The log's rows as both stores read them: the same columns (the events table joined with the
 * messages table), turned into events the same way.
 */
import type { NotifyMode } from '../channels/method-query.js';
import type { AddFlag, ChatMessage, ClusterChange, LogEntry, LoggedEvent, NewChatMessage, StoredEvent } from './store.js';

export interface EventRow {
  [column: string]: unknown;
  id: number;
  kind: 'notify' | 'chat' | 'change';
  created_at: number;
  event: string | null;
  attributes: string | null;
  mode: string | null;
  targets: string | null;
  add_flags: string | null;
  idempotency_key: string | null;
  channel: string | null;
  sender: string | null;
  body: string | null;
  client_id: string | null;
}

export interface MessageRow {
  [column: string]: unknown;
  id: number;
  channel: string;
  sender: string;
  body: string;
  client_id: string | null;
  created_at: number;
  deleted_at: number | null;
}

/** The messages table's columns as MessageRow reads them. */
export const MESSAGE_COLUMNS = 'id, channel, sender, body, client_id, created_at, deleted_at';

export const EVENT_COLUMNS = `e.id, e.kind, e.created_at, e.event, e.attributes, e.mode, e.targets, e.add_flags, e.idempotency_key,
  m.channel, m.sender, m.body, m.client_id`;

/** A chat message's offline members as its row's attributes hold them; null when none were recorded. */
export function offlineJson(message: NewChatMessage): string | null {
  if (!message.offline) return null;
  return JSON.stringify(message.offlineTruncated ? { offline: message.offline, truncated: true } : { offline: message.offline });
}

/** A row as an array of cells in EVENT_COLUMNS order. */
export type EventCells = readonly [
  id: number,
  kind: EventRow['kind'],
  createdAt: number,
  event: string | null,
  attributes: string | null,
  mode: string | null,
  targets: string | null,
  addFlags: string | null,
  idempotencyKey: string | null,
  channel: string | null,
  sender: string | null,
  body: string | null,
  clientId: string | null,
];

export function cellsOfRow(r: EventRow): EventCells {
  return [r.id, r.kind, r.created_at, r.event, r.attributes, r.mode, r.targets, r.add_flags, r.idempotency_key, r.channel, r.sender, r.body, r.client_id];
}

/**
 * A row as stored: a notification's attributes stay JSON text. Takes cells, which better-sqlite3
 * reads (in raw mode) for a third less than an object with named columns.
 */
export function storedEventOf(c: EventCells): StoredEvent {
  const [id, kind, createdAt, event, attributes, mode, targets, addFlags, idempotencyKey, channel, sender, body, clientId] = c;
  if (kind === 'chat') {
    const message = { kind: 'chat' as const, id, channel: channel!, from: sender!, body: body!, clientId, createdAt };
    // a chat entry's attributes hold the members offline when it was accepted, if a webhook asked
    if (attributes === null) return message;
    const { offline, truncated } = JSON.parse(attributes) as { offline: string[]; truncated?: boolean };
    return { ...message, offline, ...(truncated ? { offlineTruncated: true } : {}) };
  }
  return {
    kind: 'notify',
    id,
    createdAt,
    event: event!,
    attributesJson: attributes!,
    target: { mode: mode as NotifyMode, names: JSON.parse(targets!) },
    add: addFlags ? (addFlags.split(',') as AddFlag[]) : [],
    ...(idempotencyKey !== null ? { idempotencyKey } : {}),
  };
}

/** An entry of the shared log: an event, or a change logged by a node of the cluster. */
export function entryOfRow(row: EventRow): LogEntry {
  if (row.kind === 'change') return { kind: 'change', id: row.id, change: JSON.parse(row.attributes!) as ClusterChange, createdAt: row.created_at };
  return eventOfRow(row);
}

export function eventOfRow(row: EventRow): LoggedEvent {
  const stored = storedEventOf(cellsOfRow(row));
  if (stored.kind === 'chat') return stored;
  const { attributesJson, ...rest } = stored;
  return { ...rest, attributes: JSON.parse(attributesJson) };
}

export function messageOfRow(row: MessageRow): ChatMessage {
  const message: ChatMessage = { kind: 'chat', id: Number(row.id), channel: row.channel, from: row.sender, body: row.body, clientId: row.client_id, createdAt: Number(row.created_at) };
  return row.deleted_at === null || row.deleted_at === undefined ? message : { ...message, deletedAt: Number(row.deleted_at) };
}
