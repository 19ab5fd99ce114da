/** Where a request carries its token (contract §3): an `Authorization: Bearer` header or the `jwt` cookie. */
import { parse as parseCookie } from 'cookie';

/** The token of an `Authorization` header using the Bearer scheme (any case, as RFC 7235 says). */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}

/** The `jwt` cookie of a `Cookie` header. */
export function cookieToken(cookie: string | undefined): string | undefined {
  return cookie ? parseCookie(cookie).jwt || undefined : undefined;
}
