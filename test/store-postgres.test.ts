import { expect } from 'chai';
import pg from 'pg';
import { PostgresStore } from '../src/store/postgres-store.js';
import type { SigningKey } from '../src/auth/key-ring.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './helpers/postgres.js';
import { storeContract } from './store-contract.js';

describe('PostgreSQL store', function () {
  requirePostgres();

  storeContract('PostgreSQL', async () => {
    const db = await createTestDatabase();
    return { store: new PostgresStore(db.url), cleanup: () => db.drop() };
  });

  describe('several nodes starting together on one database (contract §9)', () => {
    const NODES = 6;
    let db: TestDatabase;
    let stores: PostgresStore[] = [];
    beforeEach(async () => {
      db = await createTestDatabase();
      // one pool each, as separate processes would have
      stores = Array.from({ length: NODES }, () => new PostgresStore(db.url));
    });
    afterEach(async () => {
      await Promise.all(stores.map((store) => store.close()));
      await db.drop();
    });

    it('migrate once: every migration is applied by exactly one of them', async () => {
      await Promise.all(stores.map((store) => store.migrate()));
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ version: number; n: string }>('SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version');
        expect(rows.length, 'migrations recorded').to.be.greaterThan(0);
        expect(rows.map((r) => r.version)).to.deep.equal(rows.map((_, i) => i + 1));
        expect(rows.every((r) => Number(r.n) === 1)).to.equal(true);
      } finally {
        await client.end();
      }
      // and a later start finds nothing to do
      await stores[0]!.migrate();
    });

    it('seed one key ring: each node offers its own key, all of them get the same single key back', async () => {
      await stores[0]!.migrate();
      const offered: SigningKey[] = stores.map((_, i) => ({ id: `node-${i}`, secret: `${i}`.repeat(40), createdAt: 1000 + i, expiresAt: null }));
      const rings = await Promise.all(stores.map((store, i) => store.seedKeyRing(offered[i]!)));
      expect(rings[0]).to.have.length(1);
      for (const ring of rings) expect(ring).to.deep.equal(rings[0]);
      expect(offered.map((k) => k.id)).to.include(rings[0]![0]!.id);
      expect(await stores[NODES - 1]!.listKeys()).to.deep.equal(rings[0]);
    });
  });
});
