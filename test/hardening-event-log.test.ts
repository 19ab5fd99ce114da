/**
 * Issue 9, the event log: retention pruning runs on the injected clock (no real waiting), and
 * EVENT_LOG=off is a working mode (live delivery, no storage, no replay, no chat).
 */
import { expect } from 'chai';
import type { LoggedEvent } from '../src/store/store.js';
import { ManualClock } from './helpers/manual-clock.js';
import { oldestEventId } from './helpers/store-reads.js';
import { useWorld } from './helpers/world.js';

const SECOND = 1000;

describe('event log pruning on the injected clock (issue 9)', () => {
  const world = useWorld({ manual: true });

  const stored = async (): Promise<LoggedEvent[]> => {
    const store = world.server.chatty.store;
    return store.eventsBetween(0, await store.lastEventId(), 1000);
  };

  it('prunes events older than HISTORY_TTL when the clock passes the next prune, without real waiting', async () => {
    // from the real now: tokens are signed for real time, and the server checks them on its clock
    const clock = new ManualClock(Date.now());
    const t0 = clock.now();
    await world.start({ clock, env: { HISTORY_TTL: '1m' } });
    // HISTORY_TTL / 10 = 6 s, within [1 s, 60 s]
    expect(clock.armed()).to.include(6 * SECOND);

    const old = [];
    for (let n = 0; n < 3; n++) old.push(await world.notify('users:ann', 'old', { n }));
    expect((await stored()).map((e) => e.id)).to.deep.equal(old);

    await clock.advanceSettled(30 * SECOND); // five prunes so far, nothing old enough
    expect((await stored()).map((e) => e.id)).to.deep.equal(old);
    const recent = await world.notify('users:ann', 'recent'); // created at t0 + 30 s

    await clock.advanceSettled(30 * SECOND); // t0 + 60 s: the prune at 60 s keeps what is exactly 60 s old
    expect((await stored()).map((e) => e.id)).to.deep.equal([...old, recent]);

    await clock.advanceSettled(7 * SECOND); // the prune at t0 + 66 s removes what is older than t0 + 6 s
    expect(clock.now()).to.equal(t0 + 67 * SECOND);
    expect((await stored()).map((e) => e.id)).to.deep.equal([recent]);
    expect(await oldestEventId(world.server.chatty.store)).to.equal(recent);
    // and the timer goes on: it re-armed itself after each run
    expect(clock.armed()).to.include(5 * SECOND);

    // a replay from the start gets only what is left; the replay is paced on the same clock
    const pump = setInterval(() => void clock.advanceSettled(10), 5);
    try {
      const ann = await world.reconnect('ann', 0);
      expect(ann.ready.replayed).to.equal(1);
      expect(ann.received.filter((r) => r.event !== 'ready').map((r) => [r.event, (r.args[1] as { id: number }).id])).to.deep.equal([['recent', recent]]);
    } finally {
      clearInterval(pump);
    }
  });

  it('stops the prune timer on close', async () => {
    // from the real now: tokens are signed for real time, and the server checks them on its clock
    const clock = new ManualClock(Date.now());
    await world.start({ clock, env: { HISTORY_TTL: '20s' } });
    expect(clock.armed()).to.include(2 * SECOND);
    await world.stop();
    expect(clock.armed()).to.not.include(2 * SECOND);
  });
});

describe('EVENT_LOG=off (issue 9)', () => {
  const world = useWorld({ env: { EVENT_LOG: 'off' } });

  it('delivers notifications live with increasing ids, stores none and replays none', async () => {
    await world.subscribe(['ann'], ['posts', '1']);
    const ann = await world.open('ann');
    const ids: number[] = [];
    for (let n = 0; n < 3; n++) {
      const res = await world.api.post(`/control/notify?method=${n === 1 ? 'channels:posts-1' : 'users:ann'}`, { event: 'live', attributes: { n } });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      ids.push(Number(res.body.data.id));
    }
    expect(ids[0]).to.be.greaterThan(0);
    expect(ids[1]).to.be.greaterThan(ids[0]!);
    expect(ids[2]).to.be.greaterThan(ids[1]!);
    await world.flush(ann);
    expect(ann.of('live').map(([payload, meta]) => [(payload as { n: number }).n, (meta as { id: number }).id])).to.deep.equal(ids.map((id, n) => [n, id]));

    // nothing reached the store
    expect(await world.server.chatty.store.lastEventId()).to.equal(0);
    expect(await oldestEventId(world.server.chatty.store)).to.equal(undefined);

    // a reconnect asking for everything gets nothing before ready
    const again = await world.reconnect('ann', 0);
    expect(again.ready.replayed).to.equal(0);
    expect(again.received.map((r) => r.event)).to.deep.equal(['ready']);
    await world.flush(again);
    expect(again.of('live')).to.have.length(0);
  });

  it('acks chat:send with unavailable and stores nothing', async () => {
    await world.subscribe(['ann', 'ben'], ['posts', '1']);
    const [ann, ben] = await Promise.all([world.open('ann'), world.open('ben')]);
    const ack = await ann.call('chat:send', { channel: 'posts-1', body: 'hello' });
    expect(ack.ok).to.equal(false);
    expect(ack.error.code).to.equal('unavailable');
    await world.flush(ann, ben);
    expect(ann.of('chat:message')).to.have.length(0);
    expect(ben.of('chat:message')).to.have.length(0);
    expect(await world.server.chatty.store.lastEventId()).to.equal(0);
  });
});
