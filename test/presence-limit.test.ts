import { expect } from 'chai';
import { client, doc } from './helpers/http.js';
import { startServer, type TestServer } from './helpers/server.js';
import { closeAllSockets, connect } from './helpers/sockets.js';

describe('presence limit (PRESENCE_LIMIT)', () => {
  let server: TestServer;
  let api: ReturnType<typeof client>;

  beforeEach(async () => {
    server = await startServer({ env: { PRESENCE_LIMIT: '2' } });
    api = client(server.url, server.serviceToken());
  });
  afterEach(async () => {
    closeAllSockets();
    await server.close();
  });

  it('announces presence in channels with at most the limit of subscribers, and not in bigger ones', async () => {
    await api.post('/control/subscription/subscribe?method=users:alice,bob', doc(['rooms', 'small']));
    await api.post('/control/subscription/subscribe?method=users:alice,bob,carol', doc(['rooms', 'big']));
    const alice = await connect(server.url, { token: server.token('alice') });
    await connect(server.url, { token: server.token('bob') });
    // a later event that must arrive: everything announced before it has arrived too
    await api.post('/control/notify?method=users:alice', { event: 'marker', attributes: {} });
    await alice.waitFor('marker');
    const presence = alice.of('presence').map(([event]) => event);
    expect(presence).to.deep.equal([{ userId: 'bob', status: 'online' }]);
    // presence:query answers in the big channel all the same
    expect(await alice.call('presence:query', { channel: 'rooms-big' })).to.deep.equal({ ok: true, channel: 'rooms-big', online: ['alice', 'bob'] });
  });

  it('follows subscription changes made through the API', async () => {
    await api.post('/control/subscription/subscribe?method=users:alice,bob,carol', doc(['rooms', 'r']));
    const alice = await connect(server.url, { token: server.token('alice') });
    await connect(server.url, { token: server.token('bob') });
    await api.post('/control/subscription/unsubscribe?method=users:carol', doc(['rooms', 'r']));
    await connect(server.url, { token: server.token('dave') }); // not in rooms-r: no event
    await api.post('/control/subscription/subscribe?method=users:dave', doc(['rooms', 'other']));
    const carol = await connect(server.url, { token: server.token('carol') });
    expect(carol.ready.channels).to.deep.equal([]);
    const bob2 = await connect(server.url, { token: server.token('bob') });
    bob2.close();
    await api.post('/control/subscription/unsubscribe?method=users:bob', doc(['rooms', 'r']));
    await api.post('/control/subscription/subscribe?method=users:erin', doc(['rooms', 'r']));
    await connect(server.url, { token: server.token('erin') });
    await api.post('/control/notify?method=users:alice', { event: 'marker', attributes: {} });
    await alice.waitFor('marker');
    // bob's first connect was while rooms-r had 3 members (no event); erin's when it had 2
    expect(alice.of('presence').map(([event]) => event)).to.deep.equal([{ userId: 'erin', status: 'online' }]);
  });
});
