/** `/auth/*` (contract §3): accounts, login cookie, token check and key rotation. */
import { Router, type CookieOptions, type NextFunction, type Request, type Response } from 'express';
import { ipKeyGenerator, rateLimit, type Options as RateLimitOptions } from 'express-rate-limit';
import { parseCredentials, type Accounts } from '../accounts.js';
import type { Config } from '../../config.js';
import { ChattyError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SigningKeys } from '../signing-keys.js';
import type { createPassport } from './authentication.js';
import { send, serialize } from './jsonapi.js';

export const MIN_SECRET_LENGTH = 32;
export const MAX_GRACE_SECONDS = 30 * 24 * 3600;
/** Failed logins allowed per client address and username in LOGIN_WINDOW_MS. */
export const LOGIN_FAILURES_ALLOWED = 10;
/**
 * Failed logins allowed per client address, whatever the username, in LOGIN_WINDOW_MS: one address
 * trying a few passwords on many usernames, each attempt costing a bcrypt comparison.
 */
export const LOGIN_IP_FAILURES_ALLOWED = 100;
export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
/** Registration attempts allowed per client address in REGISTER_WINDOW_MS, successful or not: each may cost a bcrypt hash. */
export const REGISTER_ATTEMPTS_ALLOWED = 20;
export const REGISTER_WINDOW_MS = 60 * 60 * 1000;

/** How many requests each limiter allows in its window. */
export interface AuthLimits {
  loginFailures: number;
  loginIpFailures: number;
  registerAttempts: number;
}

export const AUTH_LIMITS: Readonly<AuthLimits> = Object.freeze({
  loginFailures: LOGIN_FAILURES_ALLOWED,
  loginIpFailures: LOGIN_IP_FAILURES_ALLOWED,
  registerAttempts: REGISTER_ATTEMPTS_ALLOWED,
});

interface AuthRouteDeps {
  config: Config;
  accounts: Accounts;
  keys: SigningKeys;
  auth: ReturnType<typeof createPassport>;
  logger: Logger;
  /** Smaller limits for tests: reaching a hundred failed logins costs a hundred bcrypt comparisons. */
  limits?: Partial<AuthLimits>;
}

export function authRoutes({ config, accounts, keys, auth, logger, limits: given }: AuthRouteDeps): Router {
  const limits = { ...AUTH_LIMITS, ...given };
  const router = Router();
  const cookie: CookieOptions = { httpOnly: true, sameSite: 'lax', secure: config.secureCookies, path: '/' };

  // the limiters are this router's own (in memory), so every server counts for itself
  const loginLimiter = limiter('Too many failed logins; try again later', {
    windowMs: LOGIN_WINDOW_MS,
    limit: limits.loginFailures,
    skipSuccessfulRequests: true,
    keyGenerator: (req) => `${ipKeyGenerator(req.ip ?? '')}|${typeof req.body?.username === 'string' ? req.body.username : ''}`,
  });
  const loginIpLimiter = limiter('Too many failed logins from this address; try again later', {
    windowMs: LOGIN_WINDOW_MS,
    limit: limits.loginIpFailures,
    skipSuccessfulRequests: true,
    keyGenerator: (req) => ipKeyGenerator(req.ip ?? ''),
  });
  const registerLimiter = limiter('Too many registrations from this address; try again later', {
    windowMs: REGISTER_WINDOW_MS,
    limit: limits.registerAttempts,
    keyGenerator: (req) => ipKeyGenerator(req.ip ?? ''),
  });

  // closed registration answers 403 before the limiter: it costs nothing and should say why
  const registrationOpen = (_req: Request, _res: Response, next: NextFunction) => next(config.registration === 'open' ? undefined : new ChattyError('registration_closed'));

  router.post('/register', registrationOpen, registerLimiter, async (req, res) => {
    const account = await accounts.register(parseCredentials(req.body));
    logger.info({ username: account.username }, 'account registered');
    send(res, 201, serialize.users({ id: account.username, username: account.username, role: account.role, createdAt: new Date(account.createdAt).toISOString() }));
  });

  router.post('/login', loginIpLimiter, loginLimiter, (req: Request, res: Response, next: NextFunction) => {
    const { username, password } = (req.body ?? {}) as Record<string, unknown>;
    if (typeof username !== 'string' || typeof password !== 'string') {
      return next(new ChattyError('validation_failed', 'username and password must be strings', { pointer: typeof username !== 'string' ? '/username' : '/password' }));
    }
    auth.passport.authenticate('local', { session: false }, (error: unknown, account: { username: string; role: 'admin' | 'service' | 'user' } | false) => {
      // the local strategy calls back from a promise: a throw here would be an unhandled
      // rejection and a request left hanging, not a 500
      try {
        if (error) return next(error);
        if (!account) return next(new ChattyError('invalid_credentials', 'Unknown username or wrong password'));
        const now = Date.now();
        const token = keys.sign({ sub: account.username, role: account.role }, config.tokenTtlSeconds, now);
        const expiresAt = new Date(now + config.tokenTtlSeconds * 1000);
        res.cookie('jwt', token, { ...cookie, expires: expiresAt });
        send(res, 200, serialize.tokens({ token, expiresAt: expiresAt.toISOString() }));
      } catch (thrown) {
        next(thrown);
      }
    })(req, res, next);
  });

  router.post('/logout', (_req, res) => {
    res.clearCookie('jwt', cookie);
    res.status(204).end();
  });

  router.get('/test-jwt', auth.requireToken(), (req, res) => {
    const { sub, role, exp } = req.principal!;
    send(res, 200, { meta: { sub, role, exp: exp ?? null } });
  });

  router.put('/update-jwt-secret', auth.requireToken('admin'), async (req, res) => {
    const { secret, graceSeconds } = parseRotation(req.body);
    const now = Date.now();
    const { key } = await keys.rotate(secret, graceSeconds, now);
    send(
      res,
      200,
      serialize.keys({ id: key.id, createdAt: new Date(key.createdAt).toISOString(), previousKeysExpireAt: new Date(now + graceSeconds * 1000).toISOString() }),
    );
  });

  return router;
}

/** A rate limiter answering through the error registry: `429 rate_limited` with `Retry-After`. */
function limiter(detail: string, options: Pick<RateLimitOptions, 'windowMs' | 'limit' | 'keyGenerator'> & Partial<Pick<RateLimitOptions, 'skipSuccessfulRequests'>>) {
  return rateLimit({
    ...options,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (_req, _res, next, { windowMs }) => {
      next(new ChattyError('rate_limited', detail, undefined, { 'Retry-After': String(Math.ceil(windowMs / 1000)) }));
    },
  });
}

function parseRotation(body: unknown): { secret: string; graceSeconds: number } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ChattyError('invalid_body', 'The body must be an object {secret, graceSeconds?}');
  const { secret, graceSeconds = 0 } = body as Record<string, unknown>;
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new ChattyError('validation_failed', `secret must be a string of at least ${MIN_SECRET_LENGTH} characters`, { pointer: '/secret' });
  }
  if (typeof graceSeconds !== 'number' || !Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_GRACE_SECONDS) {
    throw new ChattyError('validation_failed', `graceSeconds must be an integer from 0 to ${MAX_GRACE_SECONDS}`, { pointer: '/graceSeconds' });
  }
  return { secret, graceSeconds };
}
