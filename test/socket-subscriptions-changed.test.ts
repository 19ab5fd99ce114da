/**
 * `subscriptions:changed` (contract §5): when the app server changes a user's subscriptions, the
 * user's sockets are told what was added or removed, after they joined or left the rooms; a call
 * that changes nothing for a user tells that user nothing; the event is logged and replayed.
 */
import { expect } from 'chai';
import { doc } from './helpers/http.js';
import type { TestSocket } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

const CHANGED = 'subscriptions:changed';

type Change = [payload: { added: string[]; removed: string[] }, meta: { id: number; time: string }];

describe('subscriptions:changed (contract §5)', () => {
  const world = useWorld();
  const { open, reconnect, subscribe, unsubscribe, notify, flush } = world;
  const changesOf = (socket: TestSocket) => socket.of(CHANGED) as Change[];

  it('tells every socket of the user which channels were added, before an event notified to them', async () => {
    const [tab1, tab2] = [await open('alice'), await open('alice')];
    const body = await world.subscription('subscribe', 'users:alice', doc(['posts', '1'], ['tags', '2']));
    expect(body.meta).to.deep.equal({ users: 1, changed: 2 });
    const notified = await notify('channels:posts-1', 'post:updated');
    for (const tab of [tab1, tab2]) {
      await tab.waitFor('post:updated');
      const [[payload, meta]] = changesOf(tab) as [Change];
      expect(payload).to.deep.equal({ added: ['posts-1', 'tags-2'], removed: [] });
      expect(meta.id).to.be.a('number').below(notified);
      expect(new Date(meta.time).toISOString()).to.equal(meta.time);
      // in order: the change, then what was notified to the new channel
      expect(tab.received.map((r) => r.event)).to.deep.equal(['ready', CHANGED, 'post:updated']);
    }
  });

  it('lists only the channels a call actually removed', async () => {
    await subscribe(['bob'], ['posts', '1'], ['posts', '2']);
    const bob = await open('bob');
    const body = await world.subscription('unsubscribe', 'users:bob', doc(['posts', '1'], ['posts', '9']));
    expect(body.meta.changed).to.equal(1);
    await bob.waitFor(CHANGED);
    expect(changesOf(bob).map(([payload]) => payload)).to.deep.equal([{ added: [], removed: ['posts-1'] }]);
    // it has left the room: a notify to posts-1 no longer reaches it, posts-2 still does
    await notify('channels:posts-1', 'gone');
    await notify('channels:posts-2', 'kept');
    await flush(bob);
    expect(bob.of('gone')).to.have.length(0);
    expect(bob.of('kept')).to.have.length(1);
  });

  it('says nothing to a user whose channels a call did not change', async () => {
    await subscribe(['carol'], ['posts', '1']);
    const [carol, dave] = [await open('carol'), await open('dave')];
    // a repeat for carol, a real change for dave
    const body = await world.subscription('subscribe', 'users:carol,dave', doc(['posts', '1']));
    expect(body.meta).to.deep.equal({ users: 2, changed: 1 });
    // unsubscribing from a channel nobody has changes nothing for anyone
    await unsubscribe(['carol', 'dave'], ['posts', '404']);
    await flush(carol, dave);
    expect(changesOf(carol)).to.have.length(0);
    expect(changesOf(dave).map(([payload]) => payload)).to.deep.equal([{ added: ['posts-1'], removed: [] }]);
  });

  it('tells only the channel’s subscribers in channels: mode, and the users that changed alike share one event', async () => {
    await subscribe(['erin', 'frank', 'gina'], ['teams', '1']);
    await subscribe(['gina'], ['rooms', '7']);
    const [erin, frank, gina, hank] = await Promise.all(['erin', 'frank', 'gina', 'hank'].map(open));
    const body = await world.subscription('subscribe', 'channels:teams-1', doc(['rooms', '7'], ['rooms', '8']));
    expect(body.meta).to.deep.equal({ users: 3, changed: 5 });
    await flush(erin, frank, gina, hank);
    const [erinChange] = changesOf(erin) as [Change];
    const [frankChange] = changesOf(frank) as [Change];
    const [ginaChange] = changesOf(gina) as [Change];
    expect(erinChange[0]).to.deep.equal({ added: ['rooms-7', 'rooms-8'], removed: [] });
    expect(frankChange).to.deep.equal(erinChange);
    expect(ginaChange[0]).to.deep.equal({ added: ['rooms-8'], removed: [] });
    expect(ginaChange[1].id).to.not.equal(erinChange[1].id);
    expect(changesOf(hank)).to.have.length(0);
  });

  it('is replayed to a socket that was away, before ready, with the channels joined', async () => {
    const away = await open('ivan');
    const lastEventId = await flush(away);
    away.close();
    await subscribe(['ivan'], ['posts', '5']);
    await unsubscribe(['ivan'], ['posts', '5']);
    await subscribe(['ivan'], ['posts', '6']);
    const back = await reconnect('ivan', lastEventId);
    expect(back.ready.channels).to.deep.equal(['posts-6']);
    expect(back.ready.replayed).to.equal(3);
    expect(back.received.map((r) => r.event)).to.deep.equal([CHANGED, CHANGED, CHANGED, 'ready']);
    expect(changesOf(back).map(([payload]) => payload)).to.deep.equal([
      { added: ['posts-5'], removed: [] },
      { added: [], removed: ['posts-5'] },
      { added: ['posts-6'], removed: [] },
    ]);
    // and without lastEventId nothing is replayed
    const fresh = await open('ivan');
    expect(fresh.received.map((r) => r.event)).to.deep.equal(['ready']);
  });

  it('announces a call committed in several pieces as one change per user', async () => {
    const channels = 7_000;
    await world.start({ env: { MAX_SUBSCRIPTION_PAIRS: String(channels) } });
    const judy = await open('judy');
    const document = { data: Array.from({ length: channels }, (_, i) => ({ type: 'items', id: String(i) })) };
    const body = await world.subscription('subscribe', 'users:judy', document);
    expect(body.meta.changed).to.equal(channels);
    await flush(judy);
    const changes = changesOf(judy);
    expect(changes).to.have.length(1);
    expect(changes[0]![0].added).to.deep.equal(document.data.map((r) => `items-${r.id}`));
  });

  it('is a name notify refuses', async () => {
    const res = await world.api.post('/control/notify?method=users:alice', { event: CHANGED, attributes: { added: ['admin-1'], removed: [] } });
    expect(res.status).to.equal(422);
    expect(res.body.errors[0].source).to.deep.equal({ pointer: '/event' });
  });
});
