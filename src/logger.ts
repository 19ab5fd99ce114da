/**
 * Structured logging with pino. Redaction is the last line of defence: no code logs a body,
 * a token or a secret, and these paths are censored should one slip into a log object anyway.
 */
import { pino, type Logger } from 'pino';
import type { LogLevel } from '../config.js';

export type { Logger };

export const REDACTED_PATHS = [
  'password',
  'secret',
  'token',
  '*.password',
  '*.secret',
  '*.token',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { app: 'chatty' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, destination);
}

/**
 * What an audit line records. Every audit line carries `audit: <event>`, a stable field that
 * operators filter and alert on, and is written at `warn` so that it survives `LOG_LEVEL=warn`.
 *
 * - `login_failed`: `{username?, address, reason}`; `username` only when it has a username's
 *   shape (3–64 safe characters): anything else may be a password typed in the wrong field.
 * - `rate_limited`: `{limit, address, username?}`: which limit refused the request.
 * - `key_rotated`: `{by: {sub, role, keyId}, address, keyId, graceSeconds, retired}`.
 */
export type AuditEvent = 'login_failed' | 'rate_limited' | 'key_rotated' | 'account_changed' | 'socket_disconnected' | 'webhook_changed';

/** Writes one audit line. `fields` must never hold a password, secret or token. */
export function audit(logger: Logger, event: AuditEvent, fields: Record<string, unknown>, message: string): void {
  logger.warn({ audit: event, ...fields }, message);
}
