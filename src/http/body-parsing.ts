/**
 * Request bodies (contract §2): JSON or JSON:API only (415 otherwise), at most MAX_REQ_SIZE (413),
 * well-formed (400). A `__proto__` key is refused outright.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { ChattyError } from '../errors.js';

const JSON_TYPES = ['application/json', 'application/vnd.api+json'];
// body-parser rewraps parse errors, so the reviver's refusal is recognised by its message
const FORBIDDEN_KEY = 'chatty: forbidden key __proto__';

/** `__proto__` is the one key that can reach a prototype when a parsed body is later merged. */
function reviver(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new SyntaxError(FORBIDDEN_KEY);
  return value;
}

const hasBody = (req: Request) => req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;

export function jsonBodies(limitBytes: number) {
  const parse = express.json({ type: JSON_TYPES, limit: limitBytes, strict: false, reviver });
  return [
    (req: Request, _res: Response, next: NextFunction) => {
      if (hasBody(req) && !req.is(JSON_TYPES)) {
        return next(new ChattyError('unsupported_media_type', 'Send the body as application/json or application/vnd.api+json'));
      }
      next();
    },
    (req: Request, res: Response, next: NextFunction) => {
      parse(req, res, (error?: unknown) => {
        if (!error) return next();
        next(translate(error));
      });
    },
  ];
}

function translate(error: unknown): unknown {
  const type = (error as { type?: string }).type;
  if (type === 'entity.too.large') return new ChattyError('payload_too_large', 'The request body is larger than MAX_REQ_SIZE');
  if (type === 'entity.parse.failed') {
    if ((error as Error).message === FORBIDDEN_KEY) return new ChattyError('invalid_body', 'The key "__proto__" is not allowed in a body');
    return new ChattyError('invalid_json', 'The request body is not valid JSON');
  }
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new ChattyError('unsupported_media_type', 'Send the body as UTF-8 JSON');
  if (type === 'request.aborted') return new ChattyError('invalid_body', 'The request body was cut short');
  return error;
}
