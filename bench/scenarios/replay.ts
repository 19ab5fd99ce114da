/**
 * replay (issue 9): a reconnect that replays a long backlog, and what it does to everyone else.
 *
 * Before the server starts, its SQLite file is filled with 100,000 notifications through the
 * server's own store class (its built `SqliteStore.appendEvents`, 10,000 a transaction, so the
 * rows and the replay index are exactly what the server writes), all created just now (inside
 * HISTORY_TTL). One user, `replayer`, is subscribed to 4 channels (through the store class too,
 * so that no `subscriptions:changed` of the control API joins the replay); every 10th event is addressed to it, in turn to each of its 4 channels and to
 * the user itself (`users:` mode): 10,000 events spread over the whole log. The other 90,000 go to
 * 96 other channels.
 *
 * A socket of that user connects with `auth: { token, lastEventId: 0 }` and replays: it must get
 * exactly its 10,000 events, in id order, then `ready` with `replayed: 10000`. Replay rate =
 * 10,000 / (socket opened → `ready`). Meanwhile a health probe (health-probe.ts, a worker thread
 * sending `GET /healthz` every 10 ms) times the server's answers: the server's event-loop delay
 * while it replays. Every 10 ms, not 2: each answer costs the server about 250 µs, and at 2 ms the
 * probe took about an eighth of the server's time from the replay it measures (0.86 instead of 0.94
 * cores busy, 4.9 instead of 5.8–8 µs of server CPU per replayed event in this scenario). The server runs with `REPLAY_RATE=10000000` (the most it accepts), so the
 * figure is the code's speed, not the pacing (the default, 20,000 events/s, would make this
 * replay take at least 0.5 s).
 *
 * Baseline, in the same run, taking turns round by round (a warm-up round each first, then ROUNDS):
 * reading the same 10,000 rows (every column of `events`, by id, 500 ids a statement) with raw
 * better-sqlite3 in this process, on a read-only connection to the server's file, while the health
 * probe measures the idle server (for at least IDLE_PROBE_MS). Target (Hardening 3): ≥ 0.5× the raw
 * reads; the health probe's figures are reported.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { NewEvent } from '../../src/store/store.js';
import { delayFigures, HealthProbe } from '../health-probe.js';
import { LeanClient } from '../lean-client.js';
import { Product, PRODUCT_ROOT } from '../product.js';
import { alternate, cpuMeter, scaled, type Scenario } from '../scenario.js';
import { compare, percentile, round } from '../stats.js';
import { ATTRIBUTES } from './fan-out.js';

const EVENTS = scaled(100_000);
/** Every STRIDE-th event is the replaying user's. */
const STRIDE = 10;
const MINE = Math.floor(EVENTS / STRIDE);
const BATCH = 10_000;
const USER = 'replayer';
const MY_CHANNELS = ['feeds-0', 'feeds-1', 'feeds-2', 'feeds-3'];
const OTHER_CHANNELS = Array.from({ length: 96 }, (_, k) => `feeds-${k + 4}`);
const EVENT = 'bench';
/** Rounds of each side: a replay lasts about 60 ms, so enough of them to average out the machine's noise. */
const ROUNDS = 10;
const PROBE_EVERY_MS = 10;
/** The most events per second one reconnect may replay that the server accepts. */
const REPLAY_RATE = 10_000_000;
/** The baseline's turn lasts at least this long, so the probe sees the idle server for a while. */
const IDLE_PROBE_MS = 300;
const PAGE = 500;
/** Each turn starts this long after the previous one ended, so neither measures the other's aftermath (a GC, a disconnect). */
const SETTLE_MS = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type SqliteStoreModule = typeof import('../../src/store/sqlite-store.js');

/** Event i of the log: the user's (a channel of theirs or the user itself) or another channel's. */
function eventAt(i: number, createdAt: number): NewEvent {
  const mine = i % STRIDE === STRIDE - 1;
  const turn = Math.floor(i / STRIDE) % (MY_CHANNELS.length + 1);
  const target = !mine
    ? { mode: 'channels' as const, names: [OTHER_CHANNELS[i % OTHER_CHANNELS.length]] }
    : turn < MY_CHANNELS.length
      ? { mode: 'channels' as const, names: [MY_CHANNELS[turn]] }
      : { mode: 'users' as const, names: [USER] };
  return { kind: 'notify', event: EVENT, attributes: ATTRIBUTES, target, add: ['origin'], createdAt };
}

/**
 * Writes the log with the built server's store class (so the schema and the replay index are the
 * server's own) and returns the ids of the user's events, ascending.
 */
async function fillLog(file: string): Promise<number[]> {
  const module = path.join(PRODUCT_ROOT, 'dist', 'src', 'store', 'sqlite-store.js');
  const { SqliteStore } = (await import(pathToFileURL(module).href)) as SqliteStoreModule;
  const store = new SqliteStore(file);
  const mine: number[] = [];
  try {
    await store.migrate();
    await store.changeSubscriptions([{ action: 'subscribe', users: [USER], channels: MY_CHANNELS }]);
    const createdAt = Date.now();
    for (let at = 0; at < EVENTS; at += BATCH) {
      const events = Array.from({ length: Math.min(BATCH, EVENTS - at) }, (_, k) => eventAt(at + k, createdAt));
      const logged = await store.appendEvents(events);
      logged.forEach((event, k) => {
        if ((at + k) % STRIDE === STRIDE - 1) mine.push(event.id);
      });
    }
  } finally {
    await store.close();
  }
  return mine;
}

interface ReplayRound {
  readonly ms: number;
  readonly firstEventMs: number;
  readonly ids: number[];
  readonly replayed: unknown;
  readonly serverCpuSeconds: number;
  readonly otherCores: number;
}

export const replay: Scenario = {
  name: 'replay',
  description: `${EVENTS} events in the log, ${MINE} of them one user's; a socket with lastEventId 0 replays them (REPLAY_RATE=${REPLAY_RATE}); GET /healthz every ${PROBE_EVERY_MS} ms meanwhile; vs raw better-sqlite3 reading the same rows`,
  timeoutMs: 90_000,
  async run(context) {
    let product: Product | undefined;
    let probe: HealthProbe | undefined;
    let db: Database.Database | undefined;
    try {
      context.log(`filling the log: ${EVENTS} events through the store class, then starting the product`);
      let mine: number[] = [];
      let fillSeconds = 0;
      product = await Product.start({
        label: 'replay',
        env: { REPLAY_RATE: String(REPLAY_RATE) },
        prepareDatabase: async (file) => {
          const started = performance.now();
          mine = await fillLog(file);
          fillSeconds = (performance.now() - started) / 1000;
        },
      });
      const token = product.token(USER);
      const url = product.wsUrl;
      const server = product.server;
      probe = new HealthProbe(product.port, PROBE_EVERY_MS);
      const read = (db = new Database(product.databaseFile, { readonly: true, fileMustExist: true })).prepare(
        'SELECT * FROM events WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id',
      );
      const pages = Array.from({ length: Math.ceil(mine.length / PAGE) }, (_, k) => JSON.stringify(mine.slice(k * PAGE, (k + 1) * PAGE)));

      const replays: ReplayRound[] = [];
      const connectsWithoutReplayMs: number[] = [];
      const baselineMs: number[] = [];
      const baselineRows: number[] = [];
      const busy: number[] = [];
      const idle: number[] = [];
      const probeErrors: string[] = [];

      const replayOnce = async (): Promise<ReplayRound> => {
        await sleep(SETTLE_MS);
        // the fixed cost of a connect, for reading the figure: nothing to replay
        let started = performance.now();
        const quiet = new LeanClient(url, { token, lastEventId: mine.at(-1) ?? 0 });
        await quiet.connect({ waitFor: 'ready' });
        connectsWithoutReplayMs.push(performance.now() - started);
        quiet.close();
        await sleep(SETTLE_MS);

        const ids: number[] = [];
        let firstAt: number | undefined;
        let replayed: unknown;
        const client = new LeanClient(url, { token, lastEventId: 0 })
          // the ids only, read without parsing: the client shares the machine's two cores with the server
          .onId(EVENT, (_client, id) => {
            firstAt ??= performance.now();
            ids.push(id);
          })
          .on('ready', (_client, [ready]) => {
            replayed = (ready as { replayed?: unknown }).replayed;
          });
        await probe!.begin();
        const cpu = cpuMeter(server);
        started = performance.now();
        try {
          await client.connect({ waitFor: 'ready', timeoutMs: 60_000 });
        } finally {
          client.close();
        }
        const readyAt = performance.now();
        const reading = cpu();
        const probed = await probe!.end();
        busy.push(...probed.latencies);
        if (probed.error || probed.errors > 0) probeErrors.push(`during replay: ${probed.errors} non-200 answers${probed.error ? `, ${probed.error}` : ''}`);
        return { ms: readyAt - started, firstEventMs: (firstAt ?? readyAt) - started, ids, replayed, serverCpuSeconds: reading.serverCpuSeconds, otherCores: reading.otherCores };
      };
      const readOnce = async (): Promise<{ ms: number; rows: number }> => {
        await sleep(SETTLE_MS);
        await probe!.begin();
        const started = performance.now();
        let rows = 0;
        for (const page of pages) rows += read.all(page).length;
        const ms = performance.now() - started;
        await sleep(Math.max(0, IDLE_PROBE_MS - ms));
        const probed = await probe!.end();
        idle.push(...probed.latencies);
        if (probed.error || probed.errors > 0) probeErrors.push(`idle: ${probed.errors} non-200 answers${probed.error ? `, ${probed.error}` : ''}`);
        return { ms, rows };
      };

      context.log(`warm-up, then ${ROUNDS} rounds of a ${mine.length}-event replay and a raw read`);
      await readOnce();
      await replayOnce();
      busy.length = 0;
      idle.length = 0;
      connectsWithoutReplayMs.length = 0;
      await alternate(
        ROUNDS,
        async () => {
          const { ms, rows } = await readOnce();
          baselineMs.push(ms);
          baselineRows.push(rows);
        },
        async () => {
          replays.push(await replayOnce());
        },
      );

      const notes = [...probeErrors];
      let wrong = 0;
      for (const [k, r] of replays.entries()) {
        const exact = r.ids.length === mine.length && r.ids.every((id, i) => id === mine[i]);
        if (exact && r.replayed === mine.length) continue;
        wrong++;
        if (notes.length < 5) notes.push(`replay ${k + 1}: ${r.ids.length} events (${exact ? 'the right ones' : 'not exactly the expected ids in order'}), ready said replayed ${JSON.stringify(r.replayed)}; expected ${mine.length}`);
      }
      for (const [k, rows] of baselineRows.entries()) if (rows !== mine.length) notes.push(`raw read ${k + 1}: ${rows} rows, expected ${mine.length}`);

      const replaySeconds = replays.reduce((sum, r) => sum + r.ms, 0) / 1000;
      const replayRate = (replays.length * mine.length) / replaySeconds;
      const readRate = (baselineMs.length * mine.length) / (baselineMs.reduce((sum, ms) => sum + ms, 0) / 1000);
      const serverCpu = replays.reduce((sum, r) => sum + r.serverCpuSeconds, 0);
      const [during, quiet] = [delayFigures(busy), delayFigures(idle)];
      return {
        product: {
          events: EVENTS,
          replayedPerRound: mine.length,
          replayRateSetting: REPLAY_RATE,
          fillSeconds: round(fillSeconds),
          eventsPerSecond: round(replayRate, 0),
          replayMs: replays.map((r) => round(r.ms, 1)),
          firstEventMsMedian: round(percentile(replays.map((r) => r.firstEventMs), 0.5), 1),
          connectWithoutReplayMsMedian: round(percentile(connectsWithoutReplayMs, 0.5), 1),
          serverCores: round(serverCpu / replaySeconds),
          serverCpuMicrosPerEvent: round((serverCpu * 1e6) / (replays.length * mine.length), 2),
          otherCores: round(Math.max(0, ...replays.map((r) => r.otherCores))),
          healthzDuringReplay: during,
          wrongReplays: wrong,
        },
        baseline: {
          rowsPerSecond: round(readRate, 0),
          readMs: baselineMs.map((ms) => round(ms, 2)),
          statement: 'SELECT * FROM events WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id, 500 ids each',
          healthzIdle: quiet,
        },
        comparisons: [
          compare(`replay ${mine.length} of ${EVENTS}: events/s vs raw reads`, '/s', replayRate, readRate, { min: 0.5 }),
          compare('GET /healthz p50 during replay vs idle', 'ms', during.p50Ms, quiet.p50Ms),
          compare('GET /healthz p99 during replay vs idle', 'ms', during.p99Ms, quiet.p99Ms),
          compare('GET /healthz max during replay vs idle', 'ms', during.maxMs, quiet.maxMs),
        ],
        complete: replays.length === ROUNDS && wrong === 0 && baselineRows.every((rows) => rows === mine.length) && probeErrors.length === 0,
        notes,
      };
    } finally {
      db?.close();
      await probe?.close();
      await product?.stop();
    }
  },
};
