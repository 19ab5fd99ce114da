/** The chat events' shapes (contract §5) and the ack helpers the chat suites share. */
import { expect } from 'chai';
import type { TestSocket } from './sockets.js';

/** A `chat:message` payload, and the `message` of a `chat:send` ack. */
export interface ChatMessage {
  id: number;
  channel: string;
  from: string;
  body: string;
  sentAt: string;
  clientId: string | null;
}

/** A `chat:receipt` payload. */
export interface Receipt {
  channel: string;
  userId: string;
  messageId: number;
  readAt: string;
}

/** `chat:send` expecting `ok: true`: resolves with the stored message, so tests can compare deliveries with it. */
export async function send(socket: TestSocket, payload: Record<string, unknown>): Promise<ChatMessage> {
  const ack = await socket.call('chat:send', payload);
  expect(ack, JSON.stringify(ack)).to.include({ ok: true });
  return ack.message as ChatMessage;
}

/** The `chat:message` payloads a socket has received so far, in order. */
export const messages = (socket: TestSocket): ChatMessage[] => socket.of('chat:message').map(([m]) => m as ChatMessage);
