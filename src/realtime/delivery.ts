/**
 * Live delivery: turns a committed event into Socket.IO broadcasts. Each broadcast is encoded once
 * by Socket.IO and written to every socket of its rooms on this node (`io.local`): on many nodes
 * every node delivers the shared log to its own sockets, so a broadcast through the adapter would
 * arrive once per node.
 */
import { chatMessagePayload, chatRooms, notificationArgs, planNotify } from '../channels/delivery-plan.js';
import type { Deliver } from '../event-log/event-log.js';
import type { LoggedNotification } from '../store/store.js';
import type { ChattyIo } from './types.js';

export function createDeliver(io: ChattyIo): Deliver {
  return (event) => {
    if (event.kind === 'chat') {
      io.local.to(chatRooms(event)).emit('chat:message', chatMessagePayload(event));
      return;
    }
    // a record for webhooks only (contract §10): no socket is addressed, and no rooms would mean all
    if (event.target.names.length === 0) return;
    if (event.target.mode === 'channels-efficient') return deliverOnce(io, event);
    for (const emit of planNotify(event.target)) {
      io.local.to(emit.rooms as string[]).emit(event.event, ...notificationArgs(event, emit.origin));
    }
  };
}

/**
 * `channels-efficient`: one copy per socket, from the first listed channel it is in. Excluding
 * the earlier channels from each emit (what {@link planNotify} describes) would make the adapter
 * rebuild the set of their sockets for every listed channel: quadratic in the list. Instead each
 * socket is looked at once: a channel none of whose sockets got a copy yet is one emit to the
 * room; one that overlaps the earlier ones is one emit to its remaining sockets by id.
 */
function deliverOnce(io: ChattyIo, event: LoggedNotification): void {
  const rooms = io.of('/').adapter.rooms;
  const reached = new Set<string>();
  for (const channel of event.target.names) {
    const members = rooms.get(channel);
    if (!members || members.size === 0) continue;
    let overlaps = false;
    for (const id of members) {
      if (reached.has(id)) {
        overlaps = true;
        break;
      }
    }
    const args = notificationArgs(event, channel);
    if (!overlaps) {
      for (const id of members) reached.add(id);
      io.local.to(channel).emit(event.event, ...args);
      continue;
    }
    const remaining: string[] = [];
    for (const id of members) {
      if (reached.has(id)) continue;
      reached.add(id);
      remaining.push(id);
    }
    if (remaining.length > 0) io.local.to(remaining).emit(event.event, ...args);
  }
}
