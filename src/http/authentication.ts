/**
 * Passport for HTTP: passport-local checks passwords at login, passport-jwt checks tokens from the
 * `Authorization: Bearer` header or the `jwt` cookie. Token rules live in tokens.ts and are the
 * same for sockets; passport-jwt then re-checks the signature with the key they picked.
 */
import type { KeyObject } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import passportModule from 'passport';
import { Strategy as JwtStrategy } from 'passport-jwt';
import { Strategy as LocalStrategy } from 'passport-local';
import type { Accounts } from '../accounts.js';
import { ChattyError } from '../errors.js';
import type { SigningKeys } from '../signing-keys.js';
import type { Principal, Role } from '../tokens.js';
import { bearerToken, cookieToken } from '../token-sources.js';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

const BEARER = { 'WWW-Authenticate': 'Bearer' };


/** The Bearer header's token, else the `jwt` cookie's (parsed only then). */
const extractToken = (req: Request): string | null => bearerToken(req.headers.authorization) ?? cookieToken(req.headers.cookie) ?? null;

/**
 * passport-jwt, answering from the verified-token cache when it can: the full check runs the
 * first time a token is seen, and again once its key or `exp` may have changed the answer.
 */
class CachingJwtStrategy extends JwtStrategy {
  constructor(
    options: ConstructorParameters<typeof JwtStrategy>[0],
    verify: ConstructorParameters<typeof JwtStrategy>[1],
    private readonly keys: SigningKeys,
  ) {
    super(options, verify);
  }

  override authenticate(req: Request, options?: object): void {
    const token = extractToken(req);
    const cached = token ? this.keys.cached(token) : undefined;
    if (cached) return this.success(cached);
    super.authenticate(req, options);
  }
}

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
    new CachingJwtStrategy(
      {
        jwtFromRequest: extractToken,
        // our rules first (kid, every valid key, sub and role); passport-jwt then checks the
        // signature with the key that matched. The cache makes this once per token.
        secretOrKeyProvider: (req: Request, token: string, done: (error: unknown, secret?: string) => void) => {
          const result = keys.verify(token);
          if (!result.ok) return done(new ChattyError(result.code, undefined, undefined, BEARER));
          req.principal = result.principal;
          // a KeyObject, which jsonwebtoken takes though passport-jwt's types say string
          done(null, keys.secretOf(result.principal.keyId) as KeyObject as unknown as string);
        },
        algorithms: ['HS256'],
        passReqToCallback: true,
      },
      (req: Request, _payload: unknown, done: (error: unknown, user?: Principal) => void) => done(null, req.principal),
      keys,
    ),
  );

  /** Requires a valid token; with `roles`, one of those roles too (403 otherwise). */
  function requireToken(...roles: Role[]): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      passport.authenticate('jwt', { session: false }, (error: unknown, principal: Principal | false, info: unknown) => {
        if (error) return next(error);
        if (!principal) return next(tokenFailure(info));
        if (roles.length > 0 && !roles.includes(principal.role)) {
          return next(new ChattyError('forbidden', `This route needs the ${roles.join(' or ')} role`));
        }
        req.principal = principal;
        next();
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
