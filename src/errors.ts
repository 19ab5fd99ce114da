/**
 * The one error registry. Every error Chatty reports, over HTTP (JSON:API `errors`), in a socket
 * ack (`{ok:false, error:{code, message}}`) or in a `connect_error` (`err.data.code`), has its code,
 * status and title here. The README's error table is checked against this list by a test.
 */
export const ERRORS = {
  invalid_json: { status: 400, title: 'Malformed JSON' },
  invalid_body: { status: 400, title: 'Invalid request body' },
  invalid_parameter: { status: 400, title: 'Invalid query parameter' },
  token_missing: { status: 401, title: 'Authentication required' },
  token_invalid: { status: 401, title: 'Invalid token' },
  token_expired: { status: 401, title: 'Token expired' },
  invalid_credentials: { status: 401, title: 'Invalid username or password' },
  forbidden: { status: 403, title: 'Forbidden' },
  registration_closed: { status: 403, title: 'Registration is closed' },
  not_member: { status: 403, title: 'Not a member of this conversation' },
  origin_not_allowed: { status: 403, title: 'Origin not allowed' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  username_taken: { status: 409, title: 'Username already taken' },
  payload_too_large: { status: 413, title: 'Request body too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  validation_failed: { status: 422, title: 'Validation failed' },
  rate_limited: { status: 429, title: 'Too many requests' },
  too_many_sockets: { status: 429, title: 'Too many sockets for this user' },
  internal_error: { status: 500, title: 'Internal server error' },
  unavailable: { status: 503, title: 'Service unavailable' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Where in the request the problem is: a query parameter or a JSON pointer into the body. */
export type ErrorSource = { parameter: string } | { pointer: string };

/**
 * An expected failure with a registered code. Anything thrown that is not a ChattyError is a bug
 * and is reported as `internal_error` without its message.
 */
export class ChattyError extends Error {
  override readonly name = 'ChattyError';
  readonly status: number;
  readonly title: string;

  constructor(
    readonly code: ErrorCode,
    readonly detail: string = ERRORS[code].title,
    readonly source?: ErrorSource,
    /** Extra response headers, such as `WWW-Authenticate` or `Retry-After`. */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(detail);
    this.status = ERRORS[code].status;
    this.title = ERRORS[code].title;
  }
}

export interface JsonApiError {
  status: string;
  code: ErrorCode;
  title: string;
  detail: string;
  source?: ErrorSource;
}

/** Turns anything thrown into the JSON:API error object the contract specifies. */
export function toJsonApiError(error: unknown): JsonApiError {
  const known = error instanceof ChattyError ? error : new ChattyError('internal_error', 'An unexpected error occurred');
  return {
    status: String(known.status),
    code: known.code,
    title: known.title,
    detail: known.detail,
    ...(known.source ? { source: known.source } : {}),
  };
}

/** The socket form of an error: what goes in a failed ack. */
export function toAckError(error: unknown): { ok: false; error: { code: ErrorCode; message: string } } {
  const known = error instanceof ChattyError ? error : new ChattyError('internal_error', 'An unexpected error occurred');
  return { ok: false, error: { code: known.code, message: known.detail } };
}
