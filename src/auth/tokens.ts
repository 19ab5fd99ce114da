/**
 * JWT verification and signing against the key ring (contract §3): HS256 only, `kid` honoured,
 * without `kid` every valid key is tried, no `crit` extension understood. Time claims (`exp`,
 * `nbf`, `iat`) must be NumericDates (RFC 7519: seconds, a number) within sane bounds. Pure: no
 * I/O, the caller passes the clock.
 */
import jwt from 'jsonwebtoken';
import type { KeyId, KeyRing, SigningKey } from './key-ring.js';
import { isValidName, type UserId } from '../channels/names.js';

export type Role = 'admin' | 'service' | 'user';
export const ROLES: readonly Role[] = ['admin', 'service', 'user'];

/** Who a verified token speaks for. */
export interface Principal {
  readonly sub: UserId;
  readonly role: Role;
  /** Expiry in seconds since the epoch, when the token has one. */
  readonly exp: number | undefined;
  /** The key that verified the token: its sockets are dropped when the key retires. */
  readonly keyId: KeyId;
  /**
   * An account's login token: the account's token version when it was signed (claim `ver`); an
   * operator disabling the account or changing its role or password moves the version on, and
   * older tokens stop working. 0 for a token without one.
   */
  readonly ver: number;
  /** Signed by this server's login (claim `amr: ["pwd"]`), not minted by the app server. */
  readonly login: boolean;
}

export type TokenFailure = 'token_missing' | 'token_invalid' | 'token_expired';
export type VerifyResult = { ok: true; principal: Principal } | { ok: false; code: TokenFailure };

const ALGORITHMS: jwt.Algorithm[] = ['HS256'];

/**
 * How far ahead of this server's clock a token's `iat` and `nbf` may be: the issuer's clock may
 * run a little fast. `exp` gets no such tolerance.
 */
export const CLOCK_SKEW_SECONDS = 60;
/**
 * How far in the future `exp` may lie: ten years, leap days included. Beyond that the token is
 * a token that never expires in disguise, and values such as 1e300 break the date arithmetic of
 * whatever schedules the expiry.
 */
export const MAX_EXP_AHEAD_SECONDS = 3653 * 24 * 3600;

/**
 * Verifies `token` at `now` (ms). An expired token is reported as `token_expired` only when its
 * signature is valid; everything else wrong is `token_invalid`.
 */
export function verifyToken(token: string | undefined | null, ring: KeyRing, now: number): VerifyResult {
  if (!token) return { ok: false, code: 'token_missing' };
  const nowSeconds = Math.floor(now / 1000);
  for (const key of candidateKeys(token, ring, now)) {
    try {
      // nbf is checked by principalOf, with the skew allowed for iat
      const claims = jwt.verify(token, ring.keyObject(key.id), { algorithms: ALGORITHMS, clockTimestamp: nowSeconds, ignoreNotBefore: true }) as jwt.JwtPayload;
      const principal = principalOf(claims, key.id, nowSeconds);
      return principal ? { ok: true, principal } : { ok: false, code: 'token_invalid' };
    } catch (error) {
      if (error instanceof jwt.TokenExpiredError) return { ok: false, code: 'token_expired' };
      // a signature or claim that fails with this key: try the next
    }
  }
  return { ok: false, code: 'token_invalid' };
}

/** A token's header, parsed, not verified; undefined when it is not a JSON object. */
export function tokenHeader(token: string): { alg?: unknown; kid?: unknown; crit?: unknown } | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && !Array.isArray(header) ? header : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The keys that may have signed `token`, from its header alone: the one its `kid` names, or every
 * valid key when it has none. Empty for a malformed header, an `alg` other than HS256, or a `crit`
 * member: it names extensions the token must not be accepted without, and we implement none
 * (RFC 7515 §4.1.11).
 */
function candidateKeys(token: string, ring: KeyRing, now: number): SigningKey[] {
  const header = tokenHeader(token);
  if (!header || header.alg !== 'HS256' || 'crit' in header) return [];
  if (header.kid === undefined) return ring.valid(now);
  const key = typeof header.kid === 'string' ? ring.find(header.kid, now) : undefined;
  return key ? [key] : [];
}

/** Whether `value` is absent or a NumericDate (a number of seconds, RFC 7519 §2) from 0 to `latest`. */
const isDateUpTo = (value: unknown, latest: number): boolean => value === undefined || (typeof value === 'number' && value >= 0 && value <= latest);

/**
 * Who verified claims speak for, or undefined when they break the rules: `sub` a valid name,
 * `role` a known one, `iat` and `nbf` not later than `nowSeconds` (give or take the clock skew),
 * `exp` not later than MAX_EXP_AHEAD_SECONDS from now. jsonwebtoken has already refused an `exp`
 * that has passed.
 */
function principalOf(claims: jwt.JwtPayload, keyId: KeyId, nowSeconds: number): Principal | undefined {
  if (typeof claims !== 'object' || claims === null) return undefined;
  const role = claims.role ?? 'user';
  if (typeof claims.sub !== 'string' || !isValidName(claims.sub) || !ROLES.includes(role)) return undefined;
  if (!isDateUpTo(claims.iat, nowSeconds + CLOCK_SKEW_SECONDS) || !isDateUpTo(claims.nbf, nowSeconds + CLOCK_SKEW_SECONDS)) return undefined;
  if (!isDateUpTo(claims.exp, nowSeconds + MAX_EXP_AHEAD_SECONDS)) return undefined;
  const ver = Number.isSafeInteger(claims.ver) && claims.ver >= 0 ? (claims.ver as number) : 0;
  const login = Array.isArray(claims.amr) && claims.amr.includes('pwd');
  return { sub: claims.sub, role, exp: claims.exp, keyId, ver, login };
}

/** What Chatty signs: the subject, its role, and optionally the token's own id (`jti`). */
export interface TokenClaims {
  sub: UserId;
  role?: Role;
  jti?: string;
  /** An account's token version (see {@link Principal.ver}). */
  ver?: number;
  /** A login token: signed with `amr: ["pwd"]` (RFC 8176, a password was checked). */
  login?: boolean;
}

/** Signs a token with the ring's current key; `ttlSeconds` sets `exp`. */
export function signToken(ring: KeyRing, claims: TokenClaims, ttlSeconds: number | undefined, now: number): string {
  const key = ring.current();
  const iat = Math.floor(now / 1000);
  const payload: Record<string, unknown> = { sub: claims.sub, role: claims.role ?? 'user', iat };
  if (claims.jti !== undefined) payload.jti = claims.jti;
  if (claims.ver !== undefined && claims.ver > 0) payload.ver = claims.ver;
  if (claims.login) payload.amr = ['pwd'];
  if (ttlSeconds !== undefined) payload.exp = iat + ttlSeconds;
  return jwt.sign(payload, ring.keyObject(key.id), { algorithm: 'HS256', keyid: key.id });
}
