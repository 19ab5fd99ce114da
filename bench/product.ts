/**
 * The product as users run it: `node bin/www` (built by `npm run build`) with a fresh SQLite
 * database, durability on unless asked otherwise, plus the app server's side of the contract:
 * minting tokens with the shared secret, and calling the control API (§4).
 *
 * @example
 *   const product = await Product.start({ label: 'fan-out' });
 *   await product.subscribeUsers(users, ['posts-1']);
 *   const request = product.notifyRequest('channels:posts-1', 'bench', attributes, ['origin']);
 *   await product.stop();
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { buildRequest, HttpConnection, type HttpResponse } from './http-load.js';
import { freePort, PROJECT_ROOT, ServerProcess } from './server-process.js';

export type ChannelName = string;
export type UserId = string;
export type EventLogMode = 'durable' | 'off';

/** The most names one `method` query may carry (contract §4.1). */
export const METHOD_LIST_LIMIT = 1_000;

/**
 * The tree whose build is measured: this one, or another built checkout given in
 * `BENCH_PRODUCT_ROOT` (to compare two versions with the same load generator, e.g. a commit's tree
 * from `git archive`).
 */
export const PRODUCT_ROOT = process.env.BENCH_PRODUCT_ROOT ? path.resolve(process.env.BENCH_PRODUCT_ROOT) : PROJECT_ROOT;

export interface ProductOptions {
  readonly label: string;
  readonly eventLog?: EventLogMode;
  readonly memoryProbe?: boolean;
  /** More environment for the server (e.g. `REPLAY_RATE`); overrides the defaults below. */
  readonly env?: Readonly<Record<string, string>>;
  /** Fills the fresh SQLite file before the server starts (the server then migrates it as usual). */
  readonly prepareDatabase?: (file: string) => Promise<void>;
  /** `postgres`: a fresh PostgreSQL database (on BENCH_POSTGRES_URL's server), dropped at stop. Default SQLite. */
  readonly store?: 'sqlite' | 'postgres';
  /** Another node of a cluster: the first node's PostgreSQL database and secret (dropped by the first). */
  readonly joins?: Product;
}

/** The PostgreSQL server the bench makes its databases on: the machine's own, user postgres. */
const POSTGRES_ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function postgresAdmin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh database: its URL, and a function that drops it. */
async function freshPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `chatty_bench_${crypto.randomBytes(6).toString('hex')}`;
  await postgresAdmin(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => postgresAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

export interface JsonResponse {
  readonly status: number;
  readonly json: any;
}

export class Product {
  private readonly serviceToken: string;
  /** A KeyObject, not the string: jsonwebtoken first tries a string as a PEM key, which costs ~1 ms a token. */
  private readonly signingKey: crypto.KeyObject;
  private connection: HttpConnection | undefined;

  private constructor(
    readonly server: ServerProcess,
    /** The secret its tokens are signed with, which another node of a cluster shares. */
    readonly secret: string,
    private readonly dataDir: string,
    /** The server's SQLite file (unused on PostgreSQL). */
    readonly databaseFile: string,
    private readonly dropDatabase: () => Promise<void>,
    /** The server's DATABASE_URL, which another node of a cluster shares. */
    readonly databaseUrl: string,
  ) {
    this.signingKey = crypto.createSecretKey(Buffer.from(secret));
    this.serviceToken = this.token('bench-app-server', 'service');
  }

  static async start(options: ProductOptions): Promise<Product> {
    const www = path.join(PRODUCT_ROOT, 'bin', 'www');
    if (!fs.existsSync(path.join(PRODUCT_ROOT, 'dist', 'src', 'main.js'))) throw new Error(`${PRODUCT_ROOT}/dist does not exist: the product is not built yet`);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatty-bench-product-'));
    const databaseFile = path.join(dataDir, 'bench.db');
    const secret = options.joins?.secret ?? crypto.randomBytes(36).toString('base64url'); // 48 characters
    const port = await freePort();
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? os.homedir(),
      PORT: String(port),
      HOST: '127.0.0.1',
      NODE_ENV: 'production',
      JWT_SECRET: secret,
      DATABASE_URL: `sqlite:${databaseFile}`,
      LOG_LEVEL: 'warn',
      EVENT_LOG: options.eventLog ?? 'durable',
      ...options.env,
    };
    let dropDatabase = async () => {};
    try {
      if (options.joins) env.DATABASE_URL = options.joins.databaseUrl;
      else if (options.store === 'postgres') {
        const database = await freshPostgresDatabase();
        dropDatabase = database.drop;
        env.DATABASE_URL = database.url;
      }
      await options.prepareDatabase?.(databaseFile);
      const server = await ServerProcess.start({
        label: `product-${options.label}`,
        args: [www],
        cwd: PRODUCT_ROOT,
        env,
        port,
        memoryProbe: options.memoryProbe,
      });
      return new Product(server, secret, dataDir, databaseFile, dropDatabase, env.DATABASE_URL!);
    } catch (error) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      await dropDatabase().catch(() => {});
      throw error;
    }
  }

  get port(): number {
    return this.server.port;
  }

  get wsUrl(): string {
    return this.server.wsUrl;
  }

  /** An HS256 token signed with the shared secret, valid for an hour. */
  token(sub: UserId, role?: 'service' | 'admin'): string {
    return jwt.sign(role ? { sub, role } : { sub }, this.signingKey, { algorithm: 'HS256', expiresIn: '1h' });
  }

  /** The headers the app server sends to the control API. */
  controlHeaders(): Record<string, string> {
    return { Authorization: `Bearer ${this.serviceToken}`, 'Content-Type': 'application/vnd.api+json' };
  }

  subscribeRequest(method: string, document: unknown): Buffer {
    return buildRequest('POST', `/control/subscription/subscribe?method=${method}`, this.controlHeaders(), document);
  }

  notifyRequest(method: string, event: string, attributes: Record<string, unknown>, add: readonly string[] = []): Buffer {
    const query = add.length > 0 ? `&add=${add.join(',')}` : '';
    return buildRequest('POST', `/control/notify?method=${method}${query}`, this.controlHeaders(), { event, attributes });
  }

  /** Sends one control request on the product's setup connection and parses the answer. */
  async send(request: Buffer, timeoutMs = 60_000): Promise<JsonResponse> {
    if (!this.connection || this.connection.closed) this.connection = await HttpConnection.open(this.port);
    const response: HttpResponse = await this.connection.send(request, timeoutMs);
    let json: unknown;
    try {
      json = response.body.length > 0 ? JSON.parse(response.body.toString('utf8')) : undefined;
    } catch {
      json = response.body.toString('utf8');
    }
    return { status: response.status, json };
  }

  /**
   * Subscribes `users` to `channels` (each `<type>-<id>`) in batches of at most 1,000 names.
   * Throws unless every batch answers 200.
   */
  async subscribeUsers(users: readonly UserId[], channels: readonly ChannelName[]): Promise<number> {
    const document = documentOf(channels);
    let changed = 0;
    for (let at = 0; at < users.length; at += METHOD_LIST_LIMIT) {
      const batch = users.slice(at, at + METHOD_LIST_LIMIT);
      const response = await this.send(this.subscribeRequest(`users:${batch.map(encodeURIComponent).join(',')}`, document));
      if (response.status !== 200) throw new Error(`subscribe answered ${response.status}: ${JSON.stringify(response.json)}`);
      changed += Number(response.json?.meta?.changed ?? 0);
    }
    return changed;
  }

  async stop(): Promise<void> {
    this.connection?.close();
    await this.server.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    await this.dropDatabase();
  }
}

/** `posts-12` → `{ type: 'posts', id: '12' }`: the resource a channel name is derived from. */
export function resourceOf(channel: ChannelName): { type: string; id: string } {
  const dash = channel.indexOf('-');
  if (dash <= 0) throw new Error(`channel ${channel} is not <type>-<id>`);
  return { type: channel.slice(0, dash), id: channel.slice(dash + 1) };
}

/** A JSON:API document whose channels are exactly `channels`, in order. */
export function documentOf(channels: readonly ChannelName[]): { data: { type: string; id: string }[] } {
  return { data: channels.map(resourceOf) };
}
