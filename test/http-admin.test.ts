/**
 * The operator console's routes (issue 32), admin only: each answers an admin token, refuses a
 * service or user token with 403 and no token with 401.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import { client, expectJsonApiError as expectError, request } from './helpers/http.js';
import { useWorld } from './helpers/world.js';

const PASSWORD = 'correct horse battery';
/** A secret the strength check accepts. */
const newSecret = () => crypto.randomBytes(32).toString('base64url');

describe('operator routes (issue 32)', () => {
  const world = useWorld({ env: { ADMIN_USERNAME: 'root', ADMIN_PASSWORD: PASSWORD } });
  const admin = () => client(world.server.url, world.server.adminToken());

  it('refuses every operator route to service and user tokens (403) and without a token (401)', async () => {
    for (const path of ['/control/keys']) {
      expectError(await world.api.get(path), 403, 'forbidden');
      expectError(await client(world.server.url, world.server.token('alice')).get(path), 403, 'forbidden');
      expectError(await client(world.server.url).get(path), 401, 'token_missing');
    }
  });

  describe('GET /control/keys', () => {
    it('lists the ring, the current key first, with lifetimes and never a secret', async () => {
      const [first] = (await admin().get('/control/keys')).body.data;
      expect(first.attributes).to.include({ current: true, expiresAt: null });
      const secret = newSecret();
      const before = Date.now();
      const rotated = await admin().put('/auth/update-jwt-secret', { secret, graceSeconds: 3600 });
      expect(rotated.status).to.equal(200);
      const res = await admin().get('/control/keys');
      expect(res.status).to.equal(200);
      expect(res.body.data.map((key: { id: string }) => key.id)).to.deep.equal([rotated.body.data.id, first.id]);
      const [current, old] = res.body.data;
      expect(current.attributes).to.include({ current: true, expiresAt: null });
      expect(old.attributes.current).to.equal(false);
      expect(Date.parse(old.attributes.expiresAt) - before).to.be.within(3_590_000, 3_610_000);
      expect(JSON.stringify(res.body)).to.not.include(secret);
    });
  });

  describe('PUT /auth/update-jwt-secret from the console', () => {
    /** Signs in as the bootstrap admin and returns the Cookie header the browser would send. */
    async function signIn(): Promise<string> {
      const res = await client(world.server.url).post('/auth/login', { username: 'root', password: PASSWORD });
      expect(res.status).to.equal(200);
      return cookieHeader(res.headers);
    }

    it('signs the cookie of the session that rotated again, so it survives even a rotation without grace', async () => {
      const cookie = await signIn();
      const res = await request('PUT', `${world.server.url}/auth/update-jwt-secret`, { secret: newSecret(), graceSeconds: 0 }, { headers: { cookie } });
      expect(res.status).to.equal(200);
      const renewed = cookieHeader(res.headers);
      expect(renewed).to.match(/jwt=[^;]+/);
      expect(renewed).to.not.equal(cookie);
      // the old cookie is refused, the renewed one works, still as root and admin
      expectError(await request('GET', `${world.server.url}/auth/test-jwt`, undefined, { headers: { cookie } }), 401, 'token_invalid');
      const me = await request('GET', `${world.server.url}/auth/test-jwt`, undefined, { headers: { cookie: renewed } });
      expect(me.status).to.equal(200);
      expect(me.body.meta).to.include({ sub: '@root', role: 'admin' });
      // and the ring lists only the new key: the old one's grace (none) has ended
      const keys = await request('GET', `${world.server.url}/control/keys`, undefined, { headers: { cookie: renewed } });
      expect(keys.body.data.map((key: { attributes: { current: boolean } }) => key.attributes.current)).to.deep.equal([true]);
    });

    it('sets no cookie for a caller with a Bearer token', async () => {
      const res = await admin().put('/auth/update-jwt-secret', { secret: newSecret(), graceSeconds: 60 });
      expect(res.status).to.equal(200);
      expect(res.headers.getSetCookie()).to.deep.equal([]);
    });
  });
});

/** The Cookie header a browser would send back after these Set-Cookie headers. */
function cookieHeader(headers: Headers): string {
  return headers
    .getSetCookie()
    .map((line) => line.split(';')[0]!)
    .join('; ');
}
