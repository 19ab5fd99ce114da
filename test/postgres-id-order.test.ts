/**
 * The id-order trap (SCALE-OUT.md): with ids from a plain sequence, a transaction that took id 10
 * may commit after one that took 11, and a reader following the log by "id greater than the last
 * seen" moves past 10 for good. Several processes (nodes) append concurrently, each over several
 * connections, while a reader follows the log as a tailing node would: every id must be seen
 * exactly once, in increasing order.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { PostgresStore } from '../src/store/postgres-store.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './helpers/postgres.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROCESSES = 4;
const CONNECTIONS = 4;
const EVENTS_PER_CONNECTION = 400;

interface Appender {
  proc: ChildProcess;
  ready: Promise<void>;
  /** The ids it was given, once it has finished. */
  ids: Promise<number[]>;
}

function startAppender(url: string): Appender {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test', 'helpers', 'postgres-appender.ts'), url, String(CONNECTIONS), String(EVENTS_PER_CONNECTION)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  proc.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.startsWith('ready\n')) markReady();
  });
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ids = new Promise<number[]>((resolve, reject) =>
    proc.once('exit', (code) => {
      const lines = stdout.trim().split('\n');
      if (code === 0 && lines[0] === 'ready' && lines.length === 2) resolve(JSON.parse(lines[1]!) as number[]);
      else reject(new Error(`appender exited with ${code}: ${stderr || stdout}`));
    }),
  );
  return { proc, ready: Promise.race([ready, ids.then(() => {})]), ids };
}

describe('PostgreSQL event log: ids become visible in increasing order (SCALE-OUT.md)', function () {
  requirePostgres();
  this.timeout(60_000);
  let db: TestDatabase;
  let reader: PostgresStore;
  const appenders: Appender[] = [];

  beforeEach(async () => {
    db = await createTestDatabase();
    reader = new PostgresStore(db.url);
    await reader.migrate();
  });
  afterEach(async () => {
    for (const a of appenders.splice(0)) a.proc.kill('SIGKILL');
    await reader.close();
    await db.drop();
  });

  it(`${PROCESSES} processes × ${CONNECTIONS} connections appending while a reader follows "id > last seen": each id once, in order`, async () => {
    for (let i = 0; i < PROCESSES; i++) appenders.push(startAppender(db.url));
    await Promise.all(appenders.map((a) => a.ready));
    for (const a of appenders) a.proc.stdin!.end('go\n');

    let finished = false;
    const appended = Promise.all(appenders.map((a) => a.ids)).finally(() => (finished = true));
    const seen: number[] = [];
    let last = 0;
    const total = PROCESSES * CONNECTIONS * EVENTS_PER_CONNECTION;
    // follow the log as fast as it goes; once the appenders are done, one more read finds the rest
    for (let drained = false; !drained; ) {
      const done = finished;
      const page = await reader.eventsBetween(last, Number.MAX_SAFE_INTEGER, 500);
      for (const event of page) {
        expect(event.id, `id after ${last}`).to.be.greaterThan(last);
        seen.push(event.id);
        last = event.id;
      }
      drained = done && page.length < 500;
    }
    const ids = (await appended).flat().sort((a, b) => a - b);
    expect(ids).to.have.length(total);
    expect(new Set(ids).size, 'ids are unique across processes').to.equal(total);
    const missed = ids.filter((id) => !new Set(seen).has(id));
    expect(missed, 'ids committed but never seen by the reader: it moved past them before they became visible').to.deep.equal([]);
    expect(seen).to.deep.equal(ids);
  });
});
