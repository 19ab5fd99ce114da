/**
 * What happens between a socket's handshake and its `ready` (contract §5, §6): it replays what it
 * missed, then joins its user's room, its key's room and its channels, all in one synchronous
 * step, so that every event is either replayed or delivered live, never both and never neither.
 *
 * Why this is safe: the event log delivers events in id order and remembers the last ones it
 * delivered. Replay first reads the store up to the log's delivered watermark (asynchronously, in
 * pages), then, without awaiting anything, replays the few events delivered meanwhile from memory
 * and joins the rooms. Events after that point reach the socket through its rooms.
 *
 * What replay costs: the store is read room by room through the (room, event id) index, each room
 * from its own cursor, and merged in id order (see {@link ReplayReader}), so a page costs its own
 * size however long the backlog. Pages are paced: the next one waits while the socket still holds
 * more than half its buffer limit unsent (a client that reads slowly slows its own replay, not the
 * server's memory), and while the reconnect is ahead of `REPLAY_RATE`.
 */
import type { Clock } from '../time/clock.js';
import { nextTurn } from '../time/timers.js';
import { copiesFor, roomsOf } from '../channels/delivery-plan.js';
import type { EventLog } from '../event-log/event-log.js';
import { keyRoom, userRoom, type ChannelName, type RoomName } from '../channels/names.js';
import type { EventId, Store, StoredEvent } from '../store/store.js';
import { encodedCopies, writeEncoded } from './encoded-copies.js';
import type { Membership } from './membership.js';
import { queuedBytes, waitForRoom } from './outbound-buffer.js';
import type { ChattySocket } from './types.js';

/** Events read from the store per page. */
export const REPLAY_PAGE = 500;
/** Re-reads of the user's channels (after a subscription change, or a memory tail that fell short) before giving up. */
const MAX_ATTEMPTS = 50;
/** A page looks at the socket's unsent bytes after this many events, or sooner after big ones. */
const BUFFER_CHECK_EVERY = 50;

export interface Admission {
  channels: ChannelName[];
  replayed: number;
  lastEventId: EventId;
}

export interface AdmissionDeps {
  store: Store;
  eventLog: EventLog;
  membership: Membership;
  clock: Clock;
  /** Events one reconnect may replay per second. */
  replayPerSecond: number;
  /** The socket's buffer limit: replay keeps what it has queued below half of it. */
  bufferBytes: number;
  /** Tests: a smaller page, to cover paging and the memory tail with few events. */
  pageSize?: number;
}

/**
 * Replays and joins. Returns undefined when the socket disconnected meanwhile (it then joined
 * nothing).
 */
export async function admit(socket: ChattySocket, lastEventId: EventId | undefined, deps: AdmissionDeps): Promise<Admission | undefined> {
  const { store, eventLog, membership, clock } = deps;
  const { sub: userId, keyId } = socket.data.principal;
  const pageSize = deps.pageSize ?? REPLAY_PAGE;
  const highWater = deps.bufferBytes / 2;
  const reader = lastEventId === undefined ? undefined : new ReplayReader(store, lastEventId, pageSize);
  const startedAt = clock.now();
  let replayed = 0;

  /** Sends the copies due for `events`; false when the socket went away meanwhile. */
  const send = async (events: readonly StoredEvent[], channels: ReadonlySet<ChannelName>, since: number): Promise<boolean> => {
    let sinceCheck = 0;
    let bytesSinceCheck = 0;
    let packets: string[] = [];
    for (const event of events) {
      if (++sinceCheck >= BUFFER_CHECK_EVERY || bytesSinceCheck >= highWater / 4) {
        writeEncoded(socket, packets);
        packets = [];
        if (queuedBytes(socket) > highWater && !(await waitForRoom(socket, highWater))) return false;
        sinceCheck = 0;
        bytesSinceCheck = 0;
      }
      if (event.createdAt < since) continue;
      for (const packet of encodedCopies(event, userId, channels)) {
        packets.push(packet);
        bytesSinceCheck += packet.length;
        replayed++;
      }
    }
    writeEncoded(socket, packets);
    return socket.connected;
  };
  /** Waits until this reconnect is back within REPLAY_RATE. */
  const pace = async (): Promise<void> => {
    const due = startedAt + (replayed / deps.replayPerSecond) * 1000;
    const wait = due - clock.now();
    if (wait > 0) await new Promise<void>((resolve) => clock.setTimeout(resolve, wait));
  };

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const version = membership.version(userId);
    const channels = await store.channelsOf(userId);
    if (!socket.connected) return undefined;
    const channelSet = new Set(channels);
    const since = eventLog.retainedSince(clock.now());
    if (reader) {
      reader.follow([userRoom(userId), ...channels]);
      const until = eventLog.deliveredThrough;
      for (;;) {
        const page = await reader.next(until);
        if (page.length === 0) break;
        if (!socket.connected || !(await send(page, channelSet, since))) return undefined;
        await pace();
        // one page per turn of the event loop: with a synchronous store nothing above yields to I/O
        await nextTurn();
        // a subscription changed: read the channels again before going on
        if (membership.version(userId) !== version) break;
      }
    }
    // from here to the join nothing awaits: the catch-up and the join are one step
    if (!socket.connected) return undefined;
    if (membership.version(userId) !== version) continue;
    if (reader) {
      const tail = eventLog.recentAfter(reader.position);
      if (tail === undefined) continue;
      for (const event of tail) {
        if (event.createdAt < since) continue;
        for (const copy of copiesFor(event, userId, channelSet)) {
          socket.emit(copy.name, ...copy.args);
          replayed++;
        }
      }
    }
    socket.join([userRoom(userId), keyRoom(keyId), ...channels]);
    return { channels, replayed, lastEventId: eventLog.deliveredThrough };
  }
  throw new Error(`admission of ${userId} did not settle after ${MAX_ATTEMPTS} attempts`);
}

interface RoomStream {
  readonly room: RoomName;
  /** Ids read from the store, ascending; those from `next` on are not handed out yet. */
  ids: EventId[];
  next: number;
  /** The last id read from the store for this room. */
  readThrough: EventId;
  /** The last id taken. */
  poppedThrough: EventId;
  /** The watermark this room was read to the end of, if it was. */
  doneUntil: EventId | undefined;
  /** How many ids the next read asks for: small first (most rooms hold few missed events), doubling. */
  batch: number;
}

/** Ids per room in a room's first read; each further read asks for twice as many, up to a page. */
const FIRST_BATCH = 16;

const head = (stream: RoomStream): EventId => stream.ids[stream.next]!;

/**
 * Follows several rooms of the log at once and hands out their events merged in id order, each
 * event once. Every room keeps its own cursor, so no read repeats another, and the merge is a
 * heap of the rooms' next ids, so a page costs its size times the log of the number of rooms. A
 * room added later (a subscription made during replay) is read from the replay's start, not from
 * where the other rooms have got to: its older events are handed out next, ahead of the rest,
 * except those that already went out through another room.
 */
export class ReplayReader {
  private readonly rooms = new Map<RoomName, RoomStream>();
  /** Rooms no longer followed, with the last id taken from each. */
  private readonly dropped = new Map<RoomName, EventId>();
  /** The greatest id handed out so far (or the starting point). */
  private handedOut: EventId;

  constructor(
    private readonly store: Store,
    private readonly after: EventId,
    private readonly pageSize: number,
  ) {
    this.handedOut = after;
  }

  /** Every event up to here addressed to a followed room has been handed out. */
  get position(): EventId {
    return this.handedOut;
  }

  /** Sets the rooms to follow: new ones start at the replay's start, dropped ones are forgotten. */
  follow(rooms: readonly RoomName[]): void {
    const wanted = new Set(rooms);
    for (const [room, stream] of this.rooms) {
      if (wanted.has(room)) continue;
      this.rooms.delete(room);
      this.dropped.set(room, stream.poppedThrough);
    }
    for (const room of wanted) {
      if (this.rooms.has(room)) continue;
      this.rooms.set(room, { room, ids: [], next: 0, readThrough: this.after, poppedThrough: this.after, doneUntil: undefined, batch: FIRST_BATCH });
      this.dropped.delete(room);
    }
  }

  /** The next page of events with ids up to `until`, in id order; empty when all are handed out. */
  async next(until: EventId): Promise<StoredEvent[]> {
    const heap = new StreamHeap();
    let empty: RoomStream[] = [];
    for (const stream of this.rooms.values()) {
      if (stream.next < stream.ids.length) heap.push(stream);
      else if (stream.doneUntil === undefined || stream.doneUntil < until) empty.push(stream);
    }
    const ids: EventId[] = [];
    /** Ids at or below what was already handed out, met through rooms added since: the rooms each came from. */
    const late = new Map<EventId, Set<RoomName>>();
    while (ids.length < this.pageSize) {
      // a room that ran out and may hold more is read before anything is taken: its next id may be the smallest
      if (empty.length > 0) {
        await this.fill(empty, until);
        for (const stream of empty) if (stream.next < stream.ids.length) heap.push(stream);
        empty = [];
      }
      const first = heap.peek();
      if (first === undefined) break;
      const min = head(first);
      const from = new Set<RoomName>();
      while (heap.peek() !== undefined && head(heap.peek()!) === min) {
        const stream = heap.pop()!;
        stream.next++;
        stream.poppedThrough = min;
        from.add(stream.room);
        if (stream.next < stream.ids.length) heap.push(stream);
        else if (stream.doneUntil === undefined) empty.push(stream);
      }
      if (min <= this.handedOut) late.set(min, from);
      else this.handedOut = min;
      ids.push(min);
    }
    if (ids.length === 0) {
      this.handedOut = Math.max(this.handedOut, until);
      return [];
    }
    const events = await this.store.eventsByIds(ids);
    return late.size === 0 ? events : events.filter((event) => !this.alreadySent(event, late.get(event.id)));
  }

  /**
   * Whether a late event went out before through another room: a room still followed has passed
   * it (its cursor is beyond, or it would have been taken with this one), and a dropped room had
   * if its last id reached it.
   */
  private alreadySent(event: StoredEvent, from: ReadonlySet<RoomName> | undefined): boolean {
    if (!from) return false;
    return roomsOf(event).some((room) => !from.has(room) && (this.rooms.has(room) || (this.dropped.get(room) ?? -1) >= event.id));
  }

  /** Reads the next ids of rooms that ran out, in one call. */
  private async fill(streams: readonly RoomStream[], until: EventId): Promise<void> {
    const batch = Math.max(...streams.map((s) => s.batch));
    const read = await this.store.eventIdsFor(
      streams.map((s) => ({ room: s.room, afterId: s.readThrough })),
      until,
      batch,
    );
    for (const stream of streams) {
      const ids = read.get(stream.room) ?? [];
      stream.ids = ids;
      stream.next = 0;
      if (ids.length > 0) stream.readThrough = ids.at(-1)!;
      stream.doneUntil = ids.length < batch ? until : undefined;
      stream.batch = Math.min(stream.batch * 2, this.pageSize);
    }
  }
}

/** A binary min-heap of room streams by their next id. */
class StreamHeap {
  private readonly items: RoomStream[] = [];

  peek(): RoomStream | undefined {
    return this.items[0];
  }

  push(stream: RoomStream): void {
    const items = this.items;
    items.push(stream);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (head(items[parent]!) <= head(items[i]!)) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }

  pop(): RoomStream | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && head(items[left]!) < head(items[smallest]!)) smallest = left;
      if (right < items.length && head(items[right]!) < head(items[smallest]!)) smallest = right;
      if (smallest === i) return top;
      [items[smallest], items[i]] = [items[i]!, items[smallest]!];
      i = smallest;
    }
  }
}
