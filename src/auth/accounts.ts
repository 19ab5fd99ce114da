/**
 * Accounts of people who log in with a password (contract §3). App servers mint their own tokens
 * and need no account; these are for the browser client and operators.
 */
import bcrypt from 'bcryptjs';
import { z } from 'zod';
import { passwordSchema, usernameSchema } from './credentials.js';
import { ChattyError } from '../errors.js';
import type { Account, Store } from '../store/store.js';
import type { Role } from './tokens.js';
import type { UserId } from '../channels/names.js';

export const BCRYPT_COST = 10;

/**
 * What every account's user id starts with. Registered accounts live in a namespace of their own,
 * so that a stranger who registers `alice` becomes `@alice`, never the `alice` your app server's
 * tokens address (contract §8: whatever REGISTRATION says, a registration never takes such an id).
 * App servers keep ids starting with `@` for accounts.
 */
export const ACCOUNT_ID_PREFIX = '@';

/** The user id (token `sub`) of the account with this username, in the account's own spelling. */
export function accountUserId(username: string): UserId {
  return ACCOUNT_ID_PREFIX + username;
}

const credentialsSchema = z.object({ username: usernameSchema, password: passwordSchema });

export interface Credentials {
  username: string;
  password: string;
}

/**
 * The body of a register or login request as an object; throws `invalid_body` for anything else
 * (`null`, an array, a string), which has no fields to point at.
 */
export function credentialsObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ChattyError('invalid_body', 'The body must be a JSON object {username, password}');
  }
  return body as Record<string, unknown>;
}

/** Validates a registration body; throws `validation_failed` pointing at the bad field. */
export function parseCredentials(body: unknown): Credentials {
  const parsed = credentialsSchema.safeParse(credentialsObject(body));
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = String(issue.path[0] ?? '');
  const detail = issue.code === 'invalid_type' ? `${field} must be a string` : `${field} ${issue.message}`;
  throw new ChattyError('validation_failed', detail, { pointer: `/${field}` });
}

// A real hash of a random password, compared against when the user does not exist, so that
// "unknown user" and "wrong password" take the same time.
const DUMMY_HASH = bcrypt.hashSync('chatty-timing-equaliser', BCRYPT_COST);

/** An operator's change to an account, as the console's route takes it. */
export interface AccountUpdate {
  role?: Role;
  disabled?: boolean;
  password?: string;
}

export class Accounts {
  constructor(
    private readonly store: Store,
    /** ADMIN_USERNAME: the bootstrap admin, which no operator can disable or demote. */
    private readonly bootstrapAdmin?: string,
  ) {}

  /** Whether `username` names the bootstrap admin (in any case). */
  isBootstrapAdmin(username: string): boolean {
    return this.bootstrapAdmin !== undefined && this.bootstrapAdmin.toLowerCase() === username.toLowerCase();
  }

  /**
   * Applies an operator's change. Nobody may disable or demote the bootstrap admin, nor their own
   * account: the console must always keep an admin who can sign in. `not_found` for no account.
   */
  async update(username: string, update: AccountUpdate, by: UserId): Promise<Account> {
    const locksOut = update.disabled === true || (update.role !== undefined && update.role !== 'admin');
    if (locksOut && this.isBootstrapAdmin(username)) {
      throw new ChattyError('validation_failed', 'The bootstrap admin (ADMIN_USERNAME) cannot be disabled or lose the admin role', { pointer: '/data/attributes' });
    }
    if (locksOut && by.toLowerCase() === accountUserId(username).toLowerCase()) {
      throw new ChattyError('validation_failed', 'You cannot disable your own account or take its admin role: ask another admin', { pointer: '/data/attributes' });
    }
    const passwordHash = update.password === undefined ? undefined : await bcrypt.hash(update.password, BCRYPT_COST);
    const changed = await this.store.changeAccount(username, {
      ...(update.role !== undefined ? { role: update.role } : {}),
      ...(update.disabled !== undefined ? { disabled: update.disabled } : {}),
      ...(passwordHash !== undefined ? { passwordHash } : {}),
    });
    if (!changed) throw new ChattyError('not_found', `No account is named "${username.slice(0, 64)}"`);
    return changed;
  }

  /** Creates a `user` account; `username_taken` when it exists. */
  async register(credentials: Credentials): Promise<{ username: string; role: Role; createdAt: number }> {
    const passwordHash = await bcrypt.hash(credentials.password, BCRYPT_COST);
    const account = { username: credentials.username, passwordHash, role: 'user' as const, createdAt: Date.now() };
    if (!(await this.store.createAccount(account))) throw new ChattyError('username_taken', `The username "${credentials.username}" is taken`, { pointer: '/username' });
    return { username: account.username, role: account.role, createdAt: account.createdAt };
  }

  /**
   * The account when the password matches and no operator disabled it, otherwise undefined;
   * constant-time either way.
   */
  async authenticate(username: string, password: string): Promise<{ username: string; role: Role; tokenVersion: number } | undefined> {
    const account = await this.store.findAccount(username);
    const matches = await bcrypt.compare(password, account?.passwordHash ?? DUMMY_HASH);
    if (!account || !matches || account.disabled) return undefined;
    return { username: account.username, role: account.role, tokenVersion: account.tokenVersion ?? 0 };
  }

  /** Creates the bootstrap admin or brings its password and role up to date. */
  async ensureAdmin(username: string, password: string): Promise<void> {
    const existing = await this.store.findAccount(username);
    if (existing && existing.role === 'admin' && (await bcrypt.compare(password, existing.passwordHash))) return;
    const passwordHash = await bcrypt.hash(password, BCRYPT_COST);
    await this.store.upsertAccount({ username, passwordHash, role: 'admin', createdAt: existing?.createdAt ?? Date.now() });
  }
}
