/**
 * The baselines: what the same work costs with bare Socket.IO, Express 5 and better-sqlite3 and
 * nothing else (no auth, no validation, no log, no store). Run as a child process by the
 * scenarios (`node --import tsx bench/baselines.ts`, `PORT` in the environment), like the product.
 *
 * HTTP (same JSON bodies as the product's control API):
 *   GET  /readyz                       200
 *   POST /emit?room=r                  io.to(r).emit(event, attributes, {id, time}); 202    (fan-out)
 *   POST /emit?rooms=a,b,c             io.to([a,b,c]).emit(...); 202                          (efficient)
 *   POST /notify                       parses the body, answers 202; emits nothing           (control path)
 * Sockets: no auth; each joins the rooms named in `handshake.auth.rooms`, then gets `ready`.
 * With `REDIS_URL` (the cluster scenario): Socket.IO's Redis adapter under `REDIS_PREFIX`, so an
 * emit on one baseline server reaches the sockets of all of them, as Socket.IO documents it.
 * IPC `bench:sqlite`: raw inserts of the subscription rows the subscribe scenario writes.
 */
import Database from 'better-sqlite3';
import express from 'express';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

interface NotifyBody {
  event: string;
  attributes: Record<string, unknown>;
}

export interface SqliteBaselineRequest {
  readonly type: 'bench:sqlite';
  /** Users are `${userPrefix}0` … `${userPrefix}${users - 1}`. */
  readonly userPrefix: string;
  readonly users: number;
  /** For each channel set in turn: every user × those channels, in one transaction. */
  readonly oneTransaction: readonly (readonly string[])[];
  /** Then every user × these channels, one transaction per user. */
  readonly perUser: readonly string[];
}

export interface SqliteBaselineReply {
  readonly type: 'bench:sqlite';
  /** Rows inserted and time taken by each one-transaction insert. */
  readonly oneTransaction: readonly { readonly rows: number; readonly ms: number }[];
  readonly perUser: { readonly rows: number; readonly ms: number };
  readonly error?: string;
}

function startServer(port: number): void {
  const app = express();
  const server = http.createServer(app);
  const io = new Server(server);
  if (process.env.REDIS_URL) {
    const pub = new Redis(process.env.REDIS_URL);
    const sub = pub.duplicate();
    io.adapter(createAdapter(pub, sub, { key: `${process.env.REDIS_PREFIX ?? 'bench'}:socket.io` }));
  }
  let nextId = 1;

  app.use(express.json({ type: ['application/json', 'application/vnd.api+json'], limit: '1mb' }));

  app.get('/readyz', (_req, res) => {
    res.status(200).json({ meta: { ready: true } });
  });

  app.post('/emit', (req, res) => {
    const body = req.body as NotifyBody;
    const id = nextId++;
    const time = Date.now();
    const rooms = typeof req.query.rooms === 'string' ? req.query.rooms.split(',') : [String(req.query.room)];
    const payload = { ...body.attributes, origin: rooms[0] };
    io.to(rooms.length === 1 ? rooms[0] : rooms).emit(body.event, payload, { id, time });
    res.status(202).type('application/vnd.api+json').json(receipt(id, body.event, rooms, time));
  });

  app.post('/notify', (req, res) => {
    const body = req.body as NotifyBody;
    const id = nextId++;
    res.status(202).type('application/vnd.api+json').json(receipt(id, body.event, ['nobody-1'], Date.now()));
  });

  io.on('connection', (socket) => {
    const rooms = (socket.handshake.auth as { rooms?: string[] }).rooms ?? [];
    socket.join(rooms);
    socket.emit('ready', { userId: socket.id, channels: rooms, replayed: 0, lastEventId: 0 });
  });

  server.listen(port, '127.0.0.1');
}

/** The same shape as the product's 202 answer, so both send as many bytes back. */
function receipt(id: number, event: string, targets: string[], time: number) {
  return {
    data: { type: 'notifications', id: String(id), attributes: { event, mode: 'channels', targets, createdAt: new Date(time).toISOString() } },
  };
}

/**
 * Inserts the subscription rows of the subscribe scenario into a fresh database with the
 * product's pragmas (WAL, synchronous FULL) and table shape, timing only the inserts.
 */
function sqliteInserts(request: SqliteBaselineRequest): SqliteBaselineReply {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatty-bench-sqlite-'));
  const db = new Database(path.join(dir, 'baseline.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(`
      CREATE TABLE subscriptions (
        user_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, channel)
      ) WITHOUT ROWID;
      CREATE INDEX subscriptions_by_channel ON subscriptions (channel, user_id);`);
    const insert = db.prepare('INSERT OR IGNORE INTO subscriptions (user_id, channel, created_at) VALUES (?, ?, ?)');
    const users = Array.from({ length: request.users }, (_, i) => `${request.userPrefix}${i}`);
    const insertRows = db.transaction((batch: readonly string[], channels: readonly string[], now: number) => {
      let rows = 0;
      for (const user of batch) for (const channel of channels) rows += insert.run(user, channel, now).changes;
      return rows;
    });
    const timed = (work: () => number) => {
      const started = performance.now();
      const rows = work();
      return { rows, ms: performance.now() - started };
    };
    const oneTransaction = request.oneTransaction.map((channels) => timed(() => insertRows(users, channels, Date.now())));
    const perUser = timed(() => users.reduce((rows, user) => rows + insertRows([user], request.perUser, Date.now()), 0));
    return { type: 'bench:sqlite', oneTransaction, perUser };
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const port = Number(process.env.PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error('baselines: PORT must be set');
  startServer(port);
  process.on('message', (message: { type?: string }) => {
    if (message?.type !== 'bench:sqlite') return;
    let reply: SqliteBaselineReply;
    try {
      reply = sqliteInserts(message as SqliteBaselineRequest);
    } catch (error) {
      reply = { type: 'bench:sqlite', oneTransaction: [], perUser: { rows: 0, ms: 0 }, error: (error as Error).message };
    }
    process.send?.(reply);
  });
  process.channel?.unref();
  process.on('SIGTERM', () => process.exit(0));
}

main();
