/**
 * ReplayReader (src/realtime/admission.ts) against an in-memory log: whatever the rooms, page size
 * and batch sizes, it hands out the union of the rooms' events in id order, each once, reading
 * each room's index no further than it hands out.
 */
import { expect } from 'chai';
import { ReplayReader } from '../src/realtime/admission.js';
import type { LoggedEvent, RoomCursor, Store } from '../src/store/store.js';

/** A log of notifications by user id, `targets[id]` being the rooms event `id` went to. */
function memoryLog(targets: Map<number, string[]>) {
  let reads = 0;
  const store = {
    async eventIdsFor(cursors: readonly RoomCursor[], untilId: number, limit: number) {
      reads++;
      const result = new Map<string, number[]>();
      for (const { room, afterId } of cursors) {
        const ids = [...targets.entries()].filter(([id, rooms]) => id > afterId && id <= untilId && rooms.includes(room)).map(([id]) => id);
        result.set(room, ids.sort((a, b) => a - b).slice(0, limit));
      }
      return result;
    },
    async eventsByIds(ids: readonly number[]) {
      return [...ids]
        .sort((a, b) => a - b)
        .filter((id) => targets.has(id))
        .map((id): LoggedEvent => ({ kind: 'notify', id, event: 'e', attributes: {}, target: { mode: 'users', names: targets.get(id)!.map((r) => r.slice(5)) }, add: [], createdAt: 0 }));
    },
  };
  return { store: store as unknown as Store, reads: () => reads };
}

/** A random generator with a seed, so a failure can be replayed. */
function random(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

async function drain(reader: ReplayReader, until: number): Promise<number[]> {
  const out: number[] = [];
  for (;;) {
    const page = await reader.next(until);
    if (page.length === 0) return out;
    out.push(...page.map((e) => e.id));
  }
}

describe('unit: ReplayReader merges rooms in id order, each event once (issue 9)', () => {
  for (let seed = 1; seed <= 40; seed++) {
    it(`random log #${seed}`, async () => {
      const next = random(seed);
      const roomCount = 1 + Math.floor(next() * 12);
      const rooms = Array.from({ length: roomCount }, (_, i) => `user:r${i}`);
      const targets = new Map<number, string[]>();
      const events = 50 + Math.floor(next() * 400);
      for (let id = 1; id <= events; id++) {
        // skewed: some rooms are busy, most are quiet, some events go to several rooms
        const chosen = rooms.filter((_, i) => next() < (i === 0 ? 0.5 : 0.15 / (i + 1)));
        if (chosen.length > 0) targets.set(id, chosen);
      }
      const after = Math.floor(next() * 20);
      const until = events - Math.floor(next() * 20);
      const pageSize = 1 + Math.floor(next() * 60);
      const { store } = memoryLog(targets);
      const reader = new ReplayReader(store, after, pageSize);
      reader.follow(rooms);
      const expected = [...targets.keys()].filter((id) => id > after && id <= until).sort((a, b) => a - b);
      expect(await drain(reader, until)).to.deep.equal(expected);
      expect(reader.position).to.equal(until);
    });
  }

  it('goes on to a greater watermark from where it stopped', async () => {
    const targets = new Map<number, string[]>(Array.from({ length: 100 }, (_, i) => [i + 1, [i % 3 === 0 ? 'user:a' : 'user:b']]));
    const reader = new ReplayReader(memoryLog(targets).store, 0, 7);
    reader.follow(['user:a', 'user:b']);
    const first = await drain(reader, 60);
    const second = await drain(reader, 100);
    expect([...first, ...second]).to.deep.equal(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('reads a quiet room once however long the busy room is', async () => {
    const targets = new Map<number, string[]>(Array.from({ length: 3000 }, (_, i) => [i + 1, [i === 10 ? 'user:quiet' : 'user:busy']]));
    const log = memoryLog(targets);
    const reader = new ReplayReader(log.store, 0, 500);
    reader.follow(['user:busy', 'user:quiet']);
    expect(await drain(reader, 3000)).to.have.length(3000);
    // 16, 32, … 512-id reads of the busy room, and one of both at the start
    expect(log.reads()).to.be.below(15);
  });
});
