/**
 * GroupCommit (src/event-log/group-commit.ts): batching by event-loop turn, commits one at a time in order,
 * a failing batch retried item by item, and drain().
 */
import { expect } from 'chai';
import { GroupCommit } from '../src/event-log/group-commit.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A deferred: a promise the test settles by hand. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Settles `promise` into what happened to it, without throwing. */
const outcome = <T>(promise: Promise<T>) =>
  promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error: (error as Error).message }),
  );

/** A commit function that records its batches and how many ran at once. */
function recorder(options: { hold?: boolean; fails?: (items: number[]) => boolean } = {}) {
  const batches: number[][] = [];
  const gates: ReturnType<typeof deferred<void>>[] = [];
  let running = 0;
  let maxRunning = 0;
  let done = 0;
  const commit = async (items: number[]) => {
    batches.push(items);
    running++;
    maxRunning = Math.max(maxRunning, running);
    try {
      if (options.hold) {
        const gate = deferred();
        gates.push(gate);
        await gate.promise;
      } else {
        await turn();
      }
      if (options.fails?.(items)) throw new Error(`batch ${items.join(',')} failed`);
      return items.map((n) => n * 10);
    } finally {
      running--;
      done++;
    }
  };
  return {
    commit,
    batches,
    gates,
    get maxRunning() {
      return maxRunning;
    },
    get done() {
      return done;
    },
  };
}

describe('GroupCommit', () => {
  it('puts every item added in the same event-loop turn into one commit, even across microtasks', async () => {
    const r = recorder();
    const log = new GroupCommit(r.commit);
    const results: Promise<number>[] = [log.add(1), log.add(2)];
    // still the same turn: promise callbacks run before setImmediate
    await Promise.resolve();
    results.push(log.add(3));
    await Promise.resolve().then(() => Promise.resolve());
    results.push(log.add(4));
    expect(await Promise.all(results)).to.deep.equal([10, 20, 30, 40]);
    expect(r.batches).to.deep.equal([[1, 2, 3, 4]]);
  });

  it('commits items added in later turns in later batches, one commit at a time, in order', async () => {
    const r = recorder({ hold: true });
    const log = new GroupCommit(r.commit);
    const settled: number[] = [];
    const track = (p: Promise<number>) => p.then((v) => (settled.push(v), v));
    const first = [track(log.add(1)), track(log.add(2))];
    await turn();
    await turn();
    expect(r.batches).to.deep.equal([[1, 2]]);
    // while batch 1 is in flight, two more turns add items: they wait, and share the next commit
    const second = [track(log.add(3))];
    await turn();
    second.push(track(log.add(4)));
    await turn();
    expect(r.batches, 'no second commit while the first runs').to.deep.equal([[1, 2]]);
    r.gates[0]!.resolve();
    expect(await Promise.all(first)).to.deep.equal([10, 20]);
    for (let i = 0; i < 5 && r.gates.length < 2; i++) await turn();
    expect(r.batches).to.deep.equal([[1, 2], [3, 4]]);
    r.gates[1]!.resolve();
    expect(await Promise.all(second)).to.deep.equal([30, 40]);
    expect(settled).to.deep.equal([10, 20, 30, 40]);
    expect(r.maxRunning).to.equal(1);
  });

  it('when a batch fails, retries each item alone: only the bad item rejects, the others get their own results', async () => {
    const r = recorder({ fails: (items) => items.includes(2) });
    const log = new GroupCommit(r.commit);
    const results = await Promise.all([1, 2, 3].map((n) => outcome(log.add(n))));
    expect(results).to.deep.equal([
      { ok: true, value: 10 },
      { ok: false, error: 'batch 2 failed' },
      { ok: true, value: 30 },
    ]);
    expect(r.batches).to.deep.equal([[1, 2, 3], [1], [2], [3]]);
    expect(r.maxRunning).to.equal(1);
    // and the log goes on
    expect(await log.add(4)).to.equal(40);
  });

  it('rejects every item with its own error when each fails alone, and a lone item with the batch error', async () => {
    const r = recorder({ fails: () => true });
    const log = new GroupCommit(r.commit);
    expect(await Promise.all([5, 6].map((n) => outcome(log.add(n))))).to.deep.equal([
      { ok: false, error: 'batch 5 failed' },
      { ok: false, error: 'batch 6 failed' },
    ]);
    expect(await outcome(log.add(7))).to.deep.equal({ ok: false, error: 'batch 7 failed' });
    expect(r.batches).to.deep.equal([[5, 6], [5], [6], [7]]);
  });

  it('drain() waits for queued items and for the commit already in flight', async () => {
    const r = recorder({ hold: true });
    const log = new GroupCommit(r.commit);
    const first = log.add(1);
    await turn();
    await turn();
    expect(r.batches).to.deep.equal([[1]]); // in flight, held
    const second = log.add(2); // queued behind it
    let drained = false;
    const draining = log.drain().then(() => (drained = true));
    for (let i = 0; i < 10; i++) await turn();
    expect(drained, 'drain() returned while a commit was in flight').to.equal(false);
    r.gates[0]!.resolve();
    await first;
    for (let i = 0; i < 10 && r.gates.length < 2; i++) await turn();
    expect(drained, 'drain() returned before the queued item was committed').to.equal(false);
    r.gates[1]!.resolve();
    await draining;
    expect(r.done).to.equal(2);
    expect(await second).to.equal(20);
  });

  it('drain() waits for a commit in flight even when nothing is queued behind it', async () => {
    const r = recorder({ hold: true });
    const log = new GroupCommit(r.commit);
    const only = log.add(1);
    await turn();
    await turn();
    expect(r.batches).to.deep.equal([[1]]);
    let drained = false;
    const draining = log.drain().then(() => (drained = true));
    for (let i = 0; i < 10; i++) await turn();
    expect(drained, 'drain() returned while the commit was in flight').to.equal(false);
    r.gates[0]!.resolve();
    await draining;
    expect(r.done).to.equal(1);
    expect(await only).to.equal(10);
  });

  it('drain() on an idle log resolves at once', async () => {
    const log = new GroupCommit(recorder().commit);
    await log.drain();
    expect(await log.add(1)).to.equal(10);
    await log.drain();
  });
});
