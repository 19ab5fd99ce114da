/**
 * The key ring (contract §3): the current signing key and the keys it replaced, each valid until
 * its grace period ends. Pure: the caller persists it and supplies the clock.
 */
import crypto, { type KeyObject } from 'node:crypto';

export type KeyId = string;

export interface SigningKey {
  readonly id: KeyId;
  readonly secret: string;
  readonly createdAt: number;
  /** When the key stops being accepted; `null` while it has not been replaced. */
  readonly expiresAt: number | null;
}

export class KeyRing {
  private readonly keys: readonly SigningKey[];
  /**
   * Each secret as a KeyObject, made once: handed a string, jsonwebtoken first tries to parse it
   * as a PEM public key and throws, which costs about 40 times the HMAC itself.
   */
  private readonly material = new Map<KeyId, KeyObject>();

  /** @param keys every stored key; the newest unreplaced one signs. */
  constructor(keys: readonly SigningKey[]) {
    this.keys = [...keys].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
    for (const key of this.keys) this.material.set(key.id, crypto.createSecretKey(Buffer.from(key.secret, 'utf8')));
  }

  /** The key's secret in the form jsonwebtoken verifies and signs with fastest. */
  keyObject(id: KeyId): KeyObject {
    return this.material.get(id)!;
  }

  get isEmpty(): boolean {
    return this.keys.length === 0;
  }

  /** The key new tokens are signed with. */
  current(): SigningKey {
    const key = this.keys.find((k) => k.expiresAt === null);
    if (!key) throw new Error('the key ring has no current key');
    return key;
  }

  /** Keys that still verify tokens at `now`, the current one first. */
  valid(now: number): SigningKey[] {
    return this.keys.filter((k) => k.expiresAt === null || k.expiresAt > now);
  }

  find(id: KeyId, now: number): SigningKey | undefined {
    return this.keys.find((k) => k.id === id && (k.expiresAt === null || k.expiresAt > now));
  }

  /**
   * Makes `secret` the signing key. Every key still valid stays valid for `graceSeconds` more (never
   * longer than it already would); keys already expired are dropped. Returns the new ring and the
   * keys whose validity changed, which the caller must persist and whose sockets it must drop.
   */
  rotate(secret: string, graceSeconds: number, now: number): { ring: KeyRing; added: SigningKey; retired: SigningKey[] } {
    const until = now + graceSeconds * 1000;
    const added: SigningKey = { id: newKeyId(), secret, createdAt: now, expiresAt: null };
    const retired = this.valid(now).map((k) => ({ ...k, expiresAt: k.expiresAt === null ? until : Math.min(k.expiresAt, until) }));
    return { ring: new KeyRing([added, ...retired]), added, retired };
  }
}

export function newKeyId(): KeyId {
  return crypto.randomBytes(6).toString('hex');
}

/** A fresh random secret, for development start-ups without `JWT_SECRET`. */
export function generateSecret(): string {
  return crypto.randomBytes(48).toString('base64url');
}
