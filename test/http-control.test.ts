import crypto from 'node:crypto';
import { expect } from 'chai';
import { client, doc, expectJsonApiError, request, type ApiResponse } from './helpers/http.js';
import { signToken, unsignedToken, type TestServer } from './helpers/server.js';
import { useWorld, type Api } from './helpers/world.js';

/** expectJsonApiError, plus no members beyond the contract's and no stack trace: the control API's error bodies, strictly. */
function expectError(res: ApiResponse, status: number, code: string, source?: Record<string, string>) {
  const error = expectJsonApiError(res, status, code, source);
  expect(Object.keys(error).sort()).to.satisfy((keys: string[]) => keys.every((k) => ['status', 'code', 'title', 'detail', 'source'].includes(k)));
  expect(JSON.stringify(res.body)).to.not.match(/\n\s+at /); // no stack trace
  return error;
}

const q = encodeURIComponent;

/** Every control route with a request that succeeds for a service token. */
const ROUTES: { method: 'GET' | 'POST'; path: string; body?: unknown; ok: number }[] = [
  { method: 'POST', path: '/control/notify?method=users:zed', body: { event: 'ping', attributes: {} }, ok: 202 },
  { method: 'POST', path: '/control/subscription/subscribe?method=users:zed', body: doc(['posts', '1']), ok: 200 },
  { method: 'POST', path: '/control/subscription/unsubscribe?method=users:zed', body: doc(['posts', '1']), ok: 200 },
  { method: 'GET', path: '/control/search/subscriptions?userId=zed', ok: 200 },
  { method: 'GET', path: '/control/search/participants?channel=posts-1', ok: 200 },
  { method: 'GET', path: '/control/search/online', ok: 200 },
];

/** After each test: no request of it ended in a 5xx, and the server is still up. */
async function expectNoServerErrors(server: TestServer) {
  const metrics = await request('GET', `${server.url}/metrics`);
  const failures = String(metrics.body)
    .split('\n')
    .filter((line) => line.startsWith('chatty_http_requests_total{') && /status="5\d\d"/.test(line));
  const health = await request('GET', `${server.url}/healthz`);
  expect(failures, 'no 5xx responses').to.deep.equal([]);
  expect(health.status).to.equal(200);
}

describe('HTTP /control (contract §2, §4)', () => {
  const world = useWorld({ beforeClose: expectNoServerErrors });
  const { open, flush } = world;

  const channelsOf = async (userId: string) => (await world.api.get(`/control/search/subscriptions?userId=${q(userId)}`)).body.data.map((r: { id: string }) => r.id);

  describe('authentication and roles', () => {
    it('answers 401 token_missing with WWW-Authenticate: Bearer on every control route without a token', async () => {
      for (const route of ROUTES) {
        const res = await request(route.method, `${world.server.url}${route.path}`, route.body);
        expectError(res, 401, 'token_missing');
        expect(res.headers.get('www-authenticate'), route.path).to.match(/^Bearer\b/);
      }
    });

    it('answers 403 forbidden to a user token on EVERY control route, and nothing happens', async () => {
      const zed = await open('zed');
      const user = client(world.server.url, world.server.token('zed'));
      for (const route of ROUTES) {
        const res = await request(route.method, `${world.server.url}${route.path}`, route.body, { token: world.server.token('zed') });
        expectError(res, 403, 'forbidden');
      }
      // also with the token in the cookie only
      const viaCookie = await user.post('/control/notify?method=users:zed', { event: 'ping' }, { token: undefined, headers: { cookie: `jwt=${world.server.token('zed')}` } });
      expectError(viaCookie, 403, 'forbidden');
      await flush(zed);
      expect(zed.of('ping')).to.have.length(0);
      expect(await channelsOf('zed')).to.deep.equal([]);
    });

    it('lets service and admin tokens use every control route', async () => {
      for (const token of [world.server.serviceToken(), world.server.adminToken()]) {
        for (const route of ROUTES) {
          const res = await request(route.method, `${world.server.url}${route.path}`, route.body, { token });
          expect(res.status, `${route.method} ${route.path}`).to.equal(route.ok);
          expect(res.headers.get('content-type')).to.match(/^application\/vnd\.api\+json/);
        }
      }
      // the jwt cookie is accepted as well as the Bearer header
      for (const route of ROUTES) {
        const res = await request(route.method, `${world.server.url}${route.path}`, route.body, { headers: { cookie: `jwt=${world.server.serviceToken()}` } });
        expect(res.status, `cookie: ${route.method} ${route.path}`).to.equal(route.ok);
      }
    });

    it('rejects forged and broken tokens on every control route: alg none, another secret, no sub, expired, bad role', async () => {
      const other = crypto.randomBytes(32).toString('hex');
      const cases: [label: string, token: string, status: number, code: string][] = [
        ['alg none', unsignedToken({ sub: 'app', role: 'service' }), 401, 'token_invalid'],
        ['alg none admin', unsignedToken({ sub: 'root', role: 'admin', exp: Math.floor(Date.now() / 1000) + 60 }), 401, 'token_invalid'],
        ['another secret', signToken(other, 'app', { role: 'service' }), 401, 'token_invalid'],
        ['HS512 with the right secret', (await import('jsonwebtoken')).default.sign({ sub: 'app', role: 'service' }, world.server.secret, { algorithm: 'HS512' }), 401, 'token_invalid'],
        ['missing sub', world.server.token(undefined as unknown as string, { role: 'service' }), 401, 'token_invalid'],
        ['invalid sub', world.server.token('app server', { role: 'service' }), 401, 'token_invalid'],
        ['expired', world.server.token('app', { role: 'service', expiresIn: -5 }), 401, 'token_expired'],
        ['unknown role', world.server.token('app', { role: 'superuser' }), 401, 'token_invalid'],
        ['user role', world.server.token('app', { role: 'user' }), 403, 'forbidden'],
        ['no role (user)', world.server.token('app'), 403, 'forbidden'],
        ['unknown kid', world.server.token('app', { role: 'service', kid: 'nope' }), 401, 'token_invalid'],
      ];
      for (const [label, token, status, code] of cases) {
        for (const route of ROUTES) {
          const res = await request(route.method, `${world.server.url}${route.path}`, route.body, { token });
          const error = expectError(res, status, code);
          expect(error, `${label} on ${route.path}`).to.exist;
          if (status === 401) expect(res.headers.get('www-authenticate')).to.match(/^Bearer\b/);
          expect(JSON.stringify(res.body)).to.not.include(token);
        }
      }
      expect(await channelsOf('zed')).to.deep.equal([]);
    });
  });

  describe('the method query (§4.1)', () => {
    const bad: [label: string, value: string | undefined][] = [
      ['missing', undefined],
      ['empty', ''],
      ['without a colon', 'users'],
      ['an empty list', 'channels:'],
      ['an empty bracketed list', 'channels:[]'],
      ['an unknown mode', 'rooms:a'],
      ['more than 1,000 names', `users:${Array.from({ length: 1001 }, (_, i) => `u${i}`).join(',')}`],
      ['a name with a space', 'users:a b'],
      ['a name with a colon', 'channels:a:b'],
      ['a name of 201 characters', `users:${'x'.repeat(201)}`],
      ['unbalanced brackets', 'channels:[a,b'],
      ['an empty item', 'channels:a,,b'],
    ];
    const routes: [path: string, body: unknown][] = [
      ['/control/notify', { event: 'ping', attributes: {} }],
      ['/control/subscription/subscribe', doc(['posts', '1'])],
      ['/control/subscription/unsubscribe', doc(['posts', '1'])],
    ];
    it('answers 400 invalid_parameter with source.parameter = method for every malformed method, on all three routes', async () => {
      for (const [path, body] of routes) {
        for (const [label, value] of bad) {
          const res = await world.api.post(value === undefined ? path : `${path}?method=${q(value)}`, body);
          const error = expectError(res, 400, 'invalid_parameter', { parameter: 'method' });
          expect(error.detail.length, `${label}: a short detail`).to.be.below(300);
        }
        // given twice
        expectError(await world.api.post(`${path}?method=users:a&method=users:b`, body), 400, 'invalid_parameter', { parameter: 'method' });
      }
      // channels-efficient is a notify mode only
      expectError(await world.api.post(`/control/subscription/subscribe?method=channels-efficient:a`, doc(['posts', '1'])), 400, 'invalid_parameter', {
        parameter: 'method',
      });
      expect(await channelsOf('a')).to.deep.equal([]);
    });

    it('accepts exactly 1,000 names', async () => {
      const names = Array.from({ length: 1000 }, (_, i) => `u${i}`);
      const res = await world.api.post(`/control/subscription/subscribe?method=users:${names.join(',')}`, doc(['posts', '1']));
      expect(res.status).to.equal(200);
      expect(res.body.meta).to.deep.equal({ users: 1000, changed: 1000 });
    });

    it('takes both list forms, channels:a,b and channels:[a, b]', async () => {
      const plain = await world.api.post('/control/subscription/subscribe?method=users:alice,bob', doc(['posts', '1']));
      expect(plain.body.meta).to.deep.equal({ users: 2, changed: 2 });
      const bracketed = await world.api.post(`/control/subscription/subscribe?method=${q('users:[alice, bob, carol]')}`, doc(['posts', '2']));
      expect(bracketed.status).to.equal(200);
      expect(bracketed.body.meta).to.deep.equal({ users: 3, changed: 3 });
      expect(await channelsOf('carol')).to.deep.equal(['posts-2']);

      const [alice, carol] = await Promise.all([open('alice'), open('carol')]);
      const n1 = await world.api.post('/control/notify?method=channels:posts-1,posts-2&add=origin', { event: 'plain', attributes: {} });
      const n2 = await world.api.post(`/control/notify?method=${q('channels:[posts-1, posts-2]')}&add=origin`, { event: 'bracketed', attributes: {} });
      expect(n1.status).to.equal(202);
      expect(n2.status).to.equal(202);
      expect(n1.body.data.attributes.targets).to.deep.equal(['posts-1', 'posts-2']);
      expect(n2.body.data.attributes.targets).to.deep.equal(['posts-1', 'posts-2']);
      await flush(alice, carol);
      for (const event of ['plain', 'bracketed']) {
        expect(alice.of(event).map(([p]) => (p as { origin: string }).origin)).to.deep.equal(['posts-1', 'posts-2']);
        expect(carol.of(event).map(([p]) => (p as { origin: string }).origin)).to.deep.equal(['posts-2']);
      }
    });
  });

  describe('POST /control/notify (§4.2)', () => {
    it('answers 202 with the notifications resource and delivers (payload, meta)', async () => {
      const alice = await open('alice');
      const before = Date.now();
      const res = await world.api.post('/control/notify?method=users:alice', { event: 'order.shipped:v1', attributes: { orderId: 7, nested: { a: [1] } } });
      expect(res.status).to.equal(202);
      expect(res.headers.get('content-type')).to.match(/^application\/vnd\.api\+json/);
      expect(res.body.data.type).to.equal('notifications');
      expect(res.body.data.id).to.be.a('string').and.match(/^\d+$/);
      expect(res.body.data.attributes).to.deep.include({ event: 'order.shipped:v1', mode: 'users', targets: ['alice'] });
      expect(Date.parse(res.body.data.attributes.createdAt)).to.be.within(before - 1000, Date.now() + 1000);
      const [[payload, meta]] = (await alice.waitFor('order.shipped:v1')) as [[unknown, { id: number; time: string }]];
      expect(payload).to.deep.equal({ orderId: 7, nested: { a: [1] } });
      expect(meta.id).to.equal(Number(res.body.data.id));
      expect(meta.time).to.equal(res.body.data.attributes.createdAt);
    });

    it('adds origin and date-time with add=origin,date-time', async () => {
      await world.api.post('/control/subscription/subscribe?method=users:alice', doc(['posts', '1']));
      const alice = await open('alice');
      const res = await world.api.post('/control/notify?method=channels:posts-1&add=origin,date-time', { event: 'changed', attributes: { x: 1 } });
      expect(res.status).to.equal(202);
      const [[payload, meta]] = (await alice.waitFor('changed')) as [[Record<string, unknown>, Record<string, unknown>]];
      expect(payload).to.deep.equal({ x: 1, origin: 'posts-1', 'date-time': meta.time });
      expect(new Date(payload['date-time'] as string).toISOString()).to.equal(payload['date-time']);
      expect(meta).to.include({ origin: 'posts-1', id: Number(res.body.data.id) });
    });

    it('refuses a missing attributes and any member beside event and attributes, and emits nothing', async () => {
      const alice = await open('alice');
      expectError(await world.api.post('/control/notify?method=users:alice', { event: 'bare' }), 422, 'validation_failed', { pointer: '/attributes' });
      expectError(await world.api.post('/control/notify?method=users:alice', { event: 'bare', attribute: { a: 1 } }), 422, 'validation_failed', { pointer: '/attribute' });
      expectError(await world.api.post('/control/notify?method=users:alice', { event: 'bare', attributes: {}, 'a/b~': 1 }), 422, 'validation_failed', { pointer: '/a~1b~0' });
      expect((await world.api.post('/control/notify?method=users:alice', { event: 'bare', attributes: {} })).status).to.equal(202);
      const [[payload]] = await alice.waitFor('bare');
      expect(payload).to.deep.equal({});
      expect(alice.of('bare')).to.have.length(1);
    });

    it('accepts a 100-character event name of every allowed character', async () => {
      const event = 'aZ09_.:-'.repeat(12) + 'abcd';
      expect(event).to.have.length(100);
      expect((await world.api.post('/control/notify?method=users:alice', { event, attributes: {} })).status).to.equal(202);
    });

    it('rejects bad bodies with a 4xx and emits nothing', async () => {
      const alice = await open('alice');
      const cases: [label: string, body: unknown, status: number, code: string, pointer?: string][] = [
        ['no event', { attributes: {} }, 422, 'validation_failed', '/event'],
        ['an empty event', { event: '', attributes: {} }, 422, 'validation_failed', '/event'],
        ['a 101-character event', { event: 'e'.repeat(101), attributes: {} }, 422, 'validation_failed', '/event'],
        ['an event with a space', { event: 'a b', attributes: {} }, 422, 'validation_failed', '/event'],
        ['an event with a slash', { event: 'a/b', attributes: {} }, 422, 'validation_failed', '/event'],
        ['a non-ASCII event', { event: 'événement', attributes: {} }, 422, 'validation_failed', '/event'],
        ['a numeric event', { event: 42, attributes: {} }, 422, 'validation_failed', '/event'],
        ['an array event', { event: ['ping'], attributes: {} }, 422, 'validation_failed', '/event'],
        ...['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener'].map(
          (event) => [`the reserved event ${event}`, { event, attributes: {} }, 422, 'validation_failed', '/event'] as [string, unknown, number, string, string],
        ),
        ['array attributes', { event: 'ping', attributes: [1, 2] }, 422, 'validation_failed', '/attributes'],
        ['string attributes', { event: 'ping', attributes: 'x' }, 422, 'validation_failed', '/attributes'],
        ['numeric attributes', { event: 'ping', attributes: 5 }, 422, 'validation_failed', '/attributes'],
        ['null attributes', { event: 'ping', attributes: null }, 422, 'validation_failed', '/attributes'],
        ['an array body', [{ event: 'ping' }], 400, 'invalid_body'],
        ['a string body', 'ping', 400, 'invalid_body'],
        ['a null body', null, 400, 'invalid_body'],
      ];
      for (const [label, body, status, code, pointer] of cases) {
        const res = await world.api.post('/control/notify?method=users:alice', body);
        const error = expectError(res, status, code, pointer ? { pointer } : undefined);
        expect(error, label).to.exist;
      }
      expectError(await world.api.post('/control/notify?method=users:alice'), 400, 'invalid_body');
      expectError(await world.api.post('/control/notify?method=users:alice&add=origin,colour', { event: 'ping' }), 400, 'invalid_parameter', { parameter: 'add' });
      expectError(await world.api.post('/control/notify?method=users:alice&add=origin&add=date-time', { event: 'ping' }), 400, 'invalid_parameter', { parameter: 'add' });
      await flush(alice);
      expect(alice.received.map((r) => r.event)).to.deep.equal(['ready', 'marker']);
    });

    it('honours Idempotency-Key: a repeat returns the first result and emits nothing', async () => {
      const alice = await open('alice');
      const headers = { 'Idempotency-Key': 'order-7-shipped' };
      const first = await world.api.post('/control/notify?method=users:alice', { event: 'shipped', attributes: { n: 1 } }, { headers });
      expect(first.status).to.equal(202);
      await alice.waitFor('shipped');
      const repeat = await world.api.post('/control/notify?method=users:alice', { event: 'shipped', attributes: { n: 1 } }, { headers });
      expect(repeat.status).to.equal(202);
      expect(repeat.body).to.deep.equal(first.body);
      // even with another body, the key wins
      const changed = await world.api.post('/control/notify?method=users:alice', { event: 'shipped', attributes: { n: 2 } }, { headers });
      expect(changed.body.data.id).to.equal(first.body.data.id);
      // another key is another notification
      const other = await world.api.post('/control/notify?method=users:alice', { event: 'shipped', attributes: { n: 3 } }, { headers: { 'Idempotency-Key': 'order-8-shipped' } });
      expect(other.body.data.id).to.not.equal(first.body.data.id);
      await flush(alice);
      expect(alice.of('shipped').map(([p]) => p)).to.deep.equal([{ n: 1 }, { n: 3 }]);
      // and the repeat survives a restart (the key is in the durable log)
      await world.restart();
      const afterRestart = await world.api.post('/control/notify?method=users:alice', { event: 'shipped', attributes: { n: 1 } }, { headers });
      expect(afterRestart.body.data.id).to.equal(first.body.data.id);
    });

    it('answers concurrent repeats of one Idempotency-Key with one notification and one emit', async () => {
      const alice = await open('alice');
      const headers = { 'Idempotency-Key': 'burst-1' };
      const responses = await Promise.all(
        Array.from({ length: 8 }, () => world.api.post('/control/notify?method=users:alice', { event: 'burst', attributes: {} }, { headers })),
      );
      expect(responses.map((r) => r.status)).to.deep.equal(Array(8).fill(202));
      expect(new Set(responses.map((r) => r.body.data.id)).size).to.equal(1);
      await flush(alice);
      expect(alice.of('burst')).to.have.length(1);
    });

    it('rejects a malformed Idempotency-Key with 400', async () => {
      const alice = await open('alice');
      for (const key of ['k'.repeat(256), 'has space', 'caf\u00e9']) {
        const res = await world.api.post('/control/notify?method=users:alice', { event: 'ping', attributes: {} }, { headers: { 'Idempotency-Key': key } });
        expectError(res, 400, 'invalid_parameter', { parameter: 'Idempotency-Key' });
      }
      expect((await world.api.post('/control/notify?method=users:alice', { event: 'ping', attributes: {} }, { headers: { 'Idempotency-Key': 'k'.repeat(255) } })).status).to.equal(202);
      await flush(alice);
      expect(alice.of('ping')).to.have.length(1);
    });
  });

  describe('subscriptions (§4.3)', () => {
    it('reports meta {users, changed}, 0 on a repeat, and derives channels in order', async () => {
      const body = {
        data: [
          { type: 'posts', id: '1', relationships: { author: { data: { type: 'users', id: '9' } }, tags: { data: [{ type: 'tags', id: 'x' }] } } },
          { type: 'posts', id: '2' },
        ],
        included: [{ type: 'users', id: '9' }, { type: 'comments', id: '4' }],
      };
      const res = await world.api.post('/control/subscription/subscribe?method=users:alice,bob', body);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/vnd\.api\+json/);
      const channels = ['posts-1', 'users-9', 'tags-x', 'posts-2', 'comments-4'];
      expect(res.body.data).to.deep.equal(channels.map((id) => ({ type: 'channels', id })));
      expect(res.body.meta).to.deep.equal({ users: 2, changed: 10 });

      const repeat = await world.api.post('/control/subscription/subscribe?method=users:alice,bob', body);
      expect(repeat.body.meta).to.deep.equal({ users: 2, changed: 0 });
      expect(await channelsOf('alice')).to.deep.equal([...channels].sort());

      const un = await world.api.post('/control/subscription/unsubscribe?method=users:alice', doc(['posts', '1'], ['posts', '99']));
      expect(un.status).to.equal(200);
      expect(un.body.data).to.deep.equal([{ type: 'channels', id: 'posts-1' }, { type: 'channels', id: 'posts-99' }]);
      expect(un.body.meta).to.deep.equal({ users: 1, changed: 1 });
      expect((await world.api.post('/control/subscription/unsubscribe?method=users:alice', doc(['posts', '1']))).body.meta).to.deep.equal({ users: 1, changed: 0 });
    });

    it('channels: mode (un)subscribes every user subscribed to any listed channel', async () => {
      await world.api.post('/control/subscription/subscribe?method=users:alice,bob', doc(['teams', '1']));
      await world.api.post('/control/subscription/subscribe?method=users:carol', doc(['teams', '2']));
      await world.api.post('/control/subscription/subscribe?method=users:dave', doc(['teams', '3']));
      const res = await world.api.post('/control/subscription/subscribe?method=channels:teams-1,teams-2', doc(['posts', '5']));
      expect(res.body.meta).to.deep.equal({ users: 3, changed: 3 });
      expect((await world.api.post('/control/subscription/subscribe?method=channels:teams-1,teams-2', doc(['posts', '5']))).body.meta).to.deep.equal({
        users: 3,
        changed: 0,
      });
      expect(await channelsOf('dave')).to.deep.equal(['teams-3']);
      expect(await channelsOf('carol')).to.deep.equal(['posts-5', 'teams-2']);
      const none = await world.api.post('/control/subscription/subscribe?method=channels:nobody-here', doc(['posts', '6']));
      expect(none.body.meta).to.deep.equal({ users: 0, changed: 0 });

      const un = await world.api.post(`/control/subscription/unsubscribe?method=${q('channels:[teams-2, teams-3]')}`, doc(['posts', '5'], ['teams', '3']));
      expect(un.body.meta).to.deep.equal({ users: 2, changed: 2 }); // carol leaves posts-5, dave leaves teams-3
      expect(await channelsOf('dave')).to.deep.equal([]);
      expect(await channelsOf('carol')).to.deep.equal(['teams-2']);
    });

    it('moves live sockets out of a channel before the unsubscribe response', async () => {
      await world.subscribe(['alice', 'bob'], ['posts', '1']);
      const alice = await open('alice');
      const bob = await open('bob');
      expect(alice.ready.channels).to.deep.equal(['posts-1']);
      await world.unsubscribe(['alice'], ['posts', '1']);
      await world.notify('channels:posts-1', 'gone');
      await flush(alice, bob);
      expect(alice.of('gone')).to.have.length(0);
      expect(bob.of('gone'), 'the notify itself was delivered').to.have.length(1);
    });

    it('rejects bad documents with 422 and a pointer, and subscribes nothing', async () => {
      const cases: [body: unknown, pointer: string][] = [
        [{ data: { type: 'posts', id: 1 } }, '/data/id'],
        [{ data: [{ type: 'posts', id: '1' }, { type: 2, id: '2' }] }, '/data/1/type'],
        [{ data: { type: 'posts', id: '1', relationships: { author: { data: { type: 'users', id: 3 } } } } }, '/data/relationships/author/data/id'],
        [{ data: { type: 'posts', id: '1' }, included: [{ type: 'users', id: null }] }, '/included/0/id'],
        [{}, '/data'],
        [{ data: [] }, '/data'],
        [{ data: null }, '/data'],
        [{ data: { type: 'posts', id: 'a b' } }, '/data'],
      ];
      for (const [body, pointer] of cases) {
        expectError(await world.api.post('/control/subscription/subscribe?method=users:alice', body), 422, 'validation_failed', { pointer });
        expectError(await world.api.post('/control/subscription/unsubscribe?method=users:alice', body), 422, 'validation_failed', { pointer });
      }
      const noBody = await world.api.post('/control/subscription/subscribe?method=users:alice');
      expect(noBody.status).to.be.oneOf([400, 422]);
      expect(await channelsOf('alice')).to.deep.equal([]);
    });
  });

  describe('queries and paging (§4.4)', () => {
    async function all(api_: Api, path: string): Promise<{ pages: unknown[][]; ids: string[] }> {
      const pages: unknown[][] = [];
      let next: string | undefined = path;
      while (next) {
        const res = await api_.get(next);
        expect(res.status, next).to.equal(200);
        pages.push(res.body.data.map((r: { id: string }) => r.id));
        next = res.body.links?.next;
        if (next) expect(next).to.match(/^\/control\/search\//);
        expect(pages.length).to.be.below(20);
      }
      return { pages, ids: pages.flat() as string[] };
    }

    it('pages /search/subscriptions by id with page[size], page[after] and links.next', async () => {
      const channels = ['c05', 'c01', 'c03', 'c02', 'c04'];
      await world.api.post('/control/subscription/subscribe?method=users:pager', { data: channels.map((c) => ({ type: c.slice(0, 1), id: c.slice(1) })) });
      const full = await world.api.get('/control/search/subscriptions?userId=pager');
      expect(full.body.data).to.deep.equal(['c-01', 'c-02', 'c-03', 'c-04', 'c-05'].map((id) => ({ type: 'channels', id, attributes: { label: null } })));
      expect(full.body.links?.next).to.equal(undefined);
      const { pages } = await all(world.api, '/control/search/subscriptions?userId=pager&page[size]=2');
      expect(pages).to.deep.equal([['c-01', 'c-02'], ['c-03', 'c-04'], ['c-05']]);
      const after = await world.api.get(`/control/search/subscriptions?userId=pager&${q('page[after]')}=c-03`);
      expect(after.body.data.map((r: { id: string }) => r.id)).to.deep.equal(['c-04', 'c-05']);
      // exactly a page full: no next
      const exact = await world.api.get('/control/search/subscriptions?userId=pager&page[size]=5');
      expect(exact.body.data).to.have.length(5);
      expect(exact.body.links?.next).to.equal(undefined);
      // an unknown user has no channels
      const unknown = await world.api.get('/control/search/subscriptions?userId=never-seen');
      expect(unknown.status).to.equal(200);
      expect(unknown.body.data).to.deep.equal([]);
    });

    it('uses a default page size of 100', async () => {
      const data = Array.from({ length: 101 }, (_, i) => ({ type: 'ch', id: String(i).padStart(3, '0') }));
      expect((await world.api.post('/control/subscription/subscribe?method=users:many', { data })).body.meta).to.deep.equal({ users: 1, changed: 101 });
      const first = await world.api.get('/control/search/subscriptions?userId=many');
      expect(first.body.data).to.have.length(100);
      expect(first.body.links.next).to.be.a('string');
      const second = await world.api.get(first.body.links.next);
      expect(second.body.data.map((r: { id: string }) => r.id)).to.deep.equal(['ch-100']);
      expect(second.body.links?.next).to.equal(undefined);
    });

    it('answers 400 for invalid paging and missing or invalid ids, naming the parameter', async () => {
      const paths = ['/control/search/subscriptions?userId=a&', '/control/search/participants?channel=c&', '/control/search/online?'];
      for (const path of paths) {
        for (const size of ['0', '1001', '-1', 'abc', '2.5', '']) {
          expectError(await world.api.get(`${path}page[size]=${size}`), 400, 'invalid_parameter', { parameter: 'page[size]' });
        }
        expectError(await world.api.get(`${path}page[after]=${q('a b')}`), 400, 'invalid_parameter', { parameter: 'page[after]' });
        expectError(await world.api.get(`${path}page[size]=1&page[size]=2`), 400, 'invalid_parameter', { parameter: 'page[size]' });
        expect((await world.api.get(`${path}page[size]=1000`)).status).to.equal(200);
      }
      expectError(await world.api.get('/control/search/subscriptions'), 400, 'invalid_parameter', { parameter: 'userId' });
      expectError(await world.api.get(`/control/search/subscriptions?userId=${q('a:b')}`), 400, 'invalid_parameter', { parameter: 'userId' });
      expectError(await world.api.get('/control/search/participants'), 400, 'invalid_parameter', { parameter: 'channel' });
      expectError(await world.api.get('/control/search/participants?channel=a&channel=b'), 400, 'invalid_parameter', { parameter: 'channel' });
      expectError(await world.api.get('/control/search/participants?channel=c&online=yes'), 400, 'invalid_parameter', { parameter: 'online' });
    });

    it('lists participants with their online flag, filters online=true, and pages the filtered list', async () => {
      await world.api.post('/control/subscription/subscribe?method=users:u1,u2,u3,u4,u5', doc(['rooms', '1']));
      await world.api.post('/control/subscription/subscribe?method=users:u6', doc(['rooms', '2']));
      await Promise.all(['u1', 'u3', 'u5', 'u6'].map((u) => open(u)));
      const res = await world.api.get('/control/search/participants?channel=rooms-1');
      expect(res.status).to.equal(200);
      expect(res.body.data).to.deep.equal(
        ['u1', 'u2', 'u3', 'u4', 'u5'].map((id) => ({ type: 'users', id, attributes: { online: ['u1', 'u3', 'u5'].includes(id) } })),
      );
      const online = await world.api.get('/control/search/participants?channel=rooms-1&online=true');
      expect(online.body.data.map((r: { id: string }) => r.id)).to.deep.equal(['u1', 'u3', 'u5']);
      const offlineToo = await world.api.get('/control/search/participants?channel=rooms-1&online=false');
      expect(offlineToo.body.data).to.have.length(5);
      const { pages } = await all(world.api, '/control/search/participants?channel=rooms-1&online=true&page[size]=2');
      expect(pages).to.deep.equal([['u1', 'u3'], ['u5']]);
      const { pages: allPages } = await all(world.api, '/control/search/participants?channel=rooms-1&page[size]=2');
      expect(allPages).to.deep.equal([['u1', 'u2'], ['u3', 'u4'], ['u5']]);
      const empty = await world.api.get('/control/search/participants?channel=nobody-here');
      expect(empty.body.data).to.deep.equal([]);
    });

    it('counts connections per online user, pages them, and follows disconnects', async () => {
      const [alice1, , bob] = await Promise.all([open('alice'), open('alice'), open('bob')]);
      const res = await world.api.get('/control/search/online');
      expect(res.status).to.equal(200);
      expect(res.body.data).to.deep.equal([
        { type: 'users', id: 'alice', attributes: { connections: 2 } },
        { type: 'users', id: 'bob', attributes: { connections: 1 } },
      ]);
      const { pages } = await all(world.api, '/control/search/online?page[size]=1');
      expect(pages).to.deep.equal([['alice'], ['bob']]);

      alice1.close();
      bob.close();
      const deadline = Date.now() + 5000;
      let data: unknown;
      do {
        data = (await world.api.get('/control/search/online')).body.data;
        if (JSON.stringify(data) === JSON.stringify([{ type: 'users', id: 'alice', attributes: { connections: 1 } }])) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      } while (Date.now() < deadline);
      expect(data).to.deep.equal([{ type: 'users', id: 'alice', attributes: { connections: 1 } }]);
    });
  });

  describe('bodies (§2)', () => {
    it('answers 415 for a body that is not JSON, and nothing happens', async () => {
      const alice = await open('alice');
      const body = JSON.stringify({ event: 'ping', attributes: {} });
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
        expectError(await world.api.post('/control/notify?method=users:alice', undefined, { raw: body, contentType }), 415, 'unsupported_media_type');
      }
      const sub = JSON.stringify(doc(['posts', '1']));
      expectError(await world.api.post('/control/subscription/subscribe?method=users:alice', undefined, { raw: sub, contentType: 'text/plain' }), 415, 'unsupported_media_type');
      // both JSON types are accepted, with a charset too
      for (const contentType of ['application/json', 'application/vnd.api+json', 'application/json; charset=utf-8']) {
        expect((await world.api.post('/control/notify?method=users:alice', undefined, { raw: body, contentType })).status).to.equal(202);
      }
      await flush(alice);
      expect(alice.of('ping')).to.have.length(3);
      expect(await channelsOf('alice')).to.deep.equal([]);
    });

    it('answers 400 invalid_json for malformed JSON', async () => {
      for (const raw of ['{"event":', '{event: "ping"}', "{'event':'ping'}", '{"event":"ping",}', 'nul']) {
        expectError(await world.api.post('/control/notify?method=users:alice', undefined, { raw }), 400, 'invalid_json');
      }
      expectError(await world.api.post('/control/subscription/subscribe?method=users:alice', undefined, { raw: '{"data":[' }), 400, 'invalid_json');
      expect(await channelsOf('alice')).to.deep.equal([]);
    });

    it('answers 413 payload_too_large for a 2 MB body with the default 1mb limit', async () => {
      const alice = await open('alice');
      const big = JSON.stringify({ event: 'big', attributes: { pad: 'x'.repeat(2 * 1024 * 1024) } });
      expectError(await world.api.post('/control/notify?method=users:alice', undefined, { raw: big }), 413, 'payload_too_large');
      const bigDoc = JSON.stringify({ data: Array.from({ length: 60_000 }, (_, i) => ({ type: 'posts', id: String(i) })) });
      expect(bigDoc.length).to.be.above(2 * 1024 * 1024 - 1024 * 1024);
      expectError(await world.api.post('/control/subscription/subscribe?method=users:alice', undefined, { raw: bigDoc + ' '.repeat(2 * 1024 * 1024 - bigDoc.length) }), 413, 'payload_too_large');
      // just under the limit is fine
      const fits = JSON.stringify({ event: 'fits', attributes: { pad: 'x'.repeat(1024 * 1024 - 100) } });
      expect((await world.api.post('/control/notify?method=users:alice', undefined, { raw: fits })).status).to.equal(202);
      await flush(alice);
      expect(alice.of('big')).to.have.length(0);
      expect(alice.of('fits')).to.have.length(1);
      expect(await channelsOf('alice')).to.deep.equal([]);
    });

    it('honours a smaller MAX_REQ_SIZE', async () => {
      await world.start({ env: { MAX_REQ_SIZE: '1kb' } });
      const body = { event: 'ping', attributes: { pad: 'x'.repeat(2000) } };
      expectError(await world.api.post('/control/notify?method=users:alice', body), 413, 'payload_too_large');
      expect((await world.api.post('/control/notify?method=users:alice', { event: 'ping', attributes: { pad: 'x' } })).status).to.equal(202);
    });

    it('refuses __proto__ keys in bodies with 400 and changes nothing', async () => {
      const alice = await open('alice');
      const notifies = [
        '{"__proto__":{"role":"admin"},"event":"ping","attributes":{}}',
        '{"event":"ping","attributes":{"__proto__":{"polluted":true}}}',
        '{"event":"ping","attributes":{"deep":[{"x":{"__proto__":{"polluted":true}}}]}}',
      ];
      for (const raw of notifies) {
        expectError(await world.api.post('/control/notify?method=users:alice', undefined, { raw }), 400, 'invalid_body');
      }
      const docs = [
        '{"data":{"type":"posts","id":"1","__proto__":{"id":"2"}}}',
        '{"data":{"type":"posts","id":"1","relationships":{"__proto__":{"data":{"type":"users","id":"1"}}}}}',
        '{"data":{"type":"posts","id":"1"},"included":[{"type":"users","id":"2","__proto__":{}}]}',
      ];
      for (const raw of docs) {
        expectError(await world.api.post('/control/subscription/subscribe?method=users:alice', undefined, { raw }), 400, 'invalid_body');
      }
      const rotation = await client(world.server.url, world.server.adminToken()).put('/auth/update-jwt-secret', undefined, {
        raw: `{"secret":"${'s'.repeat(40)}","__proto__":{"graceSeconds":5}}`,
      });
      expectError(rotation, 400, 'invalid_body');
      expect((await world.api.get('/auth/test-jwt')).status, 'no rotation happened').to.equal(200);
      const login = await request('POST', `${world.server.url}/auth/login`, undefined, { raw: '{"username":"a","password":"b","__proto__":{"x":1}}' });
      expectError(login, 400, 'invalid_body');
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      expect(({} as Record<string, unknown>).role).to.equal(undefined);
      await flush(alice);
      expect(alice.of('ping')).to.have.length(0);
      expect(await channelsOf('alice')).to.deep.equal([]);
    });
  });

  describe('routing', () => {
    it('answers unknown routes with 404 not_found, and known ones with the wrong method with 405, in JSON:API format', async () => {
      expectError(await world.api.get('/control/nope'), 404, 'not_found');
      expectError(await world.api.get('/control/notify'), 405, 'method_not_allowed');
      expectError(await world.api.put('/control/subscription/subscribe?method=users:a', doc(['posts', '1'])), 405, 'method_not_allowed');
      expectError(await request('GET', `${world.server.url}/no/such/route`), 404, 'not_found');
      expectError(await request('POST', `${world.server.url}/auth/nope`, {}), 404, 'not_found');
      expectError(await request('DELETE', `${world.server.url}/auth/login`), 405, 'method_not_allowed');
      // control routes still want a token first
      expectError(await request('GET', `${world.server.url}/control/nope`), 401, 'token_missing');
    });

    it('serves /healthz and /readyz', async () => {
      const health = await request('GET', `${world.server.url}/healthz`);
      expect(health.status).to.equal(200);
      const ready = await request('GET', `${world.server.url}/readyz`);
      expect(ready.status).to.equal(200);
    });

    it('answers deeply nested bodies with a 4xx or accepts them, and stays up', async () => {
      const alice = await open('alice');
      for (const depth of [500, 100_000]) {
        const raw = `{"event":"deep","attributes":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
        const res = await world.api.post('/control/notify?method=users:alice', undefined, { raw });
        if (depth === 500) expect(res.status).to.equal(202);
        else expectError(res, 400, 'invalid_json');
      }
      await flush(alice);
      expect(alice.of('deep')).to.have.length(1);
    });

    it('stays up after a barrage of bad input', async () => {
      const bad: Promise<ApiResponse>[] = [];
      for (let i = 0; i < 20; i++) {
        bad.push(world.api.post(`/control/notify?method=${q(`users:${'['.repeat(i)}`)}`, { event: 'x' }));
        bad.push(world.api.post('/control/subscription/subscribe?method=users:a', undefined, { raw: '{"data":'.repeat(i + 1) }));
        bad.push(world.api.post('/control/notify?method=users:a', undefined, { raw: Buffer.from([0xff, 0xfe, 0x00, i]) }));
        bad.push(world.api.get(`/control/search/participants?channel=${q('\u0000'.repeat(i + 1))}`));
        bad.push(request('GET', `${world.server.url}/control/search/online`, undefined, { headers: { authorization: `Bearer ${'x.'.repeat(i)}` } }));
        bad.push(request('GET', `${world.server.url}/control/search/online`, undefined, { headers: { cookie: `jwt=${'%'.repeat(i + 1)}` } }));
      }
      for (const res of await Promise.all(bad)) {
        expect(res.status).to.be.within(400, 499);
        expect(res.body.errors[0].status).to.equal(String(res.status));
      }
      expect((await request('GET', `${world.server.url}/healthz`)).status).to.equal(200);
      expect((await world.api.post('/control/notify?method=users:a', { event: 'fine', attributes: {} })).status).to.equal(202);
    });
  });
});
