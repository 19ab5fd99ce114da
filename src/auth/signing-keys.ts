/**
 * The live key ring: loaded from the store at start, rotated through the API, persisted on every
 * change, and watched so that sockets are dropped the moment their key stops being valid.
 */
import type { KeyObject } from 'node:crypto';
import { ChattyError } from '../errors.js';
import { KeyRing, generateSecret, newKeyId, type KeyId, type SigningKey } from './key-ring.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import { signToken, tokenHeader, verifyToken, type Principal, type TokenClaims, type VerifyResult } from './tokens.js';
import { systemClock, type Clock } from '../time/clock.js';
import { runAt, type ScheduledRun } from '../time/timers.js';
import { VerifiedTokens } from './verified-tokens.js';
import type { NodeEnv } from '../../config.js';
import type { UserId } from '../channels/names.js';

/** A key of the ring as an operator may see it: everything but the secret. */
export interface KeyDescription {
  readonly id: KeyId;
  readonly createdAt: number;
  /** When it stops verifying tokens; null for the current key. */
  readonly expiresAt: number | null;
  /** Whether it signs new tokens. */
  readonly current: boolean;
}

/** A start-up failure the operator must fix; its message is the one line printed. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

export class SigningKeys {
  private readonly retirements = new Map<KeyId, ScheduledRun>();
  /** Rotations run one at a time: each starts from the ring the previous one left. */
  private rotation: Promise<unknown> = Promise.resolve();
  private retireListeners: ((keyId: KeyId) => void)[] = [];
  private readonly verified = new VerifiedTokens();
  /** Many nodes: brings this node up to date with the shared log, key-ring changes included. */
  private sync: (() => Promise<void>) | undefined;
  /** Whether an operator revoked a token otherwise valid (account-states.ts). */
  private revoked: (principal: Principal) => boolean = () => false;

  private constructor(
    private current: KeyRing,
    private readonly store: Store,
    private readonly logger: Logger,
    /** The time keys are valid by: the server's clock, which tests move by hand. */
    readonly clock: Clock,
  ) {
    for (const key of this.current.valid(clock.now())) this.watch(key);
  }

  /**
   * Loads the ring, seeding an empty one from `JWT_SECRET` or, outside production, from a
   * generated secret.
   */
  static async load(store: Store, options: { jwtSecret: string | undefined; nodeEnv: NodeEnv; logger: Logger; clock?: Clock }): Promise<SigningKeys> {
    const { jwtSecret, nodeEnv, logger, clock = systemClock } = options;
    let ring = new KeyRing(await store.listKeys());
    const now = clock.now();
    if (ring.valid(now).length === 0 || !ring.valid(now).some((k) => k.expiresAt === null)) {
      if (!ring.isEmpty) throw new StartupError('The key ring has no current key; restore the database or rotate with a new secret');
      let secret = jwtSecret;
      if (!secret) {
        if (nodeEnv === 'production') throw new StartupError('Invalid configuration: JWT_SECRET is required in production (the key ring is empty)');
        secret = generateSecret();
        logger.warn('No JWT_SECRET set: generated a random development secret and stored it in the key ring');
      }
      const key: SigningKey = { id: newKeyId(), secret, createdAt: now, expiresAt: null };
      // nodes starting together on one database each try; the ring keeps the first key only
      ring = new KeyRing(await store.seedKeyRing(key));
      if (ring.find(key.id, now)) logger.info({ keyId: key.id }, 'key ring seeded');
      else logger.info('key ring seeded by another node meanwhile');
    } else if (jwtSecret && !ring.valid(now).some((k) => k.secret === jwtSecret)) {
      logger.warn('JWT_SECRET differs from the persisted key ring and is ignored: rotate through PUT /auth/update-jwt-secret');
    }
    return new SigningKeys(ring, store, logger, clock);
  }

  /**
   * Many nodes: `sync` applies what the shared log holds, another node's rotation among it. Then a
   * token is signed only once this node knows every rotation answered before, and a token naming a
   * key this node does not know yet is checked again once it has caught up.
   */
  syncWith(sync: () => Promise<void>): void {
    this.sync = sync;
  }

  /** Resolves once every key-ring change answered anywhere before the call is applied here. */
  async upToDate(): Promise<void> {
    await this.sync?.();
  }

  /**
   * Reads the ring again (another node changed it): signs with its current key from now on, and
   * announces at once the keys that are no longer valid (a rotation with no grace period).
   */
  async reload(now = this.clock.now()): Promise<void> {
    const before = this.current.valid(now);
    this.current = new KeyRing(await this.store.listKeys());
    const valid = new Set(this.current.valid(now).map((key) => key.id));
    for (const key of this.current.valid(now)) this.watch(key);
    for (const key of before) if (!valid.has(key.id)) this.retire(key.id);
  }

  /** {@link verify}, after catching up with the shared log when the token names a key this node does not know. */
  async verifyFresh(token: string | undefined | null): Promise<VerifyResult> {
    const result = this.verify(token);
    if (result.ok || !this.sync || !token) return result;
    const kid = tokenHeader(token)?.kid;
    if (typeof kid !== 'string' || this.current.find(kid, this.clock.now())) return result;
    await this.sync().catch(() => {});
    return this.verify(token);
  }

  /** The keys that verify tokens at `now`, the current one first: never their secrets. */
  describe(now = this.clock.now()): KeyDescription[] {
    const current = this.current.current().id;
    return this.current.valid(now).map((key) => ({ id: key.id, createdAt: key.createdAt, expiresAt: key.expiresAt, current: key.id === current }));
  }

  /** Also refuses the tokens `revoked` says an operator revoked. */
  revokeWith(revoked: (principal: Principal) => boolean): void {
    this.revoked = revoked;
  }

  /** Verifies a token, answering from the cache of recently verified tokens when it can. */
  verify(token: string | undefined | null, now = this.clock.now()): VerifyResult {
    const known = token ? this.remembered(token, now) : undefined;
    const result: VerifyResult = known ? { ok: true, principal: known } : verifyToken(token, this.current, now);
    if (!result.ok) return result;
    if (!known) this.verified.set(token!, result.principal);
    return this.revoked(result.principal) ? { ok: false, code: 'token_invalid' } : result;
  }

  /** Who `token` speaks for, if it was verified before and would still be now. */
  cached(token: string, now = this.clock.now()): Principal | undefined {
    const known = this.remembered(token, now);
    return known && !this.revoked(known) ? known : undefined;
  }

  /** A token verified before whose key is still valid, revoked or not. */
  private remembered(token: string, now: number): Principal | undefined {
    return this.verified.get(token, now, (keyId) => this.current.find(keyId, now) !== undefined);
  }

  /** The secret of a key that is still valid, for libraries that verify on their own. */
  secretOf(keyId: KeyId, now = this.clock.now()): KeyObject | undefined {
    return this.current.find(keyId, now) && this.current.keyObject(keyId);
  }

  sign(claims: TokenClaims, ttlSeconds: number | undefined, now = this.clock.now()): string {
    return signToken(this.current, claims, ttlSeconds, now);
  }

  /** Called with each key id the moment it stops being valid. */
  onRetire(listener: (keyId: KeyId) => void): void {
    this.retireListeners.push(listener);
  }

  /** Makes `secret` the signing key; the replaced keys stay valid for `graceSeconds`. */
  rotate(secret: string, graceSeconds: number, now?: number): Promise<{ key: SigningKey; retired: SigningKey[] }> {
    const run = this.rotation.then(() => this.rotateNow(secret, graceSeconds, now ?? this.clock.now()));
    this.rotation = run.catch(() => undefined);
    return run;
  }

  /**
   * Refuses a secret the ring has ever held, current, in grace or expired: putting a retired
   * secret back would revive every token it signed (those without `kid` are tried against every
   * valid key). The store keeps every key ever saved; the in-memory ring only the valid ones.
   * The caller audits the rotation, knowing who asked for it.
   */
  private async rotateNow(secret: string, graceSeconds: number, now: number): Promise<{ key: SigningKey; retired: SigningKey[] }> {
    const held = [...this.current.valid(now), ...(await this.store.listKeys())];
    if (held.some((k) => k.secret === secret)) {
      throw new ChattyError('validation_failed', 'secret must be new: the key ring has held it before, and it must never sign again', { pointer: '/secret' });
    }
    const { ring, added, retired } = this.current.rotate(secret, graceSeconds, now);
    await this.store.saveKeys([added, ...retired]);
    this.current = ring;
    for (const key of retired) this.watch(key);
    return { key: added, retired };
  }

  stop(): void {
    for (const retirement of this.retirements.values()) retirement.cancel();
    this.retirements.clear();
  }

  private retire(keyId: KeyId): void {
    this.retirements.get(keyId)?.cancel();
    this.retirements.delete(keyId);
    this.logger.info({ keyId }, 'key retired');
    for (const listener of this.retireListeners) listener(keyId);
  }

  /** Arms (or re-arms) the timer that announces a replaced key's retirement. */
  private watch(key: SigningKey): void {
    if (key.expiresAt === null) return;
    this.retirements.get(key.id)?.cancel();
    this.retirements.set(
      key.id,
      runAt(
        key.expiresAt,
        () => this.retire(key.id),
        this.clock,
      ),
    );
  }
}
