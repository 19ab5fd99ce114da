/**
 * Outbound calls to webhook endpoints, made safe (contract §10): an endpoint must not turn Chatty
 * into a way to reach the private network it runs in. Loopback, link-local, private and other
 * non-public addresses are refused unless WEBHOOK_ALLOW_PRIVATE=true, both when an endpoint is
 * saved and on the address each call actually connects to (a name that resolved to a public
 * address yesterday may resolve to 10.0.0.1 today). Every call has a deadline, no redirect is
 * followed (a 3xx is a failure like any other status), and at most a few kilobytes of the answer
 * are read.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

/** How much of an answer is read (for the operator's `lastError`); the rest is not. */
export const MAX_RESPONSE_BYTES = 4096;

/** A call the safety rules refused before it was made: `host` is an address that is not public, or resolves to one. */
export class AddressRefused extends Error {
  constructor(host: string, resolved?: string) {
    super(`${host} ${resolved === undefined ? 'is' : `resolves to ${resolved},`} a loopback, link-local or private address`);
  }
}

/** Whether `address` is an ordinary public unicast address (an IPv4-mapped IPv6 one as its IPv4). */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === 'unicast';
}

/** The host of a URL as an address, without IPv6 brackets. */
const hostOf = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

/**
 * Throws {@link AddressRefused} when `url`'s host is, or resolves to, an address that is not
 * public. A name that does not resolve now passes: the call itself checks again.
 */
export async function checkDestination(url: URL, allowPrivate: boolean): Promise<void> {
  if (allowPrivate) return;
  const host = hostOf(url);
  if (net.isIP(host)) {
    if (!isPublicAddress(host)) throw new AddressRefused(host);
    return;
  }
  let addresses: dns.LookupAddress[];
  try {
    addresses = await dns.promises.lookup(host, { all: true });
  } catch {
    return;
  }
  const refused = addresses.find((a) => !isPublicAddress(a.address));
  if (refused) throw new AddressRefused(host, refused.address);
}

/** dns.lookup, refusing names that resolve to an address that is not public. */
const guardedLookup: net.LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, '', 0);
    const refused = addresses.find((a) => !isPublicAddress(a.address));
    if (refused) return callback(new AddressRefused(hostname, refused.address), '', 0);
    if (options.all) return (callback as unknown as (error: null, addresses: dns.LookupAddress[]) => void)(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  });
};

// connections are kept between calls: an endpoint gets its events one after another
const agents = { 'http:': new http.Agent({ keepAlive: true, maxSockets: 4 }), 'https:': new https.Agent({ keepAlive: true, maxSockets: 4 }) };

export interface PostOptions {
  readonly timeoutMs: number;
  readonly allowPrivate: boolean;
  /** Aborts the call (the endpoint was disabled or deleted, or the server is closing). */
  readonly signal?: AbortSignal;
}

export interface PostResult {
  readonly status: number;
  /** The start of the answer's body, at most {@link MAX_RESPONSE_BYTES}. */
  readonly body: string;
}

/** POSTs `body` to `url`; rejects on a refused address, a network error, or the deadline. */
export async function post(url: URL, body: string, headers: Record<string, string>, options: PostOptions): Promise<PostResult> {
  if (!options.allowPrivate && net.isIP(hostOf(url)) && !isPublicAddress(hostOf(url))) {
    throw new AddressRefused(hostOf(url));
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<PostResult>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | undefined, result?: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      options.signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(result!);
    };
    const request = client.request(url, {
      method: 'POST',
      agent: agents[url.protocol as 'http:' | 'https:'],
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      ...(options.allowPrivate ? {} : { lookup: guardedLookup }),
    });
    const deadline = setTimeout(() => {
      const error = new Error(`no answer within ${options.timeoutMs} ms`);
      request.destroy(error);
      finish(error);
    }, options.timeoutMs);
    const onAbort = () => {
      const error = new Error('aborted');
      request.destroy(error);
      finish(error);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', (error) => finish(error));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        if (size < MAX_RESPONSE_BYTES) chunks.push(chunk.subarray(0, MAX_RESPONSE_BYTES - size));
        size += chunk.length;
        // more than we read: the connection is not worth keeping
        if (size > MAX_RESPONSE_BYTES) {
          response.destroy();
          finish(undefined, { status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        }
      });
      response.on('end', () => finish(undefined, { status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', (error) => finish(error));
    });
    request.end(body);
  });
}
