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
