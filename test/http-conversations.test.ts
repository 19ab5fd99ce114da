/**
 * Chat through the control API (issue 33): an app server posts as a member or as the system,
 * reads history, read positions and unread counts; its messages reach members like socket chat,
 * live and on replay.
 */
import { expect } from 'chai';
import { client, expectJsonApiError as expectError } from './helpers/http.js';
import { useWorld } from './helpers/world.js';

const post = (attributes: Record<string, unknown>) => ({ data: { type: 'messages', attributes } });

describe('chat through the control API (issue 33)', () => {
  const world = useWorld();
  const { open, reconnect, subscribe, flush } = world;

  it('posts as a member: every member socket gets it as chat:message, and the history and unread counts have it', async () => {
    await subscribe(['alice', 'bob'], ['rooms', '1']);
    const [alice, bob] = [await open('alice'), await open('bob')];
    const res = await world.api.post('/control/conversations/rooms-1/messages', post({ from: 'alice', body: 'from the app server', clientId: 'c-1' }));
    expect(res.status).to.equal(201);
    const { id, attributes } = res.body.data;
    expect(attributes).to.include({ channel: 'rooms-1', from: 'alice', body: 'from the app server', clientId: 'c-1' });
    for (const socket of [alice, bob]) {
      const [[message]] = await socket.waitFor('chat:message');
      expect(message).to.deep.equal({ id: Number(id), ...attributes });
    }
    const history = await world.api.get('/control/conversations/rooms-1/messages');
    expect(history.status).to.equal(200);
    expect(history.body.data.map((m: { id: string }) => m.id)).to.deep.equal([id]);
    expect(history.body.meta).to.deep.equal({ channel: 'rooms-1', receipts: {} });
    const unread = await world.api.get('/control/users/bob/unread');
    expect(unread.body.meta).to.deep.equal({ userId: 'bob', unread: { 'rooms-1': 1 } });
    expect((await world.api.get('/control/users/alice/unread')).body.meta.unread).to.deep.equal({ 'rooms-1': 0 });
  });

  it('posts as the system (no from): members see from null, live, in history and on replay', async () => {
    await subscribe(['carol'], ['rooms', '2']);
    const carol = await open('carol');
    const lastEventId = await flush(carol);
    carol.close();
    const res = await world.api.post('/control/conversations/rooms-2/messages', post({ body: 'Maintenance at noon' }));
    expect(res.status).to.equal(201);
    expect(res.body.data.attributes.from).to.equal(null);
    const back = await reconnect('carol', lastEventId);
    const [message] = back.of('chat:message')[0] as [{ id: number; from: string | null; body: string }];
    expect(message).to.include({ id: Number(res.body.data.id), from: null, body: 'Maintenance at noon' });
    expect(back.received.map((r) => r.event)).to.deep.equal(['chat:message', 'ready']);
    const history = await world.api.get('/control/conversations/rooms-2/messages');
    expect(history.body.data[0].attributes.from).to.equal(null);
    // counted as unread: it is not carol's own
    expect((await world.api.get('/control/users/carol/unread')).body.meta.unread).to.deep.equal({ 'rooms-2': 1 });
  });

  it('posts into a private conversation as one of its two users only', async () => {
    const bob = await open('bob');
    const res = await world.api.post('/control/conversations/dm:alice:bob/messages', post({ from: 'alice', body: 'psst' }));
    expect(res.status).to.equal(201);
    const [[message]] = await bob.waitFor('chat:message');
    expect(message).to.include({ channel: 'dm:alice:bob', from: 'alice', body: 'psst' });
    expectError(await world.api.post('/control/conversations/dm:alice:bob/messages', post({ from: 'carol', body: 'hi' })), 403, 'not_member');
    expectError(await world.api.post('/control/conversations/dm:bob:alice/messages', post({ from: 'alice', body: 'hi' })), 400, 'invalid_parameter', { parameter: 'channel' });
    expect((await world.api.get('/control/conversations/dm:alice:bob/messages')).body.data).to.have.length(1);
  });

  it('refuses a sender who is not a member, and bad bodies, with pointers; nothing is posted', async () => {
    await subscribe(['alice'], ['rooms', '3']);
    const url = '/control/conversations/rooms-3/messages';
    expectError(await world.api.post(url, post({ from: 'mallory', body: 'hi' })), 403, 'not_member');
    expectError(await world.api.post(url, post({ from: 'alice', body: '' })), 422, 'validation_failed', { pointer: '/data/attributes/body' });
    expectError(await world.api.post(url, post({ from: 'alice', body: 'x'.repeat(4001) })), 422, 'validation_failed', { pointer: '/data/attributes/body' });
    expectError(await world.api.post(url, post({ from: 'a b', body: 'hi' })), 422, 'validation_failed', { pointer: '/data/attributes/from' });
    expectError(await world.api.post(url, post({ body: 'hi', html: true })), 422, 'validation_failed', { pointer: '/data/attributes' });
    expectError(await world.api.post(url, { data: { type: 'posts', attributes: { body: 'hi' } } }), 422, 'validation_failed', { pointer: '/data/type' });
    expectError(await world.api.post(url, []), 400, 'invalid_body');
    expectError(await world.api.post('/control/conversations/a%20b/messages', post({ body: 'hi' })), 400, 'invalid_parameter', { parameter: 'channel' });
    expect((await world.api.get(url)).body.data).to.deep.equal([]);
  });

  it('pages history with before and limit, and lists read positions', async () => {
    await subscribe(['dave', 'erin'], ['rooms', '4']);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await world.api.post('/control/conversations/rooms-4/messages', post({ from: 'dave', body: `m${i}` }))).body.data.id);
    const newest = await world.api.get('/control/conversations/rooms-4/messages?limit=2');
    expect(newest.body.data.map((m: { id: string }) => m.id)).to.deep.equal(ids.slice(3));
    const older = await world.api.get(`/control/conversations/rooms-4/messages?limit=2&before=${ids[3]}`);
    expect(older.body.data.map((m: { id: string }) => m.id)).to.deep.equal(ids.slice(1, 3));
    expectError(await world.api.get('/control/conversations/rooms-4/messages?limit=101'), 400, 'invalid_parameter', { parameter: 'limit' });
    expectError(await world.api.get('/control/conversations/rooms-4/messages?before=x'), 400, 'invalid_parameter', { parameter: 'before' });

    const erin = await open('erin');
    expect((await erin.call('chat:read', { channel: 'rooms-4', messageId: Number(ids[2]) })).ok).to.equal(true);
    const positions = await world.api.get('/control/conversations/rooms-4/read-positions');
    expect(positions.body.data.map((p: { id: string; attributes: { messageId: number } }) => [p.id, p.attributes.messageId])).to.deep.equal([['erin', Number(ids[2])]]);
    expect((await world.api.get('/control/conversations/rooms-4/messages')).body.meta.receipts).to.deep.equal({ erin: Number(ids[2]) });
    expect((await world.api.get('/control/users/erin/unread')).body.meta.unread).to.deep.equal({ 'rooms-4': 2 });
  });

  describe('moderation', () => {
    it('removes a message: members get chat:deleted, history keeps it without its body, replay sends the deletion and never the message', async () => {
      await subscribe(['alice', 'bob'], ['rooms', '5']);
      const [alice, bob] = [await open('alice'), await open('bob')];
      const lastSeen = await flush(bob);
      bob.close();
      const keep = (await alice.call('chat:send', { channel: 'rooms-5', body: 'fine' })).message.id as number;
      const bad = (await alice.call('chat:send', { channel: 'rooms-5', body: 'something awful' })).message.id as number;
      const res = await world.api.delete(`/control/conversations/rooms-5/messages/${bad}`);
      expect(res.status).to.equal(200);
      expect(res.body.data.attributes).to.include({ body: '', from: 'alice' });
      expect(Date.parse(res.body.data.attributes.deletedAt)).to.be.a('number').and.not.NaN;
      const [[deleted, meta]] = (await alice.waitFor('chat:deleted')) as [[unknown, { id: number }]];
      expect(deleted).to.deep.equal({ id: bad, channel: 'rooms-5' });
      expect(meta.id).to.be.above(bad);

      // history (the control API's and chat:history's) shows it removed, in its place
      const history = await world.api.get('/control/conversations/rooms-5/messages');
      expect(history.body.data.map((m: { id: string; attributes: { body: string; deletedAt?: string } }) => [Number(m.id), m.attributes.body, m.attributes.deletedAt !== undefined])).to.deep.equal([
        [keep, 'fine', false],
        [bad, '', true],
      ]);
      const socketHistory = await alice.call('chat:history', { channel: 'rooms-5' });
      expect(socketHistory.messages.map((m: { id: number; body: string; deletedAt?: string }) => [m.id, m.body, typeof m.deletedAt])).to.deep.equal([
        [keep, 'fine', 'undefined'],
        [bad, '', 'string'],
      ]);

      // bob was away: he gets the message that stands, and the deletion, never the removed text
      const back = await reconnect('bob', lastSeen);
      expect(back.received.map((r) => r.event)).to.deep.equal(['chat:message', 'chat:deleted', 'ready']);
      expect((back.of('chat:message')[0]![0] as { id: number }).id).to.equal(keep);
      expect(JSON.stringify(back.received)).to.not.include('something awful');
      // removed messages are not unread
      expect((await world.api.get('/control/users/bob/unread')).body.meta.unread).to.deep.equal({ 'rooms-5': 1 });

      // deleting it again changes nothing and announces nothing
      const again = await world.api.delete(`/control/conversations/rooms-5/messages/${bad}`);
      expect(again.body.data.attributes.deletedAt).to.equal(res.body.data.attributes.deletedAt);
      await flush(alice);
      expect(alice.of('chat:deleted')).to.have.length(1);
    });

    it('tells both users of a private conversation, and answers 404 for a message of another conversation', async () => {
      const [alice, bob] = [await open('alice'), await open('bob')];
      const sent = (await alice.call('chat:send', { to: 'bob', body: 'oops' })).message.id as number;
      expectError(await world.api.delete(`/control/conversations/rooms-1/messages/${sent}`), 404, 'not_found');
      expectError(await world.api.delete('/control/conversations/dm:alice:bob/messages/999999'), 404, 'not_found');
      expectError(await world.api.delete('/control/conversations/dm:alice:bob/messages/abc'), 404, 'not_found');
      expect((await world.api.delete(`/control/conversations/dm:alice:bob/messages/${sent}`)).status).to.equal(200);
      for (const socket of [alice, bob]) {
        const [[deleted]] = await socket.waitFor('chat:deleted');
        expect(deleted).to.deep.equal({ id: sent, channel: 'dm:alice:bob' });
      }
    });

    it('exports a whole conversation as JSON, oldest first, with its read positions', async () => {
      await subscribe(['carol'], ['rooms', '6']);
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) ids.push(Number((await world.api.post('/control/conversations/rooms-6/messages', post({ from: 'carol', body: `n${i}` }))).body.data.id));
      await world.api.delete(`/control/conversations/rooms-6/messages/${ids[1]}`);
      const res = await world.api.get('/control/conversations/rooms-6/export');
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-disposition')).to.equal('attachment; filename="rooms-6.json"');
      expect(res.body.data.map((m: { id: string; attributes: { body: string } }) => [Number(m.id), m.attributes.body])).to.deep.equal([
        [ids[0], 'n0'],
        [ids[1], ''],
        [ids[2], 'n2'],
      ]);
      expect(res.body.meta).to.include({ channel: 'rooms-6', count: 3, truncated: false });
      expect((await world.api.get('/control/conversations/dm:alice:bob/export')).body.meta).to.include({ count: 0, truncated: false });
    });
  });

  it('is for service and admin tokens only', async () => {
    const user = client(world.server.url, world.server.token('alice'));
    expectError(await user.get('/control/conversations/rooms-1/messages'), 403, 'forbidden');
    expectError(await user.post('/control/conversations/rooms-1/messages', post({ body: 'hi' })), 403, 'forbidden');
    expectError(await user.get('/control/users/alice/unread'), 403, 'forbidden');
    expectError(await user.delete('/control/conversations/rooms-1/messages/1'), 403, 'forbidden');
    expectError(await user.get('/control/conversations/rooms-1/export'), 403, 'forbidden');
    expect((await client(world.server.url, world.server.adminToken()).get('/control/conversations/rooms-1/messages')).status).to.equal(200);
  });
});
