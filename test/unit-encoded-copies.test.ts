/**
 * Replay's ready-made packets (src/realtime/encoded-copies.ts) against what Socket.IO itself would
 * write for the same copies: `socket.emit(name, ...args)` with the default parser, then the
 * WebSocket frames `ws` would put on the wire.
 */
import { expect } from 'chai';
import { prng } from './helpers/prng.js';
import { Encoder, PacketType } from 'socket.io-parser';
import WebSocket from 'ws';
import { copiesFor } from '../src/channels/delivery-plan.js';
import { encodedCopies, isoTime, textFrames } from '../src/realtime/encoded-copies.js';
import type { NotifyMode } from '../src/channels/method-query.js';
import type { AddFlag, ChatMessage, LoggedNotification, StoredEvent } from '../src/store/store.js';

const encoder = new Encoder();
/** Socket.IO's packet for `socket.emit(name, ...args)` on the default namespace. */
const emitted = (name: string, args: readonly unknown[]) => encoder.encode({ type: PacketType.EVENT, nsp: '/', data: [name, ...args] });


const ATTRIBUTE_SETS: Record<string, unknown>[] = [
  {},
  { n: 1 },
  { type: 'posts', id: '12', tags: ['a', 'b'], nested: { deep: [1, { x: null }] } },
  { text: 'é ✓ 😀 "quoted" \\ back\nslash', empty: '' },
  // members of the names the server adds: the added one replaces them in place
  { origin: 'spoofed', n: 1 },
  { 'date-time': 'spoofed' },
  { note: 'mentions "origin" as a value' },
];

function stored(event: LoggedNotification): StoredEvent {
  const { attributes, ...rest } = event;
  return { ...rest, attributesJson: JSON.stringify(attributes) };
}

describe('unit: encoded replay copies are what socket.emit would send (issue 21)', () => {
  it('notifications: every mode, added member and attribute shape, for users in and out of the target', () => {
    const random = prng(21);
    const modes: NotifyMode[] = ['channels', 'channels-efficient', 'users'];
    const adds: AddFlag[][] = [[], ['origin'], ['date-time'], ['origin', 'date-time']];
    let compared = 0;
    for (let i = 0; i < 400; i++) {
      const mode = modes[i % 3]!;
      const names = ['a', 'b', 'c', 'd'].filter(() => random() < 0.6);
      if (names.length === 0) names.push('a');
      const event: LoggedNotification = {
        kind: 'notify',
        id: 1 + Math.floor(random() * 1e9),
        event: random() < 0.5 ? 'changed' : 'posts:updated "x"',
        attributes: ATTRIBUTE_SETS[i % ATTRIBUTE_SETS.length]!,
        target: { mode, names },
        add: adds[Math.floor(random() * adds.length)]!,
        createdAt: Date.UTC(2026, 11, 4) + Math.floor(random() * 1e9),
      };
      const user = mode === 'users' && random() < 0.8 ? names[0]! : 'someone-else';
      const channels = new Set(['a', 'b', 'c', 'd'].filter(() => random() < 0.5));
      const actual = encodedCopies(stored(event), user, channels);
      expect(actual, JSON.stringify(event)).to.deep.equal(copiesFor(event, user, channels).flatMap((c) => emitted(c.name, c.args)));
      compared += actual.length;
    }
    expect(compared, 'some copies were compared').to.be.greaterThan(100);
  });

  it('chat messages: group and private, members and others', () => {
    const messages: ChatMessage[] = [
      { kind: 'chat', id: 7, channel: 'rooms-1', from: 'alice', body: '<b>hi</b> ✓', clientId: null, createdAt: Date.UTC(2026, 0, 1) },
      { kind: 'chat', id: 8, channel: 'dm:alice:bob', from: 'bob', body: 'psst', clientId: 'c-1', createdAt: Date.UTC(2026, 0, 1, 0, 0, 0, 5) },
    ];
    for (const message of messages) {
      for (const [user, channels] of [['alice', new Set(['rooms-1'])], ['bob', new Set<string>()], ['carol', new Set(['rooms-1'])], ['carol', new Set<string>()]] as const) {
        expect(encodedCopies(message, user, channels), `${message.channel} for ${user}`).to.deep.equal(copiesFor(message, user, channels).flatMap((c) => emitted(c.name, c.args)));
      }
    }
  });

  it('frames: the bytes ws would write for each packet, back to back, whatever the length', () => {
    const packets = ['2["a"]', '2["é😀"]', `2["${'x'.repeat(120)}"]`, `2["${'y'.repeat(124)}"]`, `2["${'z'.repeat(300)}"]`, `2["${'w'.repeat(70_000)}"]`, `2["${'ü'.repeat(40_000)}"]`];
    const options = { readOnly: false, mask: false, rsv1: false, opcode: 1 as const, fin: true };
    const byWs = Buffer.concat(packets.flatMap((p) => (WebSocket as unknown as { Sender: { frame(data: Buffer, o: typeof options): Buffer[] } }).Sender.frame(Buffer.from(`4${p}`), options)));
    expect(textFrames(packets).equals(byWs)).to.equal(true);
  });

  it('times: the ISO form of any instant, remembered minute or not', () => {
    const random = prng(7);
    const instants = [0, 59_999, 60_000, Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), -1, -86_400_001];
    for (let i = 0; i < 5_000; i++) instants.push(Math.floor((random() - 0.2) * 3e14));
    for (let i = 0; i < 1_000; i++) instants.push(Date.UTC(2026, 11, 4, 10, 30) + Math.floor(random() * 120_000));
    for (const at of instants) expect(isoTime(at), String(at)).to.equal(new Date(at).toISOString());
  });
});
