/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, contract §10): `v1,` and the
 * base64 HMAC-SHA256 of `<id>.<timestamp>.<body>`, keyed by the base64-decoded part of the secret
 * after `whsec_`; several signatures (during a rotation) separated by spaces. Node's own HMAC: the
 * `standardwebhooks` package the tests verify with hashes in JavaScript, several times slower.
 */
import { createHmac, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';

/** A new secret: 32 random bytes. */
export function newSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

/** The HMAC-SHA256 of `<id>.<timestamp>.<body>`, keyed by the base64 after `whsec_` (or the whole secret without it). */
export function signatureOf(secret: string, id: string, timestamp: number | string, body: string): Buffer {
  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
  return createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
}

/** The `webhook-signature` header for a call, signed with each of `secrets`. */
export function signatures(secrets: readonly string[], id: string, timestampSeconds: number, body: string): string {
  return secrets.map((secret) => `v1,${signatureOf(secret, id, timestampSeconds, body).toString('base64')}`).join(' ');
}
