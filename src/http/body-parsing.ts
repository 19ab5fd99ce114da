/**
 * Request bodies (contract §2): JSON or JSON:API only (415 otherwise), at most MAX_REQ_SIZE (413),
 * well-formed and at most MAX_JSON_DEPTH deep (400). A `__proto__` key is refused outright.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { ChattyError } from '../errors.js';

const JSON_TYPES = ['application/json', 'application/vnd.api+json'];

/** Deeper documents are refused: serializing them (log, Socket.IO) would overflow the stack. */
export const MAX_JSON_DEPTH = 1000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/** The deepest nesting of objects and arrays in raw JSON, skipping strings. */
function nestingDepth(raw: Buffer): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) deepest = Math.max(deepest, ++depth);
    else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) depth--;
  }
  return deepest;
}

/** `__proto__` is the one key that can reach a prototype when a parsed body is later merged. */
function hasProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(hasProtoKey);
  if (Object.hasOwn(value, '__proto__')) return true;
  return Object.values(value).some(hasProtoKey);
}

class TooDeepError extends Error {}

type InspectedRequest = Request & { mayHoldProtoKey?: boolean };

/**
 * Runs on the raw body before parsing: refuses documents nested too deep, and marks those that
 * could hold a `__proto__` key, spelt out or escaped. Only marked bodies are walked after parsing;
 * a JSON.parse reviver would slow every request several times over.
 */
function inspectRaw(req: InspectedRequest, _res: Response, raw: Buffer): void {
  if (nestingDepth(raw) > MAX_JSON_DEPTH) throw new TooDeepError();
  if (raw.includes('__proto__') || raw.includes('\\u')) req.mayHoldProtoKey = true;
}

const hasBody = (req: Request) => req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;

export function jsonBodies(limitBytes: number) {
  const parse = express.json({ type: JSON_TYPES, limit: limitBytes, strict: false, verify: inspectRaw });
  return [
    (req: Request, _res: Response, next: NextFunction) => {
      if (hasBody(req) && !req.is(JSON_TYPES)) {
        return next(new ChattyError('unsupported_media_type', 'Send the body as application/json or application/vnd.api+json'));
      }
      next();
    },
    (req: InspectedRequest, res: Response, next: NextFunction) => {
      parse(req, res, (error?: unknown) => {
        if (error) return next(translate(error));
        if (req.mayHoldProtoKey && hasProtoKey(req.body)) {
          return next(new ChattyError('invalid_body', 'The key "__proto__" is not allowed in a body'));
        }
        next();
      });
    },
  ];
}

function translate(error: unknown): unknown {
  const type = (error as { type?: string }).type;
  if (type === 'entity.too.large') return new ChattyError('payload_too_large', 'The request body is larger than MAX_REQ_SIZE');
  if (type === 'entity.verify.failed' && error instanceof TooDeepError) {
    return new ChattyError('invalid_json', `The request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  if (type === 'entity.parse.failed') return new ChattyError('invalid_json', 'The request body is not valid JSON');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new ChattyError('unsupported_media_type', 'Send the body as UTF-8 JSON');
  if (type === 'request.aborted') return new ChattyError('invalid_body', 'The request body was cut short');
  // anything else body-parser refuses (a corrupt gzip or deflate body, say) is the client's fault too
  const status = (error as { status?: number }).status;
  if (status !== undefined && status >= 400 && status < 500) return new ChattyError('invalid_body', 'The request body could not be read');
  return error;
}
