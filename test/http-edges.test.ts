/**
 * Clear errors at the edges of the HTTP API (issue 29): a query parameter given twice, a known
 * route called with the wrong method, and the `route` label of the request metrics for every
 * response, errors included.
 */
import { expect } from 'chai';
import { client, expectJsonApiError } from './helpers/http.js';
import { useWorld } from './helpers/world.js';

describe('HTTP: clear errors at the edges (issue 29)', () => {
  const world = useWorld();

  describe('a query parameter given twice', () => {
    it('is a 400 naming the parameter, for notify, subscribe and paging, and changes nothing', async () => {
      const alice = await world.open('alice');
      const cases: [string, string, string][] = [
        ['/control/notify?method=users:alice&method=users:bob', 'method', 'post'],
        ['/control/notify?method=users:alice&add=origin&add=date-time', 'add', 'post'],
        ['/control/subscription/subscribe?method=users:alice&method=users:bob', 'method', 'post'],
        ['/control/search/subscriptions?userId=alice&userId=bob', 'userId', 'get'],
        ['/control/search/online?page[size]=1&page[size]=2', 'page[size]', 'get'],
      ];
      for (const [path, parameter, verb] of cases) {
        const body = verb === 'post' ? (path.includes('notify') ? { event: 'twice', attributes: {} } : { data: { type: 'posts', id: '1' } }) : undefined;
        const res = verb === 'post' ? await world.api.post(path, body) : await world.api.get(path);
        const error = expectJsonApiError(res, 400, 'invalid_parameter', { parameter });
        expect(error.detail, path).to.equal(`${parameter} is given 2 times; give it once`);
      }
      await world.flush(alice);
      expect(alice.of('twice')).to.deep.equal([]);
      expect((await world.api.get('/control/search/subscriptions?userId=alice')).body.data).to.deep.equal([]);
    });
  });

  describe('a known route with the wrong method', () => {
    it('is a 405 with Allow listing the methods the route answers; an unknown path stays 404', async () => {
      const cases: [string, 'get' | 'post' | 'put' | 'delete', string][] = [
        ['/control/notify', 'get', 'POST'],
        ['/control/search/online', 'post', 'GET, HEAD'],
        ['/auth/login', 'delete', 'POST'],
        ['/auth/update-jwt-secret', 'post', 'PUT'],
        ['/healthz', 'put', 'GET, HEAD'],
      ];
      for (const [path, verb, allow] of cases) {
        const res = await world.api[verb](path, verb === 'get' ? undefined : {});
        const error = expectJsonApiError(res, 405, 'method_not_allowed');
        expect(res.headers.get('allow'), path).to.equal(allow);
        expect(error.detail).to.equal(`${path} answers ${allow}, not ${verb.toUpperCase()}`);
      }
      expectJsonApiError(await world.api.get('/control/nothing-here'), 404, 'not_found');
      expectJsonApiError(await world.api.post('/no/such/route', {}), 404, 'not_found');
    });
  });

  describe('the route label of chatty_http_requests_total', () => {
    it('is the route template for every response, errors included, and `unmatched` only for unknown paths', async () => {
      const anonymous = client(world.server.url);
      expect((await anonymous.post('/control/notify?method=users:alice', { event: 'e', attributes: {} })).status).to.equal(401);
      expect((await world.api.post('/control/notify?method=users:alice&method=users:bob', { event: 'e', attributes: {} })).status).to.equal(400);
      expect((await world.api.post('/control/notify?method=users:alice', { event: 'e', attributes: {} })).status).to.equal(202);
      expect((await world.api.post('/control/notify?method=users:alice', '{not json', { contentType: 'application/json' })).status).to.equal(400);
      expect((await world.api.get('/control/notify')).status).to.equal(405);
      expect((await anonymous.get('/auth/test-jwt')).status).to.equal(401);
      expect((await anonymous.post('/auth/login', { username: 'nobody', password: 'wrong password' })).status).to.equal(401);
      expect((await anonymous.get('/no/such/thing?x=1')).status).to.equal(404);

      const text = (await fetch(`${world.server.url}/metrics`).then((res) => res.text())).split('\n');
      const count = (method: string, route: string, status: number) => {
        const line = text.find((l) => l.startsWith('chatty_http_requests_total{') && l.includes(`method="${method}"`) && l.includes(`route="${route}"`) && l.includes(`status="${status}"`));
        return line === undefined ? 0 : Number(line.split(' ').at(-1));
      };
      expect(count('POST', '/control/notify', 401)).to.equal(1);
      expect(count('POST', '/control/notify', 400)).to.equal(2);
      expect(count('POST', '/control/notify', 202)).to.equal(1);
      expect(count('GET', '/control/notify', 405)).to.equal(1);
      expect(count('GET', '/auth/test-jwt', 401)).to.equal(1);
      expect(count('POST', '/auth/login', 401)).to.equal(1);
      expect(count('GET', 'unmatched', 404)).to.equal(1);
      const routes = new Set(text.filter((l) => l.startsWith('chatty_http_requests_total{')).map((l) => /route="([^"]*)"/.exec(l)![1]));
      expect([...routes].filter((route) => route !== 'unmatched' && !route.startsWith('/')), 'every label is a template or unmatched').to.deep.equal([]);
      expect(routes).to.not.include('/notify');
      expect(routes).to.not.include('/test-jwt');
    });
  });

  describe('METRICS_TOKEN', () => {
    const token = 'a-metrics-token-of-at-least-32-characters';

    it('keeps /metrics to Bearer <METRICS_TOKEN> when set: 401 without it or with another, 200 with it', async () => {
      await world.start({ env: { METRICS_TOKEN: token } });
      const missing = expectJsonApiError(await client(world.server.url).get('/metrics'), 401, 'token_missing');
      expect(missing.detail).to.match(/METRICS_TOKEN/);
      const wrong = await client(world.server.url, token.slice(0, -1) + 'X').get('/metrics');
      expectJsonApiError(wrong, 401, 'token_invalid');
      expect(wrong.headers.get('www-authenticate')).to.equal('Bearer');
      // a service token of the key ring is no metrics token either
      expectJsonApiError(await world.api.get('/metrics'), 401, 'token_invalid');
      const scraped = await fetch(`${world.server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(scraped.status).to.equal(200);
      expect(await scraped.text()).to.include('chatty_http_requests_total');
      // health and readiness stay open to probes
      expect((await client(world.server.url).get('/healthz')).status).to.equal(200);
    });
  });
});
