/**
 * Issue 9, HTTP edge: bounded subscription changes, deliberate connection timeouts and a connection
 * cap (checked with raw TCP sockets, as an attacker holds them), and a CSP that lets the pages talk
 * to this server only.
 */
import net from 'node:net';
import { expect } from 'chai';
import { doc, expectJsonApiError, request } from './helpers/http.js';
import { startServer, type TestServer } from './helpers/server.js';
import { closeAllSockets, connect } from './helpers/sockets.js';
import { useWorld, type Resource } from './helpers/world.js';
import { PIECE_PAIRS, pieces } from '../src/channels/subscriptions.js';
import type { SubscriptionChange as SubscriptionChangeRow } from '../src/store/store.js';
import { TurnSpy } from './helpers/turns.js';

const posts = (...ids: number[]): Resource[] => ids.map((id) => ['posts', String(id)]);

describe('MAX_SUBSCRIPTION_PAIRS (issue 9: unbounded work per request)', () => {
  const world = useWorld({ env: { MAX_SUBSCRIPTION_PAIRS: '6' } });

  const channelsOf = async (userId: string): Promise<string[]> => {
    const res = await world.api.get(`/control/search/subscriptions?userId=${userId}`);
    expect(res.status).to.equal(200);
    return res.body.data.map((r: { id: string }) => r.id);
  };

  /** A refused change: 422 validation_failed, and no user's subscriptions moved. */
  async function expectRefused(action: 'subscribe' | 'unsubscribe', method: string, document: unknown, users: string[]) {
    const before = await Promise.all(users.map(channelsOf));
    const res = await world.api.post(`/control/subscription/${action}?method=${method}`, document);
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).to.equal(422);
    expectJsonApiError(res, 422, 'validation_failed');
    expect(res.body.errors[0].detail).to.match(/MAX_SUBSCRIPTION_PAIRS/);
    expect(await Promise.all(users.map(channelsOf))).to.deep.equal(before);
  }

  it('users mode: 2 users × 3 channels passes, 7 pairs (1 × 7, 4 × 2) is 422 and changes nothing', async () => {
    const ann = await world.open('ann');
    const ok = await world.subscription('subscribe', 'users:ann,ben', doc(...posts(1, 2, 3)));
    expect(ok.meta).to.deep.equal({ users: 2, changed: 6 });
    await expectRefused('subscribe', 'users:ann', doc(...posts(11, 12, 13, 14, 15, 16, 17)), ['ann']);
    await expectRefused('subscribe', 'users:ann,ben,cid,dan', doc(...posts(4, 5)), ['ann', 'ben', 'cid', 'dan']);
    await expectRefused('unsubscribe', 'users:ann,ben,cid,dan', doc(...posts(1, 2)), ['ann', 'ben', 'cid', 'dan']);
    // the live socket was not moved either: it is in posts-1..3 and in none of the refused channels
    await world.notify('channels:posts-11,posts-4', 'leak');
    await world.notify('channels:posts-1', 'kept');
    await world.flush(ann);
    expect(ann.of('leak')).to.have.length(0);
    expect(ann.of('kept')).to.have.length(1);
    // the same 6 pairs in the other direction pass
    expect((await world.subscription('unsubscribe', 'users:ann,ben', doc(...posts(1, 2, 3)))).meta).to.deep.equal({ users: 2, changed: 6 });
  });

  it('channels mode counts the subscribers of the listed channels as the users', async () => {
    await world.subscribe(['ann', 'ben'], ['teams', '1']);
    await world.subscribe(['cid'], ['teams', '2']);
    // teams-1 has 2 subscribers: 2 × 3 = 6 passes
    expect((await world.subscription('subscribe', 'channels:teams-1', doc(...posts(1, 2, 3)))).meta).to.deep.equal({ users: 2, changed: 6 });
    // teams-1 and teams-2 have 3 subscribers: 3 × 3 = 9 is refused, in both directions
    await expectRefused('subscribe', 'channels:teams-1,teams-2', doc(...posts(4, 5, 6)), ['ann', 'ben', 'cid']);
    await expectRefused('unsubscribe', 'channels:teams-1,teams-2', doc(...posts(1, 2, 3)), ['ann', 'ben', 'cid']);
    // 2 × 4 = 8 is refused
    await expectRefused('unsubscribe', 'channels:teams-1', doc(['teams', '1'], ...posts(1, 2, 3)), ['ann', 'ben']);
    // 3 × 2 = 6 passes
    expect((await world.subscription('unsubscribe', 'channels:teams-1,teams-2', doc(...posts(1, 2)))).meta).to.deep.equal({ users: 3, changed: 4 });
  });

  it('defaults to 10,000 pairs', async () => {
    await world.start({});
    const many = (n: number) => doc(...Array.from({ length: n }, (_, i): Resource => ['items', String(i)]));
    await expectRefused('subscribe', 'users:ann,ben', many(5001), ['ann', 'ben']);
    expect((await world.subscription('subscribe', 'users:ann,ben', many(5000))).meta).to.deep.equal({ users: 2, changed: 10_000 });
  });
});

describe('a big subscription change is committed in pieces (issue 9: never a multi-second transaction)', () => {
  const world = useWorld({ manual: true });

  it('unit: pieces cut users × channels into runs of at most the piece size, covering every pair once', () => {
    const users = ['a', 'b', 'c'];
    const pairsOf = (list: { users: string[]; channels: string[] }[]) => list.flatMap((p) => p.users.flatMap((u) => p.channels.map((c) => `${u}/${c}`)));
    const all = (channels: string[]) => users.flatMap((u) => channels.map((c) => `${u}/${c}`)).sort();
    for (const [channels, size, count] of [
      [['x', 'y'], 6, 1],
      [['x', 'y'], 2, 3],
      [['x', 'y'], 3, 3],
      [['x', 'y', 'z', 'w', 'v'], 2, 9],
      [['x'], 1, 3],
    ] as const) {
      const list = [...pieces(users, [...channels], size)];
      expect(list, `${channels.length} channels, pieces of ${size}`).to.have.length(count);
      for (const piece of list) expect(piece.users.length * piece.channels.length).to.be.at.most(size);
      expect(pairsOf(list).sort()).to.deep.equal(all([...channels]));
    }
    expect([...pieces([], ['x'], 5)]).to.deep.equal([]);
    expect([...pieces(['a'], [], 5)]).to.deep.equal([]);
  });

  it('writes 3 users × 10,000 channels as six pieces, each in a turn of the event loop of its own, and moves the live sockets', async () => {
    const spy = new TurnSpy('changeSubscriptions');
    await world.start({ wrapStore: spy.wrap, env: { MAX_SUBSCRIPTION_PAIRS: '30000' } });
    const ann = await world.open('ann');
    const items = Array.from({ length: 10_000 }, (_, i): Resource => ['items', String(i)]);
    spy.start();
    let body;
    try {
      body = await world.subscription('subscribe', 'users:ann,ben,cy', doc(...items));
    } finally {
      spy.stop();
    }
    expect(body.meta).to.deep.equal({ users: 3, changed: 30_000 });
    const pairs = spy.calls.map(({ args: [changes] }) => (changes as SubscriptionChangeRow[]).reduce((n, c) => n + c.users.length * c.channels.length, 0));
    expect(pairs).to.deep.equal(Array(6).fill(PIECE_PAIRS));
    expect(spy.repeatedTurns(), `pieces written in the same turn as the one before (turns: ${spy})`).to.equal(0);
    // every piece's sockets moved before the answer: the last channel reaches ann at once
    await world.notify('channels:items-9999', 'last');
    await ann.waitFor('last');
  });
});

/** A raw TCP connection to the server, recording what it reads and when the server closes it. */
interface Raw {
  socket: net.Socket;
  data(): string;
  /** Resolves with the milliseconds from connect to close; rejects after `withinMs`. */
  closed(withinMs: number): Promise<number>;
  /** Resolves once `text` has been read; rejects after `withinMs`. */
  read(text: string | RegExp, withinMs?: number): Promise<string>;
}

const raws = new Set<net.Socket>();

function raw(port: number): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    raws.add(socket);
    let data = '';
    let closedAt: number | undefined;
    const wakers = new Set<() => void>();
    const wake = () => wakers.forEach((w) => w());
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
      wake();
    });
    socket.on('error', () => {}); // a reset by the server shows as close
    socket.on('close', () => {
      closedAt = Date.now() - started;
      wake();
    });
    const until = <T>(check: () => T | undefined, withinMs: number, what: string) =>
      new Promise<T>((done, fail) => {
        const test = () => {
          const value = check();
          if (value === undefined) return;
          clearTimeout(timer);
          wakers.delete(test);
          done(value);
        };
        const timer = setTimeout(() => {
          wakers.delete(test);
          fail(new Error(`${what} not within ${withinMs} ms (read so far: ${JSON.stringify(data.slice(0, 200))})`));
        }, withinMs);
        wakers.add(test);
        test();
      });
    socket.once('connect', () =>
      resolve({
        socket,
        data: () => data,
        closed: (withinMs) => until(() => closedAt, withinMs, 'server closed the connection'),
        read: (text, withinMs = 2000) =>
          until(() => (typeof text === 'string' ? data.includes(text) : text.test(data)) ? data : undefined, withinMs, `read ${text}`),
      }),
    );
    socket.once('error', reject);
  });
}

/** Waits until the server itself counts `count` open connections (it hears of a close after the client). */
async function serverConnections(server: TestServer, count: number): Promise<void> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const open = await new Promise<number>((resolve, reject) => server.chatty.httpServer.getConnections((error, n) => (error ? reject(error) : resolve(n))));
    if (open === count) return;
    if (Date.now() > deadline) expect.fail(`the server counts ${open} connections, not ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const GET_HEALTHZ = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n';

describe('HTTP timeouts and connection cap (issue 9: idle connections are never closed)', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    for (const socket of raws) socket.destroy();
    raws.clear();
    closeAllSockets();
    await server?.close();
    server = undefined;
  });

  const timeouts = { HEADERS_TIMEOUT: '1s', REQUEST_TIMEOUT: '2s', KEEP_ALIVE_TIMEOUT: '1s' };

  it('closes a connection that sends nothing once HEADERS_TIMEOUT passes', async () => {
    server = await startServer({ env: timeouts });
    const silent = await Promise.all([raw(server.port), raw(server.port), raw(server.port)]);
    const closedAfter = await Promise.all(silent.map((c) => c.closed(3500)));
    for (const ms of closedAfter) expect(ms).to.be.within(900, 3500);
  });

  it('closes a connection whose headers trickle in past HEADERS_TIMEOUT', async () => {
    server = await startServer({ env: timeouts });
    const slow = await raw(server.port);
    const header = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ' + 'a'.repeat(100);
    let i = 0;
    const drip = setInterval(() => slow.socket.writable && slow.socket.write(header[i++ % header.length]!), 200);
    try {
      expect(await slow.closed(3500)).to.be.within(900, 3500);
    } finally {
      clearInterval(drip);
    }
  });

  it('cuts a request whose body trickles a byte every 300 ms once REQUEST_TIMEOUT passes, and leaves websockets alone', async () => {
    server = await startServer({ env: timeouts });
    const ws = await connect(server.url, { token: server.token('ann') });
    const slow = await raw(server.port);
    slow.socket.write(
      `POST /control/notify?method=users:ann HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${server.serviceToken()}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"event":"x","attributes":{"a":"',
    );
    const drip = setInterval(() => slow.socket.writable && slow.socket.write('a'), 300);
    try {
      const closedAfter = await slow.closed(4500);
      expect(closedAfter).to.be.within(1500, 4500);
      if (slow.data()) expect(slow.data()).to.match(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(drip);
    }
    // the upgraded socket outlived every HTTP timeout above and still receives
    expect(ws.socket.connected).to.equal(true);
    const res = await request('POST', `${server.url}/control/notify?method=users:ann`, { event: 'after', attributes: {} }, { token: server.serviceToken() });
    expect(res.status).to.equal(202);
    await ws.waitFor('after');
  });

  it('closes an idle keep-alive connection once KEEP_ALIVE_TIMEOUT passes', async () => {
    server = await startServer({ env: timeouts });
    const idle = await raw(server.port);
    idle.socket.write(GET_HEALTHZ);
    await idle.read(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\n/);
    expect(await idle.closed(3000)).to.be.below(3000);
  });

  it('with MAX_CONNECTIONS=3 closes a fourth simultaneous connection at once, while the first three work', async () => {
    server = await startServer({ env: { MAX_CONNECTIONS: '3' } });
    const first = await Promise.all([raw(server.port), raw(server.port), raw(server.port)]);
    for (const c of first) c.socket.write(GET_HEALTHZ);
    await Promise.all(first.map((c) => c.read('HTTP/1.1 200 ')));
    const fourth = await raw(server.port);
    fourth.socket.write(GET_HEALTHZ);
    expect(await fourth.closed(1000)).to.be.below(1000);
    expect(fourth.data()).to.equal('');
    // the three still serve requests on their kept-alive connections
    for (const c of first) c.socket.write(GET_HEALTHZ);
    await Promise.all(first.map((c) => c.read(/HTTP\/1\.1 200 [\s\S]*HTTP\/1\.1 200 /)));
    // and a place freed is a place taken
    first[0]!.socket.destroy();
    await first[0]!.closed(1000);
    await serverConnections(server, 2);
    const next = await raw(server.port);
    next.socket.write(GET_HEALTHZ);
    await next.read('HTTP/1.1 200 ');
  });

  it('starts with REQUEST_TIMEOUT below the default HEADERS_TIMEOUT, or refuses it naming the variable (bug: Node throws a RangeError)', async () => {
    // http.createServer throws ERR_OUT_OF_RANGE when headersTimeout > requestTimeout: a raw
    // RangeError from start-up instead of the one clear line naming the variable (contract §8)
    try {
      server = await startServer({ env: { REQUEST_TIMEOUT: '2s' } });
    } catch (error) {
      expect((error as Error).message).to.match(/REQUEST_TIMEOUT|HEADERS_TIMEOUT/);
      return;
    }
    expect((await request('GET', `${server.url}/healthz`)).status).to.equal(200);
  });
});

describe('pages CSP (issue 9: connect-src ws: wss: allowed any host)', () => {
  const world = useWorld({ anonymous: true });

  it("allows connections to this server only: connect-src 'self', no ws:/wss: wildcard", async () => {
    for (const page of ['/', '/admin', '/chat.js']) {
      const res = await request('GET', `${world.server.url}${page}`);
      expect(res.status, page).to.equal(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      const directives = new Map(
        csp
          .split(';')
          .map((d) => d.trim().split(/\s+/))
          .filter((d) => d[0])
          .map(([name, ...values]) => [name!.toLowerCase(), values]),
      );
      expect(directives.get('connect-src'), `${page}: ${csp}`).to.deep.equal(["'self'"]);
      // no scheme wildcard anywhere, but img-src's https: for avatars (contract §11)
      for (const [name, values] of directives) {
        const wild = values.filter((v) => /^(wss?:|\*|https?:)$/.test(v));
        expect(wild, `${page}: ${name}`).to.deep.equal(name === 'img-src' ? ['https:'] : []);
      }
      expect(directives.get('img-src'), page).to.deep.equal(["'self'", 'data:', 'https:']);
      // default-src must not open what connect-src closes
      expect(directives.get('default-src') ?? ["'self'"], page).to.satisfy((v: string[]) => v.every((s) => s === "'self'" || s === "'none'"));
    }
  });
});
