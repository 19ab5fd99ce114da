import { expect } from 'chai';
import { PostgresStore } from '../src/store/postgres-store.js';
import { createTestDatabase, requirePostgres } from './helpers/postgres.js';
import { storeContract } from './store-contract.js';

describe('PostgreSQL store', function () {
  requirePostgres();

  storeContract('PostgreSQL', async () => {
    const db = await createTestDatabase();
    return { store: new PostgresStore(db.url), cleanup: () => db.drop() };
  });
});
