/**
 * The PostgreSQL connection seam: the pool a `DATABASE_URL` describes, the one place that decides
 * which driver failures mean "the database is unreachable" (`unavailable`, 503), and the text
 * codec that lets strings PostgreSQL cannot hold (NUL) round-trip.
 */
import pg from 'pg';
import { ChattyError } from '../errors.js';
import { StartupError } from '../auth/signing-keys.js';

/** Connections per node when the URL does not say (`?pool_size=`). */
export const DEFAULT_POOL_SIZE = 10;
const MAX_POOL_SIZE = 1000;
/** How long a query waits for a connection (a new one, or a free one) before `unavailable`. */
const CONNECT_TIMEOUT_MS = 5_000;
const IDLE_TIMEOUT_MS = 30_000;
/** TCP keepalive, so a connection whose peer vanished without a FIN is noticed and replaced. */
const KEEPALIVE_DELAY_MS = 10_000;

const INT8_OID = 20;

/**
 * Pool options from a `postgres://` or `postgresql://` URL. Everything but `pool_size` is the
 * driver's own (host, port, user, password, database, `sslmode`, `application_name`, ...).
 *
 * @example poolOptions('postgres://chatty@db:5432/chatty?pool_size=20') // { max: 20, ... }
 */
export function poolOptions(databaseUrl: string): pg.PoolConfig {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new StartupError('Invalid configuration: DATABASE_URL: not a valid postgres:// URL');
  }
  const size = url.searchParams.get('pool_size');
  url.searchParams.delete('pool_size');
  let max = DEFAULT_POOL_SIZE;
  if (size !== null) {
    max = Number(size);
    if (!/^\d+$/.test(size) || max < 1 || max > MAX_POOL_SIZE) {
      throw new StartupError(`Invalid configuration: DATABASE_URL: pool_size must be an integer from 1 to ${MAX_POOL_SIZE}`);
    }
  }
  if (!url.searchParams.has('application_name')) url.searchParams.set('application_name', 'chatty');
  return {
    connectionString: url.toString(),
    max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    // bigint columns (ids, times in ms) fit a JS number; only this pool parses them so
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  };
}

/**
 * SQLSTATE classes that mean the server cannot serve now, as opposed to a bad statement:
 * connection exceptions (08), insufficient resources (53: too many connections, disk full),
 * operator intervention (57P01–57P05: shutdown, crash, "starting up"), system errors (58).
 */
const UNAVAILABLE_STATES = /^(08|53|58|57P0)/;

/**
 * Whether `error` says the database is unreachable rather than that a statement was wrong.
 * Errors the server sent carry a SQLSTATE; every other error the driver or the pool raises
 * (refused, reset, "Connection terminated", a connect timeout, a pool being closed) is about the
 * connection itself.
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof pg.DatabaseError) return UNAVAILABLE_STATES.test(error.code ?? '');
  return true;
}

/** Rethrows a connection failure as `unavailable`, anything else as it is. */
export function unavailableIfDisconnected(error: unknown): never {
  if (isConnectionError(error)) throw new ChattyError('unavailable', 'The database is unreachable');
  throw error;
}

// PostgreSQL text cannot hold U+0000, which chat bodies, client ids and (by construction, as the
// separator of their scope) idempotency keys may contain. Strings are stored as they are unless
// they contain NUL or the escape character U+FFFF, which both become two characters.
const ESCAPE = '\uFFFF';
const NEEDS_ESCAPE = /[\u0000\uFFFF]/g;
const ESCAPED = /\uFFFF([01])/g;

export function encodeText(text: string): string {
  return text.replace(NEEDS_ESCAPE, (c) => (c === '\u0000' ? `${ESCAPE}0` : `${ESCAPE}1`));
}

export function decodeText(text: string): string {
  return text.includes(ESCAPE) ? text.replace(ESCAPED, (_, code: string) => (code === '0' ? '\u0000' : ESCAPE)) : text;
}

/** A query parameter as stored: strings (alone or in arrays) encoded, the rest as given. */
export function encodeParam(value: unknown): unknown {
  if (typeof value === 'string') return encodeText(value);
  if (Array.isArray(value)) return value.map(encodeParam);
  return value;
}

/** Decodes every string column of a row in place. */
export function decodeRow<R extends Record<string, unknown>>(row: R): R {
  for (const key of Object.keys(row)) {
    const value = row[key];
    if (typeof value === 'string' && value.includes(ESCAPE)) (row as Record<string, unknown>)[key] = decodeText(value);
  }
  return row;
}
