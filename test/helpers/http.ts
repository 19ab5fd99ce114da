/** Real HTTP against a test server, with JSON:API bodies. */
import { expect } from 'chai';
import { openApiMismatch } from './openapi.js';

export interface ApiResponse {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface RequestOptions {
  token?: string;
  headers?: Record<string, string>;
  /** A raw body sent as is (default: JSON of `body`). */
  raw?: string | Buffer;
  contentType?: string;
}

export async function request(method: string, url: string, body?: unknown, options: RequestOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let payload: string | Buffer | undefined;
  if (options.raw !== undefined) payload = options.raw;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined) headers['content-type'] = options.contentType ?? 'application/vnd.api+json';
  const response = await fetch(url, { method, headers, body: payload as BodyInit | undefined });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  // every response a test sees is also a check of the OpenAPI document
  const mismatch = openApiMismatch(method, url, response.status, response.headers.get('content-type'), parsed);
  if (mismatch) throw new Error(mismatch);
  return { status: response.status, headers: response.headers, body: parsed };
}

/** Binds a base URL and a token: `const api = client(server.url, token); await api.post('/control/notify?...', body)`. */
export function client(baseUrl: string, token?: string) {
  const call = (method: string) => (path: string, body?: unknown, options: RequestOptions = {}) =>
    request(method, `${baseUrl}${path}`, body, { token, ...options });
  return { get: call('GET'), post: call('POST'), put: call('PUT'), patch: call('PATCH'), delete: call('DELETE') };
}

/** A JSON:API document naming resources `type-id`. */
export function doc(...resources: [type: string, id: string][]) {
  const data = resources.map(([type, id]) => ({ type, id }));
  return { data: data.length === 1 ? data[0] : data };
}

/** Asserts a JSON:API error document with one error of `code`, as the contract's §2 shapes every error. */
export function expectJsonApiError(res: ApiResponse, status: number, code: string, source?: Record<string, string>) {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.headers.get('content-type')).to.match(/^application\/vnd\.api\+json/);
  expect(res.body.errors, JSON.stringify(res.body)).to.be.an('array').with.length(1);
  const [error] = res.body.errors;
  expect(error.status).to.equal(String(status));
  expect(error.code).to.equal(code);
  expect(error.title).to.be.a('string').and.not.be.empty;
  expect(error.detail).to.be.a('string').and.not.be.empty;
  if (source) expect(error.source).to.deep.equal(source);
  return error;
}
