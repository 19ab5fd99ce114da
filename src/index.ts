/**
 * Chatty as a library: one server from a configuration, for embedding it in a process of your own
 * (the `chatty` command line runs the same), and the socket protocol's types for clients
 * (docs/socket-protocol.md). Everything else in the package is internal.
 *
 * @example
 *   import { createChatty, loadConfig } from 'chatty';
 *   const chatty = await createChatty(loadConfig());
 *   const { port } = await chatty.listen();
 *   process.on('SIGTERM', () => chatty.close().then(() => process.exit(0)));
 */
export { createChatty, type ChattyOptions, type ChattyServer } from './server.js';
export { ConfigError, loadConfig, type Config, type Limits } from '../config.js';
export type {
  Ack,
  AckError,
  Address,
  ChatMessagePayload,
  ChattyServerEvents,
  ClientEvent,
  ClientRequests,
  ClientToServerEvents,
  ExpiryReason,
  NotificationMeta,
  ProfilePayload,
  ReadyPayload,
  ReceiptPayload,
  ServerToClientEvents,
  SubscriptionsChangedPayload,
} from './realtime/protocol.js';
export type { ErrorCode } from './errors.js';
