/** The webhooks table's rows as both stores read them (contract §10). */
import type { WebhookEndpoint, WebhookEventType } from './store.js';

export const WEBHOOK_COLUMNS =
  'id, url, events, channels, disabled, secret, previous_secret, previous_secret_until, created_at, cursor, failing_since, last_error, last_error_at';

export interface WebhookRow {
  [column: string]: unknown;
  id: string;
  url: string;
  events: string;
  channels: string | null;
  disabled: number | boolean;
  secret: string;
  previous_secret: string | null;
  previous_secret_until: number | string | null;
  created_at: number | string;
  cursor: number | string;
  failing_since: number | string | null;
  last_error: string | null;
  last_error_at: number | string | null;
}

const numberOrNull = (value: number | string | null): number | null => (value === null ? null : Number(value));

/** A row of either store (SQLite's 0/1 or PostgreSQL's boolean, PostgreSQL's bigint as text). */
export function webhookOfRow(row: WebhookRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as WebhookEventType[],
    channels: row.channels === null ? null : (JSON.parse(row.channels) as string[]),
    disabled: Boolean(row.disabled),
    secret: row.secret,
    previousSecret: row.previous_secret,
    previousSecretUntil: numberOrNull(row.previous_secret_until),
    createdAt: Number(row.created_at),
    cursor: Number(row.cursor),
    failingSince: numberOrNull(row.failing_since),
    lastError: row.last_error,
    lastErrorAt: numberOrNull(row.last_error_at),
  };
}
