/**
 * The Express application: security headers, CORS, body parsing, the route groups, and the one
 * error handler.
 */
import type { Webhooks } from '../webhooks/webhooks.js';
import { webhookRoutes } from './webhook-routes.js';
import cors from 'cors';
import express from 'express';
import helmet from 'helmet';
import type { Accounts } from '../auth/accounts.js';
import type { Config } from '../../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Notifications } from '../channels/notifications.js';
import type { PresenceTracker } from '../realtime/presence.js';
import type { SigningKeys } from '../auth/signing-keys.js';
import type { Store } from '../store/store.js';
import type { Subscriptions } from '../channels/subscriptions.js';
import { createPassport } from './authentication.js';
import { authRoutes, type AuthLimit } from './auth-routes.js';
import type { Store as RateLimitStore } from 'express-rate-limit';
import { jsonBodies } from './body-parsing.js';
import { adminRoutes } from './admin-routes.js';
import { conversationRoutes } from './conversation-routes.js';
import { profileRoutes } from './profile-routes.js';
import type { Profiles } from '../profiles/profiles.js';
import type { ServerChat } from '../chat/server-chat.js';
import type { LiveSockets } from '../realtime/live-sockets.js';
import type { AccountStates } from '../auth/account-states.js';
import { controlRoutes } from './control-routes.js';
import { errorHandler, notFound } from './error-handler.js';
import { opsRoutes, type ReadinessCheck } from './ops-routes.js';
import { pageRoutes } from './pages.js';
import { requestMetrics } from './request-metrics.js';
import { RouteTable } from './route-table.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  store: Store;
  accounts: Accounts;
  keys: SigningKeys;
  notifications: Notifications;
  subscriptions: Subscriptions;
  presence: PresenceTracker;
  /** The live sockets on every node, for the operator's routes. */
  live: LiveSockets;
  /** Accounts whose tokens an operator revoked. */
  accountStates: AccountStates;
  /** Chat through the control API. */
  chat: ServerChat;
  webhooks: Webhooks;
  /** Profiles and channel labels (contract §11). */
  profiles: Profiles;
  readiness: readonly ReadinessCheck[];
  isDraining: () => boolean;
  /** Many nodes: the login and registration limits counted for the whole cluster. */
  limitStore?: (limit: AuthLimit) => RateLimitStore;
}

export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  // avatars (contract §11) are https:// URLs of the app server's choosing; nothing else widens
  imgSrc: ["'self'", 'data:', 'https:'],
  // 'self' covers this server's own ws:// and wss:// (CSP Level 3); any other host is refused
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  frameAncestors: ["'none'"],
  formAction: ["'self'"],
  upgradeInsecureRequests: null,
};

/**
 * What an API response needs: no sniffing, no caching of tokens and personal data, and a CSP that
 * forbids everything should a browser ever render one. Helmet's full set is for the pages.
 */
function apiHeaders(_req: express.Request, res: express.Response, next: express.NextFunction): void {
  res.set({ 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store', 'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'" });
  next();
}

export function createApp(deps: AppDeps): express.Express {
  const { config, logger, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  // req.ip, which the rate limits key on, is the client's address only if the proxies are trusted
  app.set('trust proxy', config.trustProxy);
  app.set('query parser', 'simple');
  // API responses are never cached (no-store), so hashing each one for an ETag is wasted work
  app.set('etag', false);

  const routes = new RouteTable(app);
  if (config.corsOrigins.length > 0) app.use(cors({ origin: [...config.corsOrigins], credentials: true }));
  app.use(requestMetrics(metrics, logger, routes));
  app.use(jsonBodies(config.maxRequestBytes));

  const auth = createPassport(deps.keys, deps.accounts);
  app.use(apiHeaders);
  app.use(opsRoutes(metrics, deps.readiness, deps.isDraining, config.nodeId, config.metricsToken));
  app.use('/auth', authRoutes({ config, accounts: deps.accounts, keys: deps.keys, profiles: deps.profiles, auth, logger, ...(deps.limitStore ? { limitStore: deps.limitStore } : {}) }));
  app.use('/control', auth.requireToken('service', 'admin'), controlRoutes(deps), conversationRoutes({ chat: deps.chat }), profileRoutes({ profiles: deps.profiles }), adminRoutes({ ...deps, nodeId: config.nodeId, requireAdmin: auth.requireToken('admin') }), webhookRoutes({ webhooks: deps.webhooks, logger, requireAdmin: auth.requireToken('admin') }));
  // the full set of security headers where a browser renders: the pages and their assets
  app.use(helmet({ contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY } }), pageRoutes());
  app.use(notFound(routes));
  app.use(errorHandler(logger));
  return app;
}
