/** Opens the store a `DATABASE_URL` names: `sqlite:<path>`, `sqlite::memory:`, `postgres://…` or `postgresql://…`. */
import { StartupError } from '../auth/signing-keys.js';
import { PostgresStore } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

/** The store `databaseUrl` names; `shared` when several nodes use it (PostgreSQL only). */
export function openStore(databaseUrl: string, options: { shared?: boolean } = {}): Store {
  if (databaseUrl.startsWith('sqlite:')) {
    const location = databaseUrl.slice('sqlite:'.length);
    return new SqliteStore(location === ':memory:' ? ':memory:' : location);
  }
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return new PostgresStore(databaseUrl, options);
  throw new StartupError('Invalid configuration: DATABASE_URL: must be sqlite:<path>, sqlite::memory: or postgres://…');
}
