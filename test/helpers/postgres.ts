/**
 * PostgreSQL for tests: the server at 127.0.0.1:5432 (user postgres, trust authentication, or
 * CHATTY_TEST_POSTGRES_URL), a fresh database per test or suite, dropped afterwards.
 *
 *   describe('on PostgreSQL', function () {
 *     requirePostgres();
 *     let db: TestDatabase;
 *     beforeEach(async () => (db = await createTestDatabase()));
 *     afterEach(() => db.drop());
 *   });
 *
 * Without PostgreSQL the suites that need it are skipped, with one line saying how to start it;
 * with CI=true they fail instead.
 */
import crypto from 'node:crypto';
import pg from 'pg';

/** The maintenance database tests create and drop their databases from. */
export const ADMIN_URL = process.env.CHATTY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** One line: PostgreSQL is unreachable, so its suites are skipped, and how to start it. */
export const HOW_TO_START =
  'PostgreSQL is not reachable at ' +
  new URL(ADMIN_URL).host +
  ': skipping the PostgreSQL suites. Start it (`sudo service postgresql start`, or `docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:15`), or set CHATTY_TEST_POSTGRES_URL; with CI=true they fail instead.';

let reachable: Promise<string | undefined> | undefined;
let warned = false;

/** Resolves with why PostgreSQL cannot be used, or undefined when it can. Asked once per run. */
export function postgresProblem(): Promise<string | undefined> {
  return (reachable ??= (async () => {
    const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
    client.on('error', () => {});
    try {
      await client.connect();
      const { rows } = await client.query<{ version: string }>("SELECT current_setting('server_version_num') AS version");
      if (Number(rows[0]!.version) < 130000) return `PostgreSQL ${rows[0]!.version} is too old: Chatty needs 13 or later`;
      return undefined;
    } catch (error) {
      return (error as Error).message;
    } finally {
      await client.end().catch(() => {});
    }
  })());
}

/**
 * Registers a `before` hook that skips the enclosing suite when PostgreSQL is unreachable (one
 * line for the whole run), or fails it when CI=true.
 */
export function requirePostgres(): void {
  before(async function () {
    const problem = await postgresProblem();
    if (problem === undefined) return;
    if (process.env.CI === 'true') throw new Error(`PostgreSQL is required in CI (CI=true) but unusable at ${new URL(ADMIN_URL).host}: ${problem}`);
    if (!warned) {
      warned = true;
      console.warn(`\n  ${HOW_TO_START}\n`);
    }
    this.skip();
  });
}

export interface TestDatabase {
  readonly name: string;
  /** A DATABASE_URL for it. */
  readonly url: string;
  /** Drops it, closing any connection still open to it. */
  drop(): Promise<void>;
}

/** Runs one statement on the maintenance database. */
export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end().catch(() => {});
  }
}

/** A new empty database `chatty_test_<random>`. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `chatty_test_${crypto.randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    name,
    url: url.toString(),
    drop: () => (dropped ??= adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

/** `url` with its host and port replaced (to go through a proxy). */
export function viaHost(url: string, host: string, port: number): string {
  const next = new URL(url);
  next.hostname = host;
  next.port = String(port);
  return next.toString();
}
