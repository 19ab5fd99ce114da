/** The one place errors become responses: JSON:API `errors`, never a stack trace. */
import type { NextFunction, Request, Response } from 'express';
import { ChattyError, toJsonApiError } from '../errors.js';
import type { Logger } from '../logger.js';
import { send } from './jsonapi.js';
import type { RouteTable } from './route-table.js';

export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) return next(error);
    if (!(error instanceof ChattyError)) logger.error({ err: error, method: req.method, path: req.path }, 'request failed');
    const body = toJsonApiError(error);
    if (error instanceof ChattyError && error.headers) res.set(error.headers);
    send(res, Number(body.status), { errors: [body] });
  };
}

/** No route answered: `405` with `Allow` when the path is a route's and only the method is wrong, else `404`. */
export function notFound(routes: RouteTable) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const route = routes.match(req.path);
    if (!route) return next(new ChattyError('not_found', `No route for ${req.method} ${req.path}`));
    const allow = route.methods.join(', ');
    next(new ChattyError('method_not_allowed', `${route.template} answers ${allow}, not ${req.method}`, undefined, { Allow: allow }));
  };
}
