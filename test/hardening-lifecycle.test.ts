/**
 * Issue 9, start-up and shut-down: `createChatty` undoes what it made when a later step throws, and
 * `close()` commits the subscription changes it accepted before it closes the store.
 */
import { createHook } from 'node:async_hooks';
import crypto from 'node:crypto';
import http from 'node:http';
import { expect } from 'chai';
import { loadConfig } from '../config.js';
import { createChatty } from '../src/server.js';
import { openStore } from '../src/store/open-store.js';
import type { Store } from '../src/store/store.js';
import { doc, request } from './helpers/http.js';
import { startServer, tempDbPath, type TestServer } from './helpers/server.js';

/** `store` with some methods replaced; the rest go to it unchanged. */
function wrap(store: Store, overrides: Partial<Store>): Store {
  return new Proxy(store, {
    get(target, name, receiver) {
      if (Object.prototype.hasOwnProperty.call(overrides, name)) return overrides[name as keyof Store];
      const value = Reflect.get(target, name, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Records the timers (`setTimeout`, ref'd or not) created while `fn` runs that are still armed after it. */
async function timersLeftBy(fn: () => Promise<unknown>): Promise<string[]> {
  const armed = new Map<number, string>();
  let recording = true;
  const hook = createHook({
    init(asyncId, type) {
      if (recording && type === 'Timeout') armed.set(asyncId, new Error().stack!.split('\n').slice(3, 9).join('\n'));
    },
    destroy(asyncId) {
      armed.delete(asyncId);
    },
  }).enable();
  try {
    await fn();
    recording = false;
    // destroy hooks run asynchronously
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  } finally {
    hook.disable();
  }
  return [...armed.values()];
}

describe('createChatty undoes a failed start-up (issue 9: leaks the store)', () => {
  it('closes the store and stops the key timers when start-up fails after the store is opened', async () => {
    // a ring with a replaced key still in its grace period: SigningKeys arms a retirement timer at load
    const first = await startServer();
    const rotation = await request('PUT', `${first.url}/auth/update-jwt-secret`, { secret: crypto.randomBytes(32).toString('hex'), graceSeconds: 3600 }, { token: first.adminToken() });
    expect(rotation.status, JSON.stringify(rotation.body)).to.equal(200);
    await first.close();

    const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: first.databaseUrl, JWT_SECRET: first.secret });
    const calls: string[] = [];
    const inner = openStore(config.databaseUrl);
    const store = wrap(inner, {
      async lastEventId() {
        calls.push('lastEventId');
        throw new Error('disk on fire');
      },
      async close() {
        calls.push('close');
        await inner.close();
      },
    });
    let failure: unknown;
    const left = await timersLeftBy(async () => {
      try {
        await createChatty(config, { store });
      } catch (error) {
        failure = error;
      }
    });
    expect(failure, 'createChatty rejects').to.be.instanceOf(Error);
    expect((failure as Error).message).to.equal('disk on fire');
    expect(calls, 'the store was closed once, after the failing step').to.deep.equal(['lastEventId', 'close']);
    await expectClosed(inner);
    expect(left, 'timers left armed by the failed start-up').to.deep.equal([]);
  });

  it('still closes the store when migrating it fails', async () => {
    const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: `sqlite:${tempDbPath()}`, JWT_SECRET: crypto.randomBytes(32).toString('hex') });
    const inner = openStore(config.databaseUrl);
    let closed = 0;
    const store = wrap(inner, {
      migrate: async () => {
        throw new Error('no schema for you');
      },
      close: async () => {
        closed++;
        await inner.close();
      },
    });
    let failure: unknown;
    await createChatty(config, { store }).catch((error) => (failure = error));
    expect((failure as Error).message).to.equal('no schema for you');
    expect(closed).to.equal(1);
  });
});

/** A closed SQLite store refuses every call. */
async function expectClosed(store: Store) {
  let error: unknown;
  await store.ping().catch((e) => (error = e));
  expect(error, 'the store is closed').to.be.instanceOf(Error);
}

/** Resolves once the server itself counts no open connection (it hears of a client's close after the client). */
async function noConnections(server: TestServer): Promise<void> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const open = await new Promise<number>((resolve, reject) => server.chatty.httpServer.getConnections((error, n) => (error ? reject(error) : resolve(n))));
    if (open === 0) return;
    if (Date.now() > deadline) expect.fail(`the server still counts ${open} connections`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * POST subscribe users:ann to posts-1 on a connection of its own that is not kept alive (a kept-alive
 * one would hold close() until KEEP_ALIVE_TIMEOUT).
 */
function subscribeAnn(server: TestServer): http.ClientRequest {
  const body = JSON.stringify(doc(['posts', '1']));
  const req = http.request(`${server.url}/control/subscription/subscribe?method=users:ann`, {
    method: 'POST',
    agent: false,
    headers: { authorization: `Bearer ${server.serviceToken()}`, 'content-type': 'application/vnd.api+json', 'content-length': Buffer.byteLength(body) },
  });
  req.end(body);
  return req;
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('close() drains subscription changes (issue 9)', () => {
  /** A server whose store holds each changeSubscriptions until the test releases it, and logs what happens. */
  async function heldServer() {
    const log: string[] = [];
    let entered!: () => void;
    const enteredCommit = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let pending = 0;
    const server = await startServer({
      wrapStore: (inner) =>
        wrap(inner, {
          async changeSubscriptions(changes) {
            pending++;
            log.push('commit started');
            entered();
            await released;
            try {
              const counts = await inner.changeSubscriptions(changes);
              log.push('commit done');
              return counts;
            } catch (error) {
              log.push(`commit failed: ${(error as Error).message}`);
              throw error;
            } finally {
              pending--;
            }
          },
          async close() {
            log.push(pending > 0 ? 'store closed UNDER A PENDING COMMIT' : 'store closed');
            await inner.close();
          },
        }),
    });
    const committedRows = async () => {
      const reopened = openStore(server.databaseUrl);
      try {
        return await reopened.channelsOf('ann');
      } finally {
        await reopened.close();
      }
    };
    return { server, log, enteredCommit, release: () => (log.push('released'), release()), committedRows };
  }

  it('commits a change whose client went away before closing the store', async () => {
    const { server, log, enteredCommit, release, committedRows } = await heldServer();
    // the client gives up (or close() cut the connection): no open request keeps close() waiting
    const req = subscribeAnn(server);
    req.on('error', () => {});
    await enteredCommit;
    req.destroy();
    await noConnections(server);

    const closed = server.close().then(() => log.push('close resolved'));
    await turns(20);
    expect(log, 'close() waits for the pending commit').to.deep.equal(['commit started']);
    release();
    await closed;
    expect(log).to.deep.equal(['commit started', 'released', 'commit done', 'store closed', 'close resolved']);
    expect(await committedRows()).to.deep.equal(['posts-1']);
  });

  it('answers an in-flight subscribe and commits it before close() resolves', async () => {
    const { server, log, enteredCommit, release, committedRows } = await heldServer();
    const req = subscribeAnn(server);
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
    });
    await enteredCommit;
    const closed = server.close().then(() => log.push('close resolved'));
    await turns(20);
    expect(log).to.deep.equal(['commit started']);
    release();
    const res = await response;
    expect(res.status, res.body).to.equal(200);
    expect(JSON.parse(res.body).meta).to.deep.equal({ users: 1, changed: 1 });
    await closed;
    expect(log).to.deep.equal(['commit started', 'released', 'commit done', 'store closed', 'close resolved']);
    expect(await committedRows()).to.deep.equal(['posts-1']);
  });
});
