/** Counts every request by method, route and status, and logs failures (and all, at debug). */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

export function requestMetrics(metrics: Metrics, logger: Logger) {
  // labelled counters, looked up once per (method, route, status): prom-client hashes labels on
  // every inc() otherwise, which cost 8% of the control path
  const counters = new Map<string, { inc(): void }>();
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = performance.now();
    res.once('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
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
