/**
 * A lean HTTP/1.1 keep-alive client and a closed-loop load generator.
 *
 * Why not `fetch`/`http.request`: at tens of thousands of requests per second their per-request
 * cost on the load side rivals the server's, and on 2 cores that would measure the client.
 * Here a request is a prebuilt Buffer written to a raw socket, and a response is framed by its
 * `Content-Length` (or chunked encoding) without building header objects.
 *
 * @example
 *   const conn = await HttpConnection.open(port);
 *   const { status, body } = await conn.send(buildRequest('POST', '/control/notify?...', headers, json));
 *   const result = await runLoad({ port, connections: 16, durationMs: 5000, next: () => request });
 */
import net from 'node:net';
import { percentile } from './stats.js';

export const HOST = '127.0.0.1';

export interface HttpResponse {
  readonly status: number;
  readonly body: Buffer;
}

/** Builds a complete request; `body` is sent as JSON unless a content type is given. */
export function buildRequest(method: string, path: string, headers: Record<string, string>, body?: unknown): Buffer {
  const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: keep-alive\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  if (payload) {
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) head += 'Content-Type: application/json\r\n';
    head += `Content-Length: ${payload.length}\r\n`;
  }
  head += '\r\n';
  return payload ? Buffer.concat([Buffer.from(head), payload]) : Buffer.from(head);
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/** One keep-alive connection, one request at a time. */
export class HttpConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private pending: { resolve(response: HttpResponse): void; reject(error: Error): void } | undefined;
  private closedError: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed by server')));
  }

  static open(port: number, timeoutMs = 10_000): Promise<HttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: HOST, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${HOST}:${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', reject);
        resolve(new HttpConnection(socket));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  send(request: Buffer, timeoutMs = 30_000): Promise<HttpResponse> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.pending) return Promise.reject(new Error('HttpConnection: one request at a time'));
    return new Promise<HttpResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        this.close();
        reject(new Error(`HTTP request timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending = {
        resolve: (response) => {
          clearTimeout(timer);
          resolve(response);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.socket.write(request);
    });
  }

  close(): void {
    this.closedError ??= new Error('connection closed');
    this.socket.destroy();
  }

  private fail(error: Error): void {
    this.closedError ??= error;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const response = this.takeResponse();
    if (!response) return;
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve(response);
  }

  /** Removes one complete response from the buffer, or returns undefined if incomplete. */
  private takeResponse(): HttpResponse | undefined {
    const data = this.buffered;
    const headerEnd = data.indexOf(HEADER_END);
    if (headerEnd < 0) return undefined;
    const status = (data[9] - 0x30) * 100 + (data[10] - 0x30) * 10 + (data[11] - 0x30);
    const head = data.toString('latin1', 0, headerEnd).toLowerCase();
    const bodyStart = headerEnd + 4;
    const lengthAt = head.indexOf('\r\ncontent-length:');
    if (lengthAt >= 0) {
      const lineEnd = head.indexOf('\r\n', lengthAt + 2);
      const length = Number.parseInt(head.slice(lengthAt + 17, lineEnd < 0 ? head.length : lineEnd), 10);
      if (data.length < bodyStart + length) return undefined;
      this.buffered = data.subarray(bodyStart + length);
      return { status, body: data.subarray(bodyStart, bodyStart + length) };
    }
    if (head.includes('\r\ntransfer-encoding: chunked')) return this.takeChunked(status, bodyStart);
    // no body framing: a 204/304 or a body that ends with the connection
    this.buffered = data.subarray(bodyStart);
    return { status, body: Buffer.alloc(0) };
  }

  private takeChunked(status: number, bodyStart: number): HttpResponse | undefined {
    const data = this.buffered;
    const parts: Buffer[] = [];
    let at = bodyStart;
    for (;;) {
      const lineEnd = data.indexOf(CRLF, at);
      if (lineEnd < 0) return undefined;
      const size = Number.parseInt(data.toString('latin1', at, lineEnd), 16);
      if (size === 0) {
        const trailerEnd = data.indexOf(CRLF, lineEnd + 2);
        if (trailerEnd < 0) return undefined;
        this.buffered = data.subarray(trailerEnd + 2);
        return { status, body: Buffer.concat(parts) };
      }
      if (data.length < lineEnd + 2 + size + 2) return undefined;
      parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
}

export interface LoadOptions {
  readonly port: number;
  readonly connections: number;
  /** Stop after this long… */
  readonly durationMs?: number;
  /** …or after this many requests, whichever comes first. */
  readonly totalRequests?: number;
  /** The request to send as the `index`-th one (0-based, in send order). */
  readonly next: (index: number) => Buffer;
  /** Called with each response, e.g. to check a body; keep it cheap. */
  readonly check?: (response: HttpResponse, index: number) => void;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  /** Responses per status code. */
  readonly statuses: Record<string, number>;
  readonly errors: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number };
  /** Every request's latency, ms, for pooling rounds. */
  readonly latencies: readonly number[];
}

/**
 * Closed loop: each of `connections` keep-alive connections sends its next request as soon as the
 * previous response arrived. A connection the server closes is reopened.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const durationMs = options.durationMs ?? 600_000;
  const total = options.totalRequests ?? Number.POSITIVE_INFINITY;
  if (!Number.isFinite(total) && options.durationMs === undefined) throw new Error('runLoad: give durationMs or totalRequests');
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  let issued = 0;
  let completed = 0;
  let errors = 0;
  const started = performance.now();
  const stopAt = started + durationMs;
  const loop = async () => {
    let connection: HttpConnection | undefined;
    while (issued < total && performance.now() < stopAt && errors < 100) {
      try {
        if (!connection || connection.closed) connection = await HttpConnection.open(options.port);
        const index = issued++;
        const sentAt = performance.now();
        const response = await connection.send(options.next(index));
        latencies.push(performance.now() - sentAt);
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        options.check?.(response, index);
        completed++;
      } catch {
        errors++;
        connection?.close();
        connection = undefined;
      }
    }
    connection?.close();
  };
  await Promise.all(Array.from({ length: options.connections }, loop));
  const seconds = (performance.now() - started) / 1000;
  return {
    requests: completed,
    seconds,
    requestsPerSecond: completed / seconds,
    statuses,
    errors,
    latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) },
    latencies,
  };
}

/** Several rounds' results as one: requests and time summed, latencies pooled. */
export function pool(results: readonly LoadResult[]): LoadResult {
  const statuses: Record<string, number> = {};
  for (const result of results) for (const [status, count] of Object.entries(result.statuses)) statuses[status] = (statuses[status] ?? 0) + count;
  const latencies = results.flatMap((result) => result.latencies);
  const requests = results.reduce((sum, result) => sum + result.requests, 0);
  const seconds = results.reduce((sum, result) => sum + result.seconds, 0);
  return {
    requests,
    seconds,
    requestsPerSecond: requests / seconds,
    statuses,
    errors: results.reduce((sum, result) => sum + result.errors, 0),
    latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) },
    latencies,
  };
}

/** Sends one request on a fresh connection (setup and checks, not load). */
export async function requestOnce(port: number, request: Buffer, timeoutMs = 60_000): Promise<HttpResponse> {
  const connection = await HttpConnection.open(port);
  try {
    return await connection.send(request, timeoutMs);
  } finally {
    connection.close();
  }
}
