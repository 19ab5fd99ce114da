/**
 * Issue 9: `channels-efficient` delivery (src/realtime/delivery.ts) against the contract's rule
 * (§4.2): a socket whose user is in any listed channel gets exactly one copy, whose origin is the
 * first listed channel the user is in; a socket in none gets nothing. Many overlapping channels,
 * several sockets per user, users in different subsets.
 */
import { expect } from 'chai';
import type { TestSocket } from './helpers/sockets.js';
import { useWorld, type Resource } from './helpers/world.js';

/** A small seeded generator, so a failure is the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CHANNELS = 30;
const USERS = 14;
const channel = (i: number) => `topic-${i}`;

describe('channels-efficient delivery (issue 9)', () => {
  const world = useWorld();

  it('gives every socket exactly one copy, from the first listed channel its user is in, over 30 overlapping channels', async () => {
    const rand = random(9);
    // each user: a subset of the channels (some empty, some one, some many), and 1 to 3 sockets
    const subscriptions = new Map<string, Set<string>>();
    for (let u = 0; u < USERS; u++) {
      const density = [0, 0.05, 0.2, 0.5, 0.9][u % 5]!;
      const mine = new Set<string>();
      for (let c = 0; c < CHANNELS; c++) if (rand() < density) mine.add(channel(c));
      subscriptions.set(`user${u}`, mine);
    }
    // someone subscribed only to channels that are never listed
    subscriptions.set('outsider', new Set(['elsewhere-1', 'elsewhere-2']));
    for (const [user, mine] of subscriptions) {
      const resources = [...mine].map((name): Resource => [name.slice(0, name.lastIndexOf('-')), name.slice(name.lastIndexOf('-') + 1)]);
      if (resources.length > 0) await world.subscribe([user], ...resources);
    }
    const sockets: TestSocket[] = [];
    let i = 0;
    for (const user of subscriptions.keys()) for (let s = 0; s <= i++ % 3; s++) sockets.push(await world.open(user));

    // three lists: every channel in a shuffled order, a few channels, and the channels in reverse
    const all = Array.from({ length: CHANNELS }, (_, c) => channel(c));
    const shuffled = [...all].sort(() => rand() - 0.5);
    const lists = [shuffled, shuffled.slice(0, 4), [...all].reverse()];
    const ids: number[] = [];
    for (const [n, list] of lists.entries()) ids.push(await world.notify(`channels-efficient:${list.join(',')}&add=origin`, `round${n}`, { n }));
    await world.flush(...sockets);

    let reached = 0;
    for (const [n, list] of lists.entries()) {
      for (const socket of sockets) {
        const mine = subscriptions.get(socket.ready.userId)!;
        const origin = list.find((name) => mine.has(name));
        const copies = socket.of(`round${n}`) as [Record<string, unknown>, Record<string, unknown>][];
        const who = `${socket.ready.userId} (${socket.socket.id}), list ${n}`;
        if (origin === undefined) {
          expect(copies, who).to.have.length(0);
          continue;
        }
        reached++;
        expect(copies, who).to.have.length(1);
        const [payload, meta] = copies[0]!;
        expect(payload, who).to.deep.equal({ n, origin });
        expect(meta.origin, who).to.equal(origin);
        expect(meta.id, who).to.equal(ids[n]);
      }
    }
    // the scenario exercises both paths: sockets reached and sockets left out
    expect(reached).to.be.greaterThan(sockets.length);
    expect(sockets.some((s) => s.of('round1').length === 0 && subscriptions.get(s.ready.userId)!.size > 0)).to.equal(true);
  });

  it('gives the members of overlapping channels one copy each, from the first listed channel they are in', async () => {
    // ann: a, b; ben: b; cid: b, c; dan: c only, listed last
    await world.subscribe(['ann'], ['a', '1'], ['b', '1']);
    await world.subscribe(['ben'], ['b', '1']);
    await world.subscribe(['cid'], ['b', '1'], ['c', '1']);
    await world.subscribe(['dan'], ['c', '1']);
    const sockets = await Promise.all(['ann', 'ann', 'ben', 'cid', 'dan', 'dan', 'eve'].map((u) => world.open(u)));
    const res = await world.api.post('/control/notify?method=channels-efficient:a-1,b-1,c-1&add=origin', { event: 'hi', attributes: {} });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    await world.flush(...sockets);
    expect(sockets.map((s) => s.of('hi').map(([p]) => (p as { origin: string }).origin))).to.deep.equal([['a-1'], ['a-1'], ['b-1'], ['b-1'], ['c-1'], ['c-1'], []]);
  });
});
