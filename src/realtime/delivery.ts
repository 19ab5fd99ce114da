/**
 * Live delivery: turns a committed event into Socket.IO broadcasts. Each broadcast is encoded once
 * by Socket.IO and written to every socket of its rooms; nothing here walks sockets.
 */
import { chatMessagePayload, chatRooms, notificationArgs, planNotify } from '../delivery-plan.js';
import type { Deliver } from '../event-log.js';
import type { ChattyIo } from './types.js';

export function createDeliver(io: ChattyIo): Deliver {
  return (event) => {
    if (event.kind === 'chat') {
      io.to(chatRooms(event)).emit('chat:message', chatMessagePayload(event));
      return;
    }
    for (const emit of planNotify(event.target)) {
      io.to(emit.rooms as string[])
        .except(emit.except as string[])
        .emit(event.event, ...notificationArgs(event, emit.origin));
    }
  };
}
