import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { SQLITE_MIGRATIONS } from '../src/store/sqlite-migrations.js';
import { tempDbPath } from './helpers/server.js';
import { storeContract } from './store-contract.js';

storeContract('SQLite file', async () => {
  const file = tempDbPath();
  return { store: new SqliteStore(file), cleanup: async () => fs.rmSync(path.dirname(file), { recursive: true, force: true }) };
});

storeContract('SQLite in memory', async () => ({ store: new SqliteStore(':memory:'), cleanup: async () => {} }));

describe('SQLite migrations', () => {
  it('indexes the events of a database made before the replay index existed', async () => {
    const file = tempDbPath();
    const old = new Database(file);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    old.exec(SQLITE_MIGRATIONS[0]!);
    old.prepare('INSERT INTO schema_migrations VALUES (1, 0)').run();
    old.prepare(`INSERT INTO events (kind, created_at, event, attributes, mode, targets, add_flags) VALUES ('notify', 1, 'e', '{}', 'users', '["bob"]', '')`).run();
    old.prepare(`INSERT INTO events (kind, created_at) VALUES ('chat', 2)`).run();
    old.prepare(`INSERT INTO messages (id, channel, sender, body, created_at, member_a, member_b) VALUES (2, 'dm:alice:bob', 'alice', 'hi', 2, 'alice', 'bob')`).run();
    old.prepare(`INSERT INTO events (kind, created_at, event, attributes, mode, targets, add_flags) VALUES ('notify', 3, 'e', '{}', 'channels', '["posts-1"]', '')`).run();
    old.close();
    const store = new SqliteStore(file);
    try {
      await store.migrate();
      expect((await store.eventsFor(['user:bob'], 0, 10, 10)).map((e) => e.id)).to.deep.equal([1, 2]);
      expect((await store.eventsFor(['user:alice', 'posts-1'], 0, 10, 10)).map((e) => e.id)).to.deep.equal([2, 3]);
    } finally {
      await store.close();
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });
});
