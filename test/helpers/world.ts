/**
 * The per-test setup most suites share: a fresh server and a service-token api client in
 * beforeEach, every socket and the server closed in afterEach, and the control-API and socket
 * helpers written against whichever server is current (tests may restart or replace it).
 *
 *   const world = useWorld();
 *   const { open, subscribe, flush } = world;
 */
import { expect } from 'chai';
import { client, doc } from './http.js';
import { startServer, type TestServer, type TestServerOptions } from './server.js';
import { closeAllSockets, connect, type TestSocket } from './sockets.js';

export type Api = ReturnType<typeof client>;

/** A JSON:API resource as `[type, id]`: its channel is `type-id`. */
export type Resource = [type: string, id: string];

/** The body of a successful (un)subscribe. */
export interface SubscriptionBody {
  data: { type: string; id: string }[];
  meta: { users: number; changed: number };
}

export interface WorldOptions extends TestServerOptions {
  /** Don't start a server in beforeEach: each test calls `world.start(...)` with its own options. */
  manual?: boolean;
  /** Give `api` no token (default: the service token), for suites about authentication itself. */
  anonymous?: boolean;
  /** Runs after each test while the server is still up (for "nothing went wrong" checks); it closes anyway. */
  beforeClose?: (server: TestServer) => Promise<void>;
}

export interface World {
  /** The current server (replaced by `start` and `restart`). */
  readonly server: TestServer;
  /** A client of the current server. */
  readonly api: Api;
  /** Closes the current server, if any, and starts another with `options` (default: the suite's): for tests that need other settings. */
  start(options?: TestServerOptions): Promise<TestServer>;
  /** A new server on the same database, as a process restart would give. */
  restart(): Promise<TestServer>;
  /** Closes the current server; afterEach then has nothing to close. */
  stop(): Promise<void>;
  /** Connects `user` with a token of the current server. */
  open(user: string): Promise<TestSocket>;
  /** Connects `user` asking for a replay of everything after `lastEventId`. */
  reconnect(user: string, lastEventId: number): Promise<TestSocket>;
  /** POST /control/subscription/{action}?method=…, expecting 200. */
  subscription(action: 'subscribe' | 'unsubscribe', method: string, document: unknown): Promise<SubscriptionBody>;
  /** Subscribes `users` to the channels of `resources`, expecting 200. */
  subscribe(users: string[], ...resources: Resource[]): Promise<void>;
  /** Unsubscribes `users` from the channels of `resources`, expecting 200. */
  unsubscribe(users: string[], ...resources: Resource[]): Promise<void>;
  /** POST /control/notify?method=…, expecting 202; resolves with the event id. */
  notify(method: string, event: string, attributes?: Record<string, unknown>, headers?: Record<string, string>): Promise<number>;
  /** A notify to `marker` by user id: once it arrives, everything emitted to these sockets before it has too. Resolves with its id. */
  flush(...sockets: TestSocket[]): Promise<number>;
}

/** Users per marker notify in `flush`: well under the limit of names in one method. */
const FLUSH_BATCH = 500;

/** Registers the beforeEach/afterEach of a suite that runs against a real server, and returns its helpers. */
export function useWorld(options: WorldOptions = {}): World {
  const { manual, anonymous, beforeClose, ...serverOptions } = options;
  let current: TestServer | undefined;
  let api: Api | undefined;

  const use = (server: TestServer) => {
    current = server;
    api = client(server.url, anonymous ? undefined : server.serviceToken());
    return server;
  };
  const running = (): TestServer => {
    if (!current) throw new Error('no test server is running (call world.start() first)');
    return current;
  };

  const world: World = {
    get server() {
      return running();
    },
    get api() {
      running();
      return api!;
    },
    async start(startOptions = serverOptions) {
      await world.stop();
      return use(await startServer(startOptions));
    },
    async restart() {
      const server = running();
      current = undefined;
      return use(await server.restart());
    },
    async stop() {
      const server = current;
      current = undefined;
      api = undefined;
      await server?.close();
    },
    open: (user) => connect(world.server.url, { token: world.server.token(user) }),
    reconnect: (user, lastEventId) => connect(world.server.url, { token: world.server.token(user), lastEventId }),
    async subscription(action, method, document) {
      const res = await world.api.post(`/control/subscription/${action}?method=${method}`, document);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      return res.body as SubscriptionBody;
    },
    async subscribe(users, ...resources) {
      await world.subscription('subscribe', `users:${users.join(',')}`, doc(...resources));
    },
    async unsubscribe(users, ...resources) {
      await world.subscription('unsubscribe', `users:${users.join(',')}`, doc(...resources));
    },
    async notify(method, event, attributes = {}, headers) {
      const res = await world.api.post(`/control/notify?method=${method}`, { event, attributes }, { headers });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      return Number(res.body.data.id);
    },
    async flush(...sockets) {
      const users = [...new Set(sockets.map((s) => s.ready.userId))];
      const before = sockets.map((s) => s.of('marker').length);
      let id = 0;
      for (let i = 0; i < users.length; i += FLUSH_BATCH) id = await world.notify(`users:${users.slice(i, i + FLUSH_BATCH).join(',')}`, 'marker');
      await Promise.all(sockets.map((s, i) => s.waitFor('marker', before[i]! + 1)));
      return id;
    },
  };

  if (!manual) {
    beforeEach(async () => {
      await world.start();
    });
  }
  afterEach(async () => {
    closeAllSockets();
    try {
      if (current && beforeClose) await beforeClose(current);
    } finally {
      await world.stop();
    }
  });
  return world;
}
