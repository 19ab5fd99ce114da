import fs from 'node:fs';
import path from 'node:path';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { tempDbPath } from './helpers/server.js';
import { storeContract } from './store-contract.js';

storeContract('SQLite file', async () => {
  const file = tempDbPath();
  return { store: new SqliteStore(file), cleanup: async () => fs.rmSync(path.dirname(file), { recursive: true, force: true }) };
});

storeContract('SQLite in memory', async () => ({ store: new SqliteStore(':memory:'), cleanup: async () => {} }));
