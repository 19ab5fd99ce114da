/**
 * The handshake (contract §5): a token from `auth.token`, an `Authorization: Bearer` header or the
 * `jwt` cookie, verified like any HTTP token; a refused handshake is a `connect_error` whose
 * `data.code` comes from the error registry.
 */
import type http from 'node:http';
import { compile, type TrustFunction } from 'proxy-addr';
import type { TrustProxy } from '../../config.js';
import { ERRORS, type ErrorCode } from '../errors.js';
import type { EventId } from '../store/store.js';
import type { SigningKeys } from '../auth/signing-keys.js';
import { bearerToken, cookieToken } from '../auth/token-sources.js';
import type { Logger } from '../logger.js';
import type { ChattySocket } from './types.js';
import type { UserSockets } from './user-sockets.js';

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
 * TRUST_PROXY as a function of (address, hop), with the semantics of Express's `trust proxy`
 * (which the HTTP side uses): false trusts nobody, a number trusts that many hops, a string lists
 * addresses, CIDR ranges and the names `loopback`, `linklocal`, `uniquelocal`.
 */
export function compileTrust(trustProxy: TrustProxy): TrustFunction {
  if (trustProxy === false) return () => false;
  if (typeof trustProxy === 'number') return (_addr, hop) => hop < trustProxy;
  const list = trustProxy.split(',').map((part) => part.trim()).filter((part) => part !== '');
  return list.length === 0 ? () => false : compile(list);
}

/** The first value of a proxy header (proxies append, so the first is the one facing the client). */
function firstValue(header: string | string[] | undefined): string | undefined {
  const text = Array.isArray(header) ? header[0] : header;
  const first = text?.split(',')[0]?.trim();
  return first === '' ? undefined : first;
}

/**
 * Whether a handshake may proceed, judged by its Origin: browsers send one, and only pages of this
 * server or of CORS_ORIGINS may open sockets. The WebSocket upgrade is not covered by Socket.IO's
 * CORS option, and a socket can authenticate with the login cookie, so without this check any
 * same-site page could act as the logged-in user. Clients that send no Origin are not browsers.
 *
 * "This server" is the `Host` the request names, or, when the request comes from a trusted proxy
 * (`trust`, compiled from TRUST_PROXY), the `X-Forwarded-Host` and `X-Forwarded-Proto` it passes
 * on: a proxy that rewrites `Host` would otherwise make every page of the site foreign. Forwarded
 * headers from anyone else are ignored, since a client can send them itself.
 */
export function originAllowed(request: http.IncomingMessage, corsOrigins: readonly string[], trust: TrustFunction = () => false): boolean {
  const origin = request.headers.origin;
  if (origin === undefined || corsOrigins.includes(origin)) return true;
  let page: URL;
  try {
    page = new URL(origin);
  } catch {
    return false;
  }
  const viaProxy = trust(request.socket.remoteAddress ?? '', 0);
  const host = (viaProxy ? firstValue(request.headers['x-forwarded-host']) : undefined) ?? request.headers.host;
  const proto = viaProxy ? firstValue(request.headers['x-forwarded-proto']) : undefined;
  if (host === undefined) return false;
  if (proto === undefined) return page.host === host;
  try {
    // as origins, so that default ports compare equal (https://a:443 is https://a)
    return page.origin === new URL(`${proto}://${host}`).origin;
  } catch {
    return false;
  }
}

export function connectError(code: ErrorCode, message: string = ERRORS[code].title, data: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { data: { code, ...data } });
}

/** Distinct refused origins logged; beyond them a refusal is not logged (a bounded set, a bounded log). */
const LOGGED_ORIGINS = 100;

/**
 * The first Socket.IO middleware: refuses a page of a foreign origin (see {@link originAllowed})
 * before its token is looked at, with a `connect_error` whose `data` says why (`origin_not_allowed`
 * and the origin), and logs the first refusal of each origin with the setting that would admit it.
 * The refusal is at the Socket.IO level, not Engine.IO's, so that the page can read it: a refused
 * Engine.IO handshake reaches a page as an opaque `xhr poll error` or `websocket error`.
 */
export function refuseForeignOrigins(corsOrigins: readonly string[], trust: TrustFunction, logger: Logger) {
  const logged = new Set<string>();
  return (socket: ChattySocket, next: (error?: Error) => void): void => {
    if (originAllowed(socket.request, corsOrigins, trust)) return next();
    const origin = String(socket.request.headers.origin);
    if (!logged.has(origin) && logged.size < LOGGED_ORIGINS) {
      logged.add(origin);
      logger.warn({ origin, setting: 'CORS_ORIGINS' }, 'socket refused: its page origin is not this server nor in CORS_ORIGINS; add it there to admit it');
    }
    next(connectError('origin_not_allowed', `The origin ${origin} is not allowed: add it to CORS_ORIGINS`, { origin }));
  };
}

/** The Socket.IO middleware that admits only handshakes with a valid token. */
export function authenticateHandshake(keys: SigningKeys) {
  return async (socket: ChattySocket, next: (error?: Error) => void): Promise<void> => {
    const result = await keys.verifyFresh(handshakeToken(socket.handshake));
    if (!result.ok) return next(connectError(result.code));
    const lastEventId = handshakeLastEventId(socket.handshake);
    if (lastEventId === null) return next(connectError('invalid_parameter', 'lastEventId must be a non-negative integer'));
    socket.data.principal = result.principal;
    socket.data.lastEventId = lastEventId;
    socket.data.present = false;
    next();
  };
}

/**
 * The Socket.IO middleware (after authentication) that gives the socket one of its user's slots,
 * or refuses the handshake with `too_many_sockets`. The claim is synchronous, so parallel
 * handshakes cannot overshoot; the slot goes back exactly once, when the socket disconnects or,
 * for a handshake abandoned before it connected, when its connection closes.
 */
export function claimSocketSlot(users: UserSockets) {
  return (socket: ChattySocket, next: (error?: Error) => void): void => {
    const userId = socket.data.principal.sub;
    if (socket.conn.readyState !== 'open') return next(connectError('unavailable', 'The connection closed during the handshake'));
    if (!users.claim(userId)) {
      return next(connectError('too_many_sockets', `This user already has the maximum number of sockets open`));
    }
    socket.data.slotted = true;
    const release = () => {
      if (!socket.data.slotted) return;
      socket.data.slotted = false;
      socket.conn.off('close', release);
      users.release(userId);
    };
    socket.conn.once('close', release);
    socket.once('disconnect', release);
    next();
  };
}
