/**
 * JWT verification and signing against the key ring (contract §3): HS256 only, `kid` honoured,
 * without `kid` every valid key is tried. Pure: no I/O, the caller passes the clock.
 */
import jwt from 'jsonwebtoken';
import type { KeyId, KeyRing, SigningKey } from './key-ring.js';
import { isValidName, type UserId } from './names.js';

export type Role = 'admin' | 'service' | 'user';
const ROLES: readonly Role[] = ['admin', 'service', 'user'];

/** Who a verified token speaks for. */
export interface Principal {
  readonly sub: UserId;
  readonly role: Role;
  /** Expiry in seconds since the epoch, when the token has one. */
  readonly exp: number | undefined;
  /** The key that verified the token: its sockets are dropped when the key retires. */
  readonly keyId: KeyId;
}

export type TokenFailure = 'token_missing' | 'token_invalid' | 'token_expired';
export type VerifyResult = { ok: true; principal: Principal } | { ok: false; code: TokenFailure };

const ALGORITHMS: jwt.Algorithm[] = ['HS256'];

/**
 * Verifies `token` at `now` (ms). An expired token is reported as `token_expired` only when its
 * signature is valid; everything else wrong is `token_invalid`.
 */
export function verifyToken(token: string | undefined | null, ring: KeyRing, now: number): VerifyResult {
  if (!token) return { ok: false, code: 'token_missing' };
  for (const key of candidateKeys(token, ring, now)) {
    try {
      const claims = jwt.verify(token, ring.keyObject(key.id), { algorithms: ALGORITHMS, clockTimestamp: Math.floor(now / 1000) }) as jwt.JwtPayload;
      const principal = principalOf(claims, key.id);
      return principal ? { ok: true, principal } : { ok: false, code: 'token_invalid' };
    } catch (error) {
      if (error instanceof jwt.TokenExpiredError) return { ok: false, code: 'token_expired' };
      // a signature or claim that fails with this key: try the next
    }
  }
  return { ok: false, code: 'token_invalid' };
}

/**
 * The keys that may have signed `token`, from its header alone: the one its `kid` names, or every
 * valid key when it has none. Empty for a malformed header or an `alg` other than HS256.
 */
function candidateKeys(token: string, ring: KeyRing, now: number): SigningKey[] {
  const dot = token.indexOf('.');
  if (dot <= 0) return [];
  let header: { alg?: unknown; kid?: unknown };
  try {
    header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
  } catch {
    return [];
  }
  if (typeof header !== 'object' || header === null || header.alg !== 'HS256') return [];
  if (header.kid === undefined) return ring.valid(now);
  const key = typeof header.kid === 'string' ? ring.find(header.kid, now) : undefined;
  return key ? [key] : [];
}

/** Who verified claims speak for, or undefined when `sub`, `role` or `exp` break the rules. */
function principalOf(claims: jwt.JwtPayload, keyId: KeyId): Principal | undefined {
  const role = claims.role ?? 'user';
  if (typeof claims.sub !== 'string' || !isValidName(claims.sub) || !ROLES.includes(role)) return undefined;
  if (claims.exp !== undefined && typeof claims.exp !== 'number') return undefined;
  return { sub: claims.sub, role, exp: claims.exp, keyId };
}

/** Signs a token with the ring's current key; `ttlSeconds` sets `exp`. */
export function signToken(ring: KeyRing, claims: { sub: UserId; role?: Role }, ttlSeconds: number | undefined, now: number): string {
  const key = ring.current();
  const iat = Math.floor(now / 1000);
  const payload: Record<string, unknown> = { sub: claims.sub, role: claims.role ?? 'user', iat };
  if (ttlSeconds !== undefined) payload.exp = iat + ttlSeconds;
  return jwt.sign(payload, ring.keyObject(key.id), { algorithm: 'HS256', keyid: key.id });
}
