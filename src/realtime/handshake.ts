/**
 * The handshake (contract §5): a token from `auth.token`, an `Authorization: Bearer` header or the
 * `jwt` cookie, verified like any HTTP token; a refused handshake is a `connect_error` whose
 * `data.code` comes from the error registry.
 */
import type http from 'node:http';
import { ERRORS, type ErrorCode } from '../errors.js';
import type { EventId } from '../store/store.js';
import type { SigningKeys } from '../signing-keys.js';
import { bearerToken, cookieToken } from '../token-sources.js';
import type { ChattySocket } from './types.js';

type Handshake = { auth: Record<string, unknown>; headers: http.IncomingHttpHeaders };

/** Finds the handshake's token: `auth.token`, then `Authorization: Bearer`, then the `jwt` cookie. */
export function handshakeToken(handshake: Handshake): string | undefined {
  if (typeof handshake.auth?.token === 'string' && handshake.auth.token !== '') return handshake.auth.token;
  return bearerToken(handshake.headers.authorization) ?? cookieToken(handshake.headers.cookie);
}

/**
 * `auth.lastEventId`: undefined when absent, null when malformed, else a non-negative integer
 * (given as a number or as digits).
 */
export function handshakeLastEventId(handshake: Handshake): EventId | undefined | null {
  const value = handshake.auth?.lastEventId;
  if (value === undefined || value === null || value === '') return undefined;
  const id = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : null;
}

/**
 * Whether a handshake may proceed, judged by its Origin: browsers send one, and only pages of this
 * server or of CORS_ORIGINS may open sockets. The WebSocket upgrade is not covered by Socket.IO's
 * CORS option, and a socket can authenticate with the login cookie, so without this check any
 * same-site page could act as the logged-in user. Clients that send no Origin are not browsers.
 */
export function originAllowed(request: http.IncomingMessage, corsOrigins: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined || corsOrigins.includes(origin)) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

function connectError(code: ErrorCode, message: string = ERRORS[code].title): Error {
  return Object.assign(new Error(message), { data: { code } });
}

/** The Socket.IO middleware that admits only handshakes with a valid token. */
export function authenticateHandshake(keys: SigningKeys) {
  return (socket: ChattySocket, next: (error?: Error) => void): void => {
    const result = keys.verify(handshakeToken(socket.handshake));
    if (!result.ok) return next(connectError(result.code));
    const lastEventId = handshakeLastEventId(socket.handshake);
    if (lastEventId === null) return next(connectError('invalid_parameter', 'lastEventId must be a non-negative integer'));
    socket.data.principal = result.principal;
    socket.data.lastEventId = lastEventId;
    socket.data.present = false;
    next();
  };
}
