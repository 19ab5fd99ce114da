/** `/auth/*` (contract §3): accounts, login cookie, token check and key rotation. */
import crypto from 'node:crypto';
import { Router, type CookieOptions, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { ipKeyGenerator, rateLimit, type Options as RateLimitOptions, type Store as RateLimitStore } from 'express-rate-limit';
import { accountUserId, credentialsObject, parseCredentials, type Accounts } from '../auth/accounts.js';
import type { Config } from '../../config.js';
import { usernameSchema } from '../auth/credentials.js';
import { bearerToken, cookieToken } from '../auth/token-sources.js';
import type { Role } from '../auth/tokens.js';
import { ChattyError } from '../errors.js';
import { audit, type Logger } from '../logger.js';
import { secretWeakness } from '../auth/secret-strength.js';
import type { SigningKeys } from '../auth/signing-keys.js';
import type { createPassport } from './authentication.js';
import { send, serialize } from './jsonapi.js';
import { profileDocument } from './profile-routes.js';
import { parseProfileBody } from '../profiles/profile-rules.js';
import type { Profiles } from '../profiles/profiles.js';

export const MAX_GRACE_SECONDS = 30 * 24 * 3600;
/** The window of both failed-login limits (LOGIN_LIMIT, LOGIN_ADDRESS_LIMIT). */
export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
/** The window of the registration limit (REGISTER_LIMIT). */
export const REGISTER_WINDOW_MS = 60 * 60 * 1000;

/** Which limit refused a request, as the `rate_limited` audit line names it. */
export type AuthLimit = 'login_per_user' | 'login_per_address' | 'register_per_address';

interface AuthRouteDeps {
  config: Config;
  accounts: Accounts;
  profiles: Profiles;
  keys: SigningKeys;
  auth: ReturnType<typeof createPassport>;
  logger: Logger;
  /** Many nodes: where a limit is counted for the whole cluster (default: in this process). */
  limitStore?: (limit: AuthLimit) => RateLimitStore;
}

/** Login credentials whose username has the shape of one: at most 64 characters, so safe to key a limiter on and to log. */
interface LoginAttempt {
  username: string;
  password: string;
}

type LoginRequest = Request & { attempt?: LoginAttempt };

/**
 * The per-username limiter's key: the client's address key (ipKeyGenerator: an IPv6 client's /56,
 * which it cannot leave) and the username in lower case, as accounts match usernames (`ALICE` is
 * `alice`, so trying both spellings buys no extra attempts). The username has been validated, so
 * the key is at most a few dozen characters.
 */
export function loginAttemptKey(addressKey: string, username: string): string {
  return `${addressKey}|${username.toLowerCase()}`;
}

export function authRoutes({ config, accounts, keys, profiles, auth, logger, limitStore }: AuthRouteDeps): Router {
  const { limits } = config;
  const router = Router();
  const cookie: CookieOptions = { httpOnly: true, sameSite: 'lax', secure: config.secureCookies, path: '/' };

  /** Signs a login token with the current key and sets it as the login cookie. */
  const signIn = (res: Response, sub: string, role: Role, ver: number, login = true) => {
    const now = keys.clock.now();
    const jti = crypto.randomUUID();
    const token = keys.sign({ sub, role, jti, ver, login }, config.tokenTtlSeconds, now);
    const expiresAt = new Date(now + config.tokenTtlSeconds * 1000);
    res.cookie('jwt', token, { ...cookie, expires: expiresAt });
    // no secret in it: it only lets a page know, without a request that fails, to ask who it is
    res.cookie(SIGNED_IN_COOKIE, '1', { ...cookie, httpOnly: false, expires: expiresAt });
    return { jti, token, expiresAt };
  };

  // in memory, each server counting for itself; on many nodes in Redis, counted for the cluster
  const limiter = (name: AuthLimit, detail: string, options: LimiterOptions) => rateLimiter(logger, name, detail, options, limitStore?.(name));
  const loginLimiter = limiter('login_per_user', 'Too many failed logins; try again later', {
    windowMs: LOGIN_WINDOW_MS,
    limit: limits.loginFailuresPerUser,
    skipSuccessfulRequests: true,
    keyGenerator: (req) => loginAttemptKey(ipKeyGenerator(req.ip ?? ''), (req as LoginRequest).attempt!.username),
  });
  const loginIpLimiter = limiter('login_per_address', 'Too many failed logins from this address; try again later', {
    windowMs: LOGIN_WINDOW_MS,
    limit: limits.loginFailuresPerAddress,
    skipSuccessfulRequests: true,
    keyGenerator: (req) => ipKeyGenerator(req.ip ?? ''),
  });
  const registerLimiter = limiter('register_per_address', 'Too many registrations from this address; try again later', {
    windowMs: REGISTER_WINDOW_MS,
    limit: limits.registerPerHour,
    keyGenerator: (req) => ipKeyGenerator(req.ip ?? ''),
  });

  // closed registration answers 403 before the limiter: it costs nothing and should say why
  const registrationOpen = (_req: Request, _res: Response, next: NextFunction) => next(config.registration === 'open' ? undefined : new ChattyError('registration_closed'));

  router.post('/register', registrationOpen, registerLimiter, async (req, res) => {
    const account = await accounts.register(parseCredentials(req.body));
    logger.info({ username: account.username }, 'account registered');
    send(res, 201, serialize.users({ id: accountUserId(account.username), username: account.username, role: account.role, createdAt: new Date(account.createdAt).toISOString() }));
  });

  /**
   * Checks the credentials' shape before any limiter sees them. A username that no account can
   * have (too long, odd characters) is refused here like an unknown one, without a store lookup
   * or a bcrypt comparison: it costs nothing, so it counts against no limit, and no limiter keeps
   * a key made of up to MAX_REQ_SIZE bytes of it for the window.
   */
  const loginShape = (req: LoginRequest, _res: Response, next: NextFunction) => {
    const { username, password } = credentialsObject(req.body);
    if (typeof username !== 'string' || typeof password !== 'string') {
      return next(new ChattyError('validation_failed', 'username and password must be strings', { pointer: typeof username !== 'string' ? '/username' : '/password' }));
    }
    if (!usernameSchema.safeParse(username).success) {
      audit(logger, 'login_failed', { address: req.ip, reason: 'malformed_username', usernameLength: username.length }, 'login failed');
      return next(invalidCredentials());
    }
    req.attempt = { username, password };
    next();
  };

  router.post('/login', loginShape, loginIpLimiter, loginLimiter, (req: LoginRequest, res: Response, next: NextFunction) => {
    const { username } = req.attempt!;
    auth.passport.authenticate('local', { session: false }, (error: unknown, account: { username: string; role: Role; tokenVersion: number } | false) => {
      // the local strategy calls back from a promise: a throw here would be an unhandled
      // rejection and a request left hanging, not a 500
      try {
        if (error) return next(error);
        if (!account) {
          audit(logger, 'login_failed', { username, address: req.ip, reason: 'invalid_credentials' }, 'login failed');
          return next(invalidCredentials());
        }
        // on many nodes, with the key a rotation answered on another node has just made current
        keys
          .upToDate()
          .then(() => {
            // the account's own spelling: a login as ALICE is @alice
            const { jti, token, expiresAt } = signIn(res, accountUserId(account.username), account.role, account.tokenVersion);
            // the token's own id is the resource's id (JSON:API resources have one)
            send(res, 200, serialize.tokens({ id: jti, token, expiresAt: expiresAt.toISOString() }));
          })
          .catch(next);
      } catch (thrown) {
        next(thrown);
      }
    })(req, res, next);
  });

  router.post('/logout', (_req, res) => {
    res.clearCookie('jwt', cookie);
    res.clearCookie(SIGNED_IN_COOKIE, { ...cookie, httpOnly: false });
    res.status(204).end();
  });

  router.get('/test-jwt', auth.requireToken(), (req, res) => {
    const { sub, role, exp } = req.principal!;
    send(res, 200, { meta: { sub, role, exp: exp ?? null } });
  });

  // contract §11: who the token speaks for, with the profile others see
  router.get('/me', auth.requireToken(), async (req, res) => {
    const { sub, role } = req.principal!;
    send(res, 200, profileDocument(sub, await profiles.get(sub), role));
  });

  router.patch('/me', auth.requireToken(), async (req, res) => {
    const { sub, role, login } = req.principal!;
    // the app server owns the profiles of the users it mints tokens for (PUT /control/users/:id/profile)
    if (!login) throw new ChattyError('forbidden', 'Only an account signed in with its password may change its own profile; the app server sets the profiles of its users');
    send(res, 200, profileDocument(sub, await profiles.set(sub, parseProfileBody(req.body, sub)), role));
  });

  router.put('/update-jwt-secret', auth.requireToken('admin'), async (req, res) => {
    const { secret, graceSeconds } = parseRotation(req.body);
    const now = keys.clock.now();
    const { key, retired } = await keys.rotate(secret, graceSeconds, now);
    const { sub, role, keyId } = req.principal!;
    // a page that rotated (the operator console, signed in by cookie) keeps its session: its cookie
    // is signed again with the new key, whatever the grace period does to the old ones
    if (!bearerToken(req.headers.authorization) && cookieToken(req.headers.cookie)) signIn(res, sub, role, req.principal!.ver, req.principal!.login);
    audit(
      logger,
      'key_rotated',
      { by: { sub, role, keyId }, address: req.ip, keyId: key.id, graceSeconds, retired: retired.map((k) => k.id) },
      'key ring rotated',
    );
    send(
      res,
      200,
      serialize.keys({ id: key.id, createdAt: new Date(key.createdAt).toISOString(), previousKeysExpireAt: new Date(now + graceSeconds * 1000).toISOString() }),
    );
  });

  return router;
}

/** Set beside the HttpOnly `jwt` cookie, readable by the pages: "a login cookie may be here". */
export const SIGNED_IN_COOKIE = 'chatty_signed_in';

const invalidCredentials = () => new ChattyError('invalid_credentials', 'Unknown username or wrong password');

type LimiterOptions = Pick<RateLimitOptions, 'windowMs' | 'limit' | 'keyGenerator'> & Partial<Pick<RateLimitOptions, 'skipSuccessfulRequests'>>;

/**
 * A rate limiter answering through the error registry: `429 rate_limited` with `Retry-After`, and
 * an audit line naming the limit. A limit of 0 is no limiter at all (express-rate-limit would
 * refuse every request).
 */
function rateLimiter(logger: Logger, name: AuthLimit, detail: string, options: LimiterOptions, store: RateLimitStore | undefined): RequestHandler {
  if (options.limit === 0) return (_req, _res, next) => next();
  return rateLimit({
    ...options,
    ...(store
      ? {
          store,
          // a shared store out of reach (Redis down) lets requests through rather than refusing every login
          passOnStoreError: true,
        }
      : {}),
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (req, _res, next, { windowMs }) => {
      const username = (req as LoginRequest).attempt?.username;
      audit(logger, 'rate_limited', { limit: name, address: req.ip, ...(name === 'login_per_user' && username ? { username } : {}) }, 'request rate limited');
      next(new ChattyError('rate_limited', detail, undefined, { 'Retry-After': String(Math.ceil(windowMs / 1000)) }));
    },
  });
}

/**
 * The body of a rotation. The secret must not be weak (secret-strength.ts); that it was never held
 * by the ring is for SigningKeys to check, against every key ever stored.
 */
function parseRotation(body: unknown): { secret: string; graceSeconds: number } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ChattyError('invalid_body', 'The body must be an object {secret, graceSeconds?}');
  const { secret, graceSeconds = 0 } = body as Record<string, unknown>;
  if (typeof secret !== 'string') throw new ChattyError('validation_failed', 'secret must be a string', { pointer: '/secret' });
  const weakness = secretWeakness(secret);
  if (weakness) throw new ChattyError('validation_failed', `secret ${weakness}`, { pointer: '/secret' });
  if (typeof graceSeconds !== 'number' || !Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_GRACE_SECONDS) {
    throw new ChattyError('validation_failed', `graceSeconds must be an integer from 0 to ${MAX_GRACE_SECONDS}`, { pointer: '/graceSeconds' });
  }
  return { secret, graceSeconds };
}
