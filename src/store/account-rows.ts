/** The accounts table's rows as both stores read them. */
import type { Role } from '../auth/tokens.js';
import type { Account } from './store.js';

export const ACCOUNT_COLUMNS = 'username, password_hash, role, created_at, disabled, token_version';
export type AccountRow = {
  username: string;
  password_hash: string;
  role: Role;
  created_at: number;
  disabled: number | boolean;
  token_version: number;
};
/** An accounts row of either store (SQLite's 0/1 or PostgreSQL's boolean for `disabled`). */
export function accountOfRow(row: AccountRow): Account {
  return { username: row.username, passwordHash: row.password_hash, role: row.role, createdAt: Number(row.created_at), disabled: Boolean(row.disabled), tokenVersion: Number(row.token_version) };
}
