/**
 * Tokens verified recently, so that an app server sending many requests with one service token
 * pays for the signature check once. An entry is used only while the token's `exp` and its key
 * are both still valid, so the cache never accepts what a fresh verification would refuse.
 */
import type { Principal } from './tokens.js';

const CAPACITY = 10_000;

export class VerifiedTokens {
  private readonly entries = new Map<string, Principal>();

  /** The principal of `token` if it was verified before and still would be at `now`. */
  get(token: string, now: number, keyIsValid: (keyId: string) => boolean): Principal | undefined {
    const principal = this.entries.get(token);
    if (!principal) return undefined;
    if ((principal.exp !== undefined && principal.exp * 1000 <= now) || !keyIsValid(principal.keyId)) {
      this.entries.delete(token);
      return undefined;
    }
    return principal;
  }

  set(token: string, principal: Principal): void {
    if (this.entries.size >= CAPACITY) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, principal);
  }
}
