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
      const operator = emit.except.length > 0 ? io.to(emit.rooms as string[]).except(emit.except as string[]) : io.to(emit.rooms as string[]);
      operator.emit(event.event, ...notificationArgs(event, emit.origin));
    }
  };
}
