/**
 * Counts every request by method, route and status, and logs failures (and all, at debug). The
 * route is the template of the route the path belongs to, whether the request reached it or failed
 * before (a 401 at the token check) or inside it; `unmatched` for a path no route has, so that
 * the label's values stay bounded.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { RouteTable } from './route-table.js';

export function requestMetrics(metrics: Metrics, logger: Logger, routes: RouteTable) {
  // labelled counters, looked up once per (method, route, status): prom-client hashes labels on
  // every inc() otherwise, which cost 8% of the control path
  const counters = new Map<string, { inc(): void }>();
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = performance.now();
    res.once('finish', () => {
      const query = req.originalUrl.indexOf('?');
      const route = routes.match(query < 0 ? req.originalUrl : req.originalUrl.slice(0, query))?.template ?? 'unmatched';
      const status = res.statusCode;
      const key = `${req.method} ${route} ${status}`;
      let counter = counters.get(key);
      if (!counter) {
        counter = metrics.httpRequests.labels(req.method, route, String(status));
        counters.set(key, counter);
      }
      counter.inc();
      if (status >= 500 || logger.isLevelEnabled('debug')) {
        logger[status >= 500 ? 'warn' : 'debug']({ method: req.method, path: req.path, status, ms: Math.round(performance.now() - started) }, 'request');
      }
    });
    next();
  };
}
