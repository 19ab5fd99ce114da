/**
 * The operator console's routes (issue 32), admin only: each answers an admin token, refuses a
 * service or user token with 403 and no token with 401.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import { io as ioClient } from 'socket.io-client';
import { client, expectJsonApiError as expectError, request } from './helpers/http.js';
import { connect } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

const PASSWORD = 'correct horse battery';
/** A secret the strength check accepts. */
const newSecret = () => crypto.randomBytes(32).toString('base64url');

describe('operator routes (issue 32)', () => {
  const world = useWorld({ env: { ADMIN_USERNAME: 'root', ADMIN_PASSWORD: PASSWORD } });
  const admin = () => client(world.server.url, world.server.adminToken());

  it('refuses every operator route to service and user tokens (403) and without a token (401)', async () => {
    for (const path of ['/control/keys', '/control/sockets', '/control/channels', '/control/stats', '/control/accounts']) {
      expectError(await world.api.get(path), 403, 'forbidden');
      expectError(await client(world.server.url, world.server.token('alice')).get(path), 403, 'forbidden');
      expectError(await client(world.server.url).get(path), 401, 'token_missing');
    }
    const someone = await world.open('someone');
    expectError(await world.api.delete(`/control/sockets/${someone.socket.id}`), 403, 'forbidden');
    expectError(await client(world.server.url).delete(`/control/sockets/${someone.socket.id}`), 401, 'token_missing');
    expect(someone.socket.connected).to.equal(true);
    const patch = { data: { type: 'accounts', attributes: { disabled: true } } };
    expectError(await world.api.patch('/control/accounts/root', patch), 403, 'forbidden');
    expectError(await client(world.server.url, world.server.token('@root')).patch('/control/accounts/root', patch), 403, 'forbidden');
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

  describe('GET /control/sockets and DELETE /control/sockets/:id', () => {
    it('lists every socket by id, with its user, transport, address, times and node, filtered by user and paged', async () => {
      const before = Date.now();
      // alice's tokens have no exp, bob's expires in an hour
      const bob = await connect(world.server.url, { token: world.server.token('bob', { expiresIn: 3600 }) });
      // each socket says its user's name (contract §11), the id when none was given
      await world.api.put('/control/users/bob/profile', { data: { type: 'users', attributes: { name: 'Bob the Builder' } } });
      const sockets = [await world.open('alice'), await world.open('alice'), bob];
      const res = await admin().get('/control/sockets');
      expect(res.status).to.equal(200);
      expect(res.body.meta).to.deep.equal({ complete: true });
      const ids = sockets.map((s) => s.socket.id!).sort();
      expect(res.body.data.map((r: { id: string }) => r.id)).to.deep.equal(ids);
      for (const resource of res.body.data) {
        const socket = sockets.find((s) => s.socket.id === resource.id)!;
        expect(resource.attributes).to.include({ userId: socket.ready.userId, name: socket === bob ? 'Bob the Builder' : 'alice', transport: 'websocket', node: world.server.chatty.config.nodeId });
        expect(resource.attributes.address).to.be.oneOf(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
        expect(Date.parse(resource.attributes.connectedAt)).to.be.within(before - 1000, Date.now());
        if (socket === bob) expect(Date.parse(resource.attributes.tokenExpiresAt) - Date.now()).to.be.within(3_500_000, 3_601_000);
        else expect(resource.attributes.tokenExpiresAt).to.equal(null);
      }
      const alices = await admin().get('/control/sockets?userId=alice');
      expect(alices.body.data.map((r: { id: string }) => r.id)).to.deep.equal(sockets.slice(0, 2).map((s) => s.socket.id!).sort());
      const first = await admin().get('/control/sockets?page[size]=2');
      expect(first.body.data.map((r: { id: string }) => r.id)).to.deep.equal(ids.slice(0, 2));
      const second = await admin().get(first.body.links.next);
      expect(second.body.data.map((r: { id: string }) => r.id)).to.deep.equal(ids.slice(2));
      expect(second.body.links).to.equal(undefined);
      expectError(await admin().get('/control/sockets?userId=a,b'), 400, 'invalid_parameter', { parameter: 'userId' });
    });

    it('disconnects a socket by id, and answers 404 for one that is not connected', async () => {
      const [keep, drop] = [await world.open('carol'), await world.open('carol')];
      const gone = new Promise((resolve) => drop.socket.once('disconnect', resolve));
      const res = await admin().delete(`/control/sockets/${drop.socket.id}`);
      expect(res.status).to.equal(204);
      expect(await gone).to.equal('io server disconnect');
      expect(keep.socket.connected).to.equal(true);
      expectError(await admin().delete(`/control/sockets/${drop.socket.id}`), 404, 'not_found');
      expectError(await admin().delete('/control/sockets/nope'), 404, 'not_found');
      const left = await admin().get('/control/sockets?userId=carol');
      expect(left.body.data.map((r: { id: string }) => r.id)).to.deep.equal([keep.socket.id]);
    });
  });

  describe('GET /control/channels', () => {
    it('lists channels by name with their subscribers and the users online in them, by prefix and paged', async () => {
      await world.subscribe(['alice', 'bob', 'carol'], ['posts', '1']);
      await world.subscribe(['alice'], ['posts', '2']);
      await world.subscribe(['bob'], ['teams', '1']);
      await world.subscribe(['dave'], ['postsx', '1']);
      // alice twice (two tabs: one user online), bob once, carol and dave offline
      await Promise.all([world.open('alice'), world.open('alice'), world.open('bob')]);
      const res = await admin().get('/control/channels');
      expect(res.status).to.equal(200);
      expect(res.body.meta).to.deep.equal({ complete: true });
      const counts = (body: { data: { id: string; attributes: { subscribers: number; online: number } }[] }) => body.data.map((r) => [r.id, r.attributes.subscribers, r.attributes.online]);
      expect(counts(res.body)).to.deep.equal([
        ['posts-1', 3, 2],
        ['posts-2', 1, 1],
        ['postsx-1', 1, 0],
        ['teams-1', 1, 1],
      ]);
      expect(counts((await admin().get('/control/channels?prefix=posts-')).body)).to.deep.equal([
        ['posts-1', 3, 2],
        ['posts-2', 1, 1],
      ]);
      const first = await admin().get('/control/channels?prefix=posts&page[size]=2');
      expect(counts(first.body).map(([id]) => id)).to.deep.equal(['posts-1', 'posts-2']);
      expect(counts((await admin().get(first.body.links.next)).body)).to.deep.equal([['postsx-1', 1, 0]]);
      expect((await admin().get('/control/channels?prefix=nothing')).body.data).to.deep.equal([]);
      expectError(await admin().get('/control/channels?prefix=a%20b'), 400, 'invalid_parameter', { parameter: 'prefix' });
    });
  });

  describe('GET /control/stats', () => {
    it("gives this node's figures: sockets now, and totals that notifies, chat and requests move", async () => {
      const before = (await admin().get('/control/stats')).body.meta;
      expect(before.node).to.equal(world.server.chatty.config.nodeId);
      expect(before.sockets).to.equal(0);
      await world.subscribe(['alice'], ['rooms', '1']);
      const [alice] = [await world.open('alice'), await world.open('bob')];
      await world.notify('channels:rooms-1', 'one');
      await world.notify('users:bob', 'two');
      expect((await alice.call('chat:send', { channel: 'rooms-1', body: 'hi' })).ok).to.equal(true);
      const after = (await admin().get('/control/stats')).body.meta;
      expect(after.sockets).to.equal(2);
      expect(after.notifications - before.notifications).to.equal(2);
      expect(after.chatMessages - before.chatMessages).to.equal(1);
      expect(after.httpRequests).to.be.above(before.httpRequests);
      expect(after.logCommits).to.be.above(before.logCommits);
      expect(after.residentMemoryBytes).to.be.above(1_000_000);
      expect(Date.parse(after.time)).to.be.at.least(Date.parse(before.time));
    });
  });

  describe('GET /control/accounts and PATCH /control/accounts/:username', () => {
    const register = async (username: string) => expect((await client(world.server.url).post('/auth/register', { username, password: PASSWORD })).status).to.equal(201);
    const login = async (username: string, password = PASSWORD) => client(world.server.url).post('/auth/login', { username, password });
    const tokenOf = async (username: string, password = PASSWORD) => {
      const res = await login(username, password);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      return res.body.data.attributes.token as string;
    };
    const whoIs = (token: string) => client(world.server.url, token).get('/auth/test-jwt');
    const change = (username: string, attributes: Record<string, unknown>, token = world.server.adminToken()) =>
      client(world.server.url, token).patch(`/control/accounts/${username}`, { data: { type: 'accounts', attributes } });

    it('lists accounts by username, with their user id, role, state and the bootstrap admin marked, paged', async () => {
      await register('alice');
      await register('Bob');
      const res = await admin().get('/control/accounts');
      expect(res.status).to.equal(200);
      expect(res.body.data.map((a: { id: string; attributes: Record<string, unknown> }) => [a.id, a.attributes.userId, a.attributes.role, a.attributes.disabled, a.attributes.bootstrap])).to.deep.equal([
        ['Bob', '@Bob', 'user', false, false],
        ['alice', '@alice', 'user', false, false],
        ['root', '@root', 'admin', false, true],
      ]);
      const first = await admin().get('/control/accounts?page[size]=2');
      expect(first.body.data.map((a: { id: string }) => a.id)).to.deep.equal(['Bob', 'alice']);
      expect((await admin().get(first.body.links.next)).body.data.map((a: { id: string }) => a.id)).to.deep.equal(['root']);
    });

    it('disables an account: its tokens are refused, its sockets dropped, its logins refused; enabled, it signs in again', async () => {
      await register('alice');
      const token = await tokenOf('alice');
      const socket = await connect(world.server.url, { token });
      const dropped = new Promise((resolve) => socket.socket.once('disconnect', resolve));
      const res = await change('ALICE', { disabled: true });
      expect(res.status).to.equal(200);
      expect(res.body.data).to.deep.include({ type: 'accounts', id: 'alice' });
      expect(res.body.data.attributes).to.include({ disabled: true, role: 'user' });
      await dropped;
      expectError(await whoIs(token), 401, 'token_invalid');
      expectError(await login('alice'), 401, 'invalid_credentials');
      const refused = await connect(world.server.url, { token }).then(
        () => undefined,
        (error: Error & { data?: { code: string } }) => error,
      );
      expect(refused?.data?.code).to.equal('token_invalid');

      expect((await change('alice', { disabled: false })).body.data.attributes.disabled).to.equal(false);
      // the token from before stays refused: the account's token version moved on
      expectError(await whoIs(token), 401, 'token_invalid');
      const again = await tokenOf('alice');
      expect((await whoIs(again)).body.meta).to.include({ sub: '@alice', role: 'user' });
      // a token minted elsewhere for the account's id (no ver) is as old as the change: refused too
      expectError(await whoIs(world.server.token('@alice')), 401, 'token_invalid');
      // and one for an id that is not an account's is never affected
      expect((await whoIs(world.server.token('alice'))).status).to.equal(200);
    });

    it("changes a role and resets a password, ending the account's older tokens", async () => {
      await register('carol');
      const before = await tokenOf('carol');
      expect((await change('carol', { role: 'admin' })).body.data.attributes.role).to.equal('admin');
      expectError(await whoIs(before), 401, 'token_invalid');
      const promoted = await tokenOf('carol');
      expect((await whoIs(promoted)).body.meta.role).to.equal('admin');
      // an admin now: carol may use the operator routes and watch the live feed
      expect((await client(world.server.url, promoted).get('/control/accounts')).status).to.equal(200);
      const feed = ioClient(`${world.server.url}/admin`, { auth: { token: promoted }, transports: ['websocket'], forceNew: true, reconnection: false });
      await new Promise<void>((resolve, reject) => feed.once('connect', () => resolve()).once('connect_error', reject));
      const feedGone = new Promise((resolve) => feed.once('disconnect', resolve));

      const reset = await change('carol', { password: 'a brand new password' });
      expect(reset.status).to.equal(200);
      expect(JSON.stringify(reset.body)).to.not.include('brand new');
      expectError(await whoIs(promoted), 401, 'token_invalid');
      // her feed, opened with the token the reset ended, is closed too
      await feedGone;
      expectError(await login('carol'), 401, 'invalid_credentials');
      expect((await login('carol', 'a brand new password')).status).to.equal(200);
    });

    it('never lets the bootstrap admin, or an admin themself, be disabled or demoted', async () => {
      for (const attributes of [{ disabled: true }, { role: 'user' }, { role: 'service' }]) {
        expectError(await change('Root', attributes), 422, 'validation_failed');
      }
      // the bootstrap admin's password may be reset, and it stays an admin
      expect((await change('root', { role: 'admin', password: 'another root password' })).status).to.equal(200);
      await register('dave');
      await change('dave', { role: 'admin' });
      const dave = await tokenOf('dave');
      expectError(await change('dave', { disabled: true }, dave), 422, 'validation_failed');
      expectError(await change('DAVE', { role: 'user' }, dave), 422, 'validation_failed');
      expect((await whoIs(dave)).status, 'refused changes change nothing').to.equal(200);
      // another admin may
      expect((await change('dave', { role: 'user' })).status).to.equal(200);
    });

    it('refuses bad changes with a pointer, and an unknown account with 404', async () => {
      await register('erin');
      const send = (body: unknown) => admin().patch('/control/accounts/erin', body);
      expectError(await send({ data: { type: 'accounts', attributes: {} } }), 422, 'validation_failed', { pointer: '/data/attributes' });
      expectError(await send({ data: { type: 'accounts', attributes: { role: 'root' } } }), 422, 'validation_failed', { pointer: '/data/attributes/role' });
      expectError(await send({ data: { type: 'accounts', attributes: { disabled: 'yes' } } }), 422, 'validation_failed', { pointer: '/data/attributes/disabled' });
      expectError(await send({ data: { type: 'accounts', attributes: { password: 'short' } } }), 422, 'validation_failed', { pointer: '/data/attributes/password' });
      expectError(await send({ data: { type: 'accounts', attributes: { username: 'x' } } }), 422, 'validation_failed', { pointer: '/data/attributes' });
      expectError(await send({ data: { type: 'users', attributes: { disabled: true } } }), 422, 'validation_failed', { pointer: '/data/type' });
      expectError(await send({ data: { type: 'accounts', id: 'frank', attributes: { disabled: true } } }), 422, 'validation_failed', { pointer: '/data/id' });
      expectError(await send([]), 422, 'validation_failed');
      expectError(await admin().patch('/control/accounts/nobody', { data: { type: 'accounts', attributes: { disabled: true } } }), 404, 'not_found');
      expect((await admin().get('/control/accounts')).body.data.find((a: { id: string }) => a.id === 'erin').attributes.disabled).to.equal(false);
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
