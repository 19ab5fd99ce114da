/**
 * Which accounts' tokens an operator has revoked (the console, issue 32): disabled accounts, and
 * accounts whose role or password an operator changed, which moves their token version on. Login
 * tokens carry the version they were signed at (`ver`); a token of an older version, or of a
 * disabled account, is refused everywhere a token is checked (SigningKeys.verify), and the
 * account's live sockets are disconnected.
 *
 * Held in memory (only the accounts an operator ever changed) and read again from the store when
 * this node changes an account, or, on many nodes, when another node's change reaches this node's
 * tail of the log.
 */
import { ACCOUNT_ID_PREFIX } from './accounts.js';
import type { Principal } from './tokens.js';
import type { AccountState, Store } from '../store/store.js';
import type { UserId } from '../channels/names.js';

export class AccountStates {
  /** By username in lower case (usernames are case-insensitive). */
  private states = new Map<string, AccountState>();
  private readonly listeners: ((userIds: UserId[]) => void)[] = [];

  constructor(private readonly store: Store) {}

  /** Reads the states again; tells the listeners which accounts changed (their user ids). */
  async reload(): Promise<void> {
    const next = new Map((await this.store.accountStates()).map((state) => [state.username.toLowerCase(), state]));
    const changed: UserId[] = [];
    for (const [key, state] of next) {
      const before = this.states.get(key);
      if (!before || before.disabled !== state.disabled || before.tokenVersion !== state.tokenVersion) changed.push(ACCOUNT_ID_PREFIX + state.username);
    }
    this.states = next;
    if (changed.length > 0) for (const listener of this.listeners) listener(changed);
  }

  /** Called with the user ids of the accounts whose tokens may have been revoked. */
  onChange(listener: (userIds: UserId[]) => void): void {
    this.listeners.push(listener);
  }

  /** Whether an operator revoked this token: its account is disabled, or changed since it was signed. */
  readonly isRevoked = (principal: Principal): boolean => {
    if (this.states.size === 0 || !principal.sub.startsWith(ACCOUNT_ID_PREFIX)) return false;
    const state = this.states.get(principal.sub.slice(ACCOUNT_ID_PREFIX.length).toLowerCase());
    return state !== undefined && (state.disabled || principal.ver < state.tokenVersion);
  };
}
