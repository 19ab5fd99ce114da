/**
 * What happens between a socket's handshake and its `ready` (contract §5, §6): it replays what it
 * missed, then joins its user's room, its key's room and its channels, all in one synchronous
 * step, so that every event is either replayed or delivered live, never both and never neither.
 *
 * Why this is safe: the event log delivers events in id order and remembers the last ones it
 * delivered. Replay first reads the store up to the log's delivered watermark (asynchronously, in
 * pages), then, without awaiting anything, replays the few events delivered meanwhile from memory
 * and joins the rooms. Events after that point reach the socket through its rooms.
 */
import { copiesFor } from '../delivery-plan.js';
import type { EventLog } from '../event-log.js';
import { keyRoom, userRoom, type ChannelName } from '../names.js';
import type { EventId, LoggedEvent, Store } from '../store/store.js';
import type { Membership } from './membership.js';
import type { ChattySocket } from './types.js';

const REPLAY_PAGE = 500;
const MAX_ATTEMPTS = 50;

export interface Admission {
  channels: ChannelName[];
  replayed: number;
  lastEventId: EventId;
}

export interface AdmissionDeps {
  store: Store;
  eventLog: EventLog;
  membership: Membership;
}

/**
 * Replays and joins. Returns undefined when the socket disconnected meanwhile (it then joined
 * nothing).
 */
export async function admit(socket: ChattySocket, lastEventId: EventId | undefined, deps: AdmissionDeps): Promise<Admission | undefined> {
  const { store, eventLog, membership } = deps;
  const { sub: userId, keyId } = socket.data.principal;
  let cursor = lastEventId;
  let replayed = 0;
  const send = (events: readonly LoggedEvent[], channels: ReadonlySet<ChannelName>, since: number) => {
    for (const event of events) {
      if (event.createdAt < since) continue;
      for (const copy of copiesFor(event, userId, channels)) {
        socket.emit(copy.name, ...copy.args);
        replayed++;
      }
    }
  };

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const version = membership.version(userId);
    const channels = await store.channelsOf(userId);
    const channelSet = new Set(channels);
    const since = eventLog.retainedSince(Date.now());
    if (cursor !== undefined) {
      const until = eventLog.deliveredThrough;
      const rooms = [userRoom(userId), ...channels];
      while (cursor < until) {
        const page = await store.eventsFor(rooms, cursor, until, REPLAY_PAGE);
        if (!socket.connected) return undefined;
        send(page, channelSet, since);
        cursor = page.length === REPLAY_PAGE ? page.at(-1)!.id : until;
        // a long replay must not hold up everyone else: the catch-up below copes with what moves meanwhile
        if (cursor < until) await new Promise((resolve) => setImmediate(resolve));
      }
    }
    // from here to the join nothing awaits: the catch-up and the join are one step
    if (!socket.connected) return undefined;
    if (membership.version(userId) !== version) continue;
    if (cursor !== undefined) {
      const tail = eventLog.recentAfter(cursor);
      if (tail === undefined) continue;
      send(tail, channelSet, since);
    }
    socket.join([userRoom(userId), keyRoom(keyId), ...channels]);
    return { channels, replayed, lastEventId: eventLog.deliveredThrough };
  }
  throw new Error(`admission of ${userId} did not settle after ${MAX_ATTEMPTS} attempts`);
}
