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
      const cursors = (...rooms: string[]) => rooms.map((room) => ({ room, afterId: 0 }));
      expect(Object.fromEntries(await store.eventIdsFor(cursors('user:bob'), 10, 10))).to.deep.equal({ 'user:bob': [1, 2] });
      expect(Object.fromEntries(await store.eventIdsFor(cursors('user:alice', 'posts-1'), 10, 10))).to.deep.equal({ 'user:alice': [2], 'posts-1': [3] });
      expect(await store.unreadCounts('alice', [], 10), 'private conversations found by the new table').to.deep.equal({ 'dm:alice:bob': 0 });
      expect(await store.unreadCounts('bob', [], 10)).to.deep.equal({ 'dm:alice:bob': 1 });
    } finally {
      await store.close();
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });
});

describe('SQLite query plans (issue 9: each read costs what it returns)', () => {
  const planOf = (db: Database.Database, sql: string, ...params: unknown[]) =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((row) => row.detail).join('\n');

  it('prunes through the time index and replays through the (room, event id) index, never scanning the log', async () => {
    const file = tempDbPath();
    const store = new SqliteStore(file);
    try {
      await store.migrate();
      const db = new Database(file, { readonly: true });
      try {
        const statements = store['sql'];
        const prune = planOf(db, statements.prune.source, 1, 1, 10);
        expect(prune).to.include('events_by_time');
        expect(prune).to.not.match(/SCAN e(vents)?\b(?! USING)/);
        const ids = planOf(db, statements.eventIdsFor.source, 'posts-1', 0, 10, 10);
        expect(ids).to.match(/SEARCH event_targets USING PRIMARY KEY \(room=\? AND event_id>\? AND event_id<\?\)/);
        const unread = planOf(db, statements.unread.source, 'rooms-1', 0, 'bob', 10);
        expect(unread).to.include('messages_by_channel (channel=? AND id>?)');
        const positions = planOf(db, statements.readPositions.source, 'rooms-1', 10);
        expect(positions).to.include('read_positions_by_channel');
        expect(positions).to.not.include('TEMP B-TREE');
      } finally {
        db.close();
      }
    } finally {
      await store.close();
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });
});
