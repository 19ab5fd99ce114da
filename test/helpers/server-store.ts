/**
 * Which database a test server runs on. SQLite by default: the `dbPath` file itself. With
 * `CHATTY_TEST_STORE=postgres` (or the server option `store: 'postgres'`), each `dbPath` stands
 * for a fresh PostgreSQL database, so tests that restart a server on the same `dbPath` find their
 * data again. Those databases are dropped after the test that used them, once no server holds
 * one any more, and all of them when the run ends.
 *
 *   CHATTY_TEST_STORE=postgres npx mocha test/http-control.test.ts
 */
import { createTestDatabase, HOW_TO_START, postgresProblem, type TestDatabase } from './postgres.js';

export type TestStoreKind = 'sqlite' | 'postgres';

/** The store test servers use unless a test asks for another. */
export const defaultTestStore: TestStoreKind = process.env.CHATTY_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

export interface ServerDatabase {
  readonly url: string;
  /** Says the server that used it has stopped. */
  release(): void;
}

interface Held {
  database: Promise<TestDatabase>;
  servers: number;
}

const databases = new Map<string, Held>();

/** The DATABASE_URL for a server on `dbPath`; call `release()` when that server stops. */
export async function serverDatabase(kind: TestStoreKind, dbPath: string): Promise<ServerDatabase> {
  if (kind === 'sqlite') return { url: `sqlite:${dbPath}`, release: () => {} };
  let held = databases.get(dbPath);
  if (!held) {
    held = { database: openDatabase(), servers: 0 };
    databases.set(dbPath, held);
  }
  held.servers++;
  let released = false;
  const release = () => {
    if (!released) held!.servers--;
    released = true;
  };
  try {
    return { url: (await held.database).url, release };
  } catch (error) {
    databases.delete(dbPath);
    throw error;
  }
}

/**
 * Creating a database takes about a tenth of a second and dropping one about as long: the next
 * one is made while the current test runs, and drops finish in the background (the end of the run
 * waits for them).
 */
let spare: Promise<TestDatabase> | undefined;
const dropping = new Set<Promise<void>>();

async function openDatabase(): Promise<TestDatabase> {
  const problem = await postgresProblem();
  if (problem !== undefined) throw new Error(`CHATTY_TEST_STORE=postgres needs PostgreSQL: ${problem}`);
  const next = spare ?? createTestDatabase();
  spare = createTestDatabase();
  spare.catch(() => {});
  return next;
}

function dropLater(database: Promise<TestDatabase>): void {
  const drop = database.then((db) => db.drop()).catch(() => {});
  dropping.add(drop);
  void drop.finally(() => dropping.delete(drop));
}

async function dropDatabases(all: boolean): Promise<void> {
  for (const [dbPath, held] of databases) {
    if (!all && held.servers > 0) continue;
    databases.delete(dbPath);
    dropLater(held.database);
  }
  if (!all) return;
  if (spare) dropLater(spare);
  spare = undefined;
  await Promise.all([...dropping]);
}

// root hooks (this module is first imported while mocha loads the test files): before anything, a
// run on PostgreSQL without PostgreSQL is skipped with one line (a failure with CI=true); after
// each test, once its servers have stopped, its databases are dropped; at the end of the run,
// whatever still holds them
if (typeof before === 'function' && typeof afterEach === 'function' && typeof after === 'function') {
  if (defaultTestStore === 'postgres') {
    before(async function () {
      const problem = await postgresProblem();
      if (problem === undefined) return;
      if (process.env.CI === 'true') throw new Error(`CHATTY_TEST_STORE=postgres: PostgreSQL is required in CI (CI=true) but unusable: ${problem}`);
      console.warn(`\n  CHATTY_TEST_STORE=postgres: ${HOW_TO_START}\n`);
      this.skip();
    });
  }
  afterEach(() => dropDatabases(false));
  after(() => dropDatabases(true));
}
