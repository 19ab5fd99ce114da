/**
 * The event log and replay on reconnect (contract §6, issue 4): a reconnecting socket gets exactly
 * what it missed, in id order, then live events with no gap and no duplicate; retention; idempotency
 * keys surviving a restart.
 *
 * Most checks compare the reconnecting socket with a "witness": another socket of the same user
 * that stayed connected the whole time and so received every event live. Replay must give exactly
 * the same emits (names, payloads, meta, copies) in the same order.
 */
import { expect } from 'chai';
import { doc } from './helpers/http.js';
import { ManualClock } from './helpers/manual-clock.js';
import type { Received, TestSocket } from './helpers/sockets.js';
import { useWorld } from './helpers/world.js';

/** One emit of a logged event as a socket received it. */
interface Copy {
  event: string;
  id: number;
  origin: string | undefined;
  args: unknown[];
}

/** The event-log id of an emit: `meta.id` of a notification, `payload.id` of a chat message. */
function copyOf(r: Received): Copy | undefined {
  if (r.event === 'chat:message') {
    const payload = r.args[0] as { id: number; channel: string };
    return { event: r.event, id: payload.id, origin: payload.channel, args: r.args };
  }
  const meta = r.args[1] as { id?: unknown; origin?: string } | undefined;
  if (meta && typeof meta === 'object' && typeof meta.id === 'number') return { event: r.event, id: meta.id, origin: meta.origin, args: r.args };
  return undefined;
}

/** The logged-event emits a socket received, optionally only those before `ready`. */
function copies(s: TestSocket, which: 'all' | 'beforeReady' | 'afterReady' = 'all'): Copy[] {
  const readyAt = s.received.findIndex((r) => r.event === 'ready');
  const slice = which === 'beforeReady' ? s.received.slice(0, readyAt) : which === 'afterReady' ? s.received.slice(readyAt + 1) : s.received;
  return slice.map(copyOf).filter((c): c is Copy => c !== undefined);
}

const key = (c: { event: string; id: number; origin: string | undefined }) => `${c.event}#${c.id}#${c.origin ?? ''}`;

/** Ids never go down, and no (event, id, origin) copy comes twice. */
function expectOrderedWithoutDuplicates(list: Copy[], label: string) {
  const keys = list.map(key);
  expect(new Set(keys).size, `${label}: duplicate copies`).to.equal(keys.length);
  for (let i = 1; i < list.length; i++) {
    expect(list[i]!.id, `${label}: id order at ${i}`).to.be.at.least(list[i - 1]!.id);
  }
}

/**
 * Runs `work` while `clock` moves forward 10 ms every 5 ms of real time: replay paces itself on the
 * server's clock, so a clock standing still would hold a replay forever.
 */
async function whileTimeRuns<T>(clock: ManualClock, work: () => Promise<T>): Promise<T> {
  const pump = setInterval(() => clock.advance(10), 5);
  try {
    return await work();
  } finally {
    clearInterval(pump);
  }
}

describe('event log and replay (contract §6)', () => {
  const world = useWorld({ manual: true });
  const { open, reconnect, notify, flush } = world;
  const start = (env?: Record<string, string>) => world.start({ env });
  const subscribe = (method: string, document: unknown) => world.subscription('subscribe', method, document);

  async function chat(sender: TestSocket, payload: Record<string, unknown>) {
    const ack = await sender.call('chat:send', payload);
    expect(ack.ok, JSON.stringify(ack)).to.equal(true);
    expect(ack.message).to.include({ from: sender.ready.userId, body: payload.body });
    return ack.message.id as number;
  }

  /** Connects and disconnects once: the last event id the user had seen. */
  async function lastSeen(userId: string): Promise<number> {
    const s = await open(userId);
    s.close();
    return s.ready.lastEventId;
  }

  it('replays exactly the 50 missed events in id order before ready, then live ones with no gap or duplicate', async () => {
    await start();
    await subscribe('users:alice', doc(['posts', '1'], ['posts', '2'], ['room', '1']));
    await subscribe('users:bob,carol', doc(['room', '1'], ['room', '2']));
    const witness = await open('alice');
    const [bob, carol] = await Promise.all([open('bob'), open('carol')]);
    const L0 = await lastSeen('alice');

    // 50 events for alice, with noise she must not get between them
    const expected: { event: string; id: number; origin: string | undefined }[] = [];
    let noise = 0;
    for (let i = 0; i < 50; i++) {
      switch (i % 6) {
        case 0: {
          const id = await notify('channels:posts-1,posts-2&add=origin', 'changed', { i });
          expected.push({ event: 'changed', id, origin: 'posts-1' }, { event: 'changed', id, origin: 'posts-2' });
          break;
        }
        case 1: {
          const id = await notify('users:dave,alice', 'direct', { i });
          expected.push({ event: 'direct', id, origin: undefined });
          break;
        }
        case 2: {
          const id = await chat(bob!, { channel: 'room-1', body: `bob ${i}`, clientId: `c${i}` });
          expected.push({ event: 'chat:message', id, origin: 'room-1' });
          break;
        }
        case 3: {
          const id = await notify('channels-efficient:posts-9,posts-2,posts-1&add=date-time', 'efficient', { i });
          expected.push({ event: 'efficient', id, origin: 'posts-2' });
          break;
        }
        case 4: {
          const sent = i % 12 === 4 ? { to: 'alice' } : { channel: 'room-1' };
          const id = await chat(carol!, { ...sent, body: `carol ${i}` });
          expected.push({ event: 'chat:message', id, origin: 'to' in sent ? 'dm:alice:carol' : 'room-1' });
          break;
        }
        case 5: {
          const id = await notify('channels:posts-9,posts-1', 'changed', { i });
          expected.push({ event: 'changed', id, origin: 'posts-1' });
          break;
        }
      }
      if (i % 5 === 0) {
        noise++;
        await notify('channels:posts-9', 'changed', { noise });
        await notify('users:dave', 'direct', { noise });
        await chat(bob!, { channel: 'room-2', body: `noise ${noise}` });
      }
    }
    const lastMissed = expected.at(-1)!.id;
    await flush(witness);

    const alice = await reconnect('alice', L0);
    const replayed = copies(alice, 'beforeReady');
    expect(replayed.map(key)).to.deep.equal([...expected.map(key), ...copies(witness).filter((c) => c.event === 'marker').map(key)]);
    expect(alice.ready.replayed).to.equal(replayed.length);
    expect(alice.ready.channels).to.deep.equal(['posts-1', 'posts-2', 'room-1']);
    expect(alice.ready.lastEventId).to.be.at.least(lastMissed);
    // the same emits as live delivery: payloads, meta, copies
    expect(replayed.map((c) => [c.event, ...c.args])).to.deep.equal(
      copies(witness)
        .filter((c) => c.id > L0)
        .map((c) => [c.event, ...c.args]),
    );

    // live events follow with no gap and no duplicate
    await notify('channels:posts-2,posts-1', 'changed', { live: 1 });
    await chat(bob!, { channel: 'room-1', body: 'live' });
    await notify('users:alice', 'direct', { live: 2 });
    await flush(alice, witness);
    const all = copies(alice);
    expectOrderedWithoutDuplicates(all, 'reconnected socket');
    expect(all.map((c) => [c.event, ...c.args])).to.deep.equal(
      copies(witness)
        .filter((c) => c.id > L0)
        .map((c) => [c.event, ...c.args]),
    );
    expect(copies(alice, 'afterReady').map((c) => c.event)).to.deep.equal(['changed', 'changed', 'chat:message', 'direct', 'marker']);
  });

  it('replays the same emits as live delivery whatever the form of the target', async () => {
    await start();
    await subscribe('users:alice', doc(['posts', '1'], ['posts', '2'], ['posts', '3']));
    const witness = await open('alice');
    const L0 = await lastSeen('alice');
    const targets = [
      'channels:[posts-3, posts-1]&add=origin,date-time',
      'channels:posts-2,posts-2,posts-1&add=origin',
      'channels-efficient:[posts-9, posts-3, posts-2]&add=origin',
      'channels-efficient:posts-8,posts-9',
      'users:alice,alice,bob',
      'users:[bob, alice]&add=origin,date-time',
      'channels:posts-9',
    ];
    for (const [i, target] of targets.entries()) await notify(target, `form-${i}`, { i, nested: { list: [1, 'two', null] } });
    await flush(witness);
    const alice = await reconnect('alice', L0);
    const live = copies(witness).filter((c) => c.id > L0);
    expect(copies(alice, 'beforeReady').map((c) => [c.event, ...c.args])).to.deep.equal(live.map((c) => [c.event, ...c.args]));
    expect(live.map((c) => `${c.event}@${c.origin ?? ''}`)).to.deep.equal([
      'form-0@posts-3',
      'form-0@posts-1',
      'form-1@posts-2',
      'form-1@posts-1',
      'form-2@posts-3',
      'form-4@',
      'form-5@',
      'marker@',
    ]);
  });

  it('delivers an event notified while the socket is mid-replay exactly once', async () => {
    await start();
    await subscribe('users:alice', doc(['posts', '1'], ['posts', '2']));
    const witness = await open('alice');
    const L0 = await lastSeen('alice');
    const methods = ['channels:posts-1,posts-2', 'users:alice', 'channels-efficient:posts-2,posts-1', 'channels:posts-2'];
    for (let batch = 0; batch < 3; batch++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => notify(methods[i % methods.length]!, 'missed', { batch, i })));
    }
    let duringBeforeReady = 0;
    let duringAfterReady = 0;
    for (let round = 0; round < 2; round++) {
      // a stream of notifies that runs from before the handshakes until after every socket is ready
      let ready = 0;
      let n = 0;
      const worker = async () => {
        while (ready < 3) await notify(methods[n % methods.length]!, 'during', { round, n: n++ });
        await notify(methods[n % methods.length]!, 'during', { round, n: n++ });
      };
      const workers = Promise.all(Array.from({ length: 4 }, worker));
      const reconnected = await Promise.all(
        Array.from({ length: 3 }, async () => {
          const s = await reconnect('alice', L0);
          ready++;
          return s;
        }),
      );
      await workers;
      await flush(witness, ...reconnected);
      const live = copies(witness).filter((c) => c.id > L0);
      for (const [i, s] of reconnected.entries()) {
        const label = `round ${round}, socket ${i}`;
        const got = copies(s);
        expectOrderedWithoutDuplicates(got, label);
        expect(s.ready.replayed, label).to.equal(copies(s, 'beforeReady').length);
        expect(s.ready.replayed, label).to.be.at.least(300 * 1.25);
        expect(got.map(key), label).to.deep.equal(live.map(key));
        expect(got.map((c) => c.args), label).to.deep.equal(live.map((c) => c.args));
        duringBeforeReady += copies(s, 'beforeReady').filter((c) => c.event === 'during').length;
        duringAfterReady += copies(s, 'afterReady').filter((c) => c.event === 'during').length;
      }
      for (const s of reconnected) s.close();
    }
    // the stream really overlapped the admissions: some of it was replayed, some delivered live
    expect(duringBeforeReady, 'events of the stream replayed').to.be.greaterThan(0);
    expect(duringAfterReady, 'events of the stream delivered live').to.be.greaterThan(0);
  });

  it('replays nothing without lastEventId', async () => {
    await start();
    await subscribe('users:alice', doc(['posts', '1']));
    await lastSeen('alice');
    const last = await notify('channels:posts-1', 'changed');
    await notify('users:alice', 'direct');
    const alice = await open('alice');
    expect(alice.ready.replayed).to.equal(0);
    expect(alice.ready.lastEventId).to.be.greaterThan(last);
    expect(alice.received.map((r) => r.event)).to.deep.equal(['ready']);
  });

  it('replays everything still logged for lastEventId 0, and nothing for the current id', async () => {
    await start();
    await subscribe('users:alice', doc(['posts', '1']));
    const a = await notify('channels:posts-1', 'one');
    const b = await notify('users:alice', 'two');
    const all = await reconnect('alice', 0);
    // the subscribe's own subscriptions:changed, logged before a
    expect(copies(all, 'beforeReady').map((c) => c.event)).to.deep.equal(['subscriptions:changed', 'one', 'two']);
    expect(copies(all, 'beforeReady').map((c) => c.id).slice(1)).to.deep.equal([a, b]);
    expect(all.ready).to.include({ replayed: 3, lastEventId: b });
    const none = await reconnect('alice', b);
    expect(none.ready.replayed).to.equal(0);
    expect(copies(none, 'beforeReady')).to.deep.equal([]);
    const future = await reconnect('alice', b + 1000);
    expect(future.ready.replayed).to.equal(0);
  });

  it('judges replay by the subscriptions at replay time', async () => {
    await start();
    await subscribe('users:alice', doc(['posts', '1'], ['posts', '2']));
    const L0 = await lastSeen('alice');
    const e1 = await notify('channels:posts-1', 'changed');
    const e2 = await notify('channels:posts-2', 'changed');
    const e3 = await notify('channels:posts-3', 'changed');
    const e4 = await notify('channels:posts-3,posts-2,posts-1', 'changed');
    const unsubscribed = await world.api.post('/control/subscription/unsubscribe?method=users:alice', doc(['posts', '2']));
    expect(unsubscribed.status).to.equal(200);
    await subscribe('users:alice', doc(['posts', '3']));
    const alice = await reconnect('alice', L0);
    const replayed = copies(alice, 'beforeReady');
    expect(replayed.filter((c) => c.event !== 'subscriptions:changed').map(key)).to.deep.equal(
      [
        { event: 'changed', id: e1, origin: 'posts-1' },
        { event: 'changed', id: e3, origin: 'posts-3' },
        { event: 'changed', id: e4, origin: 'posts-3' },
        { event: 'changed', id: e4, origin: 'posts-1' },
      ].map(key),
    );
    // and the two changes themselves, after e4
    expect(replayed.slice(-2).map((c) => c.event)).to.deep.equal(['subscriptions:changed', 'subscriptions:changed']);
    expect(alice.of('subscriptions:changed').map(([payload]) => payload)).to.deep.equal([
      { added: [], removed: ['posts-2'] },
      { added: ['posts-3'], removed: [] },
    ]);
    expect(alice.ready.replayed).to.equal(6);
    expect(e2).to.be.greaterThan(e1);
  });

  it('forgets events older than HISTORY_TTL: not replayed, and pruned from the store', async () => {
    const clock = new ManualClock();
    await world.start({ clock, env: { HISTORY_TTL: '1s' } });
    const reconnect = (user: string, lastEventId: number) => whileTimeRuns(clock, () => world.reconnect(user, lastEventId));
    await subscribe('users:alice,bob', doc(['posts', '1']));
    const bob = await open('bob');
    const L0 = await lastSeen('alice');
    const old = [await notify('channels:posts-1', 'old'), await notify('users:alice', 'old'), await chat(bob, { channel: 'posts-1', body: 'old' })];
    // let these age past the retention, on the server's clock
    clock.advance(1200);

    const empty = await reconnect('alice', L0);
    expect(empty.ready.replayed).to.equal(0);
    expect(copies(empty, 'beforeReady')).to.deep.equal([]);
    empty.close();

    const fresh = [await notify('channels:posts-1', 'new'), await chat(bob, { channel: 'posts-1', body: 'new' })];
    const alice = await reconnect('alice', L0);
    expect(copies(alice, 'beforeReady').map((c) => c.id)).to.deep.equal(fresh);
    expect(alice.ready.replayed).to.equal(2);

    await world.server.chatty.eventLog.prune(clock.now());
    const stored = await world.server.chatty.store.eventsBetween(0, 1e9, 1000);
    const storedIds = stored.map((e) => e.id);
    for (const id of old) expect(storedIds, `event ${id} is older than HISTORY_TTL`).to.not.include(id);
    expect(storedIds).to.deep.equal(fresh);
  });

  it('still recognises an Idempotency-Key within 24 h when HISTORY_TTL is shorter and the event was pruned', async () => {
    const clock = new ManualClock();
    await world.start({ clock, env: { HISTORY_TTL: '1s' } });
    await subscribe('users:alice', doc(['posts', '1']));
    const alice = await open('alice');
    const headers = { 'Idempotency-Key': 'invoice-5-paid' };
    const first = await notify('channels:posts-1', 'paid', { invoice: 5 }, headers);
    await alice.waitFor('paid');
    // let the event age past the retention, on the server's clock, and prune it
    clock.advance(1200);
    await world.server.chatty.eventLog.prune(clock.now());
    const repeat = await notify('channels:posts-1', 'paid', { invoice: 5 }, headers);
    await flush(alice);
    expect(repeat, 'a repeat within 24 h returns the first id (contract §4.2)').to.equal(first);
    expect(alice.of('paid'), 'a repeat within 24 h emits nothing (contract §4.2)').to.have.length(1);
  });

  it('answers a repeated Idempotency-Key with the first id and emits nothing, also after a restart', async () => {
    await start();
    await subscribe('users:alice', doc(['posts', '1']));
    const alice = await open('alice');
    const headers = { 'Idempotency-Key': 'order-17-shipped' };
    const first = await world.api.post('/control/notify?method=channels:posts-1', { event: 'shipped', attributes: { order: 17 } }, { headers });
    expect(first.status).to.equal(202);
    const concurrent = await Promise.all(
      Array.from({ length: 5 }, () => world.api.post('/control/notify?method=channels:posts-1', { event: 'shipped', attributes: { order: 17 } }, { headers })),
    );
    for (const res of concurrent) {
      expect(res.status).to.equal(202);
      expect(res.body.data).to.deep.equal(first.body.data);
    }
    await flush(alice);
    expect(alice.of('shipped')).to.have.length(1);

    await world.restart();
    const again = await open('alice');
    const repeat = await world.api.post('/control/notify?method=channels:posts-1', { event: 'shipped', attributes: { order: 17 } }, { headers });
    expect(repeat.status).to.equal(202);
    expect(repeat.body.data).to.deep.equal(first.body.data);
    const other = await notify('channels:posts-1', 'shipped', { order: 18 }, { 'Idempotency-Key': 'order-18-shipped' });
    expect(other).to.be.greaterThan(Number(first.body.data.id));
    await flush(again);
    expect(again.of('shipped').map(([payload]) => payload)).to.deep.equal([{ order: 18 }]);
    const logged = await world.server.chatty.store.eventsBetween(0, 1e9, 1000);
    expect(logged.filter((e) => e.kind === 'notify' && e.event === 'shipped').map((e) => e.id)).to.deep.equal([Number(first.body.data.id), other]);
  });
});
