/**
 * The storage contract, written once and run against every Store implementation: each one must
 * pass it unchanged (SQLite today; PostgreSQL when it lands).
 */
import { expect } from 'chai';
import { pairCount, type ChatMessage, type LoggedEvent, type NewChatMessage, type NewNotification, type Store } from '../src/store/store.js';
import { oldestEventId } from './helpers/store-reads.js';

export function storeContract(name: string, open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await open());
      await store.migrate();
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    const notification = (overrides: Partial<NewNotification> = {}): NewNotification => ({
      kind: 'notify',
      event: 'changed',
      attributes: { a: 1, nested: { b: [1, 2] } },
      target: { mode: 'channels', names: ['posts-1', 'posts-2'] },
      add: ['origin'],
      createdAt: 1_700_000_000_000,
      ...overrides,
    });
    const chat = (channel: string, from: string, body = 'hi', createdAt = 1_700_000_000_000): NewChatMessage => ({
      kind: 'chat',
      channel,
      from,
      body,
      clientId: null,
      createdAt,
    });

    const subscribe = async (users: string[], channels: string[]) => pairCount((await store.changeSubscriptions([{ action: 'subscribe', users, channels }]))[0]!);
    const unsubscribe = async (users: string[], channels: string[]) => pairCount((await store.changeSubscriptions([{ action: 'unsubscribe', users, channels }]))[0]!);

    it('migrates idempotently and answers ping', async () => {
      await subscribe(['alice'], ['posts-1']);
      await store.migrate();
      await store.ping();
      expect(await store.channelsOf('alice'), 'a second migrate keeps the data').to.deep.equal(['posts-1']);
    });

    describe('accounts', () => {
      // an account as created: enabled, at token version 0
      const fresh = { disabled: false, tokenVersion: 0 };

      it('creates once, finds, and upserts', async () => {
        const account = { username: 'alice', passwordHash: 'h1', role: 'user' as const, createdAt: 1 };
        expect(await store.createAccount(account)).to.equal(true);
        expect(await store.createAccount({ ...account, passwordHash: 'other' })).to.equal(false);
        expect(await store.findAccount('alice')).to.deep.equal({ ...account, ...fresh });
        expect(await store.findAccount('nobody')).to.equal(undefined);
        await store.upsertAccount({ ...account, passwordHash: 'h2', role: 'admin' });
        expect(await store.findAccount('alice')).to.include({ passwordHash: 'h2', role: 'admin', createdAt: 1 });
      });

      it('treats usernames that differ only in ASCII case as one, keeping the first spelling', async () => {
        const account = { username: 'Alice', passwordHash: 'h1', role: 'user' as const, createdAt: 1 };
        expect(await store.createAccount(account)).to.equal(true);
        expect(await store.createAccount({ ...account, username: 'ALICE' })).to.equal(false);
        expect(await store.findAccount('alice')).to.deep.equal({ ...account, ...fresh });
        await store.upsertAccount({ ...account, username: 'aLiCe', passwordHash: 'h2' });
        expect(await store.findAccount('ALICE')).to.deep.equal({ ...account, ...fresh, passwordHash: 'h2' });
      });

      it("lists accounts by username, and applies an operator's change in any case, moving the token version on", async () => {
        for (const username of ['bob', 'Alice', 'carol']) await store.createAccount({ username, passwordHash: 'h', role: 'user', createdAt: 1 });
        expect((await store.listAccounts({ size: 10 })).map((a) => a.username)).to.deep.equal(['Alice', 'bob', 'carol']);
        expect((await store.listAccounts({ after: 'Alice', size: 1 })).map((a) => a.username)).to.deep.equal(['bob']);
        expect(await store.accountStates()).to.deep.equal([]);

        expect(await store.changeAccount('ALICE', { disabled: true })).to.deep.include({ username: 'Alice', disabled: true, tokenVersion: 1, role: 'user', passwordHash: 'h' });
        expect(await store.changeAccount('bob', { role: 'admin', passwordHash: 'h2' })).to.deep.include({ role: 'admin', passwordHash: 'h2', disabled: false, tokenVersion: 1 });
        expect(await store.changeAccount('alice', { disabled: false })).to.deep.include({ disabled: false, tokenVersion: 2 });
        expect(await store.changeAccount('nobody', { disabled: true })).to.equal(undefined);
        const states = (await store.accountStates()).sort((a, b) => (a.username < b.username ? -1 : 1));
        expect(states).to.deep.equal([
          { username: 'Alice', disabled: false, tokenVersion: 2 },
          { username: 'bob', disabled: false, tokenVersion: 1 },
        ]);
        expect(await store.findAccount('carol')).to.deep.include(fresh);
      });
    });

    describe('profiles and labels (contract §11)', () => {
      it('sets only the profile attributes named, and reads several at once', async () => {
        expect(await store.setProfile('alice', { name: 'Alice A.' })).to.deep.equal({ name: 'Alice A.', avatar: null });
        expect(await store.setProfile('alice', { avatar: 'https://example.com/a.png' })).to.deep.equal({ name: 'Alice A.', avatar: 'https://example.com/a.png' });
        expect(await store.setProfile('alice', { avatar: null })).to.deep.equal({ name: 'Alice A.', avatar: null });
        await store.setProfile('bob', { avatar: 'https://example.com/b.png' });
        expect(await store.profilesOf(['alice', 'bob', 'carol'])).to.deep.equal(
          new Map([
            ['alice', { name: 'Alice A.', avatar: null }],
            ['bob', { name: null, avatar: 'https://example.com/b.png' }],
          ]),
        );
        expect(await store.profilesOf([])).to.deep.equal(new Map());
      });

      it("keeps a PUT label over any document's, and lets a later document replace an earlier one", async () => {
        await store.setLabels([{ channel: 'posts-1', label: 'First title' }, { channel: 'posts-2', label: 'Two' }], 'document');
        await store.setLabels([{ channel: 'posts-1', label: 'Second title' }], 'document');
        await store.setLabels([{ channel: 'posts-2', label: 'Chosen' }], 'put');
        await store.setLabels([{ channel: 'posts-2', label: 'From a document' }], 'document');
        expect(await store.labelsOf(['posts-1', 'posts-2', 'posts-3'])).to.deep.equal(
          new Map([
            ['posts-1', 'Second title'],
            ['posts-2', 'Chosen'],
          ]),
        );
        await store.setLabels([{ channel: 'posts-2', label: 'Chosen again' }], 'put');
        expect((await store.labelsOf(['posts-2'])).get('posts-2')).to.equal('Chosen again');
      });
    });

    describe('keys', () => {
      it('saves new keys and updates expiry of existing ones', async () => {
        await store.saveKeys([{ id: 'k1', secret: 's'.repeat(32), createdAt: 1, expiresAt: null }]);
        await store.saveKeys([
          { id: 'k1', secret: 's'.repeat(32), createdAt: 1, expiresAt: 50 },
          { id: 'k2', secret: 't'.repeat(32), createdAt: 2, expiresAt: null },
        ]);
        const keys = (await store.listKeys()).sort((a, b) => a.createdAt - b.createdAt);
        expect(keys).to.deep.equal([
          { id: 'k1', secret: 's'.repeat(32), createdAt: 1, expiresAt: 50 },
          { id: 'k2', secret: 't'.repeat(32), createdAt: 2, expiresAt: null },
        ]);
      });

      it('seeds an empty ring once: a second seed gets the first key back', async () => {
        const first = { id: 'k1', secret: 's'.repeat(32), createdAt: 1, expiresAt: null };
        expect(await store.seedKeyRing(first)).to.deep.equal([first]);
        expect(await store.seedKeyRing({ id: 'k2', secret: 't'.repeat(32), createdAt: 2, expiresAt: null })).to.deep.equal([first]);
        expect(await store.listKeys()).to.deep.equal([first]);
      });
    });

    describe('subscriptions', () => {
      it('counts only real changes and lists in id order with paging', async () => {
        expect(await subscribe(['bob', 'alice'], ['posts-2', 'posts-1'])).to.equal(4);
        expect(await subscribe(['alice'], ['posts-1', 'posts-3'])).to.equal(1);
        expect(await store.channelsOf('alice')).to.deep.equal(['posts-1', 'posts-2', 'posts-3']);
        expect(await store.channelsOf('alice', { size: 2 })).to.deep.equal(['posts-1', 'posts-2']);
        expect(await store.channelsOf('alice', { after: 'posts-2', size: 2 })).to.deep.equal(['posts-3']);
        expect(await store.channelsOf('nobody')).to.deep.equal([]);
        expect(await store.subscribersOf('posts-1', { size: 10 })).to.deep.equal(['alice', 'bob']);
        expect(await store.subscribersOf('posts-1', { after: 'alice', size: 10 })).to.deep.equal(['bob']);
        expect(await store.subscribersOfAny(['posts-3', 'posts-2'])).to.deep.equal(['alice', 'bob']);
        expect(await store.isSubscribed('bob', 'posts-2')).to.equal(true);
        expect(await store.isSubscribed('bob', 'posts-3')).to.equal(false);
        expect(await store.countSubscribers(['posts-1', 'posts-3', 'posts-9'])).to.deep.equal(
          new Map([
            ['posts-1', 2],
            ['posts-3', 1],
            ['posts-9', 0],
          ]),
        );
        expect(await unsubscribe(['alice', 'bob'], ['posts-1', 'posts-9'])).to.equal(2);
        expect(await unsubscribe(['alice', 'bob'], ['posts-1'])).to.equal(0);
        expect(await store.subscribersOf('posts-1', { size: 10 })).to.deep.equal([]);
      });

      it('applies a batch of changes in one transaction, in order, counting each', async () => {
        await subscribe(['alice'], ['posts-1']);
        const counts = await store.changeSubscriptions([
          { action: 'subscribe', users: ['alice', 'bob'], channels: ['posts-1', 'posts-2'] },
          { action: 'unsubscribe', users: ['bob'], channels: ['posts-1'] },
          { action: 'unsubscribe', users: ['carol'], channels: ['posts-1'] },
          { action: 'subscribe', users: ['bob'], channels: ['posts-1'] },
        ]);
        expect(counts.map((changed) => [...changed])).to.deep.equal([
          [
            ['alice', ['posts-2']],
            ['bob', ['posts-1', 'posts-2']],
          ],
          [['bob', ['posts-1']]],
          [],
          [['bob', ['posts-1']]],
        ]);
        expect(await store.subscribersOf('posts-1', { size: 10 })).to.deep.equal(['alice', 'bob']);
        expect(await store.changeSubscriptions([])).to.deep.equal([]);
      });

      it('returns the pairs it changed, users and channels in the order of the change', async () => {
        await subscribe(['carol'], ['tags-5', 'posts-1']);
        const [added] = await store.changeSubscriptions([{ action: 'subscribe', users: ['dave', 'carol', 'bob'], channels: ['tags-5', 'posts-1', 'articles-9'] }]);
        expect([...added!]).to.deep.equal([
          ['dave', ['tags-5', 'posts-1', 'articles-9']],
          ['carol', ['articles-9']],
          ['bob', ['tags-5', 'posts-1', 'articles-9']],
        ]);
        const [removed] = await store.changeSubscriptions([{ action: 'unsubscribe', users: ['bob', 'erin', 'carol'], channels: ['posts-1', 'zeta-1', 'articles-9'] }]);
        expect([...removed!]).to.deep.equal([
          ['bob', ['posts-1', 'articles-9']],
          ['carol', ['posts-1', 'articles-9']],
        ]);
      });

      it('lists channels with their subscriber counts, by name, by prefix and after a name', async () => {
        await subscribe(['a', 'b'], ['posts-1']);
        await subscribe(['a'], ['posts-10', 'postsé-1', 'teams-1', 'posts-\u{1F600}']);
        await subscribe(['c'], ['posts-10']);
        await unsubscribe(['a'], ['teams-1']);
        const listed = async (query: { prefix?: string; after?: string; size: number }) => (await store.listChannels(query)).map((c) => [c.channel, c.subscribers]);
        expect(await listed({ size: 10 })).to.deep.equal([
          ['posts-1', 2],
          ['posts-10', 2],
          ['posts-\u{1F600}', 1],
          ['postsé-1', 1],
        ]);
        expect(await listed({ prefix: 'posts-', size: 10 })).to.deep.equal([
          ['posts-1', 2],
          ['posts-10', 2],
          ['posts-\u{1F600}', 1],
        ]);
        expect(await listed({ prefix: 'posts-', after: 'posts-10', size: 10 })).to.deep.equal([['posts-\u{1F600}', 1]]);
        expect(await listed({ prefix: 'posts', after: 'posts-\u{1F600}', size: 1 })).to.deep.equal([['postsé-1', 1]]);
        expect(await listed({ prefix: 'posts-1', size: 1 })).to.deep.equal([['posts-1', 2]]);
        expect(await listed({ prefix: 'zzz', size: 10 })).to.deep.equal([]);
      });

      it('handles ten thousand users in one call', async () => {
        const users = Array.from({ length: 10_000 }, (_, i) => `u${i}`);
        expect(await subscribe(users, ['a-1', 'b-2'])).to.equal(20_000);
        expect((await store.subscribersOfAny(['a-1'])).length).to.equal(10_000);
      });
    });

    describe('event log', () => {
      it('appends with increasing ids shared by notifications and chat, and reads them back', async () => {
        const logged = await store.appendEvents([notification(), chat('rooms-1', 'alice', '<b>as sent</b>'), notification({ target: { mode: 'users', names: ['bob'] }, add: [] })]);
        expect(logged.map((e) => e.id)).to.satisfy((ids: number[]) => ids[0]! < ids[1]! && ids[1]! < ids[2]!);
        expect(await store.lastEventId()).to.equal(logged[2]!.id);
        const read = await store.eventsBetween(0, logged[2]!.id, 10);
        expect(read).to.deep.equal(logged);
        expect(await store.eventsBetween(logged[0]!.id, logged[1]!.id, 10)).to.deep.equal([logged[1]]);
        expect(await store.eventsBetween(0, 1e9, 2)).to.have.length(2);
      });

      it('reads the events addressed to given rooms, for replay', async () => {
        const logged = await store.appendEvents([
          notification(), // posts-1, posts-2
          notification({ target: { mode: 'users', names: ['bob', 'carol'] } }),
          chat('rooms-1', 'alice'),
          chat('dm:alice:bob', 'alice'),
          notification({ target: { mode: 'channels-efficient', names: ['posts-3'] } }),
        ]);
        const ids = (events: { id: number }[]) => events.map((e) => e.id);
        const [n1, n2, c1, d1, n3] = ids(logged);
        const read = async (rooms: Record<string, number>, until: number, limit: number) =>
          Object.fromEntries(await store.eventIdsFor(Object.entries(rooms).map(([room, afterId]) => ({ room, afterId })), until, limit));
        expect(await read({ 'user:bob': 0 }, 1e9, 10)).to.deep.equal({ 'user:bob': [n2, d1] });
        expect(await read({ 'user:alice': 0, 'posts-2': 0, 'rooms-1': 0, 'posts-9': 0 }, 1e9, 10)).to.deep.equal({ 'user:alice': [d1], 'posts-2': [n1], 'rooms-1': [c1], 'posts-9': [] });
        expect(await read({ 'posts-1': 0, 'posts-3': n1! }, n3!, 10), 'each room from its own cursor, within the bound').to.deep.equal({ 'posts-1': [n1], 'posts-3': [n3] });
        expect(await read({ 'user:bob': 0 }, 1e9, 1), 'at most limit per room').to.deep.equal({ 'user:bob': [n2] });
        expect(await read({ 'user:bob': n2! }, d1! - 1, 10), 'after and until exclusive and inclusive').to.deep.equal({ 'user:bob': [] });
        expect(await store.eventIdsFor([], 1e9, 10)).to.deep.equal(new Map());
        // as stored: a notification's attributes are the JSON text they were written as
        const asStored = (event: LoggedEvent) => {
          if (event.kind === 'chat') return event;
          const { attributes, ...rest } = event;
          return { ...rest, attributesJson: JSON.stringify(attributes) };
        };
        expect(await store.eventsByIds([n3!, c1!, n2!, 999_999])).to.deep.equal([logged[1]!, logged[2]!, logged[4]!].map(asStored));
        expect(await store.eventsByIds([])).to.deep.equal([]);
      });

      it('does not take an idempotency key that is still honoured', async () => {
        const day = 24 * 60 * 60 * 1000;
        const [first] = await store.appendEvents([notification({ idempotencyKey: 'svc\u0000k', createdAt: 1_000 })]);
        let error: unknown;
        try {
          await store.appendEvents([notification({ idempotencyKey: 'svc\u0000k', createdAt: 1_000 + day - 1 })]);
        } catch (caught) {
          error = caught;
        }
        expect(error, 'a second entry with a live key is refused').to.be.instanceOf(Error);
        expect(await store.findByIdempotencyKey('svc\u0000k', 0)).to.deep.equal(first);
        const [later] = await store.appendEvents([notification({ idempotencyKey: 'svc\u0000k', createdAt: 1_000 + day + 1 })]);
        expect(await store.findByIdempotencyKey('svc\u0000k', 0)).to.deep.equal(later);
      });

      it('finds by idempotency key within the window, and reuses an expired key', async () => {
        const day = 24 * 60 * 60 * 1000;
        const [first] = await store.appendEvents([notification({ idempotencyKey: 'svc\u0000k1', createdAt: 1000 })]);
        expect(await store.findByIdempotencyKey('svc\u0000k1', 500)).to.deep.equal(first);
        expect(await store.findByIdempotencyKey('svc\u0000k1', 2000)).to.equal(undefined);
        const [second] = await store.appendEvents([notification({ idempotencyKey: 'svc\u0000k1', createdAt: 1000 + day + 1 })]);
        expect(await store.findByIdempotencyKey('svc\u0000k1', 2000)).to.deep.equal(second);
      });

      it('keeps entries with a recent idempotency key past the retention', async () => {
        const [keyed] = await store.appendEvents([notification({ idempotencyKey: 'svc\u0000k', createdAt: 50 })]);
        await store.appendEvents([notification({ createdAt: 50 })]);
        expect(await store.pruneEvents(100, 10, 10)).to.equal(1);
        expect(await store.findByIdempotencyKey('svc\u0000k', 0)).to.deep.equal(keyed);
        expect(await store.pruneEvents(100, 100, 10)).to.equal(1);
        expect(await store.findByIdempotencyKey('svc\u0000k', 0)).to.equal(undefined);
      });

      it('prunes old entries but keeps ids increasing and chat history', async () => {
        const old = await store.appendEvents([notification({ createdAt: 1 }), chat('rooms-1', 'alice', 'old', 1)]);
        expect(await store.pruneEvents(100, 100, 1)).to.equal(1);
        expect(await store.pruneEvents(100, 100, 10)).to.equal(1);
        expect(await store.eventsBetween(0, 1e9, 10)).to.deep.equal([]);
        expect(await store.eventIdsFor([{ room: 'posts-1', afterId: 0 }, { room: 'rooms-1', afterId: 0 }], 1e9, 10)).to.deep.equal(new Map([['posts-1', []], ['rooms-1', []]]));
        expect(await oldestEventId(store)).to.equal(undefined);
        const [next] = await store.appendEvents([notification({ createdAt: 200 })]);
        expect(next!.id).to.be.greaterThan(old[1]!.id);
        expect(await oldestEventId(store)).to.equal(next!.id);
        expect((await store.history('rooms-1', undefined, 10)).map((m) => m.body)).to.deep.equal(['old']);
      });
    });

    describe('chat', () => {
      it('pages history newest-first windows, returned oldest first', async () => {
        const logged = await store.appendEvents(Array.from({ length: 7 }, (_, i) => chat('rooms-1', 'alice', `m${i}`)));
        await store.appendEvents([chat('rooms-2', 'bob', 'elsewhere')]);
        expect((await store.history('rooms-1', undefined, 3)).map((m) => m.body)).to.deep.equal(['m4', 'm5', 'm6']);
        expect((await store.history('rooms-1', logged[4]!.id, 3)).map((m) => m.body)).to.deep.equal(['m1', 'm2', 'm3']);
        expect(await store.findMessage(logged[0]!.id)).to.deep.equal(logged[0]);
        expect(await store.findMessage(999_999)).to.equal(undefined);
      });

      it('moves read positions forward only and counts unread', async () => {
        const [m1, m2, m3] = await store.appendEvents([chat('rooms-1', 'alice'), chat('rooms-1', 'bob'), chat('rooms-1', 'alice')]);
        await store.appendEvents([chat('dm:alice:bob', 'alice'), chat('dm:alice:carol', 'carol')]);
        expect(await store.unreadCounts('bob', ['rooms-1', 'rooms-9'], 100)).to.deep.equal({ 'rooms-1': 2, 'rooms-9': 0, 'dm:alice:bob': 1 });
        expect(await store.unreadCounts('bob', ['rooms-1'], 1), 'counted up to the cap').to.deep.equal({ 'rooms-1': 1, 'dm:alice:bob': 1 });
        expect(await store.advanceReadPosition({ userId: 'bob', channel: 'rooms-1', messageId: m3!.id, readAt: 5 })).to.equal(true);
        expect(await store.advanceReadPosition({ userId: 'bob', channel: 'rooms-1', messageId: m1!.id, readAt: 6 })).to.equal(false);
        expect(await store.readPositions('rooms-1', 10)).to.deep.equal([{ userId: 'bob', channel: 'rooms-1', messageId: m3!.id, readAt: 5 }]);
        expect((await store.unreadCounts('bob', ['rooms-1'], 100))['rooms-1']).to.equal(0);
        expect((m2 as ChatMessage).from).to.equal('bob');
        expect(await store.unreadCounts('alice', [], 100)).to.deep.equal({ 'dm:alice:bob': 0, 'dm:alice:carol': 1 });
        expect(await store.privateConversationsOf('alice', 10)).to.deep.equal(['dm:alice:bob', 'dm:alice:carol']);
        expect(await store.privateConversationsOf('alice', 1)).to.deep.equal(['dm:alice:bob']);
        expect(await store.privateConversationsOf('dave', 10)).to.deep.equal([]);
        await store.advanceReadPosition({ userId: 'carol', channel: 'rooms-1', messageId: m2!.id, readAt: 7 });
        await store.advanceReadPosition({ userId: 'alice', channel: 'rooms-1', messageId: m1!.id, readAt: 8 });
        expect((await store.readPositions('rooms-1', 2)).map((p) => p.userId), 'the most advanced first, at most limit').to.deep.equal(['bob', 'carol']);
      });
    });

    describe('webhooks (contract §10)', () => {
      const endpoint = (id: string, createdAt = 1_700_000_000_000) => ({ id, url: `https://example.com/${id}`, events: ['chat.message' as const], channels: null, secret: `whsec_${id}`, createdAt });

      it('creates an endpoint at the head of the log, lists, finds, changes and deletes it', async () => {
        await store.appendEvents([notification(), notification()]);
        const head = await store.lastEventId();
        const created = await store.createWebhook({ ...endpoint('a'), channels: ['posts-*', 'teams-3'] });
        expect(created).to.deep.equal({ ...endpoint('a'), channels: ['posts-*', 'teams-3'], disabled: false, previousSecret: null, previousSecretUntil: null, cursor: head, failingSince: null, lastError: null, lastErrorAt: null });
        await store.createWebhook(endpoint('b', 1_700_000_000_001));
        expect((await store.listWebhooks()).map((w) => w.id)).to.deep.equal(['a', 'b']);
        expect(await store.findWebhook('a')).to.deep.equal(created);
        expect(await store.findWebhook('nope')).to.equal(undefined);

        const changed = await store.updateWebhook('a', { url: 'https://example.org/', events: ['chat.read', 'presence.online'], channels: null, disabled: true });
        expect(changed).to.deep.include({ url: 'https://example.org/', events: ['chat.read', 'presence.online'], channels: null, disabled: true, secret: 'whsec_a' });
        expect(await store.updateWebhook('a', { channels: ['x'] })).to.deep.include({ url: 'https://example.org/', channels: ['x'], disabled: true });
        const rotated = await store.updateWebhook('a', { rotate: { secret: 'whsec_new', previousUntil: 123 } });
        expect(rotated).to.deep.include({ secret: 'whsec_new', previousSecret: 'whsec_a', previousSecretUntil: 123 });
        expect(await store.updateWebhook('nope', { disabled: true })).to.equal(undefined);

        expect(await store.deleteWebhook('a')).to.equal(true);
        expect(await store.deleteWebhook('a')).to.equal(false);
        expect((await store.listWebhooks()).map((w) => w.id)).to.deep.equal(['b']);
      });

      it('leases enabled endpoints to one owner at a time, fences progress by the lease, and resumes at the head', async () => {
        await store.createWebhook(endpoint('a'));
        await store.createWebhook(endpoint('b', 1_700_000_000_001));
        await store.updateWebhook('b', { disabled: true });
        expect((await store.claimWebhooks('n1', 1000, 2000, false)).map((w) => w.id), 'enabled ones only').to.deep.equal(['a']);
        expect(await store.claimWebhooks('n2', 1500, 2500, false), 'held by n1 until 2000').to.deep.equal([]);
        expect((await store.claimWebhooks('n1', 1500, 2500, false)).map((w) => w.id), 'renewed').to.deep.equal(['a']);
        const progress = { cursor: 7, failingSince: 1400, lastError: 'HTTP 500', lastErrorAt: 1450 };
        expect(await store.saveWebhookProgress('a', 'n1', progress)).to.equal(true);
        expect(await store.saveWebhookProgress('a', 'n2', { ...progress, cursor: 9 }), 'not the holder').to.equal(false);
        expect(await store.findWebhook('a')).to.deep.include(progress);
        expect(await store.saveWebhookProgress('a', 'n1', { ...progress, cursor: 5 })).to.equal(true);
        expect((await store.findWebhook('a'))!.cursor, 'a cursor never goes back').to.equal(7);

        expect((await store.claimWebhooks('n2', 2600, 3600, false)).map((w) => w.id), 'expired: taken over').to.deep.equal(['a']);
        expect(await store.saveWebhookProgress('a', 'n1', progress), 'n1 lost it').to.equal(false);
        expect((await store.claimWebhooks('n3', 2700, 3700, true)).map((w) => w.id), 'takeover').to.deep.equal(['a']);
        await store.releaseWebhooks('n3');
        expect((await store.claimWebhooks('n1', 2800, 3800, false)).map((w) => w.id), 'released').to.deep.equal(['a']);

        await store.updateWebhook('a', { disabled: true });
        expect(await store.saveWebhookProgress('a', 'n1', progress), 'disabled').to.equal(false);
        await store.appendEvents([notification(), notification(), notification()]);
        const resumed = await store.updateWebhook('a', { disabled: false, resumeAtHead: true });
        expect(resumed).to.deep.include({ disabled: false, cursor: await store.lastEventId(), failingSince: null });
      });

      it('keeps the members offline when a chat message was accepted with it, and nothing when none were given', async () => {
        const [withList, , without] = await store.appendEvents([
          { ...chat('rooms-1', 'alice'), offline: ['bob', 'carol'] },
          { ...chat('rooms-1', 'alice'), offline: ['bob'], offlineTruncated: true },
          chat('rooms-1', 'alice'),
        ]);
        const read = await store.eventsBetween(0, without!.id, 10);
        expect(read.map((e) => (e.kind === 'chat' ? [e.offline, e.offlineTruncated] : 'x'))).to.deep.equal([
          [['bob', 'carol'], undefined],
          [['bob'], true],
          [undefined, undefined],
        ]);
        expect(withList!.id).to.be.lessThan(without!.id);
      });
    });
  });
}
