/**
 * Passport for HTTP: passport-local checks passwords at login, passport-jwt checks tokens from the
 * `Authorization: Bearer` header or the `jwt` cookie. Token rules live in tokens.ts and are the
 * same for sockets; passport-jwt then re-checks the signature with the key they picked. A token
 * verified before is answered from the SigningKeys cache without passport.
 */
import type { KeyObject } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import passportModule from 'passport';
import { Strategy as JwtStrategy } from 'passport-jwt';
import { Strategy as LocalStrategy } from 'passport-local';
import type { Accounts } from '../auth/accounts.js';
import { ChattyError } from '../errors.js';
import type { SigningKeys } from '../auth/signing-keys.js';
import type { Principal, Role } from '../auth/tokens.js';
import { bearerToken, cookieToken } from '../auth/token-sources.js';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

const BEARER = { 'WWW-Authenticate': 'Bearer' };

/** The Bearer header's token, else the `jwt` cookie's (parsed only then). */
const extractToken = (req: Request): string | null => bearerToken(req.headers.authorization) ?? cookieToken(req.headers.cookie) ?? null;

/** A Passport instance of this server's own, so that several servers can share a process. */
export function createPassport(keys: SigningKeys, accounts: Accounts) {
  const passport = new passportModule.Passport();

  passport.use(
    new LocalStrategy({ session: false }, (username, password, done) => {
      accounts.authenticate(username, password).then(
        (account) => done(null, account ?? false),
        (error: unknown) => done(error),
      );
    }),
  );

  passport.use(
    new JwtStrategy(
      {
        jwtFromRequest: extractToken,
        // our rules first (kid, every valid key, sub and role); passport-jwt then checks the
        // signature with the key that matched. The cache makes this once per token.
        secretOrKeyProvider: (req: Request, token: string, done: (error: unknown, secret?: string) => void) => {
          keys.verifyFresh(token).then((result) => {
            if (!result.ok) return done(new ChattyError(result.code, undefined, undefined, BEARER));
            req.principal = result.principal;
            // a KeyObject, which jsonwebtoken takes though passport-jwt's types say string
            done(null, keys.secretOf(result.principal.keyId) as KeyObject as unknown as string);
          }, done);
        },
        algorithms: ['HS256'],
        // tokens.ts has checked nbf, with the clock skew it allows for iat: jsonwebtoken allows none
        jsonWebTokenOptions: { ignoreNotBefore: true },
        passReqToCallback: true,
      },
      (req: Request, _payload: unknown, done: (error: unknown, user?: Principal) => void) => done(null, req.principal),
    ),
  );

  /**
   * Requires a valid token; with `roles`, one of those roles too (403 otherwise). A token verified
   * before (and still valid: same exp, key not retired) is taken from the cache; any other goes
   * through passport-jwt.
   */
  function requireToken(...roles: Role[]): RequestHandler {
    const admit = (req: Request, principal: Principal, next: NextFunction) => {
      if (roles.length > 0 && !roles.includes(principal.role)) {
        return next(new ChattyError('forbidden', `This route needs the ${roles.join(' or ')} role`));
      }
      req.principal = principal;
      next();
    };
    return (req: Request, res: Response, next: NextFunction) => {
      const token = extractToken(req);
      const known = token ? keys.cached(token) : undefined;
      if (known) return admit(req, known, next);
      passport.authenticate('jwt', { session: false }, (error: unknown, principal: Principal | false, info: unknown) => {
        if (error) return next(error);
        if (!principal) return next(tokenFailure(info));
        admit(req, principal, next);
      })(req, res, next);
    };
  }

  return { passport, requireToken };
}

function tokenFailure(info: unknown): ChattyError {
  if (info instanceof ChattyError) return info;
  const name = (info as Error | undefined)?.name;
  if (name === 'TokenExpiredError') return new ChattyError('token_expired', undefined, undefined, BEARER);
  if (info instanceof Error && info.message === 'No auth token') return new ChattyError('token_missing', undefined, undefined, BEARER);
  return new ChattyError('token_invalid', undefined, undefined, BEARER);
}
