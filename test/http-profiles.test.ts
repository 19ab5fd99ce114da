/**
 * Profiles and channel labels over HTTP (contract §11): /auth/me, the app server's profile and
 * label routes, their validation and roles, and labels taken from subscribe documents.
 */
import { expect } from 'chai';
import { client, doc, expectJsonApiError as expectError } from './helpers/http.js';
import { useWorld } from './helpers/world.js';

const PASSWORD = 'correct horse battery';
const profile = (attributes: Record<string, unknown>, id?: string) => ({ data: { type: 'users', ...(id !== undefined ? { id } : {}), attributes } });

describe('profiles and channel labels over HTTP (contract §11)', () => {
  const world = useWorld();
  const as = (token: string) => client(world.server.url, token);
  async function loginToken(username: string): Promise<string> {
    await client(world.server.url).post('/auth/register', { username, password: PASSWORD });
    return (await client(world.server.url).post('/auth/login', { username, password: PASSWORD })).body.data.attributes.token;
  }

  it('GET /auth/me: the user, role and profile, the name defaulting to the id', async () => {
    const res = await as(world.server.token('alice')).get('/auth/me');
    expect(res.status).to.equal(200);
    expect(res.body.data).to.deep.equal({ type: 'users', id: 'alice', attributes: { role: 'user', name: 'alice', avatar: null } });
    expect((await as(world.server.serviceToken()).get('/auth/me')).body.data.attributes.role).to.equal('service');
    expectError(await client(world.server.url).get('/auth/me'), 401, 'token_missing');
  });

  it('PATCH /auth/me: an account sets its own name and avatar; a token the app server minted is refused', async () => {
    const token = await loginToken('dora');
    const res = await as(token).patch('/auth/me', profile({ name: 'Dora the Explorer', avatar: 'https://example.com/dora.png' }, '@dora'));
    expect(res.status).to.equal(200);
    expect(res.body.data).to.deep.equal({ type: 'users', id: '@dora', attributes: { role: 'user', name: 'Dora the Explorer', avatar: 'https://example.com/dora.png' } });
    // only the attributes named change
    expect((await as(token).patch('/auth/me', profile({ avatar: null }))).body.data.attributes).to.include({ name: 'Dora the Explorer', avatar: null });
    expectError(await as(world.server.token('@dora')).patch('/auth/me', profile({ name: 'Not Dora' })), 403, 'forbidden');
    expectError(await as(world.server.token('alice')).patch('/auth/me', profile({ name: 'Alice' })), 403, 'forbidden');
    expect((await world.api.get('/control/users/@dora')).body.data.attributes.name).to.equal('Dora the Explorer');
  });

  it('PUT /control/users/:id/profile and GET /control/users/:id: any user, registered or not', async () => {
    const put = await world.api.put('/control/users/u-17/profile', profile({ name: 'Ada Lovelace' }, 'u-17'));
    expect(put.status).to.equal(200);
    expect(put.body.data).to.deep.equal({ type: 'users', id: 'u-17', attributes: { name: 'Ada Lovelace', avatar: null } });
    expect((await world.api.get('/control/users/u-17')).body.data.attributes).to.deep.equal({ name: 'Ada Lovelace', avatar: null });
    expect((await world.api.get('/control/users/never-seen')).body.data.attributes).to.deep.equal({ name: 'never-seen', avatar: null });
    // what the user sees of themself
    expect((await as(world.server.token('u-17')).get('/auth/me')).body.data.attributes.name).to.equal('Ada Lovelace');
    for (const token of [world.server.token('u-17'), undefined]) {
      const res = await (token ? as(token) : client(world.server.url)).put('/control/users/u-17/profile', profile({ name: 'Mallory' }));
      expect(res.status).to.be.oneOf([401, 403]);
    }
    expect((await world.api.get('/control/users/u-17')).body.data.attributes.name).to.equal('Ada Lovelace');
  });

  it('refuses control and format characters, lengths, and avatars that are not https:// URLs, with pointers, changing nothing', async () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ name: '' }, '/data/attributes/name'],
      [{ name: 'x'.repeat(101) }, '/data/attributes/name'],
      [{ name: 'evil\u202Eeman' }, '/data/attributes/name'],
      [{ name: 'zero\u200Bwidth' }, '/data/attributes/name'],
      [{ name: 'bell\u0007' }, '/data/attributes/name'],
      [{ name: 'line\nbreak' }, '/data/attributes/name'],
      [{ name: 42 }, '/data/attributes/name'],
      [{ avatar: 'javascript:alert(1)' }, '/data/attributes/avatar'],
      [{ avatar: 'http://example.com/a.png' }, '/data/attributes/avatar'],
      [{ avatar: 'data:image/png;base64,AAAA' }, '/data/attributes/avatar'],
      [{ avatar: `https://example.com/${'a'.repeat(2048)}` }, '/data/attributes/avatar'],
      [{ avatar: 'not a url' }, '/data/attributes/avatar'],
      [{ bio: 'hi' }, '/data/attributes'],
      [{}, '/data/attributes'],
    ];
    for (const [attributes, pointer] of bad) {
      expectError(await world.api.put('/control/users/bea/profile', profile(attributes)), 422, 'validation_failed', { pointer });
    }
    expectError(await world.api.put('/control/users/bea/profile', { data: { type: 'people', attributes: { name: 'B' } } }), 422, 'validation_failed', { pointer: '/data/type' });
    expectError(await world.api.put('/control/users/bea/profile', profile({ name: 'B' }, 'someone-else')), 422, 'validation_failed', { pointer: '/data/id' });
    expectError(await world.api.put('/control/users/bea/profile', []), 400, 'invalid_body');
    // a name of 100 characters beyond the BMP is 100 characters
    expect((await world.api.put('/control/users/bea/profile', profile({ name: '😀'.repeat(100) }))).status).to.equal(200);
    expect((await world.api.get('/control/users/bea')).body.data.attributes).to.deep.equal({ name: '😀'.repeat(100), avatar: null });
  });

  it('labels channels from subscribe documents (title, else name), keeps a PUT label, and answers them in queries', async () => {
    const document = {
      data: [
        { type: 'posts', id: '1', attributes: { title: 'Hello world', name: 'ignored' } },
        { type: 'teams', id: '3', attributes: { name: 'The A-Team' } },
        { type: 'tags', id: '9' },
      ],
      included: [{ type: 'people', id: '7', attributes: { name: 'Dan\u200B Brown' } }],
    };
    expect((await world.api.post('/control/subscription/subscribe?method=users:alice', document)).status).to.equal(200);
    const labels = async () =>
      Object.fromEntries(((await world.api.get('/control/search/subscriptions?userId=alice')).body.data as { id: string; attributes: { label: string | null } }[]).map((c) => [c.id, c.attributes.label]));
    expect(await labels()).to.deep.equal({ 'people-7': 'Dan Brown', 'posts-1': 'Hello world', 'tags-9': null, 'teams-3': 'The A-Team' });

    const put = await world.api.put('/control/channels/teams-3', { data: { type: 'channels', id: 'teams-3', attributes: { label: 'Team Three' } } });
    expect(put.status).to.equal(200);
    expect(put.body.data).to.deep.equal({ type: 'channels', id: 'teams-3', attributes: { label: 'Team Three' } });
    // a later document replaces a document's label, never a PUT one
    await world.subscription('subscribe', 'users:bob', doc(['posts', '1']));
    await world.api.post('/control/subscription/subscribe?method=users:alice', { data: [{ type: 'posts', id: '1', attributes: { title: 'Hello again' } }, { type: 'teams', id: '3', attributes: { title: 'Renamed by a document' } }] });
    expect(await labels()).to.include({ 'posts-1': 'Hello again', 'teams-3': 'Team Three' });

    expectError(await world.api.put('/control/channels/teams-3', { data: { type: 'channels', attributes: { label: '' } } }), 422, 'validation_failed', { pointer: '/data/attributes/label' });
    expectError(await world.api.put('/control/channels/teams-3', { data: { type: 'channels', attributes: { label: 'x'.repeat(201) } } }), 422, 'validation_failed', { pointer: '/data/attributes/label' });
    expectError(await world.api.put('/control/channels/teams-3', { data: { type: 'channels', attributes: { label: 'rtl\u202E' } } }), 422, 'validation_failed', { pointer: '/data/attributes/label' });
    expectError(await world.api.put('/control/channels/a%20b', { data: { type: 'channels', attributes: { label: 'ok' } } }), 400, 'invalid_parameter');
    expectError(await as(world.server.token('alice')).put('/control/channels/teams-3', { data: { type: 'channels', attributes: { label: 'Mine' } } }), 403, 'forbidden');
    expect(await labels()).to.include({ 'teams-3': 'Team Three' });
  });
});
