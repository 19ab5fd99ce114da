/**
 * Replay's copies as ready-made Socket.IO packets. A replayed notification would otherwise be
 * parsed from the log's JSON text, then walked for binary data and encoded back into the same
 * text by Socket.IO; about a third of what the server spent per replayed event. Here the stored
 * text goes into the packet as it is, with only the added members spliced in.
 *
 * The packets are exactly what `socket.emit(name, ...args)` with Socket.IO's default parser
 * writes for the default namespace (`2` then the JSON array of the name and the arguments), and
 * they go out the way Socket.IO's own adapter sends a broadcast: encoded, through the client.
 */
import { chatMessagePayload, copyOrigins, notificationArgs } from '../channels/delivery-plan.js';
import type { ChannelName, UserId } from '../channels/names.js';
import type { StoredEvent, StoredNotification } from '../store/store.js';
import type { ChattySocket } from './types.js';

/** socket.io-parser's EVENT packet type; the default namespace adds nothing after it. */
const EVENT_PACKET = '2';
/** Attributes that may already hold a member the server adds: those are merged the slow way. */
const MAY_HOLD_ADDED_MEMBER = /"(?:origin|date-time)"/;

/** What one user's socket would have received live for `event` (see `copiesFor`), encoded. */
export function encodedCopies(event: StoredEvent, userId: UserId, channels: ReadonlySet<ChannelName>): string[] {
  const origins = copyOrigins(event, userId, channels);
  if (origins.length === 0) return origins as [];
  if (event.kind === 'chat') return [EVENT_PACKET + JSON.stringify(['chat:message', chatMessagePayload(event)])];
  const time = isoTime(event.createdAt);
  return origins.map((origin) => encodedNotification(event, origin, time));
}

/** Past the last instant whose ISO form has a four-digit year. */
const YEAR_10000 = Date.UTC(10000, 0, 1);
let minute = NaN;
let minutePrefix = '';

/**
 * `new Date(at).toISOString()`, without building a date per event: the `YYYY-MM-DDTHH:MM:` part
 * is kept from the event before (a backlog's events mostly share their minute with the next one),
 * and only the seconds are formatted.
 */
export function isoTime(at: number): string {
  if (!(at >= 0 && at < YEAR_10000)) return new Date(at).toISOString();
  const m = Math.floor(at / 60_000);
  if (m !== minute) {
    minute = m;
    minutePrefix = new Date(m * 60_000).toISOString().slice(0, 17);
  }
  const inMinute = at - m * 60_000;
  const seconds = Math.floor(inMinute / 1000);
  const millis = inMinute - seconds * 1000;
  return `${minutePrefix}${seconds < 10 ? '0' : ''}${seconds}.${millis < 100 ? (millis < 10 ? '00' : '0') : ''}${millis}Z`;
}

function encodedNotification(event: StoredNotification, origin: ChannelName | undefined, time: string): string {
  let payload = event.attributesJson;
  const added: string[] = [];
  if (origin !== undefined && event.add.includes('origin')) added.push(`"origin":${JSON.stringify(origin)}`);
  if (event.add.includes('date-time')) added.push(`"date-time":"${time}"`);
  if (added.length > 0) {
    if (!payload.endsWith('}') || MAY_HOLD_ADDED_MEMBER.test(payload)) {
      const { attributesJson, ...rest } = event;
      return EVENT_PACKET + JSON.stringify([event.event, ...notificationArgs({ ...rest, attributes: JSON.parse(attributesJson) }, origin)]);
    }
    payload = payload === '{}' ? `{${added.join(',')}}` : `${payload.slice(0, -1)},${added.join(',')}}`;
  }
  const meta = origin === undefined ? `{"id":${event.id},"time":"${time}"}` : `{"id":${event.id},"time":"${time}","origin":${JSON.stringify(origin)}}`;
  return `${EVENT_PACKET}[${JSON.stringify(event.event)},${payload},${meta}]`;
}

interface PacketWriter {
  _packet(packet: string, opts: { preEncoded: true; compress: boolean }): void;
}
interface EngineConnection {
  transport: { name: string; perMessageDeflate?: unknown; socket?: { _sender?: { sendFrame?: unknown } } };
  write(data: Buffer, options: { wsPreEncodedFrame: Buffer[] }): void;
}

/**
 * Writes encoded packets to the socket's connection, in order, with the options `socket.emit`
 * gives. On a WebSocket (without compression) they go out as one Engine.IO packet whose frame,
 * computed here, is the packets' WebSocket frames back to back: one buffer instead of a string per
 * packet for Engine.IO to queue, `ws` to frame and Node to encode (the pre-encoded frame is how
 * Socket.IO's own adapter sends a broadcast; a polling transport, which never sees such a packet
 * since transports only upgrade to WebSocket, gets the packets one by one).
 */
export function writeEncoded(socket: ChattySocket, packets: readonly string[]): void {
  if (packets.length === 0) return;
  const conn = socket.conn as unknown as EngineConnection;
  const transport = conn.transport;
  if (packets.length > 1 && transport.name === 'websocket' && !transport.perMessageDeflate && typeof transport.socket?._sender?.sendFrame === 'function') {
    const frames = textFrames(packets);
    conn.write(frames, { wsPreEncodedFrame: [frames] });
    return;
  }
  const client = socket.client as unknown as PacketWriter;
  for (const packet of packets) client._packet(packet, { preEncoded: true, compress: true });
}

/** Engine.IO's message type, before each Socket.IO packet. */
const MESSAGE = 0x34; // '4'

/** Unmasked, final WebSocket text frames (RFC 6455 §5.2) of Engine.IO messages holding `packets`. */
export function textFrames(packets: readonly string[]): Buffer {
  const lengths = packets.map((packet) => 1 + Buffer.byteLength(packet));
  let total = 0;
  for (const length of lengths) total += headerBytes(length) + length;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < packets.length; i++) {
    const length = lengths[i]!;
    out[at++] = 0x81; // FIN, text
    if (length < 126) out[at++] = length;
    else if (length < 0x10000) {
      out[at++] = 126;
      at = out.writeUInt16BE(length, at);
    } else {
      out[at++] = 127;
      at = out.writeBigUInt64BE(BigInt(length), at);
    }
    out[at++] = MESSAGE;
    at += out.write(packets[i]!, at);
  }
  return out;
}

function headerBytes(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}
