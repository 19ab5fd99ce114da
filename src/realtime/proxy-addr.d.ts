/**
 * The part of `proxy-addr` (the package Express's `trust proxy` setting is built on) that the
 * socket layer uses; the package ships no types of its own.
 */
declare module 'proxy-addr' {
  /** Whether the address `addr`, `hop` proxies away from this server, is trusted. */
  export type TrustFunction = (addr: string, hop: number) => boolean;
  /** Compiles addresses, CIDR ranges and the names `loopback`, `linklocal`, `uniquelocal`. */
  export function compile(trust: string | string[]): TrustFunction;
  /** The client's address: the furthest hop of X-Forwarded-For reached through trusted proxies only. */
  export default function proxyaddr(req: import('node:http').IncomingMessage, trust: TrustFunction): string;
}
