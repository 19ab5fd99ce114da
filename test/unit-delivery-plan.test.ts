import { expect } from 'chai';
import { prng } from './helpers/prng.js';
import { chatMessagePayload, chatRooms, copiesFor, notificationArgs, planNotify, type RoomEmit } from '../src/channels/delivery-plan.js';
import type { AddFlag, ChatMessage, LoggedNotification, NotifyTarget } from '../src/store/store.js';

const CREATED = Date.UTC(2030, 0, 2, 3, 4, 5, 678);
const ISO = '2030-01-02T03:04:05.678Z';

function notification(target: NotifyTarget, add: AddFlag[] = [], attributes: Record<string, unknown> = { n: 1 }): LoggedNotification {
  return { kind: 'notify', id: 42, event: 'changed', attributes, target, add, createdAt: CREATED };
}
function chat(channel: string, from = 'alice'): ChatMessage {
  return { kind: 'chat', id: 7, channel, from, body: '<b>hi</b>', clientId: null, createdAt: CREATED };
}

/** What Socket.IO does with a plan: a socket receives an emit when it is in one of its rooms and in none of its excepts. */
function simulate(plan: RoomEmit[], socketRooms: ReadonlySet<string>): (string | undefined)[] {
  return plan
    .filter((emit) => emit.rooms.some((r) => socketRooms.has(r)) && !emit.except.some((r) => socketRooms.has(r)))
    .map((emit) => emit.origin);
}


describe('unit: delivery plan (contract §4.2)', () => {
  describe('planNotify', () => {
    const table: [label: string, target: NotifyTarget, plan: RoomEmit[]][] = [
      [
        'channels: one emit per channel, each its own origin',
        { mode: 'channels', names: ['a', 'b', 'c'] },
        [
          { rooms: ['a'], except: [], origin: 'a' },
          { rooms: ['b'], except: [], origin: 'b' },
          { rooms: ['c'], except: [], origin: 'c' },
        ],
      ],
      [
        'channels-efficient: each emit excludes the channels listed before it',
        { mode: 'channels-efficient', names: ['a', 'b', 'c'] },
        [
          { rooms: ['a'], except: [], origin: 'a' },
          { rooms: ['b'], except: ['a'], origin: 'b' },
          { rooms: ['c'], except: ['a', 'b'], origin: 'c' },
        ],
      ],
      ['users: one emit to every user room, no origin', { mode: 'users', names: ['u1', 'u2'] }, [{ rooms: ['user:u1', 'user:u2'], except: [] }]],
    ];
    for (const [label, target, plan] of table) {
      it(label, () => {
        expect(planNotify(target)).to.deep.equal(plan);
      });
    }

    it('never plans an emit with an empty room list (which would mean everyone)', () => {
      for (const mode of ['channels', 'channels-efficient', 'users'] as const) {
        for (const emit of planNotify({ mode, names: ['x', 'y'] })) expect(emit.rooms).to.not.be.empty;
      }
    });

    const sockets: [label: string, rooms: string[], channels: (string | undefined)[], efficient: (string | undefined)[]][] = [
      ['in no listed channel', ['user:z', 'other'], [], []],
      ['in one listed channel', ['user:z', 'b'], ['b'], ['b']],
      ['in all listed channels', ['user:z', 'a', 'b', 'c'], ['a', 'b', 'c'], ['a']],
      ['in the later channels', ['user:z', 'c', 'b'], ['b', 'c'], ['b']],
      ['in the first and last', ['user:z', 'a', 'c'], ['a', 'c'], ['a']],
    ];
    for (const [label, rooms, channelsCopies, efficientCopies] of sockets) {
      it(`gives a socket ${label} the right copies in both channel modes`, () => {
        const set = new Set(rooms);
        expect(simulate(planNotify({ mode: 'channels', names: ['a', 'b', 'c'] }), set)).to.deep.equal(channelsCopies);
        expect(simulate(planNotify({ mode: 'channels-efficient', names: ['a', 'b', 'c'] }), set)).to.deep.equal(efficientCopies);
      });
    }

    it('gives every socket of a listed user exactly one copy in users mode', () => {
      const plan = planNotify({ mode: 'users', names: ['u1', 'u2'] });
      expect(simulate(plan, new Set(['user:u1', 'a']))).to.have.length(1);
      expect(simulate(plan, new Set(['user:u2']))).to.have.length(1);
      expect(simulate(plan, new Set(['user:u3', 'u1']))).to.have.length(0);
    });
  });

  describe('notificationArgs', () => {
    const table: [label: string, add: AddFlag[], origin: string | undefined, payload: Record<string, unknown>, meta: Record<string, unknown>][] = [
      ['no add, no origin', [], undefined, { n: 1 }, { id: 42, time: ISO }],
      ['no add, an origin (meta only)', [], 'posts-1', { n: 1 }, { id: 42, time: ISO, origin: 'posts-1' }],
      ['add=origin', ['origin'], 'posts-1', { n: 1, origin: 'posts-1' }, { id: 42, time: ISO, origin: 'posts-1' }],
      ['add=origin without an origin (users mode)', ['origin'], undefined, { n: 1 }, { id: 42, time: ISO }],
      ['add=date-time', ['date-time'], undefined, { n: 1, 'date-time': ISO }, { id: 42, time: ISO }],
      ['add=origin,date-time', ['origin', 'date-time'], 'c', { n: 1, origin: 'c', 'date-time': ISO }, { id: 42, time: ISO, origin: 'c' }],
    ];
    for (const [label, add, origin, payload, meta] of table) {
      it(label, () => {
        expect(notificationArgs(notification({ mode: 'channels', names: ['c'] }, add), origin)).to.deep.equal([payload, meta]);
      });
    }

    it('never mutates the logged attributes', () => {
      const event = notification({ mode: 'channels', names: ['c'] }, ['origin', 'date-time'], { n: 1 });
      notificationArgs(event, 'c');
      expect(event.attributes).to.deep.equal({ n: 1 });
    });

    it('meta.time is ISO 8601 of createdAt', () => {
      const [, meta] = notificationArgs(notification({ mode: 'users', names: ['u'] }), undefined);
      expect(new Date(meta.time).getTime()).to.equal(CREATED);
    });
  });

  describe('chat', () => {
    it('a group message goes to its channel room', () => {
      expect(chatRooms({ channel: 'posts-1' })).to.deep.equal(['posts-1']);
    });
    it('a private message goes to both users rooms', () => {
      expect(chatRooms({ channel: 'dm:alice:bob' })).to.deep.equal(['user:alice', 'user:bob']);
    });
    it('a message to oneself goes to one room', () => {
      expect(chatRooms({ channel: 'dm:alice:alice' })).to.deep.equal(['user:alice']);
    });
    it('the payload is the contract shape, body untouched', () => {
      expect(chatMessagePayload(chat('posts-1'))).to.deep.equal({ id: 7, channel: 'posts-1', from: 'alice', body: '<b>hi</b>', sentAt: ISO, clientId: null });
    });
  });

  describe('copiesFor (replay) agrees with the live plan', () => {
    const table: [label: string, target: NotifyTarget, user: string, channels: string[], origins: (string | undefined)[]][] = [
      ['channels, member of two', { mode: 'channels', names: ['a', 'b', 'c'] }, 'u', ['c', 'a'], ['a', 'c']],
      ['channels, member of none', { mode: 'channels', names: ['a'] }, 'u', ['z'], []],
      ['channels-efficient, first listed wins', { mode: 'channels-efficient', names: ['c', 'b', 'a'] }, 'u', ['a', 'b'], ['b']],
      ['channels-efficient, member of none', { mode: 'channels-efficient', names: ['a'] }, 'u', [], []],
      ['users, listed', { mode: 'users', names: ['x', 'u'] }, 'u', ['a'], [undefined]],
      ['users, not listed', { mode: 'users', names: ['x'] }, 'u', ['x'], []],
    ];
    for (const [label, target, user, channels, origins] of table) {
      it(label, () => {
        const copies = copiesFor(notification(target, ['origin']), user, new Set(channels));
        expect(copies.map((c) => c.name)).to.deep.equal(origins.map(() => 'changed'));
        expect(copies.map((c) => (c.args[1] as { origin?: string }).origin)).to.deep.equal(origins);
      });
    }

    it('chat: members of a group channel and both users of a dm get the message', () => {
      expect(copiesFor(chat('g'), 'bob', new Set(['g']))).to.deep.equal([{ name: 'chat:message', args: [chatMessagePayload(chat('g'))] }]);
      expect(copiesFor(chat('g'), 'bob', new Set(['h']))).to.deep.equal([]);
      expect(copiesFor(chat('dm:alice:bob'), 'bob', new Set())).to.have.length(1);
      expect(copiesFor(chat('dm:alice:bob'), 'alice', new Set())).to.have.length(1);
      expect(copiesFor(chat('dm:alice:bob'), 'carol', new Set(['dm:alice:bob']))).to.deep.equal([]);
    });

    it('matches a simulated Socket.IO broadcast of planNotify for 500 random cases', () => {
      const random = prng(20300101);
      const universe = ['a', 'b', 'c', 'd', 'e', 'f'];
      const users = ['u1', 'u2', 'u3'];
      const pick = <T>(items: T[]) => items.filter(() => random() < 0.4);
      for (let i = 0; i < 500; i++) {
        const mode = (['channels', 'channels-efficient', 'users'] as const)[Math.floor(random() * 3)]!;
        const listed = mode === 'users' ? pick(users) : pick(universe).sort(() => random() - 0.5);
        if (listed.length === 0) continue;
        const target: NotifyTarget = { mode, names: listed };
        const user = users[Math.floor(random() * users.length)]!;
        const subscribed = new Set(pick(universe));
        const rooms = new Set([`user:${user}`, ...subscribed]);
        const live = simulate(planNotify(target), rooms);
        const replayed = copiesFor(notification(target, ['origin']), user, subscribed).map((c) => (c.args[1] as { origin?: string }).origin);
        expect(replayed, JSON.stringify({ target, user, subscribed: [...subscribed] })).to.deep.equal(live);
      }
    });
  });
});
